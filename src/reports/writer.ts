/**
 * ReportWriter: turns the engine's events into rows of the report database (schema.ts), off the
 * hot path. One call per sequenced command (or per part of a command's output, see `more`); rows
 * are buffered and written in one transaction per batch (`flush()`, or by itself after
 * `batchEvents` events), together with the command's seq in `meta.lastSeq`. So the file is always
 * the image of a prefix of the journal: after a crash `lastSeq` says where to resume, and a command
 * at or below it is skipped (re-applying from any earlier point is harmless).
 *
 * Input: the event records themselves (`applyRecords`: the EventLog layout, which is also what a
 * ring frame carries), so the worker makes no object per event; `apply(DecodedEvent[])` encodes
 * decoded events back into records and takes the same path (tests, slow consumers).
 *
 * Why the shapes (README.md has the numbers): a row costs about its values (~30 ns each to bind as
 * spread arguments, three times that as an array, plus storing them), and an index entry whose key
 * is scattered (by account) costs several times a row. So: rows go in as multi-row INSERTs of
 * CHUNK_ROWS rows bound as spread arguments; a trade's settlement (six BALANCE events) is stored
 * in its trade row, not as six ledger rows (the `ledger` view reads both); the many execution
 * reports of one order inside a batch become one upsert of its last state; fills are sorted by
 * their clustered key (account, time) before they are inserted, so each account's inserts land
 * together.
 *
 * The writer needs every event from seq 1 (reference data: a symbol's base and quote say which side
 * of a fill paid which fee); it throws on events that contradict each other rather than write
 * wrong rows.
 */
import Database from 'better-sqlite3';
import { BalanceCause, ExecType, OrdStatus, Side } from '../domain/codes.js';
import { FEE_ACCOUNT_ID } from '../engine/engine.js';
import { type DecodedEvent, EVENT_FIELDS, EVENT_LENGTH, EVENT_NAMES, Ev, type EventLog } from '../engine/events.js';
import { configureBulkWriter, configureWriter, ensureSchema, readMeta } from './schema.js';

export interface ReportWriterOptions {
  /** events buffered before a batch is written by itself (default DEFAULT_BATCH_EVENTS) */
  batchEvents?: number;
  /**
   * A file nobody reads until it is complete (a rebuild into a temporary file): no WAL, no syncs
   * (15-25% faster); a crash leaves a file to throw away. The caller syncs it when done.
   */
  bulk?: boolean;
}

/**
 * measured: 10,000 -> 50,000 events a batch took the bench from ~24k to ~33k fills/s (fewer commits
 * and checkpoints). With the settlement kept in trade rows a batch's cost is mostly the pages it
 * dirties (an account's fills, its closed orders: about one page per account whatever the batch
 * holds), so 200,000 gains again (README.md). A live report worker commits by time (every 20 ms)
 * long before this; it bounds catch-up and rebuild batches (memory: tens of MB).
 */
export const DEFAULT_BATCH_EVENTS = 200_000;
/** rows per INSERT statement: fewer native calls, far under SQLite's 32,766 parameters */
const CHUNK_ROWS = 64;

type Value = number | string | null;

const ORDER_COLS = [
  'orderId', 'accountId', 'symbolIdx', 'clOrdId', 'side', 'ordType', 'tif', 'status', 'final', 'priceTicks', 'stopPriceTicks',
  'qtyLots', 'cumQtyLots', 'leavesQtyLots', 'cumNotionalTickLots', 'postOnly', 'stp', 'expireTimeUs', 'reason', 'lastExecType',
  'createdAtUs', 'updatedAtUs', 'seq',
] as const;
const FILL_COLS = ['accountId', 'tsUs', 'fillId', 'tradeId', 'orderId', 'symbolIdx', 'side', 'priceTicks', 'qtyLots', 'liquidity', 'feeMinor', 'feeAssetIdx', 'seq'] as const;
const TRADE_COLS = [
  'symbolIdx', 'tsUs', 'tradeId', 'priceTicks', 'qtyLots', 'takerSide', 'makerOrderId', 'takerOrderId', 'seq',
  'baseIdx', 'quoteIdx', 'legs', 'settleId', 'buyerAccountId', 'sellerAccountId',
  'buyPayDeltaTotal', 'buyPayDeltaReserved', 'buyPayTotal', 'buyPayReserved', 'buyRecvDeltaTotal', 'buyRecvTotal', 'buyRecvReserved',
  'sellPayDelta', 'sellPayTotal', 'sellPayReserved', 'sellRecvDeltaTotal', 'sellRecvTotal', 'sellRecvReserved',
  'feeBaseId', 'feeBaseMinor', 'feeBaseTotal', 'feeQuoteId', 'feeQuoteMinor', 'feeQuoteTotal',
] as const;
/** the index of each column in a trade row */
const TR = Object.fromEntries(TRADE_COLS.map((c, i) => [c, i])) as Record<(typeof TRADE_COLS)[number], number>;
/** the columns of a new trade row from 'legs' on: 0 until the trade's balance changes fill them in */
const TRADE_SETTLEMENT_ZEROS = TRADE_COLS.length - TR.legs;
const LEDGER_COLS = ['id', 'seq', 'tsUs', 'accountId', 'assetIdx', 'deltaTotal', 'deltaReserved', 'total', 'reserved', 'cause', 'refId', 'refStr'] as const;

