/**
 * Restart benchmark: how fast the exchange comes back after a stop or a crash.
 *
 *  1. fixture: a journal of N order-flow commands (default 10,000,000; --quick or BENCH_QUICK=1:
 *     1,000,000; env RESTART_ORDERS overrides) from the engine bench's seeded mixed workload
 *     (limits, cancels, markets, crosses; setup commands first), each applied to an Engine and
 *     appended, encoded, to a JournalWriter (durability 'none', 64 MiB segments); a snapshot file
 *     at ~99% of the commands (a recent snapshot). Build time is reported, it is not a target.
 *  2. replay.journal: recoverJournal + decodeCommand + engine.apply over every record (what
 *     `seqex replay` does), in a fresh worker (cold JIT, like a fresh process) -> records/s.
 *     replay.snapshotTail: newest snapshot read + Engine.restore + its hash check + replay of the
 *     records after it (recoverJournal with afterSeq) -> ms, and records/s of the tail.
 *  3. restart: SequencerHost.start({ dataDir, gateways: 1, no snapshot schedule, hashOnStop })
 *     until it resolves (recovered, journal open: ready to serve), then stop(); RESTART_RUNS
 *     times (default 3), median reported. Target: < 2,000 ms for 10M orders with a recent snapshot.
 *  4. correctness: the hash returned by stop() (and by both replays) equals the builder's hash.
 *
 * Stdout: a human table and one JSON line per measurement; progress on stderr. The fixture lives in
 * a temporary directory under BENCH_DIR (default journal/, the data disk), removed at the end, on
 * failure and on SIGINT / SIGTERM. Env: RESTART_ORDERS, RESTART_RUNS, RESTART_SNAPSHOT_AT (fraction,
 * default 0.99), RESTART_CLORDIDS (default 1: every order carries a 17-char clOrdId, as FIX and REST
 * orders do, so the engine keeps the last 1,000,000 closed orders for dedupe and the snapshot holds
 * them; 0: orders without one, the engine bench's default, a book-only state of ~1 MB), BENCH_SEED,
 * BENCH_DIR, RESTART_KEEP=1 (keep the fixture directory for profiling). The default heap is enough (peak RSS ~1.6 GB at 10M orders with clOrdIds).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Code } from '../../src/domain/codes.js';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { Ev } from '../../src/engine/events.js';
import { JournalWriter, listSegments, recoverJournal } from '../../src/journal/journal.js';
import { newestSnapshot, writeSnapshotFile } from '../../src/journal/snapshotFile.js';
import { tuneV8ForEngine } from '../../src/platform/v8.js';
import { decodeCommand, encodeCommand, MAX_COMMAND_BYTES } from '../../src/sequencer/codec.js';
import { SequencerHost } from '../../src/sequencer/host.js';
import { OpCommands, setupCommands } from './seqex-driver.js';
import { fmtInt, mark, median, table } from './stats.js';
import { clOrdIdFor, DEFAULT_MIX, generateWorkload, OpKind, type WorkloadSpec } from './workload.js';

const envNum = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number`);
  return n;
};

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const CFG = {
  orders: Math.max(1, Math.floor(envNum('RESTART_ORDERS', quick ? 1_000_000 : 10_000_000))),
  runs: Math.max(1, Math.floor(envNum('RESTART_RUNS', 3))),
  snapshotAt: Math.min(1, envNum('RESTART_SNAPSHOT_AT', 0.99)),
  /** every order carries a 17-char clOrdId (default): closed orders then stay in the dedupe window (1M) and in the snapshot */
  clOrdIds: envNum('RESTART_CLORDIDS', 1) === 1,
  seed: Math.floor(envNum('BENCH_SEED', 42)),
  baseDir: process.env.BENCH_DIR ?? 'journal',
};
const TARGET = { restartMs: 2_000, restartAtOrders: 10_000_000, replayPerSec: 3_000_000 };

/** exec record: [type, seq, tsUs, execId, orderId, ...] (as in seqex-driver.ts) */
const EXEC_ORDER_ID = 4;

const log = (msg: string) => process.stderr.write(`[restart-bench] ${msg}\n`);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Resting orders over every symbol's book (both sides). */
function restingOrders(e: Engine): number {
  let n = 0;
  for (const name of e.symbolNames()) {
    const b = e.bookL2(name)!;
    for (const l of b.bids) n += l[2];
    for (const l of b.asks) n += l[2];
  }
  return n;
}

