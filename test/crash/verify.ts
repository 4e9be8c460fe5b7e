/**
 * Shared by the sequencer and crash suites: reading a data directory independently of the code
 * under test's own recovery path. A clean replay applies every journal record from seq 1 to a fresh
 * engine (no snapshot); a record index gives each record's file and byte range, for damaging files
 * at exact places.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { decodeEvents, type DecodedEvent } from '../../src/engine/events.js';
import { listSegments, recoverJournal } from '../../src/journal/journal.js';
import { RECORD_HEADER_BYTES } from '../../src/journal/record.js';
import { scanSegment } from '../../src/journal/segment.js';
import { decodeCommand } from '../../src/sequencer/codec.js';
import { mulberry32 } from '../../tools/bench/workload.js';

export const DAY_US = 86_400_000_000;

/** What replaying one record produced (for comparing with the response a gateway saw). */
export interface ReplayedRecord {
  seq: number;
  tsUs: number;
  type: number;
  cmd: Command;
  code: number;
  events: DecodedEvent[];
}

export interface CleanReplay {
  engine: Engine;
  lastSeq: number;
  records: number;
  tornBytes: number;
  segments: string[];
  hash: string;
  /** state hash after the record at each seq asked for in `hashAt` */
  hashAt: Map<number, string>;
  /** the records asked for in `keep` */
  kept: Map<number, ReplayedRecord>;
  /** seqs of clock ticks (commands the sequencer makes itself) */
  ticks: number[];
}

/**
 * Replays the whole journal of `dir` from seq 1 into a fresh engine, without repairing anything.
 * Throws if a record does not decode or the seqs do not run 1, 2, 3, ... without a gap.
 */
export function cleanReplay(dir: string, opts: { keep?: Set<number>; hashAt?: Set<number>; toSeq?: number } = {}): CleanReplay {
  const engine = new Engine();
  const kept = new Map<number, ReplayedRecord>();
  const hashAt = new Map<number, string>();
  const ticks: number[] = [];
  const toSeq = opts.toSeq ?? Number.MAX_SAFE_INTEGER;
  let expected = 1;
  const rec = recoverJournal(dir, false, (seq, tsUs, type, bytes, from, to) => {
    if (seq !== expected) throw new Error(`clean replay: seq ${seq} where ${expected} was expected`);
    expected++;
    if (seq > toSeq) return;
    const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
    if (cmd === null) throw new Error(`clean replay: record seq ${seq} (type ${type}) does not decode`);
    if (cmd.type === 'tick') ticks.push(seq);
    engine.events.clear();
    const code = engine.apply(cmd);
    if (opts.keep?.has(seq)) kept.set(seq, { seq, tsUs, type, cmd: { ...cmd }, code, events: decodeEvents(engine.events) });
    engine.events.clear();
    if (opts.hashAt?.has(seq)) hashAt.set(seq, engine.stateHash());
  });
  return {
    engine,
    lastSeq: rec.lastSeq,
    records: rec.records,
    tornBytes: rec.tornBytes,
    segments: rec.segments,
    hash: engine.stateHash(),
    hashAt,
    kept,
    ticks,
  };
}

/** One journal record's place on disk. */
export interface RecordPlace {
  seq: number;
  file: string;
  /** offset of the record header / just after the record, in its file */
  start: number;
  end: number;
  tsUs: number;
  type: number;
  /** the record's payload bytes (the command encoding) */
  payload: Buffer;
}

/** Every record of every segment of `dir`, in order (no repair; a torn tail is simply not listed). */
export function indexJournal(dir: string): RecordPlace[] {
  const out: RecordPlace[] = [];
  const names = listSegments(dir);
  names.forEach((name, i) => {
    const file = join(dir, name);
    const bytes = new Uint8Array(readFileSync(file));
    const r = scanSegment(bytes, i === names.length - 1, (seq, tsUs, type, from, to) =>
      out.push({ seq, file, start: from - RECORD_HEADER_BYTES, end: to, tsUs, type, payload: Buffer.from(bytes.subarray(from, to)) }),
    );
    if (r.error !== null) throw new Error(`indexJournal: ${file} at ${r.error.offset}: ${r.error.reason}`);
  });
  return out;
}

/** A small seeded PRNG (mulberry32), so a failing run can be repeated from its printed seed. */
export function rng(seed: number): { next: () => number; int: (lo: number, hi: number) => number; pick: <T>(xs: readonly T[]) => T } {
  const next = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return { next, int, pick: (xs) => xs[int(0, xs.length - 1)]! };
}

export const seedFromEnv = (name: string): number => {
  const v = process.env[name];
  return v !== undefined && v !== '' ? Number(v) >>> 0 : (Math.floor(Math.random() * 2 ** 31) >>> 0);
};