// where each fill row keeps what the sort and the fee need
const FILL_ACCOUNT = FILL_COLS.indexOf('accountId');
const FILL_TS = FILL_COLS.indexOf('tsUs');
const FILL_ID = FILL_COLS.indexOf('fillId');
const FILL_FEE = FILL_COLS.indexOf('feeMinor');
const FILL_FEE_ASSET = FILL_COLS.indexOf('feeAssetIdx');

/** Offset of a field in a record of type `type` (the record header [type, seq, tsUs] included). */
function field(type: Ev, name: string): number {
  const i = EVENT_FIELDS[type]!.indexOf(name);
  if (i < 0) throw new Error(`event type ${type} has no field ${name}`);
  return 3 + i;
}
const X = {
  orderId: field(Ev.EXEC, 'orderId'),
  accountId: field(Ev.EXEC, 'accountId'),
  symbolIdx: field(Ev.EXEC, 'symbolIdx'),
  side: field(Ev.EXEC, 'side'),
  ordType: field(Ev.EXEC, 'ordType'),
  tif: field(Ev.EXEC, 'tif'),
  execType: field(Ev.EXEC, 'execType'),
  ordStatus: field(Ev.EXEC, 'ordStatus'),
  priceTicks: field(Ev.EXEC, 'priceTicks'),
  stopPriceTicks: field(Ev.EXEC, 'stopPriceTicks'),
  qtyLots: field(Ev.EXEC, 'qtyLots'),
  cumQtyLots: field(Ev.EXEC, 'cumQtyLots'),
  leavesQtyLots: field(Ev.EXEC, 'leavesQtyLots'),
  cumNotionalTickLots: field(Ev.EXEC, 'cumNotionalTickLots'),
  lastQtyLots: field(Ev.EXEC, 'lastQtyLots'),
  lastPxTicks: field(Ev.EXEC, 'lastPxTicks'),
  tradeId: field(Ev.EXEC, 'tradeId'),
  liquidity: field(Ev.EXEC, 'liquidity'),
  reason: field(Ev.EXEC, 'reason'),
  clOrdId: field(Ev.EXEC, 'clOrdIdStr'),
  expireTimeUs: field(Ev.EXEC, 'expireTimeUs'),
  createdAtUs: field(Ev.EXEC, 'createdAtUs'),
  postOnly: field(Ev.EXEC, 'postOnly'),
  stp: field(Ev.EXEC, 'stp'),
};
const T = {
  tradeId: field(Ev.TRADE, 'tradeId'),
  symbolIdx: field(Ev.TRADE, 'symbolIdx'),
  priceTicks: field(Ev.TRADE, 'priceTicks'),
  qtyLots: field(Ev.TRADE, 'qtyLots'),
  takerSide: field(Ev.TRADE, 'takerSide'),
  makerOrderId: field(Ev.TRADE, 'makerOrderId'),
  takerOrderId: field(Ev.TRADE, 'takerOrderId'),
};
const B = {
  accountId: field(Ev.BALANCE, 'accountId'),
  assetIdx: field(Ev.BALANCE, 'assetIdx'),
  deltaTotal: field(Ev.BALANCE, 'deltaTotal'),
  deltaReserved: field(Ev.BALANCE, 'deltaReserved'),
  total: field(Ev.BALANCE, 'total'),
  reserved: field(Ev.BALANCE, 'reserved'),
  cause: field(Ev.BALANCE, 'cause'),
  refId: field(Ev.BALANCE, 'refId'),
  refStr: field(Ev.BALANCE, 'refStr'),
};
const A = { assetIdx: field(Ev.ASSET, 'assetIdx'), decimals: field(Ev.ASSET, 'decimals'), name: field(Ev.ASSET, 'nameStr') };
const S = { symbolIdx: field(Ev.SYMBOL, 'symbolIdx'), config: field(Ev.SYMBOL, 'configStr') };
const C = { accountId: field(Ev.ACCOUNT, 'accountId'), kind: field(Ev.ACCOUNT, 'kind'), name: field(Ev.ACCOUNT, 'nameStr'), maxOpenOrders: field(Ev.ACCOUNT, 'maxOpenOrders') };

