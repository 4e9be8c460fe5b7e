/**
 * A crash of the report writer loses nothing: the database holds whole batches only (rows and
 * `lastSeq` commit together), so after a crash it equals a database written once up to its lastSeq,
 * and re-applying every command from seq 1 skips what is there and ends with exactly the rows of a
 * one-shot run (whole-table dumps compared). Three ways to crash: closing with a buffer not
 * written, a batch that fails half way through its transaction, and SIGKILL of a process writing
 * (at random moments, mid-transaction or not).
 */
import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/engine/events.js';
import { ReportWriter } from '../../src/reports/writer.js';
import { rng } from '../crash/verify.js';
import { dump, encode, removeTempDirs, tempDir, writeAll } from './dump.js';
import { generateSession, type Session } from './session.js';

let s: Session;
let full: Record<string, unknown[]>;
let dir = '';

beforeAll(() => {
  s = generateSession(4242, 2500);
  dir = tempDir();
  full = dump(writeAll(join(dir, 'oneshot.sqlite'), s.events));
});
afterAll(() => removeTempDirs());

/** the one-shot database of the commands up to `seq` */
const oneShotTo = (seq: number) => dump(writeAll(join(tempDir(), `to-${seq}.sqlite`), s.events, {}, seq));

/** applies every command from seq 1 as records (the worker's path); returns how many were skipped as already there */
function catchUp(path: string): number {
  const w = new ReportWriter(path, { batchEvents: 300 });
  const log = new EventLog();
  let skipped = 0;
  s.events.forEach((ev, i) => {
    log.clear();
    encode(ev, log);
    if (!w.applyLog(log, i + 1)) skipped++;
  });
  w.close();
  return skipped;
}

describe('report writer crash and catch-up', () => {
  it('a buffer never written is lost as a whole; lastSeq is the last written batch; catching up from seq 1 gives the one-shot rows', () => {
    const path = join(tempDir(), 'crash.sqlite');
    const w = new ReportWriter(path, { batchEvents: 100 });
    for (let i = 0; i < 1500; i++) w.apply(s.events[i]!, i + 1);
    const flushed = w.flushedSeq;
    expect(flushed).toBeGreaterThan(1000);
    expect(flushed).toBeLessThan(1500); // something was still buffered
    w.closeWithoutFlush();

    const reopened = new ReportWriter(path);
    expect(reopened.lastSeq).toBe(flushed);
    reopened.close();
    expect(dump(path)).toEqual(oneShotTo(flushed));
    expect(catchUp(path)).toBe(flushed);
    expect(dump(path)).toEqual(full);
  });

  it('a batch that fails inside its transaction leaves nothing of itself; the writer catches up afterwards', () => {
    const path = join(tempDir(), 'abort.sqlite');
    const w = new ReportWriter(path, { batchEvents: 1_000_000 });
    for (let i = 0; i < 800; i++) w.apply(s.events[i]!, i + 1);
    w.flush();
    const before = dump(path);
    // the next batch dies half way: after its trades and fills (with their settlement entries), at
    // its 50th row of ledger_rows (the ledger entries not kept in fills and trades)
    const ledgerRows = w.db.prepare('SELECT count(*) FROM ledger_rows').pluck().get() as number;
    expect(ledgerRows).toBeGreaterThan(0);
    expect((before.ledger as unknown[]).length).toBeGreaterThan(ledgerRows);
    w.db.exec(`CREATE TRIGGER die BEFORE INSERT ON ledger_rows WHEN (SELECT count(*) FROM ledger_rows) >= ${ledgerRows + 49} BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    for (let i = 800; i < 1600; i++) w.apply(s.events[i]!, i + 1);
    expect(() => w.flush()).toThrow(/disk on fire/);
    w.closeWithoutFlush();
    const raw = new Database(path);
    raw.exec('DROP TRIGGER die');
    raw.close();
    expect(dump(path)).toEqual(before);
    expect(new Database(path, { readonly: true }).prepare("SELECT value FROM meta WHERE key = 'lastSeq'").pluck().get()).toBe(800);
    expect(catchUp(path)).toBe(800);
    expect(dump(path)).toEqual(full);
  });

  it('SIGKILL of a writing process at random moments: each time the file is whole batches, and catching up gives the one-shot rows', async () => {
    const child = fileURLToPath(new URL('./writer-child.mjs', import.meta.url));
    const compiled = fileURLToPath(new URL('../../dist/src/reports/writer.js', import.meta.url));
    const source = fileURLToPath(new URL('../../src/reports/writer.ts', import.meta.url));
    expect(statSync(compiled, { throwIfNoEntry: false })?.mtimeMs ?? 0, 'dist/ is older than src/reports/writer.ts: run `npx tsc -p tsconfig.json` (make test does)').toBeGreaterThanOrEqual(statSync(source).mtimeMs);
    const events = join(tempDir(), 'events.jsonl');
    writeFileSync(events, s.events.map((ev) => JSON.stringify(ev)).join('\n') + '\n');
    const path = join(tempDir(), 'killed.sqlite');
    const r = rng(99);
    let lastSeen = 0;
    for (let round = 0; round < 4; round++) {
      // kill after a random number of batches, a random moment after the line (inside the next batch or not)
      const afterBatches = r.int(1, 6);
      const delayMs = r.int(0, 15);
      const seen = await runAndKill(child, [path, events, '60'], afterBatches, delayMs);
      expect(seen.start, `round ${round}: restarted where the last one committed`).toBeGreaterThanOrEqual(lastSeen);
      const db = new Database(path, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const lastSeq = db.prepare("SELECT value FROM meta WHERE key = 'lastSeq'").pluck().get() as number;
      db.close();
      expect(lastSeq, `round ${round}: every batch it said was written is there`).toBeGreaterThanOrEqual(seen.flushed);
      expect(dump(path), `round ${round}: the file is the one-shot database up to seq ${lastSeq}`).toEqual(oneShotTo(lastSeq));
      lastSeen = lastSeq;
      if (seen.done) break;
    }
    expect(lastSeen).toBeGreaterThan(0);
    catchUp(path);
    expect(dump(path)).toEqual(full);
  });
});

/** Runs the child until it printed `afterBatches` FLUSHED lines (or DONE), waits `delayMs`, SIGKILLs it. */
function runAndKill(child: string, args: string[], afterBatches: number, delayMs: number): Promise<{ start: number; flushed: number; done: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let start = -1;
    let flushed = 0;
    let batches = 0;
    let done = false;
    let killing = false;
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`writer child did not get far enough in 30 s; stderr: ${err}`));
    }, 30_000);
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const [word, n] = out.slice(0, nl).split(' ');
        out = out.slice(nl + 1);
        if (word === 'START') start = Number(n);
        if (word === 'FLUSHED') {
          flushed = Number(n);
          batches++;
        }
        if (word === 'DONE') done = true;
        if (!killing && (batches >= afterBatches || done)) {
          killing = true;
          setTimeout(() => p.kill('SIGKILL'), delayMs);
        }
      }
    });
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' && !done) reject(new Error(`writer child exited ${code} ${signal}: ${err}`));
      else resolve({ start, flushed, done });
    });
  });
}
