/**
 * The report database from a real journal (JournalWriter segments that rotate, a snapshot in the
 * middle), against the live writer fed the same events:
 * - `seqex replay --rebuild-reports` gives exactly the live writer's rows, also over an existing
 *   file (and its WAL), and leaves the old file alone when it cannot finish;
 * - a writer that stopped half way catches up from the journal (from the snapshot at or before its
 *   lastSeq) to the same rows;
 * - `seqex audit` passes on it, and fails naming account, asset, expected and found for a
 *   corrupted ledger entry, whether a row of ledger_rows or kept in a trade row (and for a
 *   damaged open order, a lagging database).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { JournalWriter, listSegments } from '../../src/journal/journal.js';
import { writeSnapshotFile } from '../../src/journal/snapshotFile.js';
import { catchUpFromJournal } from '../../src/reports/journalReplay.js';
import { ReportWriter } from '../../src/reports/writer.js';
import { encodeCommand, MAX_COMMAND_BYTES } from '../../src/sequencer/codec.js';
import { AUDIT_DIFFERENCES, AUDIT_OK, AUDIT_USAGE, auditMain } from '../../tools/cli/audit.js';
import { EXIT_OK, EXIT_USAGE, replayMain } from '../../tools/cli/replay.js';
import { dump, removeTempDirs, tempDir, writeAll } from './dump.js';
import { generateSession, type Session } from './session.js';

const SNAPSHOT_AT = 1500;
let s: Session;
let dataDir = '';
let live = '';
let liveDump: Record<string, unknown[]>;

beforeAll(() => {
  s = generateSession(31337, 2500);
  dataDir = tempDir('seqex-reports-journal-');
  // the journal of the session, as the sequencer writes it (small segments: several files)
  const w = new JournalWriter({ dir: dataDir, durability: 'none', segmentBytes: 64 * 1024 });
  const buf = new Uint8Array(MAX_COMMAND_BYTES);
  const e = new Engine();
  s.commands.forEach((c, i) => {
    const [type, n] = encodeCommand(c, buf);
    w.append(c.seq, c.tsUs, type, buf.subarray(0, n));
    if (i % 50 === 49) w.commit();
    e.events.clear();
    e.apply(c);
    if (c.seq === SNAPSHOT_AT) writeSnapshotFile(dataDir, c.seq, e.stateHash(), e.snapshot());
  });
  w.close();
  expect(e.stateHash()).toBe(s.engine.stateHash());
  // the live writer: the same events as the engine made them, in small batches
  live = writeAll(join(tempDir(), 'live.sqlite'), s.events, { batchEvents: 500 });
  liveDump = dump(live);
});
afterAll(() => removeTempDirs());

function cli(fn: typeof replayMain, argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = fn(argv, (t) => (out += t), (t) => (err += t));
  return { code, out, err };
}

describe('seqex replay --rebuild-reports', () => {
  it('rebuilds <data-dir>/reports.sqlite from the whole journal: the live writer rows, exactly', () => {
    expect(listSegments(dataDir).length).toBeGreaterThan(2);
    const r = cli(replayMain, ['--data-dir', dataDir, '--rebuild-reports']);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT_OK);
    const fills = (liveDump.fills as unknown[]).length;
    expect(r.out).toMatch(new RegExp(`reports +\\d+ rows \\(${fills} fills, .* to seq ${s.commands.length} in .*reports\\.sqlite, \\d+ rows/s`));
    expect(dump(join(dataDir, 'reports.sqlite'))).toEqual(liveDump);
    expect(existsSync(join(dataDir, 'reports.sqlite.rebuild'))).toBe(false);
  });

  it('replaces an existing file, whose stale WAL does not leak into the new one; --reports names another file', () => {
    const other = join(tempDir(), 'elsewhere.sqlite');
    // an old database with a WAL left behind, as a crashed server leaves it
    const half = writeAll(join(tempDir(), 'half.sqlite'), s.events, {}, 900);
    copyFileSync(half, other);
    writeFileSync(`${other}-wal`, Buffer.alloc(4096, 7));
    const r = cli(replayMain, ['--data-dir', dataDir, '--rebuild-reports', '--reports', other]);
    expect(r.code).toBe(EXIT_OK);
    expect(dump(other)).toEqual(liveDump);
  });

  it('--to-seq rebuilds a prefix: the live writer stopped at that seq', () => {
    const other = join(tempDir(), 'prefix.sqlite');
    expect(cli(replayMain, ['--data-dir', dataDir, '--rebuild-reports', '--reports', other, '--to-seq', '1234']).code).toBe(EXIT_OK);
    expect(dump(other)).toEqual(dump(writeAll(join(tempDir(), 'live-1234.sqlite'), s.events, {}, 1234)));
  });

  it('refuses to start from a snapshot (the database needs every event), and --reports alone', () => {
    const a = cli(replayMain, ['--data-dir', dataDir, '--rebuild-reports', '--from-snapshot']);
    expect(a.code).toBe(EXIT_USAGE);
    expect(a.err).toMatch(/whole journal/);
    expect(cli(replayMain, ['--data-dir', dataDir, '--reports', 'x.sqlite']).code).toBe(EXIT_USAGE);
  });

  it('a journal that cannot be read to the end leaves the old database as it was', () => {
    const broken = tempDir('seqex-reports-broken-');
    for (const name of listSegments(dataDir)) copyFileSync(join(dataDir, name), join(broken, name));
    const segs = listSegments(broken);
    // damage the middle of an inner segment: corruption, not a torn tail
    const victim = join(broken, segs[1]!);
    const bytes = new Uint8Array(readFileSync(victim));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(victim, bytes);
    const file = join(broken, 'reports.sqlite');
    copyFileSync(live, file);
    const before = dump(file);
    const r = cli(replayMain, ['--data-dir', broken, '--rebuild-reports']);
    expect(r.code).not.toBe(EXIT_OK);
    expect(r.err).toMatch(/CORRUPT/);
    expect(dump(file)).toEqual(before);
    expect(existsSync(`${file}.rebuild`)).toBe(false);
  });
});

describe('catch-up from the journal', () => {
  it('a writer that stopped at seq 1700 catches up from the snapshot at 1500 and ends with the live rows', () => {
    const path = writeAll(join(tempDir(), 'behind.sqlite'), s.events, { batchEvents: 100 }, 1700);
    const w = new ReportWriter(path);
    const r = catchUpFromJournal(dataDir, w);
    expect(r.fromSeq).toBe(1700);
    expect(r.snapshotSeq).toBe(SNAPSHOT_AT);
    expect(w.lastSeq).toBe(s.commands.length);
    w.close();
    expect(dump(path)).toEqual(liveDump);
  });

  it('a writer before the snapshot replays from seq 1; one that is current applies nothing', () => {
    const path = writeAll(join(tempDir(), 'early.sqlite'), s.events, {}, 700);
    const w = new ReportWriter(path);
    expect(catchUpFromJournal(dataDir, w).snapshotSeq).toBe(0);
    const again = catchUpFromJournal(dataDir, w);
    expect(again.fromSeq).toBe(s.commands.length);
    w.close();
    expect(dump(path)).toEqual(liveDump);
  });
});

describe('seqex audit', () => {
  /** a copy of the live database in a fresh data dir sharing the journal */
  function auditDir(): { dir: string; file: string } {
    const dir = tempDir('seqex-audit-');
    mkdirSync(dir, { recursive: true });
    for (const name of listSegments(dataDir)) copyFileSync(join(dataDir, name), join(dir, name));
    const file = join(dir, 'reports.sqlite');
    copyFileSync(live, file);
    return { dir, file };
  }

  it('passes on a clean run, with a summary; --no-snapshot too; --help explains', () => {
    const { dir } = auditDir();
    const r = cli(auditMain, ['--data-dir', dir]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/audit ok/);
    expect(r.out).toMatch(/ledger rows +\d+/);
    expect(r.out).toMatch(/USD +supply \d+ +deposit \d+ +withdraw -\d+ +trade -?\d+ +fee \d+/);
    expect(r.code).toBe(AUDIT_OK);
    expect(cli(auditMain, ['--data-dir', dir, '--no-snapshot']).code).toBe(AUDIT_OK);
    const help = cli(auditMain, ['--help']);
    expect(help.code).toBe(AUDIT_OK);
    expect(help.out).toMatch(/deposits - withdrawals/);
    expect(cli(auditMain, ['--bogus']).code).toBe(AUDIT_USAGE);
    expect(cli(auditMain, ['--data-dir', tempDir()]).code).toBe(AUDIT_USAGE);
  });

  /** corrupts a copy of the live database with `sql`, runs the audit on it */
  function auditCorrupted(corrupt: (db: Database.Database) => void): { code: number; out: string; err: string } {
    const { dir, file } = auditDir();
    const db = new Database(file);
    corrupt(db);
    db.close();
    return cli(auditMain, ['--data-dir', dir]);
  }

  it('fails on a corrupted trade entry (kept in its trade row), naming the account, the asset, expected and found', () => {
    let id = 0;
    const r = auditCorrupted((db) => {
      id = db.prepare('SELECT id FROM ledger WHERE accountId = 3 AND assetIdx = 0 AND cause = 5 ORDER BY id LIMIT 1 OFFSET 10').pluck().get() as number;
      // a trade's entries are columns of its trade row, not rows of ledger_rows: the buyer pays USD
      // (its first entry), the seller receives it (its fourth)
      expect(db.prepare('SELECT count(*) FROM ledger_rows WHERE id = ?').pluck().get(id)).toBe(0);
      const t = db.prepare('SELECT tradeId, ? - settleId AS k FROM trades WHERE legs > 0 AND ? BETWEEN settleId AND settleId + legs - 1').get(id, id) as { tradeId: number; k: number };
      expect([0, 3]).toContain(t.k);
      const column = t.k === 0 ? 'buyPayDeltaTotal' : 'sellRecvDeltaTotal';
      expect(db.prepare(`UPDATE trades SET ${column} = ${column} + 1 WHERE tradeId = ?`).run(t.tradeId).changes).toBe(1);
    });
    expect(r.code).toBe(AUDIT_DIFFERENCES);
    const b = s.engine.balance(3, 'USD')!;
    expect(r.out).toContain(`AUDIT FAILED`);
    expect(r.out).toContain(`account 3 (trader3) USD: ledger sum of deltaTotal ${b.totalMinor + 1}, engine total ${b.totalMinor} (expected ${b.totalMinor}, found ${b.totalMinor + 1})`);
    expect(r.out).toContain(`account 3 (trader3) USD: ledger row ${id} does not follow from the rows before it`);
    expect(r.out).toMatch(/asset USD: all accounts hold \d+, ledger deposits - withdrawals \d+|asset USD: trades and fees should only move it, their ledger deltas sum to 1/);
  });

  it('fails on a corrupted row of ledger_rows (a reservation), naming the account, the asset, expected and found', () => {
    let id = 0;
    const r = auditCorrupted((db) => {
      id = db.prepare('SELECT id FROM ledger_rows WHERE accountId = 3 AND assetIdx = 0 AND cause = 3 ORDER BY id LIMIT 1 OFFSET 10').pluck().get() as number;
      expect(db.prepare('UPDATE ledger_rows SET deltaReserved = deltaReserved + 1 WHERE id = ?').run(id).changes).toBe(1);
    });
    expect(r.code).toBe(AUDIT_DIFFERENCES);
    const b = s.engine.balance(3, 'USD')!;
    expect(r.out).toContain(`account 3 (trader3) USD: ledger sum of deltaReserved ${b.reservedMinor + 1}, engine reserved ${b.reservedMinor} (expected ${b.reservedMinor}, found ${b.reservedMinor + 1})`);
    expect(r.out).toContain(`account 3 (trader3) USD: ledger row ${id} does not follow from the rows before it`);
  });

  it("fails on a corrupted fee credit (kept in its trade row), naming the fee account and the asset", () => {
    let id = 0;
    const r = auditCorrupted((db) => {
      id = db.prepare('SELECT id FROM ledger WHERE accountId = 0 AND assetIdx = 0 AND cause = 6 ORDER BY id LIMIT 1 OFFSET 5').pluck().get() as number;
      // a fee in USD (the quote asset of every symbol here) is the trade row's feeQuote
      expect(db.prepare('UPDATE trades SET feeQuoteMinor = feeQuoteMinor + 1 WHERE feeQuoteId = ?').run(id).changes).toBe(1);
    });
    expect(r.code).toBe(AUDIT_DIFFERENCES);
    const b = s.engine.balance(0, 'USD')!;
    const who = `account 0 (${s.engine.account(0)!.name}) USD`;
    expect(r.out).toContain(`${who}: ledger sum of deltaTotal ${b.totalMinor + 1}, engine total ${b.totalMinor} (expected ${b.totalMinor}, found ${b.totalMinor + 1})`);
    expect(r.out).toContain(`${who}: ledger row ${id} does not follow from the rows before it`);
    expect(r.out).toMatch(/asset USD: trades and fees should only move it, their ledger deltas sum to 1/);
  });

  it('fails on a damaged open order and on a database behind the journal, saying how far', () => {
    const { dir, file } = auditDir();
    const db = new Database(file);
    const open = db.prepare('SELECT orderId FROM orders WHERE final = 0 LIMIT 1').pluck().get() as number;
    db.prepare('UPDATE orders SET leavesQtyLots = leavesQtyLots + 1 WHERE orderId = ?').run(open);
    db.close();
    const r = cli(auditMain, ['--data-dir', dir]);
    expect(r.code).toBe(AUDIT_DIFFERENCES);
    expect(r.out).toMatch(new RegExp(`order ${open}: reports \\(account, status, price, qty, filled, leaves\\)`));

    const behind = auditDir();
    writeAll(behind.file + '.tmp', s.events, {}, 2000);
    copyFileSync(behind.file + '.tmp', behind.file);
    const b = cli(auditMain, ['--data-dir', behind.dir]);
    expect(b.code).toBe(AUDIT_DIFFERENCES);
    expect(b.out).toContain(`reports: at seq 2000, the journal at seq ${s.commands.length}: ${s.commands.length - 2000} commands behind`);
    // nothing else differs: the engine was rebuilt to the database's seq
    expect(b.out).toContain('AUDIT FAILED: 1 difference(s)');
  });
});
