/**
 * The reconciliation behind `seqex audit`: the report database's ledger against the engine state
 * rebuilt from the journal (at the database's last seq). The ledger is read through its view
 * (schema.ts): the rows of ledger_rows and the settlement entries kept in trade rows alike, so a
 * damaged value is found wherever it is stored. The ledger is derived data written by
 * another thread from the event stream; this proves it says what the engine did:
 *
 * - per (account, asset): the sum of the ledger's deltaTotal and deltaReserved equals the engine's
 *   total and reserved, and so does the last row's running balance; each row's running balance is
 *   the previous one plus its delta (a damaged row is named by its id);
 * - reserved equals what the account's open orders need (buys: reservation price x leaves x k of
 *   the quote asset; sells: leaves x lotMinor of the base asset, as the engine reserves), and the
 *   engine's own invariant check passes;
 * - per asset: the totals of all accounts (fee account 0 included) equal deposits - withdrawals
 *   from the ledger and the engine's supply, and trades and fees only move the asset (their
 *   deltas sum to 0);
 * - the open orders in the database are the engine's open orders, with the same quantities;
 * - the ledger ids are 1 .. meta.ledgerId, each once (the BALANCE events' ordinals);
 * - every trade has two fills;
 * - the database is at the journal's last seq (else: how far behind).
 *
 * All amounts in engine integers (minor units, lots, ticks).
 */
import type Database from 'better-sqlite3';
import { BALANCE_CAUSE_NAMES, BalanceCause, Side } from '../domain/codes.js';
import type { Engine } from '../engine/engine.js';
import { readMeta } from './schema.js';

export interface AuditResult {
  ok: boolean;
  /** one line per difference, naming what differs, the expected and the found value */
  differences: string[];
  /** short report of what was checked */
  summary: string[];
}

/** differences listed in full up to this many; the rest are counted */
export const MAX_LISTED_DIFFERENCES = 100;

interface WalletLedger {
  rows: number;
  sumTotal: number;
  sumReserved: number;
  lastTotal: number;
  lastReserved: number;
  lastId: number;
  /** the first row whose running balance is not the previous one plus its delta */
  brokenId: number;
  brokenWhy: string;
}

const walletKey = (account: number, asset: number) => account * 2 ** 20 + asset;

