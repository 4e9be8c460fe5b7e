/**
 * Crash safety (issue: "a child process runs the sequencer under load from worker-thread
 * producers; the test kills it with SIGKILL at random moments, restarts it, and checks that every
 * command whose acknowledgement the producer saw is in the recovered state, and that the recovered
 * state hash equals a clean replay of the journal").
 *
 * child.mjs runs a SequencerHost (fsync, 256 KiB segments, a snapshot every 1000 records) with two
 * producer threads (producer.mjs) and prints an ACK line per response a producer saw. Each round
 * spawns it on the same data dir, waits until it is under load (first ACK), lets it run a random
 * 0-350 ms more (a third of the rounds 400-800 ms) and SIGKILLs it; every fifth round first waits
 * until the child has written a snapshot under load. A few extra rounds kill it at a random moment
 * of its start-up (during recovery, before or while the producers start). Between rounds the
 * journal is scanned read-only: the next child must report exactly that last seq (and the newest
 * snapshot) at READY. Every few rounds, on a copy of the data dir:
 *   - recovery as the exchange does it (recoverEngine: newest snapshot + journal tail, torn tail
 *     cut) gives the same state hash as a clean replay of the whole journal from seq 1, and both
 *     engines pass checkInvariants;
 *   - the journal runs 1, 2, 3, ... without a gap;
 *   - every acknowledged command is the journal record at the seq its response named: same command
 *     (type, account, clOrdId / cancel target), same timestamp, and replaying it gives the same
 *     code, as many reports for the sender and the same orderId the producer was told; an
 *     accepted order is found again by its clOrdId; no two acknowledgements share a seq;
 *   - every snapshot file holds exactly the state hash the clean replay has at its seq.
 * What SIGKILL cannot show: records written but not yet fdatasynced survive a process kill (the
 * page cache does), so this catches a release before the write, not a release before the sync.
 * Randomness is only in timing and the order flow; the seed is printed and in every message
 * (SEQEX_CRASH_SEED=<seed> repeats the schedule; SEQEX_CRASH_ROUNDS changes the number of kills;
 * SEQEX_CRASH_DEBUG=1 prints per-round timings and the child's log).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { listAllSegments, listSegments, recoverJournal } from '../../src/journal/journal.js';
import { listSnapshots, newestSnapshot, readSnapshotFile } from '../../src/journal/snapshotFile.js';
import { recoverEngine } from '../../src/sequencer/recovery.js';
import { cleanReplay, DAY_US, rng, seedFromEnv } from './verify.js';

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const SEED = seedFromEnv('SEQEX_CRASH_SEED');
const ROUNDS = Number(process.env.SEQEX_CRASH_ROUNDS ?? 20);
/** extra kills at a random moment of start-up, after these main rounds */
const STARTUP_KILL_AFTER = new Set([3, 8, 13, 18]);
const VERIFY_EVERY = 6;
const SNAPSHOT_EVERY = 5;

interface Ack {
  seq: number;
  code: number;
  ts: number;
  ev: number;
  oid: number;
  t: 'N' | 'C';
  a: number;
  k: string | null;
  tk: number;
  round: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** SEQEX_CRASH_DEBUG=1: per-round timings and the child's log */
const debug = (line: string) => {
  if (process.env.SEQEX_CRASH_DEBUG) console.log(line);
};

/** A child process and its stdout lines; only whole lines count (a line cut by the kill is dropped). */
class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  readonly acks: Ack[] = [];
  stderr = '';
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<void>;
  killedByUs = false;
  private partial = '';
  private listeners: (() => void)[] = [];