const EVENT_TYPE_BY_NAME = new Map(Object.entries(EVENT_NAMES).map(([t, name]) => [name, Number(t)]));

const isFinal = (status: number) =>
  status === OrdStatus.FILLED || status === OrdStatus.CANCELED || status === OrdStatus.EXPIRED || status === OrdStatus.REJECTED;

/** Rows laid out flat, in arrays of exactly CHUNK_ROWS rows (the last one partial): no copy to insert them. */
class FlatRows {
  readonly full: Value[][] = [];
  cur: Value[] = [];
  constructor(readonly width: number) {}
  get rows(): number {
    return this.full.length * CHUNK_ROWS + this.cur.length / this.width;
  }
  /** call after pushing one row's values onto `cur` */
  endRow(): void {
    if (this.cur.length === CHUNK_ROWS * this.width) {
      this.full.push(this.cur);
      this.cur = [];
    }
  }
  clear(): void {
    this.full.length = 0;
    this.cur = [];
  }
}

/** A multi-row INSERT, CHUNK_ROWS at a time, and the single-row one for the rest (also tools/bench/sqlite-ceiling.ts: the ceiling binds as the writer does). */
export class ChunkedInsert {
  private readonly chunk: Database.Statement;
  private readonly one: Database.Statement;

  constructor(
    db: Database.Database,
    table: string,
    private readonly cols: readonly string[],
    tail = '',
  ) {
    const row = `(${cols.map(() => '?').join(',')})`;
    const head = `INSERT INTO ${table} (${cols.join(',')}) VALUES `;
    this.chunk = db.prepare(head + new Array<string>(CHUNK_ROWS).fill(row).join(',') + tail);
    this.one = db.prepare(head + row + tail);
  }

  /** Inserts the rows; returns how many. */
  run(rows: FlatRows): number {
    // spread, not the array: better-sqlite3 binds arguments about three times faster than the
    // elements of an array argument (measured: ~30 ns against ~100 ns a value, most of a row's cost)
    for (const c of rows.full) this.chunk.run(...c);
    const w = this.cols.length;
    const rest = rows.cur;
    for (let i = 0; i < rest.length; i += w) this.one.run(...rest.slice(i, i + w));
    return rows.rows;
  }

  /** Inserts rows given one array each (through one reused chunk: no copy of the whole batch). */
  runRows(rows: Iterable<Value[]>): number {
    const w = this.cols.length;
    const buf = (this.scratch ??= new Array<Value>(CHUNK_ROWS * w));
    let at = 0;
    let n = 0;
    for (const r of rows) {
      for (let i = 0; i < w; i++) buf[at + i] = r[i]!;
      at += w;
      n++;
      if (at === buf.length) {
        this.chunk.run(...buf);
        at = 0;
      }
    }
    for (let i = 0; i < at; i += w) this.one.run(...buf.slice(i, i + w));
    return n;
  }

  private scratch: Value[] | undefined;
}

export interface RowCounts {
  orders: number;
  fills: number;
  trades: number;
  /** ledger entries (BALANCE events), wherever stored */
  ledger: number;
  /** of which rows of ledger_rows (the rest are columns of trade rows) */
  ledgerRows: number;
}

/** where a batch's time went, ms (cumulative): JS building rows, then each table's inserts and the commit */
export interface WriterPhases {
  apply: number;
  trades: number;
  fills: number;
  ledger: number;
  orders: number;
  commit: number;
}

export class ReportWriter {
  readonly db: Database.Database;
  readonly path: string;
  /** the last command applied completely (buffered or written) */
  lastSeq: number;
  /** the last command written (committed with its rows) */
  flushedSeq: number;
  /** engine time of the last event applied, µs (candles are closed up to it) */
  lastTsUs: number;
  /** rows written so far by this writer (an order written in several batches counts each time) */
  readonly written: RowCounts = { orders: 0, fills: 0, trades: 0, ledger: 0, ledgerRows: 0 };
  /** time spent per phase (for benchmarks) */
  readonly phaseMs: WriterPhases = { apply: 0, trades: 0, fills: 0, ledger: 0, orders: 0, commit: 0 };
  /** the last ledger id given (the count of BALANCE events applied) */
  private ledgerId: number;
  /** ledger entries buffered in this batch (folded or not) */
  private pendingLedger = 0;
  /** batches written */
  batches = 0;