export function auditReports(db: Database.Database, engine: Engine, journalLastSeq: number): AuditResult {
  const differences: string[] = [];
  let unlisted = 0;
  const diff = (line: string) => {
    if (differences.length < MAX_LISTED_DIFFERENCES) differences.push(line);
    else unlisted++;
  };
  const assetCount = engine.assetNames().length;
  const assetName = (i: number) => engine.assetByIdx(i)?.name ?? `asset#${i}`;
  const assetIdx = new Map(engine.assetNames().map((name, i) => [name, i]));
  const accountIds: number[] = [];
  for (let i = 0; engine.account(i) !== null; i++) accountIds.push(i);
  const accountName = (id: number) => {
    const a = engine.account(id);
    return a === null ? `account ${id} (unknown to the engine)` : `account ${id} (${a.name})`;
  };

  // ---- freshness
  const dbSeq = readMeta(db, 'lastSeq');
  if (dbSeq < journalLastSeq) diff(`reports: at seq ${dbSeq}, the journal at seq ${journalLastSeq}: ${journalLastSeq - dbSeq} commands behind (compared below at seq ${dbSeq})`);
  if (dbSeq > journalLastSeq) diff(`reports: at seq ${dbSeq}, beyond the journal's last seq ${journalLastSeq}: not this journal's reports`);
  if (engine.lastSeq > dbSeq) diff(`audit: the engine was rebuilt to seq ${engine.lastSeq}, the reports are at ${dbSeq}`);

  // ---- one pass over the ledger in id (event) order
  const wallets = new Map<number, WalletLedger>();
  /** per asset, per cause: sum of deltaTotal */
  const byCause: number[][] = [];
  for (let a = 0; a < assetCount; a++) byCause.push(new Array<number>(BALANCE_CAUSE_NAMES.length).fill(0));
  let ledgerRows = 0;
  const it = db.prepare('SELECT id, accountId, assetIdx, deltaTotal, deltaReserved, total, reserved, cause FROM ledger ORDER BY id').raw().iterate() as IterableIterator<
    [number, number, number, number, number, number, number, number]
  >;
  // schema 2 keeps entries in two places (ledger_rows and the trade rows' settleId / feeBaseId /
  // feeQuoteId), so an id is no longer unique by construction: a damaged id column can make two
  // entries share an id (or lose one) while every sum and running balance still holds. The ids
  // must be the BALANCE events' ordinals: 1, 2, ... meta.ledgerId, each once.
  let prevId = 0;
  let idBreaks = 0;
  for (const [id, account, asset, dTotal, dReserved, total, reserved, cause] of it) {
    ledgerRows++;
    if (id !== prevId + 1 && idBreaks++ < 10)
      diff(id === prevId ? `ledger id ${id}: two entries share it (expected one entry per id)` : `ledger id ${id} follows ${prevId} (expected ${prevId + 1}: an entry is missing)`);
    prevId = id;
    const k = walletKey(account, asset);
    let w = wallets.get(k);
    if (w === undefined) {
      w = { rows: 0, sumTotal: 0, sumReserved: 0, lastTotal: 0, lastReserved: 0, lastId: 0, brokenId: 0, brokenWhy: '' };
      wallets.set(k, w);
    }
    if (w.brokenId === 0 && (total !== w.lastTotal + dTotal || reserved !== w.lastReserved + dReserved))
      [w.brokenId, w.brokenWhy] = [
        id,
        `total ${w.lastTotal} + ${dTotal} should be ${w.lastTotal + dTotal}, the row says ${total}; reserved ${w.lastReserved} + ${dReserved} should be ${w.lastReserved + dReserved}, the row says ${reserved}`,
      ];
    w.rows++;
    w.sumTotal += dTotal;
    w.sumReserved += dReserved;
    w.lastTotal = total;
    w.lastReserved = reserved;
    w.lastId = id;
    const causes = byCause[asset];
    if (causes === undefined || cause < 1 || cause >= BALANCE_CAUSE_NAMES.length) diff(`ledger row ${id}: asset ${asset} / cause ${cause} unknown`);
    else causes[cause]! += dTotal;
  }

  const lastLedgerId = readMeta(db, 'ledgerId');
  if (prevId !== lastLedgerId) diff(`ledger: the last id is ${prevId}, meta.ledgerId ${lastLedgerId} (expected ${lastLedgerId}, found ${prevId})`);

  // ---- every balance of the engine against the ledger
  const engineTotals = new Array<number>(assetCount).fill(0);
  const checkedWallets = new Set<number>();
  for (const id of accountIds) {
    for (let asset = 0; asset < assetCount; asset++) {
      const name = assetName(asset);
      const b = engine.balance(id, name)!;
      engineTotals[asset]! += b.totalMinor;
      const k = walletKey(id, asset);
      checkedWallets.add(k);
      const w = wallets.get(k);
      const who = `${accountName(id)} ${name}`;
      if (w === undefined) {
        if (b.totalMinor !== 0 || b.reservedMinor !== 0) diff(`${who}: no ledger rows, the engine has total ${b.totalMinor} reserved ${b.reservedMinor}`);
        continue;
      }
      if (w.sumTotal !== b.totalMinor) diff(`${who}: ledger sum of deltaTotal ${w.sumTotal}, engine total ${b.totalMinor} (expected ${b.totalMinor}, found ${w.sumTotal})`);
      if (w.sumReserved !== b.reservedMinor) diff(`${who}: ledger sum of deltaReserved ${w.sumReserved}, engine reserved ${b.reservedMinor} (expected ${b.reservedMinor}, found ${w.sumReserved})`);
      if (w.lastTotal !== b.totalMinor || w.lastReserved !== b.reservedMinor)
        diff(`${who}: last ledger row ${w.lastId} says total ${w.lastTotal} reserved ${w.lastReserved}, the engine total ${b.totalMinor} reserved ${b.reservedMinor}`);
      if (w.brokenId !== 0) diff(`${who}: ledger row ${w.brokenId} does not follow from the rows before it: ${w.brokenWhy}`);
    }
  }
  for (const [k, w] of wallets)
    if (!checkedWallets.has(k)) diff(`${accountName(Math.floor(k / 2 ** 20))} ${assetName(k % 2 ** 20)}: ${w.rows} ledger rows for a balance the engine does not have`);

  // ---- reserved == what open orders need; the engine's own invariants
  const openInEngine = new Map<number, { accountId: number; status: number; priceTicks: number; qtyLots: number; filledLots: number; leavesLots: number }>();
  const symbols = new Map<string, NonNullable<ReturnType<Engine['symbol']>>>();
  for (const id of accountIds) {
    const need = new Array<number>(assetCount).fill(0);
    for (const o of engine.openOrders(id)) {
      openInEngine.set(o.orderId, o);
      let sym = symbols.get(o.symbol);
      if (sym === undefined) symbols.set(o.symbol, (sym = engine.symbol(o.symbol)!));
      if (o.side === Side.BUY) need[assetIdx.get(sym.quote)!]! += o.priceTicks * o.leavesLots * sym.params.k;
      else need[assetIdx.get(sym.base)!]! += o.leavesLots * sym.params.lotMinor;
    }
    for (let asset = 0; asset < assetCount; asset++) {
      const reserved = engine.balance(id, assetName(asset))!.reservedMinor;
      if (reserved !== need[asset]) diff(`${accountName(id)} ${assetName(asset)}: reserved ${reserved}, open orders need ${need[asset]} (expected ${need[asset]}, found ${reserved})`);
    }
  }
  try {
    engine.checkInvariants();
  } catch (e) {
    diff(`engine: ${e instanceof Error ? e.message : String(e)}`);
  }

  // ---- conservation per asset
  for (let asset = 0; asset < assetCount; asset++) {
    const name = assetName(asset);
    const c = byCause[asset]!;
    const net = c[BalanceCause.DEPOSIT]! + c[BalanceCause.WITHDRAW]!;
    const supply = engine.assetSupply(name);
    if (engineTotals[asset] !== net) diff(`asset ${name}: all accounts hold ${engineTotals[asset]}, ledger deposits - withdrawals ${net} (expected ${net}, found ${engineTotals[asset]})`);
    if (supply !== net) diff(`asset ${name}: engine supply ${supply}, ledger deposits - withdrawals ${net}`);
    const moved = c[BalanceCause.TRADE]! + c[BalanceCause.FEE]!;
    if (moved !== 0) diff(`asset ${name}: trades and fees should only move it, their ledger deltas sum to ${moved} (expected 0)`);
    for (const cause of [BalanceCause.RESERVE, BalanceCause.RELEASE])
      if (c[cause] !== 0) diff(`asset ${name}: ${BALANCE_CAUSE_NAMES[cause]} rows change totals by ${c[cause]} (expected 0)`);
  }

  // ---- open orders in the database == the engine's
  let openInDb = 0;
  const orders = db.prepare('SELECT orderId, accountId, status, priceTicks, qtyLots, cumQtyLots, leavesQtyLots FROM orders WHERE final = 0').raw().iterate() as IterableIterator<
    [number, number, number, number, number, number, number]
  >;
  for (const [orderId, accountId, status, priceTicks, qtyLots, cumQtyLots, leavesQtyLots] of orders) {
    openInDb++;
    const o = openInEngine.get(orderId);
    if (o === undefined) {
      diff(`order ${orderId} of ${accountName(accountId)}: open in the reports (status ${status}), not open in the engine`);
      continue;
    }
    openInEngine.delete(orderId);
    const found = [accountId, status, priceTicks, qtyLots, cumQtyLots, leavesQtyLots];
    const expected = [o.accountId, o.status, o.priceTicks, o.qtyLots, o.filledLots, o.leavesLots];
    if (found.some((v, i) => v !== expected[i]))
      diff(`order ${orderId}: reports (account, status, price, qty, filled, leaves) = (${found.join(', ')}), engine (${expected.join(', ')})`);
  }
  for (const [orderId, o] of openInEngine) diff(`order ${orderId} of ${accountName(o.accountId)}: open in the engine, missing from the reports' open orders`);

  // ---- fills and trades
  const tradeCount = (db.prepare('SELECT count(*) AS n FROM trades').get() as { n: number }).n;
  const fillCount = (db.prepare('SELECT count(*) AS n FROM fills').get() as { n: number }).n;
  if (fillCount !== 2 * tradeCount) diff(`fills: ${fillCount} rows for ${tradeCount} trades (expected ${2 * tradeCount})`);

  if (unlisted > 0) differences.push(`... and ${unlisted} more differences`);
  const storedApart = (db.prepare('SELECT count(*) AS n FROM ledger_rows').get() as { n: number }).n;
  const summary = [
    `reports seq   ${dbSeq} (journal ${journalLastSeq})`,
    `accounts      ${accountIds.length}, assets ${assetCount}, balances ${wallets.size}`,
    `ledger rows   ${ledgerRows} (${storedApart} in ledger_rows, ${ledgerRows - storedApart} kept in trade rows)`,
    `open orders   ${openInDb} in the reports`,
    `trades        ${tradeCount} (${fillCount} fills)`,
    'per asset (minor units): supply = deposits + withdrawals; trade and fee deltas sum to 0',
    ...byCause.map((c, asset) => {
      const parts = [BalanceCause.DEPOSIT, BalanceCause.WITHDRAW, BalanceCause.TRADE, BalanceCause.FEE].map((cause) => `${BALANCE_CAUSE_NAMES[cause]} ${c[cause]}`);
      return `  ${assetName(asset).padEnd(12)} supply ${engine.assetSupply(assetName(asset))}  ${parts.join('  ')}`;
    }),
  ];
  return { ok: differences.length === 0, differences, summary };
}
