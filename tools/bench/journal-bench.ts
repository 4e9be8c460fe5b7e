/**
 * Journal append benchmark (part of `make bench`): records/s and MB/s through JournalWriter in
 * `fsync` mode with group commit at several batch sizes, and the latency of each commit (write +
 * fdatasync). One JSON line per batch size. Runs in a temporary directory on the data disk,
 * bounded in records and time, and removes its files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { JournalWriter } from '../../src/journal/journal.js';
import { fmtInt, median, table } from './stats.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const PAYLOAD_BYTES = 64; // about a binary-encoded order command
const TIME_LIMIT_MS = quick ? 1_500 : 4_000;
const MAX_RECORDS = quick ? 300_000 : 2_000_000;
const BATCHES = [1, 16, 256, 4096];

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function run(batch: number): Record<string, number | string> {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? 'journal', '.bench-'));
  try {
    const w = new JournalWriter({ dir, durability: 'fsync' });
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
      bench: `journal.append.batch${batch}`,
      batch,
      records: seq,
      recordsPerSec: Math.round(seq / seconds),
      mbPerSec: Math.round(((seq * recordBytes) / seconds / 1e6) * 10) / 10,
      commits: commitMs.length,
      commitP50Us: Math.round(median(commitMs) * 1000),
      commitP99Us: Math.round(percentile(commitMs, 0.99) * 1000),
      commitP999Us: Math.round(percentile(commitMs, 0.999) * 1000),
      commitMaxUs: Math.round(commitMs[commitMs.length - 1]! * 1000),
      recordBytes,
      durability: 'fsync',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = BATCHES.map(run);
process.stdout.write(
  `\nseqex journal append (fsync mode, group commit, ${PAYLOAD_BYTES}-byte payloads, ${quick ? 'quick' : 'full'})\n\n` +
    table([
      ['records / commit', 'records', 'records/s', 'MB/s', 'commit p50', 'commit p99', 'commit p99.9', 'commit max'],
      ...results.map((r) => [
        String(r.batch),
        fmtInt(r.records as number),
        fmtInt(r.recordsPerSec as number),
        String(r.mbPerSec),
        `${r.commitP50Us} µs`,
        `${r.commitP99Us} µs`,
        `${r.commitP999Us} µs`,
        `${r.commitMaxUs} µs`,
      ]),
    ]) +
    '\n\n',
);
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
