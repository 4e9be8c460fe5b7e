/**
 * The speed of light of SQLite on this machine, for the report writer's target (issue 5: "the
 * report writer keeps up with 200,000 fills/s"). The same settings as the live writer
 * (configureWriter: WAL, synchronous=NORMAL, 64 MiB cache), the same 64-row INSERTs bound the same
 * way (its ChunkedInsert), the same
 * 13-column fill row and 9-column trade row, but nothing else: no engine, no events to read, no
 * ledger, no orders, rows generated before the clock starts. Three parts, one after the other,
 * each into a fresh file:
 *
 *   append   fill rows into a rowid table (no index: the cheapest row SQLite can take)
 *   account  fill rows into a table clustered by (accountId, tsUs, fillId), 1,000 accounts, each
 *            batch sorted by that key (what GET /v1/execution needs: one account's fills together)
 *   runs     `minimal` with the fills appended (batch sorted by account) and a table of one row per
 *            (account, batch) saying which ids hold that account's fills: the account index paid
 *            per batch instead of per fill
 *   minimal  per trade 2 fill rows (clustered by account) + 1 trade row (clustered by symbol and
 *            time): the least a report database that answers /v1/execution and trade history
 *            must write, with no ledger and no orders
 *
 * `minimal` is today's layout with nothing but fills and trades; `runs` the cheapest layout found
 * that still answers one account's fills by a range read. The report writer (report-bench) writes
 * more than either (ledger, orders) and must also read the events.
 *
 *   node dist/tools/bench/sqlite-ceiling.js [--fills N] [--batch N] [--quick]
 *
 * One human line and one JSON line {"bench":"sqlite.ceiling", part, rowsPerSec, fillsPerSec} per
 * part. Files under $BENCH_DIR (default journal/, the data disk), removed after.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { configureWriter } from '../../src/reports/schema.js';
import { ChunkedInsert } from '../../src/reports/writer.js';
import { benchArgs, fmtInt } from './stats.js';
import { mulberry32 } from './workload.js';

const { quick, int: opt } = benchArgs();
const FILLS = opt('--fills', quick ? 200_000 : 1_000_000);
/** fills per transaction: report-bench's writer commits every 200,000 events, ~30,000 fills (~6.7 events a fill) */
const BATCH = opt('--batch', 30_000);
const ACCOUNTS = 1_000;
const FILL_WIDTH = 13;
const TRADE_WIDTH = 9;

const BASE_DIR = process.env.BENCH_DIR ?? 'journal';
mkdirSync(BASE_DIR, { recursive: true });
const dir = mkdtempSync(join(BASE_DIR, 'sqlite-ceiling-'));

const cols = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
const intCols = (n: number) => cols(n).map((c) => `${c} INTEGER NOT NULL`).join(', ');
const TABLES = {
  append: `CREATE TABLE fills (id INTEGER PRIMARY KEY, ${intCols(FILL_WIDTH)}) STRICT`,
  // c0 account, c1 time, c2 fillId: fills' real clustered key
  account: `CREATE TABLE fills (${intCols(FILL_WIDTH)}, PRIMARY KEY (c0, c1, c2)) STRICT, WITHOUT ROWID`,
  // c0 symbol, c1 time, c2 tradeId: trades' real clustered key
  // one row per (account, batch): account, last time, first and last id of its fills in the append-only table
  runs: `CREATE TABLE runs (${intCols(4)}, PRIMARY KEY (c0, c1, c2)) STRICT, WITHOUT ROWID`,
  trades: `CREATE TABLE trades (${intCols(TRADE_WIDTH)}, PRIMARY KEY (c0, c1, c2)) STRICT, WITHOUT ROWID`,
};

type Part = 'append' | 'account' | 'minimal' | 'runs';