  private readonly batchEvents: number;
  private pendingEvents = 0;
  /** a command whose output came in parts and is not complete yet (0: none) */
  private partialSeq = 0;
  /** the last state of each order changed in this batch, by orderId */
  private orders = new Map<number, Value[]>();
  /** one array per row: sorted by their clustered key before they are inserted */
  private fills: Value[][] = [];
  private readonly trades = new FlatRows(TRADE_COLS.length);
  private readonly ledger = new FlatRows(LEDGER_COLS.length);
  /** reference data changes of this batch, in event order (rare: admin commands) */
  private refOps: (() => void)[] = [];
  /** fill rows of the command being applied, by fillId (for its fee) */
  private readonly commandFills = new Map<number, Value[]>();
  /** trade rows of the command being applied, by tradeId: the array holding the row and where (for its settlement) */
  private readonly commandTrades = new Map<number, { a: Value[]; at: number }>();
  /** base and quote asset of each symbol (a fill's fee asset) */
  private readonly symbolBase: number[] = [];
  private readonly symbolQuote: number[] = [];
  private readonly assetByName = new Map<string, number>();
  /** scratch for `apply(DecodedEvent[])` */
  private scratch = new Float64Array(1024);

  private readonly insertOrders: ChunkedInsert;
  private readonly insertFills: ChunkedInsert;
  private readonly insertTrades: ChunkedInsert;
  private readonly insertLedger: ChunkedInsert;
  private readonly setMeta: Database.Statement;
  private readonly upsertAsset: Database.Statement;
  private readonly upsertSymbol: Database.Statement;
  private readonly upsertAccount: Database.Statement;
  private readonly writeBatch: () => void;

  constructor(path: string, options: ReportWriterOptions = {}) {
    this.path = path;
    this.batchEvents = options.batchEvents ?? DEFAULT_BATCH_EVENTS;
    if (!Number.isSafeInteger(this.batchEvents) || this.batchEvents < 1) throw new Error(`batchEvents must be a positive integer, got ${this.batchEvents}`);
    this.db = new Database(path);
    try {
      if (options.bulk === true) configureBulkWriter(this.db);
      else configureWriter(this.db);
      ensureSchema(this.db, path);
    } catch (e) {
      this.db.close();
      throw e;
    }
    const db = this.db;
    this.lastSeq = this.flushedSeq = readMeta(db, 'lastSeq');
    this.lastTsUs = readMeta(db, 'lastTsUs');
    this.ledgerId = readMeta(db, 'ledgerId');
    for (const a of db.prepare('SELECT assetIdx, name FROM assets').all() as { assetIdx: number; name: string }[]) this.assetByName.set(a.name, a.assetIdx);
    for (const s of db.prepare('SELECT symbolIdx, baseIdx, quoteIdx FROM symbols').all() as { symbolIdx: number; baseIdx: number; quoteIdx: number }[]) {
      this.symbolBase[s.symbolIdx] = s.baseIdx;
      this.symbolQuote[s.symbolIdx] = s.quoteIdx;
    }
    const update = ORDER_COLS.filter((c) => c !== 'orderId')
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    this.insertOrders = new ChunkedInsert(db, 'orders', ORDER_COLS, ` ON CONFLICT (orderId) DO UPDATE SET ${update}`);
    this.insertFills = new ChunkedInsert(db, 'fills', FILL_COLS);
    this.insertTrades = new ChunkedInsert(db, 'trades', TRADE_COLS);
    this.insertLedger = new ChunkedInsert(db, 'ledger_rows', LEDGER_COLS);
    this.setMeta = db.prepare('UPDATE meta SET value = ? WHERE key = ?');
    this.upsertAsset = db.prepare(
      'INSERT INTO assets (assetIdx, name, decimals, seq) VALUES (?, ?, ?, ?) ON CONFLICT (assetIdx) DO UPDATE SET name = excluded.name, decimals = excluded.decimals, seq = excluded.seq',
    );
    this.upsertSymbol = db.prepare(
      'INSERT INTO symbols (symbolIdx, name, baseIdx, quoteIdx, config, seq) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (symbolIdx) DO UPDATE SET config = excluded.config, seq = excluded.seq',
    );
    this.upsertAccount = db.prepare(
      `INSERT INTO accounts (accountId, name, enabled, maxOpenOrders, seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT (accountId) DO UPDATE SET
         name = excluded.name, enabled = CASE WHEN excluded.enabled < 0 THEN enabled ELSE excluded.enabled END,
         maxOpenOrders = excluded.maxOpenOrders, seq = excluded.seq`,
    );
    this.writeBatch = db.transaction(() => this.writeRows());
  }

