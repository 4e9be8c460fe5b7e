/**
 * The report database's schema (SQLite through better-sqlite3). The database is derived data: every
 * row is a function of the journal's events, so it is rebuilt rather than migrated. A database of
 * another schema version is refused with a message saying how to rebuild it
 * (`seqex replay --rebuild-reports`).
 *
 * Decisions (docs in ./README.md):
 * - Engine integers only (ticks, lots, minor units, µs). STRICT tables make SQLite refuse a value
 *   that is not an exact integer where an INTEGER is declared (JS numbers arrive as doubles; an
 *   integral one is stored as INTEGER, 64-bit; every value the engine makes is below 2^53).
 * - `meta.lastSeq` is written in the same transaction as the rows of that seq, so the database is
 *   always the image of a journal prefix: after a crash the writer resumes after `lastSeq`.
 * - WAL and synchronous=NORMAL: a power cut may lose the last transactions, never corrupt; what is
 *   lost is re-applied from the journal by seq.
 * - Few indexes: an index entry whose key is scattered (by account) costs several times a row to
 *   insert (README.md). Fills and trades are WITHOUT ROWID tables clustered by the key their
 *   queries walk, (accountId, tsUs, fillId) and (symbolIdx, tsUs, tradeId), so the table is the
 *   index; a fill's id is tradeId * 2 (+1 for the taker's side) and trade ids rise with time, so
 *   newest first is one backward range scan. A symbol filter on fills, or on closed orders, is
 *   applied while walking the account's range (no second index per account and symbol).
 * - Closed orders are in a partial index (final = 1): an order enters it once, when it closes,
 *   instead of moving in an index on every fill.
 * - The ledger is a view: one entry per BALANCE event (id = the event's ordinal), the same columns
 *   a table had. A trade's settlement (the buyer's and the seller's two changes, the fee account's
 *   credits: 6 of about 7.5 entries per trade) is stored as columns of its trade row, which is
 *   written anyway and appended in time order; only the other changes (transfers, reservations,
 *   releases) are rows of ledger_rows. SQLite's cost here is per value bound far more than per
 *   row (README.md), and a ledger row repeated seq, time and ids that the trade row already has.
 *   A change without the exact shape settlement gives it is a row of ledger_rows, so the view is
 *   every event as it was, whatever the engine emits. No secondary index: `seqex audit` reads the
 *   view whole (sorted by id); add one with a per-account balance history endpoint.
 */
import type Database from 'better-sqlite3';

/** Bump on any change below; an older file is refused (rebuild it, it is derived data). */
export const SCHEMA_VERSION = 2;

/** The report database inside the data directory unless told otherwise. */
export const DEFAULT_REPORTS_FILE = 'reports.sqlite';

export const SCHEMA_SQL = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
-- ledgerId: the last ledger id given (the BALANCE events written so far)
INSERT INTO meta (key, value) VALUES ('lastSeq', 0), ('lastTsUs', 0), ('ledgerId', 0);

CREATE TABLE assets (
  assetIdx INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  decimals INTEGER NOT NULL,
  seq INTEGER NOT NULL
) STRICT;

CREATE TABLE symbols (
  symbolIdx INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  baseIdx INTEGER NOT NULL,
  quoteIdx INTEGER NOT NULL,
  -- the symbol's configuration as the engine reported it (JSON, decimal text)
  config TEXT NOT NULL,
  seq INTEGER NOT NULL
) STRICT;

