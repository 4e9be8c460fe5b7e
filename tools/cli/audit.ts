/**
 * `seqex audit`: reconciles the report database's ledger with the engine state rebuilt from the
 * journal (src/reports/audit.ts says what is checked). The engine is rebuilt to the database's last
 * seq (from the newest snapshot at or before it, or from seq 1 with --no-snapshot), so a database
 * that is behind is still checked as far as it goes, and its lag is reported as a difference.
 *
 * Exit codes: 0 clean; 1 a difference (each named: account, asset, expected, found);
 * 2 usage, or the database or journal cannot be read.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { JournalCorruptError } from '../../src/journal/journal.js';
import { tuneV8ForEngine } from '../../src/platform/v8.js';
import { auditReports } from '../../src/reports/audit.js';
import { JournalGapError, replayJournal } from '../../src/sequencer/recovery.js';
import { openReportsReadonly } from '../../src/reports/queries.js';
import { DEFAULT_REPORTS_FILE, readMeta } from '../../src/reports/schema.js';

export const AUDIT_OK = 0;
export const AUDIT_DIFFERENCES = 1;
export const AUDIT_USAGE = 2;

export const AUDIT_USAGE_TEXT = `usage: seqex audit [--data-dir DIR] [--reports FILE] [--no-snapshot]

Reconciles the report database with the engine state rebuilt from the journal:
  - per account and asset: the ledger's deltas sum to the engine's total and reserved
    (deposits - withdrawals +- trades +- fees == balance), and each ledger row's running
    balance follows from the rows before it;
  - reserved == what the account's open orders need; the engine's invariants hold;
  - per asset: all balances (fee account 0 included) == deposits - withdrawals; trades and fees
    only move assets;
  - the database's open orders are the engine's; every trade has its two fills;
  - the database is at the journal's last seq (else: how far behind).

options:
  --data-dir DIR   the data directory (default journal)
  --reports FILE   the report database (default <data-dir>/${DEFAULT_REPORTS_FILE})
  --no-snapshot    rebuild the engine from seq 1 instead of the newest snapshot

exit codes: 0 clean, 1 differences (each printed), 2 usage or unreadable input
`;

interface Args {
  dataDir: string;
  reports: string | null;
  noSnapshot: boolean;
  help: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { dataDir: 'journal', reports: null, noSnapshot: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (k === '--data-dir') a.dataDir = argv[++i] ?? '';
    else if (k === '--reports') a.reports = argv[++i] ?? '';
    else if (k === '--no-snapshot') a.noSnapshot = true;
    else if (k === '--help' || k === '-h') a.help = true;
    else return `unknown option ${k}`;
  }
  if (a.dataDir === '') return '--data-dir needs a directory';
  if (a.reports === '') return '--reports needs a file';
  return a;
}

export function auditMain(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    err(`seqex audit: ${args}\n\n${AUDIT_USAGE_TEXT}`);
    return AUDIT_USAGE;
  }
  if (args.help) {
    out(AUDIT_USAGE_TEXT);
    return AUDIT_OK;
  }
  let isDir = false;
  try {
    isDir = statSync(args.dataDir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) {
    err(`seqex audit: no data directory ${args.dataDir}\n`);
    return AUDIT_USAGE;
  }
  const file = args.reports ?? join(args.dataDir, DEFAULT_REPORTS_FILE);
  if (!existsSync(file)) {
    err(`seqex audit: no report database ${file} (build one with: seqex replay --data-dir ${args.dataDir} --rebuild-reports)\n`);
    return AUDIT_USAGE;
  }
  tuneV8ForEngine();
  const t0 = performance.now();
  let db: Database.Database;
  try {
    db = openReportsReadonly(file);
  } catch (e) {
    err(`seqex audit: cannot open ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return AUDIT_USAGE;
  }
  try {
    let dbSeq: number;
    try {
      dbSeq = readMeta(db, 'lastSeq');
    } catch (e) {
      err(`seqex audit: ${file} is not a report database: ${e instanceof Error ? e.message : String(e)}\n`);
      return AUDIT_USAGE;
    }
    let replay;
    try {
      replay = replayJournal(args.dataDir, { snapshotAtOrBefore: args.noSnapshot ? 0 : dbSeq, toSeq: dbSeq, log: (line) => err(`seqex audit: ${line}\n`) });
    } catch (e) {
      if (e instanceof JournalCorruptError) {
        err(`seqex audit: journal CORRUPT ${e.file} at offset ${e.offset}: ${e.reason}\n`);
        return AUDIT_USAGE;
      }
      if (e instanceof JournalGapError) {
        err(`seqex audit: ${e.message}\n`);
        return AUDIT_USAGE;
      }
      throw e;
    }
    if (replay.undecodable > 0) {
      err(`seqex audit: ${replay.undecodable} journal records do not decode\n`);
      return AUDIT_USAGE;
    }
    const r = auditReports(db, replay.engine, replay.journal.lastSeq);
    const seconds = (performance.now() - t0) / 1000;
    const start = replay.snapshotSeq > 0 ? `snapshot at seq ${replay.snapshotSeq} + ${replay.applied} records` : `${replay.applied} records from seq 1`;
    out([`reports       ${file}`, `engine        rebuilt from ${args.dataDir}: ${start}`, ...r.summary, ''].join('\n'));
    if (replay.journal.tornBytes > 0) out(`torn tail     ${replay.journal.tornBytes} bytes at the journal's end (not cut; never acknowledged)\n`);
    if (r.ok) {
      out(`audit ok      (${seconds.toFixed(3)} s)\n`);
      return AUDIT_OK;
    }
    out(`AUDIT FAILED: ${r.differences.length} difference(s)\n${r.differences.map((d) => `  ${d}`).join('\n')}\n`);
    return AUDIT_DIFFERENCES;
  } finally {
    db.close();
  }
}