  /**
   * Applies the event records buf[from, to) of the command `seq` (strings: its string table).
   * `more`: further parts of the same command follow (an output split into several ring frames);
   * a command counts as applied, and a batch may end, only after its last part. A seq at or below
   * `lastSeq` is skipped (returns false): catching up from an earlier point repeats nothing. Call
   * it for a command without events too, so that `lastSeq` follows the journal.
   */
  applyRecords(buf: Float64Array, from: number, to: number, strings: readonly string[], seq: number, more = false): boolean {
    if (seq <= this.lastSeq) return false;
    if (seq !== this.partialSeq) {
      if (this.partialSeq !== 0) throw new Error(`report writer: seq ${seq} while seq ${this.partialSeq} still expects parts`);
      if (this.commandFills.size !== 0) this.commandFills.clear();
      if (this.commandTrades.size !== 0) this.commandTrades.clear();
    }
    const t0 = performance.now();
    let events = 0;
    let tsUs = this.lastTsUs;
    for (let at = from; at < to; at += EVENT_LENGTH[buf[at]!]!) {
      const type = buf[at]!;
      if (EVENT_LENGTH[type] === undefined) throw new Error(`report writer: event type ${type} at ${at} (seq ${seq}) unknown`);
      if (buf[at + 1] !== seq) throw new Error(`report writer: an event of seq ${buf[at + 1]} among the events of seq ${seq}`);
      tsUs = buf[at + 2]!;
      events++;
      switch (type) {
        case Ev.EXEC:
          this.exec(buf, at, strings);
          break;
        case Ev.TRADE:
          this.trade(buf, at);
          break;
        case Ev.BALANCE:
          this.balance(buf, at, strings);
          break;
        case Ev.ASSET:
        case Ev.SYMBOL:
        case Ev.ACCOUNT:
          this.reference(type, buf, at, strings);
          break;
        default:
          // book, trading state, transfer (its balance change is in the ledger), rejects: not reported here
          break;
      }
    }
    this.lastTsUs = tsUs;
    this.pendingEvents += events;
    this.phaseMs.apply += performance.now() - t0;
    if (more) {
      this.partialSeq = seq;
      return true;
    }
    this.partialSeq = 0;
    this.lastSeq = seq;
    if (this.pendingEvents >= this.batchEvents) this.flush();
    return true;
  }

  /** The events of one command as the engine's log holds them. */
  applyLog(log: EventLog, seq: number): boolean {
    return this.applyRecords(log.buf, 0, log.len, log.strings, seq);
  }

  /** Decoded events of the command `seq` (all of them, in order, or one part: `more`, as applyRecords): encoded back to records. */
  apply(events: readonly DecodedEvent[], seq: number = events.length > 0 ? events[0]!.seq : 0, more = false): boolean {
    if (seq <= this.lastSeq) return false;
    const strings: string[] = [];
    let len = 0;
    for (const e of events) {
      const type = EVENT_TYPE_BY_NAME.get(e.event);
      if (type === undefined) throw new Error(`report writer: event ${e.event} unknown`);
      const n = EVENT_LENGTH[type]!;
      if (len + n > this.scratch.length) {
        const grown = new Float64Array(Math.max(this.scratch.length * 2, len + n));
        grown.set(this.scratch.subarray(0, len));
        this.scratch = grown;
      }
      const b = this.scratch;
      b[len] = type;
      b[len + 1] = e.seq;
      b[len + 2] = e.tsUs;
      const names = EVENT_FIELDS[type]!;
      for (let f = 0; f < names.length; f++) {
        const name = names[f]!;
        if (name.endsWith('Str')) {
          const s = e[name.slice(0, -3)];
          b[len + 3 + f] = typeof s === 'string' ? strings.push(s) - 1 : -1;
        } else b[len + 3 + f] = e[name] as number;
      }
      len += n;
    }
    return this.applyRecords(this.scratch, 0, len, strings, seq, more);
  }