// ------------------------------------------------------------------ 1. the fixture

interface Fixture {
  orders: number;
  commands: number;
  lastSeq: number;
  snapshotSeq: number;
  snapshotBytes: number;
  segments: number;
  journalBytes: number;
  genMs: number;
  buildMs: number;
  snapshotMs: number;
  stateHash: string;
  resting: number;
  retainedOrders: number;
  rejects: number;
  /** the engine that built the journal (kept to check restarts against) */
  engine: Engine;
}

function buildFixture(dir: string): Fixture {
  const spec: WorkloadSpec = {
    // the engine bench's `mixed` scenario, every op journaled (no prefill, no unjournaled warm-up)
    name: 'mixed',
    seed: CFG.seed,
    symbols: 1,
    accounts: 1000,
    prefill: 0,
    warmup: 0,
    ops: CFG.orders,
    activeTargetPerSymbol: 5000,
    midTicks: 10_000,
    prefillWidthTicks: 5_000,
    mix: DEFAULT_MIX,
    restMeanLots: 50,
  };
  log(`generating ${fmtInt(spec.ops)} ops (seed ${spec.seed}) ...`);
  const w = generateWorkload(spec);
  log(`generated in ${(w.genMs / 1000).toFixed(1)} s; building the journal in ${dir} ...`);

  // Timestamps advance 1 µs per command and end ~2 s before now: a restart right after is a
  // restart after a recent stop, so no timer is due and the sequencer journals no catch-up tick.
  // (The engine bench's fixed 2024 clock would make the first restart tick ~2 years of midnights.)
  const t0Us = Math.floor(Date.now() * 1000) - (spec.ops + 10_000) - 2_000_000;
  const t0 = performance.now();
  // the engine bench's production-like preallocation (2M slots: dedupe window + book)
  const e = new Engine({ initialOrderCapacity: 1 << 21 });
  const ev = e.events;
  const jw = new JournalWriter({ dir, durability: 'none' });
  const buf = new Uint8Array(MAX_COMMAND_BYTES);
  let seq = 0;
  let ts = t0Us;
  let rejects = 0;
  const journal = (cmd: Command) => {
    const [type, len] = encodeCommand(cmd, buf);
    jw.appendFrom(cmd.seq, cmd.tsUs, type, buf, 0, len);
  };

  const { commands: setup, symNames } = setupCommands(spec);
  for (const c of setup) {
    seq++;
    ts++;
    const cmd = { ...c, seq, tsUs: ts } as unknown as Command;
    const code = e.apply(cmd);
    ev.clear();
    if (code !== Code.OK) throw new Error(`setup command rejected (${code}): ${JSON.stringify(c)}`);
    journal(cmd);
  }

  // order flow exactly as seqex-driver.ts applyOps builds it (one mutable command per type)
  const ids = new Float64Array(w.orders);
  const { kind, acct, ref } = w;
  const commands = new OpCommands(w, symNames);
  const snapAfter = Math.max(0, Math.min(w.n, Math.round(w.n * CFG.snapshotAt)));
  let snapshotSeq = 0;
  let snapshotMs = 0;
  let snapshotBytes = 0;
  const takeSnapshot = () => {
    const s0 = performance.now();
    const body = e.snapshot();
    const path = writeSnapshotFile(dir, e.lastSeq, e.stateHash(), body);
    snapshotSeq = e.lastSeq;
    snapshotBytes = statSync(path).size;
    snapshotMs = performance.now() - s0;
    log(`snapshot at seq ${fmtInt(snapshotSeq)}: ${(snapshotBytes / 2 ** 20).toFixed(1)} MiB in ${snapshotMs.toFixed(0)} ms`);
  };
  const progressEvery = 1 << 21;
  for (let i = 0; i < w.n; i++) {
    if (i === snapAfter) takeSnapshot();
    if ((i & (progressEvery - 1)) === 0 && i > 0) log(`  ${fmtInt(i)} / ${fmtInt(w.n)}`);
    const k = kind[i]!;
    seq++;
    ts++;
    // buildClOrdIds' ids, made per order instead of 10M strings up front
    const cmd = commands.at(i, seq, ts, ids, CFG.clOrdIds && k !== OpKind.CANCEL ? clOrdIdFor(ref[i]!, acct[i]!) : undefined);
    const code = e.apply(cmd);
    if (k !== OpKind.CANCEL && code === Code.OK && ev.buf[0] === Ev.EXEC) ids[ref[i]!] = ev.buf[EXEC_ORDER_ID]!;
    if (code !== Code.OK) rejects++;
    ev.clear();
    journal(cmd);
  }
  if (snapAfter === w.n) takeSnapshot();
  jw.close();
  const buildMs = performance.now() - t0 - snapshotMs;
  const stateHash = e.stateHash();
  const segs = listSegments(dir);
  let journalBytes = 0;
  for (const s of segs) journalBytes += statSync(join(dir, s)).size;
  return {
    orders: w.n,
    commands: seq,
    lastSeq: seq,
    snapshotSeq,
    snapshotBytes,
    segments: segs.length,
    journalBytes,
    genMs: w.genMs,
    buildMs,
    snapshotMs,
    stateHash,
    resting: restingOrders(e),
    retainedOrders: e.byOrderId.size,
    rejects,
    engine: e,
  };
}

