/**
 * Report database benchmark (issue 5): how fast ReportWriter turns the engine's events into rows,
 * and how fast `executions()` (GET /v1/execution) answers for one account over a day of fills.
 *
 * Workload: a real engine (fees on, 1,000 accounts; account 1 takes 10% of the trade sides by default)
 * where makers rest orders of 10 lots and takers hit them with 1-10 lots: per trade 2 fill rows,
 * 1 trade row, about 7.5 ledger entries (6 of them kept in the fill and trade rows) and 1.4 order upserts. The command times spread the fills over
 * one UTC day. Events are made in chunks and kept as the records a ring frame carries; the
 * writer's time (applyRecords + batched transactions) is measured apart from the engine's.
 *
 *   node dist/tools/bench/report-bench.js [--fills N] [--batch N] [--flush-ms N] [--queries N] [--hot SHARE] [--bulk] [--keep] [--quick]
 *
 * --hot: the share of trade sides account 1 takes (default 0.1; 0.5 with --fills 2000000 gives it
 * about a million fills); --bulk: the rebuild's settings (no WAL, no syncs) instead of the live
 * writer's; --flush-ms: also commit whenever that much writer time passed since the last commit
 * (the live worker's rule: src/reportworker/thread.ts).
 *
 * Prints a table, then one JSON line per part: {"bench":"reports.write",...} and
 * {"bench":"reports.query",...}. The database goes to a temporary directory under $BENCH_DIR
 * (default journal/, the data disk) and is removed unless --keep.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { EVENT_LENGTH } from '../../src/engine/events.js';
import { tuneV8ForEngine } from '../../src/platform/v8.js';
import { executions, openReportsReadonly } from '../../src/reports/queries.js';
import { DEFAULT_BATCH_EVENTS, ReportWriter } from '../../src/reports/writer.js';
import { benchArgs, fmtInt, table } from './stats.js';
import { mulberry32 } from './workload.js';

const argv = process.argv.slice(2);
const { quick, has, int: opt } = benchArgs(argv);
const FILLS = opt('--fills', quick ? 200_000 : 1_000_000);
const BATCH = opt('--batch', DEFAULT_BATCH_EVENTS);
const QUERIES = opt('--queries', quick ? 500 : 2_000);
const KEEP = has('--keep');
/** commit at least this often (ms of writer time): the live worker's policy; 0: by batch size alone */
const FLUSH_MS = has('--flush-ms') ? opt('--flush-ms', 1) : 0;
/** the writer settings of a rebuild (no WAL, no syncs) instead of the live writer's */
const BULK = has('--bulk');
/** probability that account 1 is a given side of a trade (0.5: one fill per trade on average) */
const HOT_SHARE = (() => {
  const i = argv.indexOf('--hot');
  const v = i < 0 ? 0.1 : Number(argv[i + 1]);
  if (!(v >= 0 && v <= 1)) throw new Error('--hot needs a share in [0, 1]');
  return v;
})();
const ACCOUNTS = 1_000;
const HOT = 1;
const DAY_US = 86_400_000_000;
const T0 = Date.UTC(2024, 0, 3) * 1000;
/** commands per chunk of events held in memory at once */
const CHUNK = 20_000;

tuneV8ForEngine();
const BASE_DIR = process.env.BENCH_DIR ?? 'journal';
mkdirSync(BASE_DIR, { recursive: true });
const dir = mkdtempSync(join(BASE_DIR, 'report-bench-'));
const path = join(dir, 'reports.sqlite');

// ------------------------------------------------------------------ workload

const rng = mulberry32;