  /** Writes what is buffered in one transaction, with `lastSeq`. Never splits a command. */
  flush(): void {
    if (this.lastSeq === this.flushedSeq) return;
    if (this.partialSeq !== 0) throw new Error(`report writer: flush while seq ${this.partialSeq} still expects parts`);
    const t0 = performance.now();
    this.writeBatch();
    this.phaseMs.commit += performance.now() - t0 - this.insertMs;
    this.written.ledger += this.pendingLedger;
    this.pendingLedger = 0;
    this.orders = new Map();
    this.fills = [];
    this.trades.clear();
    this.ledger.clear();
    this.refOps = [];
    this.pendingEvents = 0;
    this.flushedSeq = this.lastSeq;
    this.batches++;
  }

  /** Flushes and closes (the WAL is checkpointed). */
  close(): void {
    this.flush();
    this.db.close();
  }

  /** Closes without writing the buffer: what a crash leaves (tests). */
  closeWithoutFlush(): void {
    this.db.close();
  }

  /** time inside the last transaction's inserts (the rest of writeBatch is BEGIN and COMMIT) */
  private insertMs = 0;

  private writeRows(): void {
    const w = this.written;
    const p = this.phaseMs;
    const t0 = performance.now();
    for (const op of this.refOps) op();
    w.trades += this.insertTrades.run(this.trades);
    const t1 = performance.now();
    // in clustered key order: each account's inserts land on the same pages one after the other
    this.fills.sort((a, b) => (a[FILL_ACCOUNT] as number) - (b[FILL_ACCOUNT] as number) || (a[FILL_TS] as number) - (b[FILL_TS] as number) || (a[FILL_ID] as number) - (b[FILL_ID] as number));
    w.fills += this.insertFills.runRows(this.fills);
    const t2 = performance.now();
    w.ledgerRows += this.insertLedger.run(this.ledger);
    const t3 = performance.now();
    w.orders += this.insertOrders.runRows(this.orders.values());
    this.setMeta.run(this.lastSeq, 'lastSeq');
    this.setMeta.run(this.lastTsUs, 'lastTsUs');
    this.setMeta.run(this.ledgerId, 'ledgerId');
    const t4 = performance.now();
    p.trades += t1 - t0;
    p.fills += t2 - t1;
    p.ledger += t3 - t2;
    p.orders += t4 - t3;
    this.insertMs = t4 - t0;
  }

  private exec(b: Float64Array, at: number, strings: readonly string[]): void {
    const orderId = b[at + X.orderId]!;
    const execType = b[at + X.execType]!;
    // a new order rejected on arrival has no id (and changes nothing); a status answer changes nothing
    if (orderId === 0 || execType === ExecType.ORDER_STATUS) return;
    const status = b[at + X.ordStatus]!;
    const accountId = b[at + X.accountId]!;
    const symbolIdx = b[at + X.symbolIdx]!;
    const side = b[at + X.side]!;
    const seq = b[at + 1]!;
    const tsUs = b[at + 2]!;
    const cl = b[at + X.clOrdId]!;
    let row = this.orders.get(orderId);
    if (row === undefined) this.orders.set(orderId, (row = new Array<Value>(ORDER_COLS.length)));
    row[0] = orderId;
    row[1] = accountId;
    row[2] = symbolIdx;
    row[3] = cl < 0 ? null : (strings[cl] ?? null);
    row[4] = side;
    row[5] = b[at + X.ordType]!;
    row[6] = b[at + X.tif]!;
    row[7] = status;
    row[8] = isFinal(status) ? 1 : 0;
    row[9] = b[at + X.priceTicks]!;
    row[10] = b[at + X.stopPriceTicks]!;
    row[11] = b[at + X.qtyLots]!;
    row[12] = b[at + X.cumQtyLots]!;
    row[13] = b[at + X.leavesQtyLots]!;
    row[14] = b[at + X.cumNotionalTickLots]!;
    row[15] = b[at + X.postOnly]!;
    row[16] = b[at + X.stp]!;
    row[17] = b[at + X.expireTimeUs]!;
    row[18] = b[at + X.reason]!;
    row[19] = execType;
    row[20] = b[at + X.createdAtUs]!;
    row[21] = tsUs;
    row[22] = seq;
    if (execType !== ExecType.TRADE) return;
    const tradeId = b[at + X.tradeId]!;
    const liquidity = b[at + X.liquidity]!;
    const feeAsset = side === Side.BUY ? this.symbolBase[symbolIdx] : this.symbolQuote[symbolIdx];
    if (feeAsset === undefined) throw new Error(`report writer: a fill of trade ${tradeId} in symbol ${symbolIdx}, which no event defined`);
    const fillId = tradeId * 2 + (liquidity === 2 ? 1 : 0);
    const fill: Value[] = [accountId, tsUs, fillId, tradeId, orderId, symbolIdx, side, b[at + X.lastPxTicks]!, b[at + X.lastQtyLots]!, liquidity, 0, feeAsset, seq];
    this.commandFills.set(fillId, fill);
    this.fills.push(fill);
  }