// ------------------------------------------------------------------ 2. replay (in a fresh worker)

/** CPU time of the whole process since `from` (every thread: the measured one, JIT and GC helpers), ms. */
function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

interface ReplayJournalResult {
  records: number;
  ms: number;
  cpuMs: number;
  stateHash: string;
}

interface SnapshotTailResult {
  snapshotSeq: number;
  /** newestSnapshot: read + CRC of the file */
  readMs: number;
  restoreMs: number;
  /** the restored state's hash against the recorded one (recovery does this) */
  hashCheckMs: number;
  tailRecords: number;
  /** records in the segments read (CRC-checked), including those before the snapshot */
  scannedRecords: number;
  tailMs: number;
  totalMs: number;
  cpuMs: number;
  stateHash: string;
  resting: number;
}

type Phase = { phase: 'replay.journal'; dir: string } | { phase: 'replay.snapshotTail'; dir: string };

function replayJournal(dir: string): ReplayJournalResult {
  // what `seqex replay` does: a fresh engine with default options, every segment read and checked
  const e = new Engine();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const rec = recoverJournal(dir, false, (seq, tsUs, type, bytes, from, to) => {
    const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
    if (cmd === null) throw new Error(`record ${seq} does not decode`);
    e.events.clear();
    e.apply(cmd);
  });
  const ms = performance.now() - t0;
  const cpuMs = cpuMsSince(c0);
  return { records: rec.records, ms, cpuMs, stateHash: e.stateHash() };
}

function replaySnapshotTail(dir: string): SnapshotTailResult {
  // what recoverEngine does, timed step by step (default engine options, as the sequencer's)
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const snap = newestSnapshot(dir);
  if (snap === null) throw new Error('no snapshot in the fixture');
  const t1 = performance.now();
  const e = Engine.restore(snap.body);
  const t2 = performance.now();
  if (e.stateHash() !== snap.stateHash) throw new Error('restored state hash differs from the recorded one');
  const t3 = performance.now();
  let tail = 0;
  const snapSeq = snap.seq;
  const rec = recoverJournal(
    dir,
    false,
    (seq, tsUs, type, bytes, from, to) => {
      if (seq <= snapSeq) return;
      const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
      if (cmd === null) throw new Error(`record ${seq} does not decode`);
      e.apply(cmd);
      e.events.clear();
      tail++;
    },
    { afterSeq: snapSeq },
  );
  const t4 = performance.now();
  const cpuMs = cpuMsSince(c0);
  return {
    cpuMs,
    snapshotSeq: snapSeq,
    readMs: t1 - t0,
    restoreMs: t2 - t1,
    hashCheckMs: t3 - t2,
    tailRecords: tail,
    scannedRecords: rec.records,
    tailMs: t4 - t3,
    totalMs: t4 - t0,
    stateHash: e.stateHash(),
    resting: restingOrders(e),
  };
}

function inWorker<T>(data: Phase): Promise<T> {
  return new Promise((resolve, reject) => {
    const wk = new Worker(new URL(import.meta.url), { workerData: data, name: `restart-bench-${data.phase}` });
    let result: T | undefined;
    wk.once('message', (m: T) => (result = m));
    wk.once('error', reject);
    wk.once('exit', (code) => (result !== undefined ? resolve(result) : reject(new Error(`${data.phase} worker exited (${code}) without a result`))));
  });
}