CREATE TABLE accounts (
  accountId INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  maxOpenOrders INTEGER NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
-- the engine's fee account (FEE_ACCOUNT_ID 0) exists from the start, without an event
INSERT INTO accounts (accountId, name, enabled, maxOpenOrders, seq) VALUES (0, 'fees', 1, -1, 0);

-- one row per accepted order, its state after the last change (rejected new orders have no id
-- and no row)
CREATE TABLE orders (
  orderId INTEGER PRIMARY KEY,
  accountId INTEGER NOT NULL,
  symbolIdx INTEGER NOT NULL,
  clOrdId TEXT,
  side INTEGER NOT NULL,
  ordType INTEGER NOT NULL,
  tif INTEGER NOT NULL,
  status INTEGER NOT NULL,
  -- 1 when status is filled, canceled, expired or rejected: the order will not change again
  final INTEGER NOT NULL,
  -- the limit price, or the reservation (protection) price of market and stop orders
  priceTicks INTEGER NOT NULL,
  stopPriceTicks INTEGER NOT NULL,
  qtyLots INTEGER NOT NULL,
  cumQtyLots INTEGER NOT NULL,
  leavesQtyLots INTEGER NOT NULL,
  cumNotionalTickLots INTEGER NOT NULL,
  postOnly INTEGER NOT NULL,
  stp INTEGER NOT NULL,
  expireTimeUs INTEGER NOT NULL,
  -- why it last changed without a trade (Reason), and how (ExecType)
  reason INTEGER NOT NULL,
  lastExecType INTEGER NOT NULL,
  createdAtUs INTEGER NOT NULL,
  updatedAtUs INTEGER NOT NULL,
  -- the journal seq of the last change
  seq INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_closed ON orders (accountId, updatedAtUs) WHERE final = 1;

-- one row per fill per side (a trade has a maker fill and a taker fill), clustered by account and
-- time: an account's fills, newest first, are one range of the table itself
CREATE TABLE fills (
  accountId INTEGER NOT NULL,
  tsUs INTEGER NOT NULL,
  -- tradeId * 2 for the maker's side, tradeId * 2 + 1 for the taker's
  fillId INTEGER NOT NULL,
  tradeId INTEGER NOT NULL,
  orderId INTEGER NOT NULL,
  symbolIdx INTEGER NOT NULL,
  side INTEGER NOT NULL,
  priceTicks INTEGER NOT NULL,
  qtyLots INTEGER NOT NULL,
  -- 1 maker, 2 taker
  liquidity INTEGER NOT NULL,
  -- the fee this side paid: buyers in the base asset, sellers in the quote asset (minor units)
  feeMinor INTEGER NOT NULL,
  feeAssetIdx INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (accountId, tsUs, fillId)
) STRICT, WITHOUT ROWID;
CREATE INDEX fills_order ON fills (orderId);

-- one row per trade, clustered by symbol and time (trade history and candles read one range). A
-- trade also holds the balance changes that settled it (see the ledger view): the buyer pays quote
-- (out of its reservation) and receives base less its fee, the seller pays base (out of its
-- reservation) and receives quote less its fee, the fee account is credited each fee. They are
-- the BALANCE events settleId, settleId + 1, ... (buyer's two, then the seller's two; legs says
-- how many are kept here), then feeBaseId and feeQuoteId (0: none). A change that does not have
-- this shape is a row of ledger_rows instead.
CREATE TABLE trades (
  symbolIdx INTEGER NOT NULL,
  tsUs INTEGER NOT NULL,
  tradeId INTEGER NOT NULL,
  priceTicks INTEGER NOT NULL,
  qtyLots INTEGER NOT NULL,
  takerSide INTEGER NOT NULL,
  makerOrderId INTEGER NOT NULL,
  takerOrderId INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  baseIdx INTEGER NOT NULL,
  quoteIdx INTEGER NOT NULL,
  legs INTEGER NOT NULL,
  settleId INTEGER NOT NULL,
  buyerAccountId INTEGER NOT NULL,
  sellerAccountId INTEGER NOT NULL,
  -- the buyer's quote: deltas (the reservation released may exceed what was paid), balance after
  buyPayDeltaTotal INTEGER NOT NULL,
  buyPayDeltaReserved INTEGER NOT NULL,
  buyPayTotal INTEGER NOT NULL,
  buyPayReserved INTEGER NOT NULL,
  -- the buyer's base: received (deltaReserved 0), balance after
  buyRecvDeltaTotal INTEGER NOT NULL,
  buyRecvTotal INTEGER NOT NULL,
  buyRecvReserved INTEGER NOT NULL,
  -- the seller's base: paid out of its reservation (deltaReserved = deltaTotal), balance after
  sellPayDelta INTEGER NOT NULL,
  sellPayTotal INTEGER NOT NULL,
  sellPayReserved INTEGER NOT NULL,
  -- the seller's quote: received (deltaReserved 0), balance after
  sellRecvDeltaTotal INTEGER NOT NULL,
  sellRecvTotal INTEGER NOT NULL,
  sellRecvReserved INTEGER NOT NULL,
  -- the fee account's credits (deltaReserved 0, reserved 0): ledger id, amount, its total after
  feeBaseId INTEGER NOT NULL,
  feeBaseMinor INTEGER NOT NULL,
  feeBaseTotal INTEGER NOT NULL,
  feeQuoteId INTEGER NOT NULL,
  feeQuoteMinor INTEGER NOT NULL,
  feeQuoteTotal INTEGER NOT NULL,
  PRIMARY KEY (symbolIdx, tsUs, tradeId)
) STRICT, WITHOUT ROWID;

-- the balance changes not kept in a trade row: deposits, withdrawals, reservations and releases
-- (and any trade or fee change that does not have the shape settlement gives it)
CREATE TABLE ledger_rows (
  -- the ledger id: the BALANCE event's ordinal (1, 2, ...), shared with the entries in trade rows
  id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  tsUs INTEGER NOT NULL,
  accountId INTEGER NOT NULL,
  assetIdx INTEGER NOT NULL,
  deltaTotal INTEGER NOT NULL,
  deltaReserved INTEGER NOT NULL,
  -- the balance after the change
  total INTEGER NOT NULL,
  reserved INTEGER NOT NULL,
  -- BalanceCause: 1 deposit, 2 withdraw, 3 reserve, 4 release, 5 trade, 6 fee
  cause INTEGER NOT NULL,
  -- orderId (reserve, release), tradeId (trade, fee), 0 (transfers)
  refId INTEGER NOT NULL,
  -- the transferId of deposits and withdrawals
  refStr TEXT
) STRICT;

-- one row per BALANCE event, in event order (id): every change of every balance, with its cause.
-- A trade's settlement (6 of about 7.5 entries per trade) is read from its trade row, the rest
-- from ledger_rows.
CREATE VIEW ledger (id, seq, tsUs, accountId, assetIdx, deltaTotal, deltaReserved, total, reserved, cause, refId, refStr) AS
  SELECT id, seq, tsUs, accountId, assetIdx, deltaTotal, deltaReserved, total, reserved, cause, refId, refStr FROM ledger_rows
  UNION ALL
  SELECT settleId, seq, tsUs, buyerAccountId, quoteIdx, buyPayDeltaTotal, buyPayDeltaReserved, buyPayTotal, buyPayReserved, 5, tradeId, NULL FROM trades WHERE legs >= 1
  UNION ALL
  SELECT settleId + 1, seq, tsUs, buyerAccountId, baseIdx, buyRecvDeltaTotal, 0, buyRecvTotal, buyRecvReserved, 5, tradeId, NULL FROM trades WHERE legs >= 2
  UNION ALL
  SELECT settleId + 2, seq, tsUs, sellerAccountId, baseIdx, sellPayDelta, sellPayDelta, sellPayTotal, sellPayReserved, 5, tradeId, NULL FROM trades WHERE legs >= 3
  UNION ALL
  SELECT settleId + 3, seq, tsUs, sellerAccountId, quoteIdx, sellRecvDeltaTotal, 0, sellRecvTotal, sellRecvReserved, 5, tradeId, NULL FROM trades WHERE legs >= 4
  UNION ALL
  SELECT feeBaseId, seq, tsUs, 0, baseIdx, feeBaseMinor, 0, feeBaseTotal, 0, 6, tradeId, NULL FROM trades WHERE feeBaseId > 0
  UNION ALL
  SELECT feeQuoteId, seq, tsUs, 0, quoteIdx, feeQuoteMinor, 0, feeQuoteTotal, 0, 6, tradeId, NULL FROM trades WHERE feeQuoteId > 0;
`;

export class SchemaVersionError extends Error {
  /** the file's schema version: > 0 a report database of another build, 0 not a report database */
  constructor(
    message: string,
    readonly foundVersion: number,
  ) {
    super(message);
  }
}

/** Connection settings for the writer (see the header for why each). */
export function configureWriter(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // a batch of 10,000 events touches a few thousand pages: keep them (and the indexes' upper levels) cached
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  // checkpoints run on the writer's thread, between batches; bigger ones, fewer
  db.pragma('wal_autocheckpoint = 10000');
}

/** Settings for a file written whole before anyone opens it (a rebuild): rollback journal in memory, no syncs. */
export function configureBulkWriter(db: Database.Database): void {
  db.pragma('journal_mode = MEMORY');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
}

/**
 * Creates the schema in an empty database, or checks the version of an existing one. Throws
 * SchemaVersionError for a database of another version or a file that is not a report database.
 */
export function ensureSchema(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number };
  if (version === 0 && tables.n === 0) {
    db.exec(`BEGIN; ${SCHEMA_SQL} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`);
    return;
  }
  if (version !== SCHEMA_VERSION)
    throw new SchemaVersionError(
      `${path}: report database schema version ${version}, this build needs ${SCHEMA_VERSION}; it is derived data: rebuild it with \`seqex replay --rebuild-reports\``,
      version,
    );
}

/** The `meta` value of `key` (0 when absent). */
export function readMeta(db: Database.Database, key: string): number {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: number } | undefined;
  return row?.value ?? 0;
}