  private trade(b: Float64Array, at: number): void {
    const r = this.trades.cur;
    const tradeId = b[at + T.tradeId]!;
    const symbolIdx = b[at + T.symbolIdx]!;
    const base = this.symbolBase[symbolIdx];
    const quote = this.symbolQuote[symbolIdx];
    if (base === undefined || quote === undefined) throw new Error(`report writer: trade ${tradeId} in symbol ${symbolIdx}, which no event defined`);
    this.commandTrades.set(tradeId, { a: r, at: r.length });
    r.push(symbolIdx, b[at + 2]!, tradeId, b[at + T.priceTicks]!, b[at + T.qtyLots]!, b[at + T.takerSide]!, b[at + T.makerOrderId]!, b[at + T.takerOrderId]!, b[at + 1]!, base, quote);
    for (let i = 0; i < TRADE_SETTLEMENT_ZEROS; i++) r.push(0);
    this.trades.endRow();
  }

  /**
   * A BALANCE event becomes a ledger entry with the next ledger id. A trade's settlement (what
   * each side paid and received, the fee account's credits) is stored in the trade's row (the
   * ledger view reads it back); anything else, or a change without the shape settlement gives it,
   * is a row of ledger_rows. Either way the ledger view has the event as it was.
   */
  private balance(b: Float64Array, at: number, strings: readonly string[]): void {
    const id = ++this.ledgerId;
    this.pendingLedger++;
    const cause = b[at + B.cause]!;
    const accountId = b[at + B.accountId]!;
    const assetIdx = b[at + B.assetIdx]!;
    const deltaTotal = b[at + B.deltaTotal]!;
    const deltaReserved = b[at + B.deltaReserved]!;
    const total = b[at + B.total]!;
    const reserved = b[at + B.reserved]!;
    const refId = b[at + B.refId]!;
    if (cause === BalanceCause.TRADE) {
      if (this.foldSettlement(id, refId, accountId, assetIdx, deltaTotal, deltaReserved, total, reserved)) return;
    } else if (cause === BalanceCause.FEE) {
      // the fee account's credit names the trade and the asset: buyers pay in base, sellers in quote
      this.addFee(refId, assetIdx, deltaTotal, b[at + 1]!);
      if (accountId === FEE_ACCOUNT_ID && deltaReserved === 0 && reserved === 0 && this.foldFee(id, refId, assetIdx, deltaTotal, total)) return;
    }
    const refStr = b[at + B.refStr]!;
    const r = this.ledger.cur;
    r.push(id, b[at + 1]!, b[at + 2]!, accountId, assetIdx, deltaTotal, deltaReserved, total, reserved, cause, refId, refStr < 0 ? null : (strings[refStr] ?? null));
    this.ledger.endRow();
  }