const engine = new Engine({ initialOrderCapacity: 1 << 16, defaultMaxOpenOrders: 1_000_000 });
let seq = 0;
const trades = FILLS / 2;
/** about 1.6 commands per trade (a maker order per 10 lots, a taker per trade): spread over a day */
const usPerCommand = Math.floor(DAY_US / (trades * 1.7));
let now = T0;
const r = rng(42);
const pending: Command[] = [];
const push = (c: object) => pending.push({ ...c, seq: ++seq, tsUs: (now += usPerCommand) } as Command);
push({ type: 'addAsset', asset: 'USD', decimals: 2 });
push({ type: 'addAsset', asset: 'BTC', decimals: 8 });
push({ type: 'addAsset', asset: 'ETH', decimals: 8 });
const cfg = { quote: 'USD', tickSize: '1', lotSize: '0.01', maxQty: '1000', maxNotional: '100000000', makerFeeBps: 10, takerFeeBps: 25 };
push({ type: 'addSymbol', config: { ...cfg, symbol: 'BTC-USD', base: 'BTC' } });
push({ type: 'addSymbol', config: { ...cfg, symbol: 'ETH-USD', base: 'ETH' } });
for (let a = 1; a <= ACCOUNTS; a++) {
  push({ type: 'createAccount', name: `a${a}` });
  for (const asset of ['USD', 'BTC', 'ETH']) push({ type: 'deposit', accountId: a, asset, amountMinor: 1e11, transferId: `f${a}${asset}` });
}
/** per symbol: lots left on the resting maker order, and its side */
const makerLeft = [0, 0];
const makerSide = [2, 2];
let tradesMade = 0;
const account = () => (r() < HOT_SHARE ? HOT : 2 + Math.floor(r() * (ACCOUNTS - 1)));
function nextCommands(): void {
  const s = r() < 0.5 ? 0 : 1;
  const symbol = s === 0 ? 'BTC-USD' : 'ETH-USD';
  const px = s === 0 ? 40_000 : 3_000;
  if (makerLeft[s] === 0) {
    makerSide[s] = r() < 0.5 ? 1 : 2;
    push({ type: 'newOrder', accountId: account(), symbol, side: makerSide[s], ordType: 1, qtyLots: 10, priceTicks: px });
    makerLeft[s] = 10;
  }
  const q = Math.min(makerLeft[s]!, 1 + Math.floor(r() * 10));
  // decrement STP: a taker meeting its own maker order shrinks both instead of trading
  push({ type: 'newOrder', accountId: account(), symbol, side: 3 - makerSide[s]!, ordType: 1, qtyLots: q, priceTicks: px, stp: 4 });
  makerLeft[s]! -= q;
  tradesMade++;
}

// ------------------------------------------------------------------ write

const writer = new ReportWriter(path, { batchEvents: BATCH, bulk: BULK });
let engineMs = 0;
let writeMs = 0;
let events = 0;
// the writer reads each command's records as the event ring carries them (applyRecords): keep a
// copy per command of a chunk, then time the writer alone over the chunk
while (tradesMade < trades || pending.length > 0) {
  while (pending.length < CHUNK && tradesMade < trades) nextCommands();
  const chunk = pending.splice(0, pending.length);
  const records: Float64Array[] = [];
  const strings: string[][] = [];
  const t0 = performance.now();
  for (const c of chunk) {
    engine.events.clear();
    engine.apply(c);
    records.push(engine.events.buf.slice(0, engine.events.len));
    strings.push([...engine.events.strings]);
  }
  engineMs += performance.now() - t0;
  const t = performance.now();
  let lastFlush = t;
  for (let i = 0; i < chunk.length; i++) {
    const rec = records[i]!;
    writer.applyRecords(rec, 0, rec.length, strings[i]!, chunk[i]!.seq);
    if (FLUSH_MS > 0 && (i & 63) === 0 && performance.now() - lastFlush >= FLUSH_MS) {
      writer.flush();
      lastFlush = performance.now();
    }
  }
  writeMs += performance.now() - t;
  for (const rec of records) for (let at = 0; at < rec.length; at += EVENT_LENGTH[rec[at]!]!) events++;
}
const tFlush = performance.now();
writer.flush();
writeMs += performance.now() - tFlush;
const w = writer.written;
const batches = writer.batches;
writer.close();
/** logical rows: a ledger entry counts whether it is a row of its own or columns of a fill or trade row */
const rowsTotal = w.fills + w.trades + w.ledger + w.orders;
const storedRows = w.fills + w.trades + w.ledgerRows + w.orders;
const phases = writer.phaseMs;
const fileMb = statSync(path).size / 1e6;
const writeSec = writeMs / 1000;
const fillsPerSec = w.fills / writeSec;

// ------------------------------------------------------------------ query