  constructor(
    dir: string,
    args: string[],
    private readonly round = 0,
  ) {
    this.proc = spawn(process.execPath, [CHILD, dir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.on('data', (d: string) => {
      const parts = (this.partial + d).split('\n');
      this.partial = parts.pop()!;
      for (const l of parts) {
        this.lines.push(l);
        if (l.startsWith('ACK ')) this.acks.push({ ...(JSON.parse(l.slice(4)) as Omit<Ack, 'round'>), round: this.round });
      }
      this.notify();
    });
    this.proc.stderr.on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        this.notify();
        resolve();
      });
    });
  }

  private notify(): void {
    for (const f of this.listeners.splice(0)) f();
  }

  describe(): string {
    return `child exit ${JSON.stringify(this.exitInfo)}; stderr:\n${this.stderr}\nstdout (non-ACK):\n${this.lines.filter((l) => !l.startsWith('ACK ')).join('\n')}`;
  }

  /** The first line starting with `prefix` (rejects if the child exits first or on timeout). */
  waitLine(prefix: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        const l = this.lines.find((x) => x.startsWith(prefix));
        if (l !== undefined) return resolve(l);
        // stdout may still hold lines after 'exit': a short grace before giving up
        if (this.exitInfo !== null) return setTimeout(() => {
          const l2 = this.lines.find((x) => x.startsWith(prefix));
          if (l2 !== undefined) resolve(l2);
          else reject(new Error(`waiting for '${prefix}': ${this.describe()}`));
        }, 50);
        if (Date.now() > deadline) return reject(new Error(`timeout waiting for '${prefix}': ${this.describe()}`));
        this.listeners.push(check);
        setTimeout(() => this.notify(), Math.min(200, Math.max(1, deadline - Date.now())));
      };
      check();
    });
  }

  async kill(): Promise<void> {
    if (this.exitInfo === null) {
      this.killedByUs = true;
      this.proc.kill('SIGKILL');
    }
    await this.exited;
    // drain what the pipe still held
    await new Promise<void>((r) => (this.proc.stdout.readableEnded ? r() : this.proc.stdout.once('end', () => r())));
  }
}

