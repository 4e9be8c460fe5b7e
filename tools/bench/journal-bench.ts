/**
 * Journal append benchmark (part of `make bench`): records/s and MB/s through JournalWriter in
 * `fsync` mode with group commit at several batch sizes, and the latency of each commit (write +
 * fdatasync) into a preallocated segment, as the sequencer writes. One JSON line per batch size,
 * and one more for 16 records per commit beside a thread that keeps one core busy (as matching
 * does): on this VM that alone turns a few commits a second into 5-30 ms ones (the thread waits
 * for a vCPU after its I/O completes), which sets the acknowledgement tail (docs/performance.md).
 * Runs in a temporary directory on the data disk, bounded in records and time, and removes its
 * files.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { JournalWriter, recoverJournal } from '../../src/journal/journal.js';
import { prepareSegment } from '../../src/journal/preallocate.js';
import { tuneV8ForEngine } from '../../src/platform/v8.js';
import { decodeCommand, encodeCommand, MAX_COMMAND_BYTES } from '../../src/sequencer/codec.js';
import { fmtInt, median, table } from './stats.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const PAYLOAD_BYTES = 64; // about a binary-encoded order command
const TIME_LIMIT_MS = quick ? 1_500 : 4_000;
const MAX_RECORDS = quick ? 300_000 : 2_000_000;
const BATCHES = [1, 16, 256, 4096];
/** one preallocated segment holds a whole run (MAX_RECORDS of 92 bytes) */
const SEGMENT_BYTES = (quick ? 32 : 192) * 1024 * 1024;
/** on the data disk (journal/ by default), where the real journal lives */
const BASE_DIR = process.env.BENCH_DIR ?? 'journal';
mkdirSync(BASE_DIR, { recursive: true });

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** A thread spinning on one core until the returned stop() (bounded by the caller's finally). */
function busyCore(): () => Promise<number> {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const w = new Worker(
    `const { workerData } = require('node:worker_threads');
     const f = new Int32Array(workerData);
     Atomics.store(f, 1, 1); Atomics.notify(f, 1);
     const until = Date.now() + 60000;
     while (Atomics.load(f, 0) === 0 && Date.now() < until) {}`,
    { eval: true, workerData: flags.buffer },
  );
  Atomics.wait(flags, 1, 0, 5000); // started spinning
  return () => {
    Atomics.store(flags, 0, 1);
    return w.terminate();
  };
}

function run(batch: number, besideBusyCore = false): Record<string, number | string> {
  const dir = mkdtempSync(join(BASE_DIR, '.bench-'));
  const stopBusy = besideBusyCore ? busyCore() : null;
  try {
    // as the sequencer runs it: segments preallocated ahead of time (docs/sequencer.md)
    let prepared: string | null = prepareSegment(dir, SEGMENT_BYTES, 0);
    const w = new JournalWriter({
      dir,
      durability: 'fsync',
      segmentBytes: SEGMENT_BYTES,
      takePreparedSegment: () => {
        const p = prepared;
        prepared = null;
        return p;
      },
    });
    const payload = new Uint8Array(PAYLOAD_BYTES).fill(7);
    const commitMs: number[] = [];
    let seq = 0;
    const t0 = performance.now();
    while (seq < MAX_RECORDS && performance.now() - t0 < TIME_LIMIT_MS) {
      for (let k = 0; k < batch; k++) {
        seq++;
        w.append(seq, 1_700_000_000_000_000 + seq, 1, payload);
      }
      const c = performance.now();
      w.commit();
      commitMs.push(performance.now() - c);
    }
    const seconds = (performance.now() - t0) / 1000;
    w.close();
    commitMs.sort((a, b) => a - b);
    const recordBytes = 28 + PAYLOAD_BYTES;
    return {
      bench: `journal.append.batch${batch}${besideBusyCore ? '.besideBusyCore' : ''}`,
      batch,
      records: seq,
      recordsPerSec: Math.round(seq / seconds),
      mbPerSec: Math.round(((seq * recordBytes) / seconds / 1e6) * 10) / 10,
      commits: commitMs.length,
      commitP50Us: Math.round(median(commitMs) * 1000),
      commitP99Us: Math.round(percentile(commitMs, 0.99) * 1000),
      commitP999Us: Math.round(percentile(commitMs, 0.999) * 1000),
      commitMaxUs: Math.round(commitMs[commitMs.length - 1]! * 1000),
      commitsOver4ms: commitMs.filter((ms) => ms > 4).length,
      recordBytes,
      durability: 'fsync',
    };
  } finally {
    void stopBusy?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Replay from the journal alone: a journal of order flow (limits around a mid, cancels, market
 * orders) is written, then read back, checked, decoded and applied to a fresh engine.
 */
function replayBench(): Record<string, number | string> {
  tuneV8ForEngine();
  const dir = mkdtempSync(join(BASE_DIR, '.bench-replay-'));
  try {
    const n = quick ? 300_000 : 1_000_000;
    const w = new JournalWriter({ dir, durability: 'none' });
    const buf = new Uint8Array(MAX_COMMAND_BYTES);
    let seq = 0;
    const put = (c: object) => {
      const cmd = { ...c, seq: ++seq, tsUs: 1_700_000_000_000_000 + seq } as Command;
      const [type, len] = encodeCommand(cmd, buf);
      w.append(seq, cmd.tsUs, type, buf.subarray(0, len));
    };
    put({ type: 'addAsset', asset: 'USD', decimals: 2 });
    put({ type: 'addAsset', asset: 'AAPL', decimals: 0 });
    put({ type: 'addSymbol', config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1000000', maxNotional: '100000000' } });
    for (let a = 1; a <= 100; a++) {
      put({ type: 'createAccount', name: `a${a}` });
      put({ type: 'deposit', accountId: a, asset: 'USD', amountMinor: 10_000_000_000, transferId: `u${a}` });
      put({ type: 'deposit', accountId: a, asset: 'AAPL', amountMinor: 10_000_000, transferId: `x${a}` });
    }
    let rnd = 42;
    const next = (k: number) => ((rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0), rnd % k);
    let orders = 0;
    while (seq < n) {
      const r = next(100);
      const acct = 1 + next(100);
      if (r < 60) {
        orders++;
        const side = 1 + next(2);
        put({ type: 'newOrder', accountId: acct, symbol: 'AAPL', side, ordType: 1, qtyLots: 1 + next(50), priceTicks: side === 1 ? 9_999 - next(40) : 10_001 + next(40) });
      } else if (r < 85) put({ type: 'cancelOrder', accountId: acct, orderId: 1 + next(orders + 1) });
      else if (r < 95) put({ type: 'newOrder', accountId: acct, symbol: 'AAPL', side: 1 + next(2), ordType: 2, qtyLots: 1 + next(50) });
      else put({ type: 'newOrder', accountId: acct, symbol: 'AAPL', side: 1 + next(2), ordType: 1, qtyLots: 1 + next(50), priceTicks: 10_000 });
    }
    w.close();
    const e = new Engine({ initialOrderCapacity: 1 << 20 });
    const t0 = performance.now();
    const rec = recoverJournal(dir, false, (s2, ts, type, bytes, from, to) => {
      e.apply(decodeCommand(type, s2, ts, bytes, from, to)!);
      e.events.clear();
    });
    const seconds = (performance.now() - t0) / 1000;
    return { bench: 'journal.replay', records: rec.records, recordsPerSec: Math.round(rec.records / seconds), seconds: Math.round(seconds * 1000) / 1000, stateHash: e.stateHash() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [...BATCHES.map((b) => run(b)), run(16, true)];
const replay = replayBench();
process.stdout.write(
  `\nseqex journal append (fsync mode, group commit, ${PAYLOAD_BYTES}-byte payloads, ${quick ? 'quick' : 'full'})\n\n` +
    table([
      ['records / commit', 'records', 'records/s', 'MB/s', 'commit p50', 'commit p99', 'commit p99.9', 'commit max', 'commits > 4 ms'],
      ...results.map((r) => [
        `${r.batch}${String(r.bench).endsWith('besideBusyCore') ? ', one core busy' : ''}`,
        fmtInt(r.records as number),
        fmtInt(r.recordsPerSec as number),
        String(r.mbPerSec),
        `${r.commitP50Us} µs`,
        `${r.commitP99Us} µs`,
        `${r.commitP999Us} µs`,
        `${r.commitMaxUs} µs`,
        String(r.commitsOver4ms),
      ]),
    ]) +
    '\n\n',
);
process.stdout.write(`journal replay (read + CRC check + decode + engine.apply): ${fmtInt(replay.records as number)} records, ${fmtInt(replay.recordsPerSec as number)} records/s\n\n`);
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
process.stdout.write(`${JSON.stringify(replay)}\n`);