// ------------------------------------------------------------------ 3. restart

interface RestartRun {
  startMs: number;
  /** process CPU time (all threads) while start() ran */
  startCpuMs: number;
  recoveryMs: number;
  replayed: number;
  snapshotSeq: number;
  lastSeq: number;
  stopMs: number;
  stateHash: string | null;
}

/** Rejects (and keeps the event loop alive meanwhile) if `p` does not settle in `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function restartOnce(dir: string): Promise<RestartRun> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const h = await within(SequencerHost.start({ dataDir: dir, gateways: 1, snapshotEveryRecords: 0, snapshotEverySeconds: 0, hashOnStop: true }), 120_000, 'SequencerHost.start()');
  const startMs = performance.now() - t0;
  const startCpuMs = cpuMsSince(c0);
  const r = h.recovery;
  const t1 = performance.now();
  const stopped = await within(h.stop(), 120_000, 'SequencerHost.stop()');
  const stopMs = performance.now() - t1;
  if (h.failure !== null) throw h.failure;
  return { startMs, startCpuMs, recoveryMs: r.ms, replayed: r.replayed, snapshotSeq: r.snapshotSeq, lastSeq: stopped.lastSeq, stopMs, stateHash: stopped.stateHash };
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const wall0 = performance.now();
  const load0 = loadavg()[0]!;
  mkdirSync(CFG.baseDir, { recursive: true });
  const dir = mkdtempSync(join(CFG.baseDir, '.bench-restart-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals) => {
    cleanup();
    process.stderr.write(`[restart-bench] ${sig}: removed ${dir}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // a promise that never settles with nothing else alive would end the process with code 0 and
  // skip the `finally` below: clean up and fail instead
  process.once('beforeExit', () => {
    cleanup();
    process.stderr.write(`[restart-bench] the event loop drained before the benchmark finished (a promise never settled): removed ${dir}\n`);
    process.exit(1);
  });
  try {
    const fx = buildFixture(dir);
    log(
      `journal: ${fmtInt(fx.commands)} records, ${fx.segments} segments, ${(fx.journalBytes / 2 ** 20).toFixed(0)} MiB, built in ${(fx.buildMs / 1000).toFixed(1)} s; ` +
        `${fmtInt(fx.resting)} resting orders, ${fmtInt(fx.retainedOrders)} orders in the store; ${fx.rejects} rejects`,
    );

    log('replay from the journal alone (fresh worker) ...');
    const rj = await inWorker<ReplayJournalResult>({ phase: 'replay.journal', dir });
    log(`  ${fmtInt(rj.records)} records in ${rj.ms.toFixed(0)} ms`);
    log('replay from the snapshot + tail (fresh worker) ...');
    const rs = await inWorker<SnapshotTailResult>({ phase: 'replay.snapshotTail', dir });
    log(`  ${rs.totalMs.toFixed(0)} ms (${fmtInt(rs.tailRecords)} tail records)`);

    const runs: RestartRun[] = [];
    const expected: { hash: string; lastSeq: number }[] = [];
    let ticks = 0;
    for (let i = 0; i < CFG.runs; i++) {
      const r = await restartOnce(dir);
      // a restart that found a timer due (a UTC midnight passed since the fixture's last command)
      // journaled a tick: apply the records it added to the builder before comparing
      const b = fx.engine;
      if (r.lastSeq > b.lastSeq) {
        recoverJournal(
          dir,
          false,
          (seq, tsUs, type, bytes, from, to) => {
            if (seq <= b.lastSeq) return;
            b.apply(decodeCommand(type, seq, tsUs, bytes, from, to)!);
            b.events.clear();
            ticks++;
          },
          { afterSeq: b.lastSeq },
        );
        log(`restart ${i + 1} journaled ${r.lastSeq - fx.lastSeq} record(s) (timer due): applied to the builder too`);
      }
      expected.push({ hash: r.lastSeq === fx.lastSeq ? fx.stateHash : b.stateHash(), lastSeq: b.lastSeq });
      log(`restart ${i + 1}/${CFG.runs}: start ${r.startMs.toFixed(0)} ms (recovery ${r.recoveryMs.toFixed(0)} ms, ${fmtInt(r.replayed)} replayed), stop ${r.stopMs.toFixed(0)} ms`);
      runs.push(r);
    }
    const wallS = (performance.now() - wall0) / 1000;
    const load1 = loadavg()[0]!;

    // ---------------------------------------------------------------- report
    const journalRate = rj.records / (rj.ms / 1000);
    const tailRate = rs.tailRecords / (rs.tailMs / 1000);
    const startMs = median(runs.map((r) => r.startMs));
    const recoveryMs = median(runs.map((r) => r.recoveryMs));
    const stopMs = median(runs.map((r) => r.stopMs));
    const startCpuMs = median(runs.map((r) => r.startCpuMs));
    const restartHashOk = runs.every((r, i) => r.stateHash === expected[i]!.hash && r.lastSeq === expected[i]!.lastSeq);
    const journalHashOk = rj.stateHash === fx.stateHash;
    const tailHashOk = rs.stateHash === fx.stateHash;
    const atScale = fx.orders >= TARGET.restartAtOrders;

    const out = (s: string) => process.stdout.write(`${s}\n`);
    out('');
    out(
      `seqex restart benchmark (node ${process.version}, ${quick ? 'quick' : 'full'}): ${fmtInt(fx.orders)} orders (mixed workload, seed ${CFG.seed}${CFG.clOrdIds ? ', with clOrdIds' : ''}) + ${fmtInt(fx.commands - fx.orders)} setup commands; ` +
        `journal ${fx.segments} × 64 MiB segments (${(fx.journalBytes / 2 ** 20).toFixed(0)} MiB); snapshot at seq ${fmtInt(fx.snapshotSeq)} (${(fx.snapshotBytes / 2 ** 20).toFixed(1)} MiB); ` +
        `${fmtInt(fx.resting)} resting orders, ${fmtInt(fx.retainedOrders)} orders in the store (book + dedupe window)`,
    );
    out('');
    out(
      table([
        ['measurement', 'records', 'ms', 'CPU ms', 'records/s', 'state hash', 'notes'],
        ['fixture build (not a target)', fmtInt(fx.commands), fmtInt(fx.buildMs), '-', fmtInt(fx.commands / (fx.buildMs / 1000)), '-', `apply + encode + append; generation ${fmtInt(fx.genMs)} ms, snapshot ${fmtInt(fx.snapshotMs)} ms`],
        ['replay: journal alone', fmtInt(rj.records), fmtInt(rj.ms), fmtInt(rj.cpuMs), fmtInt(journalRate), journalHashOk ? 'ok' : 'MISMATCH', 'read + CRC + decode + apply, fresh worker'],
        [
          'replay: snapshot + tail',
          fmtInt(rs.tailRecords),
          fmtInt(rs.totalMs),
          fmtInt(rs.cpuMs),
          fmtInt(tailRate),
          tailHashOk ? 'ok' : 'MISMATCH',
          `read ${fmtInt(rs.readMs)} + restore ${fmtInt(rs.restoreMs)} + hash check ${fmtInt(rs.hashCheckMs)} + tail ${fmtInt(rs.tailMs)} ms (${fmtInt(rs.scannedRecords)} records scanned)`,
        ],
        [
          `restart (median of ${runs.length})`,
          fmtInt(runs[0]!.replayed),
          fmtInt(startMs),
          fmtInt(startCpuMs),
          '-',
          restartHashOk ? 'ok' : 'MISMATCH',
          `recovery ${fmtInt(recoveryMs)} ms in the sequencer thread, thread start-up ${fmtInt(startMs - recoveryMs)} ms; runs ${runs.map((r) => fmtInt(r.startMs)).join(' / ')} ms; stop (with hash) ${fmtInt(stopMs)} ms`,
        ],
      ]),
    );
    out('');
    out(`  [${mark(journalRate >= TARGET.replayPerSec)}] replay from the journal ≥ ${fmtInt(TARGET.replayPerSec)} records/s: ${fmtInt(journalRate)}`);
    out(
      `  [${atScale ? mark(startMs < TARGET.restartMs) : 'n/a '}] restart < ${fmtInt(TARGET.restartMs)} ms at ${fmtInt(TARGET.restartAtOrders)} orders with a recent snapshot: ${fmtInt(startMs)} ms${atScale ? '' : ` (this run: ${fmtInt(fx.orders)} orders)`}`,
    );
    out(`  [${mark(restartHashOk && journalHashOk && tailHashOk)}] state hash after restart and both replays = the builder's (${fx.stateHash.slice(0, 16)}…)`);
    out(
      `  runtime ${wallS.toFixed(1)} s; load average (1 min) ${load0.toFixed(2)} at start, ${load1.toFixed(2)} at end (2 cores: above ~1 the numbers are contended); ` +
        'CPU ms = process CPU time, every thread (JIT and GC helpers too)',
    );
    if (ticks > 0) out(`  note: restarts journaled ${ticks} timer tick(s) (a UTC midnight passed); the builder applied them too before the hash check`);
    out('');
    const common = { orders: fx.orders, quick, clOrdIds: CFG.clOrdIds, seed: CFG.seed };
    const loadAvg = [round(load0, 2), round(load1, 2)];
    const json = [
      {
        bench: 'restart.fixture',
        ...common,
        records: fx.commands,
        buildMs: round(fx.buildMs),
        genMs: round(fx.genMs),
        snapshotWriteMs: round(fx.snapshotMs),
        segments: fx.segments,
        journalBytes: fx.journalBytes,
        snapshotSeq: fx.snapshotSeq,
        snapshotBytes: fx.snapshotBytes,
        restingOrders: fx.resting,
        storeOrders: fx.retainedOrders,
        rejects: fx.rejects,
        stateHash: fx.stateHash,
      },
      { bench: 'replay.journal', ...common, records: rj.records, ms: round(rj.ms), cpuMs: round(rj.cpuMs), recordsPerSec: Math.round(journalRate), hashOk: journalHashOk },
      {
        bench: 'replay.snapshotTail',
        ...common,
        snapshotSeq: rs.snapshotSeq,
        snapshotBytes: fx.snapshotBytes,
        ms: round(rs.totalMs),
        cpuMs: round(rs.cpuMs),
        readMs: round(rs.readMs),
        restoreMs: round(rs.restoreMs),
        hashCheckMs: round(rs.hashCheckMs),
        tailMs: round(rs.tailMs),
        tailRecords: rs.tailRecords,
        scannedRecords: rs.scannedRecords,
        tailRecordsPerSec: Math.round(tailRate),
        restingOrders: rs.resting,
        hashOk: tailHashOk,
      },
      {
        bench: 'restart',
        ...common,
        runs: runs.length,
        startMs: round(startMs),
        startMsRuns: runs.map((r) => round(r.startMs)),
        startCpuMs: round(startCpuMs),
        recoveryMs: round(recoveryMs),
        threadStartMs: round(startMs - recoveryMs),
        recoveryMsRuns: runs.map((r) => round(r.recoveryMs)),
        stopMs: round(stopMs),
        replayed: runs[0]!.replayed,
        snapshotSeq: runs[0]!.snapshotSeq,
        lastSeq: runs[0]!.lastSeq,
        restingOrders: fx.resting,
        snapshotBytes: fx.snapshotBytes,
        targetMs: TARGET.restartMs,
        pass: atScale ? startMs < TARGET.restartMs : null,
        hashOk: restartHashOk,
      },
      { bench: 'restart.runtime', ...common, seconds: round(wallS), loadAvg1m: loadAvg, node: process.version },
    ];
    for (const j of json) out(JSON.stringify(j));
    return restartHashOk && journalHashOk && tailHashOk ? 0 : 1;
  } finally {
    if (process.env.RESTART_KEEP === '1') log(`kept the fixture in ${dir} (RESTART_KEEP=1)`);
    else cleanup();
    if (existsSync(dir) && process.env.RESTART_KEEP !== '1') log(`could not remove ${dir}`);
  }
}

if (isMainThread) {
  tuneV8ForEngine();
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`[restart-bench] failed: ${e.stack ?? e.message}\n`);
      // a failed SequencerHost may leave threads running: exit instead of waiting for them
      process.exit(1);
    },
  );
} else {
  tuneV8ForEngine();
  const data = workerData as Phase;
  const result = data.phase === 'replay.journal' ? replayJournal(data.dir) : replaySnapshotTail(data.dir);
  parentPort!.postMessage(result);
}