/** One batch of fill rows (and trade rows for `minimal`) as the writer would have them, made before timing. */
function makeBatch(part: Part, firstFill: number, n: number, rand: () => number): { fills: number[][]; trades: number[][] } {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const fillId = firstFill + i;
    const tsUs = 1_700_000_000_000_000 + fillId * 10;
    const r = [Math.floor(rand() * ACCOUNTS) + 1, tsUs, fillId, fillId >> 1, fillId * 3, 1, fillId & 1, 18_925 + (fillId % 100), 1 + (fillId % 10), 1 + (fillId & 1), fillId % 7, 1, fillId];
    rows.push(r);
  }
  if (part !== 'append') rows.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!);
  const fills = rows;
  const trades: number[][] = [];
  if (part === 'minimal' || part === 'runs') {
    for (let f = firstFill; f < firstFill + n; f += 2) {
      const tradeId = f >> 1;
      trades.push([1, 1_700_000_000_000_000 + f * 10, tradeId, 18_925 + (f % 100), 1 + (f % 10), 1 + (f & 1), f * 3, f * 3 + 3, f]);
    }
  }
  return { fills, trades };
}

function runPart(part: Part): { part: Part; rows: number; seconds: number; fileMB: number } {
  const path = join(dir, `${part}.sqlite`);
  const db = new Database(path);
  configureWriter(db);
  db.exec(part === 'append' || part === 'runs' ? TABLES.append : TABLES.account);
  if (part === 'minimal' || part === 'runs') db.exec(TABLES.trades);
  if (part === 'runs') db.exec(TABLES.runs);
  const fillIns = new ChunkedInsert(db, 'fills', cols(FILL_WIDTH));
  const tradeIns = part === 'minimal' || part === 'runs' ? new ChunkedInsert(db, 'trades', cols(TRADE_WIDTH)) : null;
  const runIns = part === 'runs' ? new ChunkedInsert(db, 'runs', cols(4)) : null;
  let nextId = 1;
  const write = db.transaction((fills: number[][], trades: number[][]) => {
    fillIns.runRows(fills);
    if (tradeIns !== null) tradeIns.runRows(trades);
    if (runIns !== null) {
      // the batch is sorted by account, so each account's rows got consecutive ids
      const runs: number[][] = [];
      for (let at = 0; at < fills.length; ) {
        let end = at;
        while (end < fills.length && fills[end]![0] === fills[at]![0]) end++;
        runs.push([fills[at]![0]!, fills[end - 1]![1]!, nextId + at, nextId + end - 1]);
        at = end;
      }
      nextId += fills.length;
      runIns.runRows(runs);
    }
  });
  const rand = mulberry32(7);
  let ns = 0n;
  let rows = 0;
  for (let done = 0; done < FILLS; done += BATCH) {
    const n = Math.min(BATCH, FILLS - done);
    const batch = makeBatch(part, done, n, rand);
    const t0 = process.hrtime.bigint();
    write(batch.fills, batch.trades);
    ns += process.hrtime.bigint() - t0;
    rows += n + batch.trades.length;
  }
  db.close();
  const fileMB = statSync(path).size / 1e6;
  return { part, rows, seconds: Number(ns) / 1e9, fileMB };
}

try {
  const out: string[] = [];
  for (const part of ['append', 'account', 'minimal', 'runs'] as const) {
    const r = runPart(part);
    const rowsPerSec = r.rows / r.seconds;
    const fillsPerSec = FILLS / r.seconds;
    console.log(
      `sqlite ceiling ${part.padEnd(8)} ${fmtInt(FILLS)} fills, ${fmtInt(r.rows)} rows in ${r.seconds.toFixed(2)} s: ${fmtInt(rowsPerSec)} rows/s = ${fmtInt(fillsPerSec)} fills/s (${r.fileMB.toFixed(0)} MB)`,
    );
    out.push(JSON.stringify({ bench: 'sqlite.ceiling', part, fills: FILLS, batchFills: BATCH, rows: r.rows, seconds: +r.seconds.toFixed(3), rowsPerSec: Math.round(rowsPerSec), fillsPerSec: Math.round(fillsPerSec), fileMB: +r.fileMB.toFixed(1) }));
  }
  for (const line of out) console.log(line);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