const live = new Set<Child>();
const dirs: string[] = [];
async function killAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.kill()));
}
afterEach(killAll);
afterAll(async () => {
  await killAll();
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Waits until a snapshot file newer than `seq` is in `dir` (written atomically: present = whole). */
async function waitForSnapshotAfter(dir: string, seq: number, c: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const newest = () => Math.max(0, ...listSnapshots(dir).map((n) => Number(/^snap-(\d+)\.snap$/.exec(n)![1])));
  while (newest() <= seq) {
    if (c.exitInfo !== null || Date.now() > deadline) throw new Error(`no snapshot after seq ${seq} was written: ${c.describe()}`);
    await sleep(50);
  }
}

/** The full check of a data dir against every acknowledgement so far (on a copy: recovery cuts torn tails). */
function verifyAll(dir: string, acks: Ack[], ctx: string): { lastSeq: number; snapshotSeq: number; replayed: number } {
  const copy = tempDir('seqex-crash-verify-');
  try {
    cpSync(dir, copy, { recursive: true });
    const snaps = listSnapshots(copy).flatMap((name) => {
      const s = readSnapshotFile(join(copy, name));
      return typeof s === 'string' ? [] : [s];
    });
    const keep = new Set(acks.map((a) => a.seq));
    expect(keep.size, `${ctx}: every acknowledgement has its own seq`).toBe(acks.length);
    const clean = cleanReplay(copy, { keep, hashAt: new Set(snaps.map((s) => s.seq)) });
    expect(clean.records, `${ctx}: the journal holds seqs 1..lastSeq without a gap`).toBe(clean.lastSeq);

    const rec = recoverEngine(copy, {});
    expect(rec.journal.lastSeq, `${ctx}: recovered last seq`).toBe(clean.lastSeq);
    expect(rec.snapshotSeq, `${ctx}: recovery starts from the newest snapshot`).toBe(snaps.length === 0 ? 0 : Math.max(...snaps.map((s) => s.seq)));
    expect(rec.replayed, `${ctx}: records replayed after the snapshot`).toBe(clean.lastSeq - rec.snapshotSeq);
    expect(rec.engine.stateHash(), `${ctx}: snapshot + tail recovery = clean replay from seq 1`).toBe(clean.hash);
    expect(() => rec.engine.checkInvariants(), `${ctx}: invariants of the recovered engine`).not.toThrow();
    expect(() => clean.engine.checkInvariants(), `${ctx}: invariants of the clean replay`).not.toThrow();
    for (const s of snaps) expect(s.stateHash, `${ctx}: ${s.path} holds the state at seq ${s.seq}`).toBe(clean.hashAt.get(s.seq));

    const today = Math.floor(rec.engine.nowUs / DAY_US);
    const bad: string[] = [];
    for (const a of acks) {
      const r = clean.kept.get(a.seq);
      const what = `ack ${JSON.stringify(a)}`;
      if (r === undefined) {
        bad.push(`${what}: seq not in the recovered journal (last seq ${clean.lastSeq})`);
        continue;
      }
      const c = r.cmd as unknown as Record<string, unknown>;
      if (r.tsUs !== a.ts) bad.push(`${what}: journal tsUs ${r.tsUs}`);
      if (r.code !== a.code) bad.push(`${what}: replay code ${r.code}`);
      const own = r.events.filter((e) => (e.event === 'exec' || e.event === 'cancelReject') && e.accountId === a.a).length;
      if (own !== a.ev) bad.push(`${what}: replay produced ${own} reports for the sender`);
      if (c.accountId !== a.a) bad.push(`${what}: journal accountId ${String(c.accountId)}`);
      if (a.t === 'N') {
        if (c.type !== 'newOrder' || c.clOrdId !== a.k) bad.push(`${what}: journal has ${JSON.stringify(c)}`);
        const x = r.events.find((e) => e.event === 'exec' && e.clOrdId === a.k);
        if (x?.orderId !== a.oid) bad.push(`${what}: replay gives orderId ${String(x?.orderId)}`);
        if (a.code === 0 && a.oid > 0 && Math.floor(a.ts / DAY_US) === today) {
          const o = rec.engine.getOrderByClOrdId(a.a, a.k!);
          if (o?.orderId !== a.oid) bad.push(`${what}: recovered engine finds clOrdId as ${JSON.stringify(o)}`);
        }
      } else {
        const target = a.k === null ? c.orderId === a.tk && c.clOrdId === undefined : c.clOrdId === a.k && c.orderId === undefined;
        if (c.type !== 'cancelOrder' || !target) bad.push(`${what}: journal has ${JSON.stringify(c)}`);
      }
      if (bad.length >= 20) break;
    }
    expect(bad, `${ctx}: acknowledged commands that recovery does not reproduce`).toEqual([]);
    return { lastSeq: clean.lastSeq, snapshotSeq: rec.snapshotSeq, replayed: rec.replayed };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

describe('crash safety: SIGKILL under load', () => {
  it(`recovers every acknowledged command after ${ROUNDS} kills, and recovery equals a clean replay (seed ${SEED})`, async () => {
    console.log(`crash suite: seed ${SEED} (repeat with SEQEX_CRASH_SEED=${SEED}), ${ROUNDS} rounds`);
    const t0 = performance.now();
    const r = rng(SEED);
    const dir = tempDir('seqex-crash-');

    const setup = new Child(dir, ['setup']);
    await setup.exited;
    expect(setup.exitInfo, `setup child: ${setup.describe()}`).toEqual({ code: 0, signal: null });
    const stopped = JSON.parse(setup.lines.find((l) => l.startsWith('STOPPED '))!.slice(8)) as { lastSeq: number };

    const acks: Ack[] = [];
    let knownLast = stopped.lastSeq;
    let knownSnapshot = newestSnapshot(dir)?.seq ?? 0;
    let kills = 0;
    let startupKills = 0;
    let tornRecoveries = 0;
    let unackedAtKill = 0;
    let verified = { lastSeq: 0, snapshotSeq: 0, replayed: 0 };

    /** After a kill: the journal's last seq (read-only scan) is at least every acknowledged seq. */
    const afterKill = (c: Child, ctx: string) => {
      expect(c.killedByUs, `${ctx}: the child died before the kill: ${c.describe()}`).toBe(true);
      expect(c.exitInfo?.signal, ctx).toBe('SIGKILL');
      acks.push(...c.acks);
      const last = recoverJournal(dir, false).lastSeq;
      const maxAcked = c.acks.reduce((m, a) => Math.max(m, a.seq), 0);
      expect(last, `${ctx}: journal last seq vs highest acknowledged seq`).toBeGreaterThanOrEqual(maxAcked);
      if (last > maxAcked && c.acks.length > 0) unackedAtKill++;
      knownLast = last;
      knownSnapshot = newestSnapshot(dir)?.seq ?? 0;
    };

    const expectReady = (line: string, ctx: string) => {
      const ready = JSON.parse(line.slice(6)) as { lastSeq: number; snapshotSeq: number; replayed: number; tornBytes: number };
      expect(ready.lastSeq, `${ctx}: restart recovers to the journal's last seq`).toBe(knownLast);
      expect(ready.snapshotSeq, `${ctx}: restart starts from the newest snapshot`).toBe(knownSnapshot);
      expect(ready.replayed, `${ctx}: records replayed at restart`).toBe(ready.lastSeq - ready.snapshotSeq);
      if (ready.tornBytes > 0) tornRecoveries++;
    };

    for (let round = 1; round <= ROUNDS; round++) {
      const ctx = `seed ${SEED} round ${round}`;
      const c = new Child(dir, ['run', String(round), String(SEED)], round);
      try {
        const tr0 = performance.now();
        expectReady(await c.waitLine('READY ', 30_000), ctx);
        const tr1 = performance.now();
        await c.waitLine('ACK ', 30_000); // under load
        debug(`round ${round}: READY after ${(tr1 - tr0).toFixed(0)} ms, first ACK ${(performance.now() - tr1).toFixed(0)} ms later`);
        // every SNAPSHOT_EVERY-th round runs until the child has written a snapshot under load
        // (a snapshot replays everything since the previous one: short runs rarely finish one)
        if (round % SNAPSHOT_EVERY === 0) await waitForSnapshotAfter(dir, knownSnapshot, c, 30_000);
        await sleep(r.next() < 0.7 ? r.int(0, 350) : r.int(400, 800));
        await c.kill();
        debug(`round ${round}: ${c.acks.length} ACKs; ${c.lines.filter((l) => !l.startsWith('ACK ')).join(' | ')}`);
      } finally {
        await c.kill();
      }
      afterKill(c, ctx);
      kills++;

      if (STARTUP_KILL_AFTER.has(round)) {
        const sctx = `${ctx} (start-up kill)`;
        const s = new Child(dir, ['run', String(1000 + round), String(SEED)], 1000 + round);
        try {
          await sleep(r.int(0, 400));
          await s.kill();
        } finally {
          await s.kill();
        }
        const readyLine = s.lines.find((l) => l.startsWith('READY '));
        if (readyLine !== undefined) expectReady(readyLine, sctx);
        afterKill(s, sctx);
        startupKills++;
      }

      if (round % VERIFY_EVERY === 0 || round === ROUNDS) {
        const tv = performance.now();
        verified = verifyAll(dir, acks, ctx);
        debug(`round ${round}: verified ${acks.length} ACKs in ${(performance.now() - tv).toFixed(0)} ms`);
      }
    }

    expect(kills).toBeGreaterThanOrEqual(Math.min(20, ROUNDS));
    expect(acks.length, `seed ${SEED}: acknowledgements seen`).toBeGreaterThanOrEqual(ROUNDS);
    expect(verified.lastSeq).toBe(knownLast);
    expect(listAllSegments(dir).length, 'the journal rotated segments during the run').toBeGreaterThan(1);
    // segments every kept snapshot covered were archived under load and kills, and still replay
    const archived = listAllSegments(dir).length - listSegments(dir).length;
    expect(archived, 'segments every kept snapshot covered were archived during the run').toBeGreaterThan(0);
    expect(newestSnapshot(dir)!.seq, 'snapshots were taken under load').toBeGreaterThan(stopped.lastSeq);
    console.log(
      `crash suite: seed ${SEED}: ${kills} kills under load + ${startupKills} during start-up, ${acks.length} acknowledgements checked, ` +
        `journal ${knownLast} records in ${listAllSegments(dir).length} segments (${archived} archived), last recovery from snapshot ${verified.snapshotSeq} + ${verified.replayed} records, ` +
        `${tornRecoveries} restarts cut a torn tail, ${unackedAtKill} kills left unacknowledged records, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }, 240_000);
});