const db = openReportsReadonly(path);
const hotFills = (db.prepare('SELECT count(*) AS n FROM fills WHERE accountId = ?').get(HOT) as { n: number }).n;
const span = db.prepare('SELECT min(tsUs) AS lo, max(tsUs) AS hi FROM fills').get() as { lo: number; hi: number };
const lat = new Float64Array(QUERIES);
const kinds = ['newest page', 'time window', 'deep cursor', 'symbol filter'] as const;
const qr = rng(7);
let cursor: string | null = null;
let rowsRead = 0;
for (let i = 0; i < QUERIES; i++) {
  const kind = kinds[i % kinds.length]!;
  const start = performance.now();
  let page;
  if (kind === 'newest page') page = executions(db, HOT, { limit: 100 });
  else if (kind === 'time window') {
    const from = span.lo + Math.floor(qr() * (span.hi - span.lo));
    page = executions(db, HOT, { startUs: from, endUs: from + 3_600_000_000, limit: 100 });
  } else if (kind === 'deep cursor') {
    // walks the whole day page by page, starting over at the end
    page = executions(db, HOT, { limit: 100, cursor });
    cursor = page.nextCursor;
  } else page = executions(db, HOT, { symbolIdx: 1, limit: 100, startUs: span.lo + Math.floor(qr() * (span.hi - span.lo)) });
  lat[i] = performance.now() - start;
  rowsRead += page.rows.length;
}
db.close();
lat.sort();
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
if (!KEEP) rmSync(dir, { recursive: true, force: true });

process.stdout.write(
  table([
      ['part', 'value'],
      ['fills written (rows, one per side)', fmtInt(w.fills)],
      ['trades / ledger entries (of which in ledger_rows) / order upserts', `${fmtInt(w.trades)} / ${fmtInt(w.ledger)} (${fmtInt(w.ledgerRows)}) / ${fmtInt(w.orders)}`],
      ['events applied', fmtInt(events)],
      ['batches (events per batch)', `${fmtInt(batches)} (${fmtInt(BATCH)})`],
      ['writer time', `${writeSec.toFixed(2)} s`],
      ['writer fills/s', fmtInt(fillsPerSec)],
      ['writer rows/s (all tables; ledger entries as rows)', fmtInt(rowsTotal / writeSec)],
      ['writer time by phase: rows in JS / trades / fills / ledger_rows / orders+meta / BEGIN+COMMIT', [phases.apply, phases.trades, phases.fills, phases.ledger, phases.orders, phases.commit].map((ms) => `${(ms / 1000).toFixed(2)} s`).join(' / ')],
      ['engine time (not counted)', `${(engineMs / 1000).toFixed(2)} s`],
      ['database size', `${fileMb.toFixed(0)} MB`],
      [`GET /v1/execution, account with ${fmtInt(hotFills)} fills`, `${QUERIES} queries of 100 rows (${kinds.join(', ')})`],
      ['query p50 / p99 / max', `${pct(0.5).toFixed(3)} / ${pct(0.99).toFixed(3)} / ${lat[lat.length - 1]!.toFixed(3)} ms`],
    ]) + '\n',
);
process.stdout.write(
  JSON.stringify({
    bench: 'reports.write',
    fills: w.fills,
    trades: w.trades,
    ledgerRows: w.ledger,
    ledgerStoredRows: w.ledgerRows,
    orderUpserts: w.orders,
    events,
    batchEvents: BATCH,
    bulk: BULK,
    flushMs: FLUSH_MS,
    batches,
    writerSeconds: +writeSec.toFixed(3),
    fillsPerSec: Math.round(fillsPerSec),
    rowsPerSec: Math.round(rowsTotal / writeSec),
    storedRowsPerSec: Math.round(storedRows / writeSec),
    phaseSeconds: Object.fromEntries(Object.entries(phases).map(([k, ms]) => [k, +(ms / 1000).toFixed(3)])),
    dbMb: Math.round(fileMb),
  }) + '\n',
);
process.stdout.write(
  JSON.stringify({
    bench: 'reports.query',
    query: 'executions',
    dayFills: w.fills,
    accountFills: hotFills,
    queries: QUERIES,
    limit: 100,
    rowsRead,
    p50Ms: +pct(0.5).toFixed(3),
    p99Ms: +pct(0.99).toFixed(3),
    maxMs: +lat[lat.length - 1]!.toFixed(3),
  }) + '\n',
);