  /**
   * One of a trade's four settlement changes into its trade row, in the engine's order and with
   * consecutive ledger ids: the buyer pays quote, receives base (no change of reserved), the seller
   * pays base out of its reservation (deltaReserved = deltaTotal), receives quote (no change of
   * reserved). False: not the next of these (it becomes a row of ledger_rows, as do the rest).
   */
  private foldSettlement(id: number, tradeId: number, accountId: number, assetIdx: number, deltaTotal: number, deltaReserved: number, total: number, reserved: number): boolean {
    const t = this.commandTrades.get(tradeId);
    if (t === undefined) return false;
    const a = t.a;
    const o = t.at;
    const legs = a[o + TR.legs] as number;
    if (legs >= 4 || (legs > 0 && id !== (a[o + TR.settleId] as number) + legs)) return false;
    switch (legs) {
      case 0:
        if (assetIdx !== a[o + TR.quoteIdx]) return false;
        a[o + TR.settleId] = id;
        a[o + TR.buyerAccountId] = accountId;
        a[o + TR.buyPayDeltaTotal] = deltaTotal;
        a[o + TR.buyPayDeltaReserved] = deltaReserved;
        a[o + TR.buyPayTotal] = total;
        a[o + TR.buyPayReserved] = reserved;
        break;
      case 1:
        if (accountId !== a[o + TR.buyerAccountId] || assetIdx !== a[o + TR.baseIdx] || deltaReserved !== 0) return false;
        a[o + TR.buyRecvDeltaTotal] = deltaTotal;
        a[o + TR.buyRecvTotal] = total;
        a[o + TR.buyRecvReserved] = reserved;
        break;
      case 2:
        if (assetIdx !== a[o + TR.baseIdx] || deltaReserved !== deltaTotal) return false;
        a[o + TR.sellerAccountId] = accountId;
        a[o + TR.sellPayDelta] = deltaTotal;
        a[o + TR.sellPayTotal] = total;
        a[o + TR.sellPayReserved] = reserved;
        break;
      default:
        if (accountId !== a[o + TR.sellerAccountId] || assetIdx !== a[o + TR.quoteIdx] || deltaReserved !== 0) return false;
        a[o + TR.sellRecvDeltaTotal] = deltaTotal;
        a[o + TR.sellRecvTotal] = total;
        a[o + TR.sellRecvReserved] = reserved;
    }
    a[o + TR.legs] = legs + 1;
    return true;
  }

  /** The fee account's credit (reserved untouched) into its trade's row: one in base, one in quote. False: no trade row of this command, or taken. */
  private foldFee(id: number, tradeId: number, assetIdx: number, amount: number, total: number): boolean {
    const t = this.commandTrades.get(tradeId);
    if (t === undefined) return false;
    const a = t.a;
    const o = t.at;
    const col = assetIdx === a[o + TR.baseIdx] ? TR.feeBaseId : assetIdx === a[o + TR.quoteIdx] ? TR.feeQuoteId : -1;
    if (col < 0 || a[o + col] !== 0) return false;
    a[o + col] = id;
    a[o + col + 1] = amount;
    a[o + col + 2] = total;
    return true;
  }

  /** The fee of a fee credit onto the fill of its trade that pays in that asset. */
  private addFee(tradeId: number, assetIdx: number, amount: number, seq: number): void {
    for (const fillId of [tradeId * 2, tradeId * 2 + 1]) {
      const fill = this.commandFills.get(fillId);
      if (fill !== undefined && fill[FILL_FEE_ASSET] === assetIdx) {
        fill[FILL_FEE] = (fill[FILL_FEE] as number) + amount;
        return;
      }
    }
    throw new Error(`report writer: a fee of trade ${tradeId} in asset ${assetIdx} (seq ${seq}) and no fill of that trade paying in it`);
  }

  private reference(type: Ev, b: Float64Array, at: number, strings: readonly string[]): void {
    const seq = b[at + 1]!;
    const str = (i: number) => {
      const v = b[at + i]!;
      const s = v < 0 ? undefined : strings[v];
      if (s === undefined) throw new Error(`report writer: event type ${type} (seq ${seq}) without its text`);
      return s;
    };
    if (type === Ev.ASSET) {
      const idx = b[at + A.assetIdx]!;
      const name = str(A.name);
      const decimals = b[at + A.decimals]!;
      this.assetByName.set(name, idx);
      this.refOps.push(() => this.upsertAsset.run(idx, name, decimals, seq));
    } else if (type === Ev.SYMBOL) {
      const idx = b[at + S.symbolIdx]!;
      const configText = str(S.config);
      const config = JSON.parse(configText) as { symbol: string; base: string; quote: string };
      const base = this.assetByName.get(config.base);
      const quote = this.assetByName.get(config.quote);
      if (base === undefined || quote === undefined) throw new Error(`report writer: symbol ${config.symbol} (seq ${seq}) of assets no event defined`);
      this.symbolBase[idx] = base;
      this.symbolQuote[idx] = quote;
      this.refOps.push(() => this.upsertSymbol.run(idx, config.symbol, base, quote, configText, seq));
    } else {
      // AccountEventKind: 1 created, 2 enabled, 3 disabled, 4 limits (-1: enabled unchanged)
      const kind = b[at + C.kind]!;
      const enabled = kind === 1 || kind === 2 ? 1 : kind === 3 ? 0 : -1;
      const id = b[at + C.accountId]!;
      const name = str(C.name);
      const maxOpen = b[at + C.maxOpenOrders]!;
      this.refOps.push(() => this.upsertAccount.run(id, name, enabled, maxOpen, seq));
    }
  }
}
