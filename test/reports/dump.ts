/** Shared by the report tests: temp files, a writer fed a session, and whole-table dumps to compare databases. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type DecodedEvent, EVENT_FIELDS, EVENT_NAMES, type EventLog } from '../../src/engine/events.js';
import { ReportWriter, type ReportWriterOptions } from '../../src/reports/writer.js';

export const TABLES = ['meta', 'assets', 'symbols', 'accounts', 'orders', 'fills', 'trades', 'ledger'] as const;
const ORDER: Record<(typeof TABLES)[number], string> = {
  meta: 'key',
  assets: 'assetIdx',
  symbols: 'symbolIdx',
  accounts: 'accountId',
  orders: 'orderId',
  fills: 'fillId',
  trades: 'tradeId',
  ledger: 'id',
};

const dirs: string[] = [];
export function tempDir(prefix = 'seqex-reports-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
}

/** Every row of every table, in key order. */
export function dump(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of TABLES) out[t] = db.prepare(`SELECT * FROM ${t} ORDER BY ${ORDER[t]}`).raw().all();
    return out;
  } finally {
    db.close();
  }
}

/** A database written in one go from `events` (commands seq 1..), closed; returns its path. */
export function writeAll(path: string, events: DecodedEvent[][], options: ReportWriterOptions = {}, upToSeq = Infinity): string {
  const w = new ReportWriter(path, options);
  events.forEach((ev, i) => {
    if (i + 1 <= upToSeq) w.apply(ev, i + 1);
  });
  w.close();
  return path;
}

const TYPE = new Map(Object.entries(EVENT_NAMES).map(([t, n]) => [n, Number(t)]));
/** Decoded events back into a log, as the engine had them (the input of the records path). */
export function encode(ev: readonly DecodedEvent[], log: EventLog): void {
  for (const e of ev) {
    const type = TYPE.get(e.event)!;
    log.seq = e.seq;
    log.tsUs = e.tsUs;
    const at = log.begin(type);
    EVENT_FIELDS[type]!.forEach((name, f) => {
      log.buf[at + f] = name.endsWith('Str') ? log.str((e[name.slice(0, -3)] as string | null) ?? undefined) : (e[name] as number);
    });
  }
}

/** The ledger the events say: one entry per BALANCE event, numbered in event order. */
export function expectedLedger(events: DecodedEvent[][]): Record<string, unknown>[] {
  let id = 0;
  return events.flat().filter((e) => e.event === 'balance').map((e) => ({
    id: ++id,
    seq: e.seq,
    tsUs: e.tsUs,
    accountId: e.accountId,
    assetIdx: e.assetIdx,
    deltaTotal: e.deltaTotal,
    deltaReserved: e.deltaReserved,
    total: e.total,
    reserved: e.reserved,
    cause: e.cause,
    refId: e.refId,
    refStr: e.ref ?? null,
  }));
}
