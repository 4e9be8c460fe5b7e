/**
 * Torn and corrupt files at the sequencer level (issue: "truncate the last segment at random byte
 * offsets (recovers, loses only unacknowledged records); flip a random bit in the middle
 * (detected, named, refused)"): SequencerHost.start on a damaged copy of a data dir written by a
 * real host.
 *
 * The base dir: setup and 600 orders through a GatewayPort, 16 KiB segments (several), no
 * snapshots (so start-up reads every segment). "Acknowledged" is modelled by a cut-off K: the
 * gateway saw the responses up to seq K and none after (as after a crash); the last segment is cut
 * anywhere after record K, including inside its header and to nothing.
 * Random offsets and bits come from a printed seed (SEQEX_TORN_SEED=<seed> repeats them).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../src/domain/codes.js';
import type { Command } from '../../src/engine/commands.js';
import { listSegments, segmentFirstSeq } from '../../src/journal/journal.js';
import { SEGMENT_HEADER_BYTES } from '../../src/journal/segment.js';
import { writeSnapshotFile } from '../../src/journal/snapshotFile.js';
import { GatewayPort } from '../../src/sequencer/gatewayPort.js';
import { SequencerHost, type SequencerConfig } from '../../src/sequencer/host.js';
import { EXIT_CORRUPT, replayMain } from '../../tools/cli/replay.js';
import { cleanReplay, indexJournal, rng, seedFromEnv, type RecordPlace } from './verify.js';
import { type Body, twoTraderSetup } from '../sequencer/setup.js';

const SEED = seedFromEnv('SEQEX_TORN_SEED');
const dirs: string[] = [];
const hosts = new Set<SequencerHost>();

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/**
 * Durability 'none' (no segment preparer thread): these tests are about what start-up makes of
 * damaged files, which does not depend on the mode; fsync restarts are what crash.test.ts does, 24
 * times. (With a preparer, SequencerHost.stop() can hang: see host.test.ts, 'SequencerHost stop'.)
 */
function config(dataDir: string, extra: Partial<SequencerConfig> = {}): SequencerConfig {
  return { dataDir, gateways: 1, durability: 'none', segmentBytes: 16 * 1024, snapshotEveryRecords: 0, snapshotEverySeconds: 0, hashOnStop: true, ...extra };
}

/** A promise, or an error naming what did not finish within `ms` (a hang must fail, not time out the file). */
function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what()} did not finish in ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function start(dataDir: string, extra: Partial<SequencerConfig> = {}): Promise<SequencerHost> {
  const logs: string[] = [];
  const h = await within(SequencerHost.start(config(dataDir, { log: (l) => logs.push(l), ...extra })), 20_000, () => `start on ${dataDir} (log: ${logs.join(' | ')})`);
  hosts.add(h);
  return h;
}

async function stop(h: SequencerHost): Promise<{ lastSeq: number; stateHash: string | null }> {
  hosts.delete(h);
  return within(h.stop(), 20_000, () => `stop (host failure: ${h.failure?.stack ?? 'none'})`);
}


/**
 * Submits commands from gateway 0, at most `window` unanswered (small journal batches, so 16 KiB
 * segments rotate often), and waits for every response: [seq, code] per command, in order.
 */
async function run(h: SequencerHost, cmds: Body[], window = 40): Promise<[number, number][]> {
  const port = new GatewayPort(0, h.inbound.sab, h.outbound[0]!.sab);
  const got = new Map<number, [number, number]>();
  let next = 0;
  const deadline = Date.now() + 30_000;
  while (got.size < cmds.length) {
    while (next < cmds.length && next - got.size < window && port.submit(cmds[next] as Command, next + 1)) next++;
    await port.waitForResponseAsync(20);
    port.poll((corr, seq, code, more) => {
      if (!more) got.set(corr, [seq, code]);
    });
    if (Date.now() > deadline || (h.failure !== null && got.size < next))
      throw new Error(`${got.size} of ${cmds.length} responses; host failure: ${h.failure?.stack ?? 'none'}`);
  }
  return cmds.map((_, i) => got.get(i + 1)!);
}

const SETUP = twoTraderSetup(1_000_000_000_000, 1_000_000_000);

const order = (i: number): Body => ({
  type: 'newOrder',
  accountId: 1 + (i % 2),
  symbol: 'AAPL',
  side: 1 + ((i >> 1) % 2),
  ordType: 1,
  qtyLots: 1 + (i % 7),
  priceTicks: 10_000 + (i % 9) - 4,
  clOrdId: `o${i}`,
});

let base = '';
let baseRecords: RecordPlace[] = [];
let baseLast = 0;

beforeAll(async () => {
  console.log(`torn/corrupt suite: seed ${SEED} (repeat with SEQEX_TORN_SEED=${SEED})`);
  base = tempDir('seqex-torn-base-');
  const h = await start(base);
  const res = await run(h, [...SETUP, ...Array.from({ length: 600 }, (_, i) => order(i))]);
  expect(res.slice(0, SETUP.length).every(([, code]) => code === Code.OK)).toBe(true);
  const stopped = await stop(h);
  baseRecords = indexJournal(base);
  baseLast = stopped.lastSeq;
  expect(baseRecords.length).toBe(baseLast);
  expect(listSegments(base).length, 'the base journal has several segments').toBeGreaterThanOrEqual(3);
}, 60_000);

afterAll(async () => {
  try {
    await Promise.all([...hosts].map((h) => within(h.stop(), 3000, () => 'stop').catch(() => {})));
  } finally {
    while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
  }
}, 30_000);

function copyOfBase(): string {
  const d = tempDir('seqex-torn-');
  cpSync(base, d, { recursive: true });
  return d;
}

const relocate = (p: RecordPlace, dir: string) => join(dir, p.file.slice(base.length + 1));
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Starting must fail with an error naming `file` and `offset`; the files must be left as they were. */
async function expectRefused(dir: string, file: string, offset: number, ctx: string): Promise<void> {
  const before = new Map(listSegments(dir).map((n) => [n, readFileSync(join(dir, n))]));
  const want = new RegExp(`${escapeRe(file)} at offset ${offset}\\b`);
  await expect(start(dir), ctx).rejects.toThrow(want);
  for (const [n, bytes] of before) expect(readFileSync(join(dir, n)).equals(bytes), `${ctx}: ${n} left untouched`).toBe(true);
  let err = '';
  const code = replayMain(['--data-dir', dir], () => {}, (s) => (err += s));
  expect(code, ctx).toBe(EXIT_CORRUPT);
  expect(err, ctx).toMatch(want);
}

describe('SequencerHost on a damaged data dir', () => {
  it('a last segment cut anywhere after the last acknowledged record: starts with every acknowledged record and continues the journal', async () => {
    const r = rng(SEED);
    const segs = listSegments(base);
    const lastName = segs[segs.length - 1]!;
    const lastFile = join(base, lastName);
    const lastFirst = segmentFirstSeq(lastName);
    const lastBytes = readFileSync(lastFile);
    const inLast = baseRecords.filter((p) => p.file === lastFile);
    // where the records end (a preallocated segment has zeros after them, up to its size)
    const dataEnd = inLast.length > 0 ? inLast[inLast.length - 1]!.end : SEGMENT_HEADER_BYTES;
    const endOf = (seq: number) => (seq < lastFirst ? 0 : baseRecords[seq - 1]!.end);
    // [acknowledged up to K, cut at]
    const cases: [number, number][] = [
      [baseLast - 5, endOf(baseLast - 5)], // exactly at a record boundary
      [baseLast - 1, dataEnd - 1], // one byte short
      [lastFirst - 1, 0], // the whole last segment lost (its header never made it)
      [lastFirst - 1, r.int(1, SEGMENT_HEADER_BYTES - 1)], // inside the header
      [lastFirst - 1, SEGMENT_HEADER_BYTES], // header only
    ];
    for (let i = 0; i < 5; i++) {
      const k = r.int(lastFirst - 1, baseLast - 1);
      cases.push([k, r.int(endOf(k), dataEnd - 1)]);
    }
    // a preallocated segment: zeros after the records, cut somewhere in them (nothing is lost)
    const PREALLOCATED = -1;
    cases.push([PREALLOCATED, r.int(dataEnd + 1, dataEnd + 4096)]);
    for (const [ack, cut] of cases) {
      const k = ack === PREALLOCATED ? baseLast : ack;
      const ctx = `seed ${SEED}: acknowledged to seq ${k}, ${lastName} cut at ${cut} (records end at ${dataEnd})`;
      const dir = copyOfBase();
      if (ack === PREALLOCATED) writeFileSync(join(dir, lastName), Buffer.concat([lastBytes.subarray(0, dataEnd), Buffer.alloc(8192)]));
      truncateSync(join(dir, lastName), cut);
      const whole = inLast.filter((p) => p.end <= cut);
      const expectLast = whole.length > 0 ? whole[whole.length - 1]!.seq : lastFirst - 1;
      const validEnd = whole.length > 0 ? whole[whole.length - 1]!.end : cut >= SEGMENT_HEADER_BYTES ? SEGMENT_HEADER_BYTES : 0;
      const left = readFileSync(join(dir, lastName)).subarray(validEnd, cut);
      const expectTorn = left.every((b) => b === 0) && validEnd > 0 ? 0 : cut - validEnd;

      const h = await start(dir);
      expect(h.recovery.lastSeq, ctx).toBe(expectLast);
      expect(h.recovery.lastSeq, `${ctx}: every acknowledged record kept`).toBeGreaterThanOrEqual(k);
      expect(h.recovery.journal.tornBytes, `${ctx}: torn bytes cut`).toBe(expectTorn);
      // the exchange goes on where the journal ends
      const [[seq, code]] = (await run(h, [order(10_000 + cut)])) as [[number, number]];
      expect(code, ctx).toBe(Code.OK);
      expect(seq, ctx).toBeGreaterThan(expectLast);
      const stopped = await stop(h);

      const clean = cleanReplay(dir, { keep: new Set([seq]) });
      expect(clean.lastSeq, ctx).toBe(stopped.lastSeq);
      expect(clean.records, `${ctx}: no gap`).toBe(clean.lastSeq);
      expect(clean.hash, `${ctx}: state at stop = clean replay`).toBe(stopped.stateHash);
      expect((clean.kept.get(seq)!.cmd as { clOrdId?: string }).clOrdId, ctx).toBe(`o${10_000 + cut}`);
      const now = indexJournal(dir);
      for (let q = 1; q <= expectLast; q++) {
        const a = baseRecords[q - 1]!;
        const b = now[q - 1]!;
        if (!(a.tsUs === b.tsUs && a.type === b.type && a.payload.equals(b.payload))) expect.fail(`${ctx}: record ${q} differs after recovery`);
      }
    }
  }, 120_000);

  /**
   * A crash between creating the next segment and making its header durable: with preallocated
   * segments (a zero-filled file renamed into place, then the header written) the newest segment
   * can be all zeros. Nothing in it was ever acknowledged: start must go on from the previous one.
   */
  it('a newest segment whose header never made it (all zeros): starts at the end of the previous segment', async () => {
    const segs = listSegments(base);
    const lastName = segs[segs.length - 1]!;
    const dir = copyOfBase();
    writeFileSync(join(dir, lastName), Buffer.alloc(16 * 1024));
    const h = await start(dir);
    expect(h.recovery.lastSeq).toBe(segmentFirstSeq(lastName) - 1);
    const [[seq, code]] = (await run(h, [order(30_000)])) as [[number, number]];
    expect(code).toBe(Code.OK);
    expect(seq).toBeGreaterThan(segmentFirstSeq(lastName) - 1);
    const stopped = await stop(h);
    const clean = cleanReplay(dir);
    expect(clean.records).toBe(clean.lastSeq);
    expect(stopped.stateHash).toBe(clean.hash);
  });

  it('a segment other than the last cut short: start refuses, naming the file and the offset, and changes nothing', async () => {
    const r = rng(SEED ^ 0x5a5a);
    const segs = listSegments(base);
    const victimFile = join(base, segs[1]!);
    const rec = r.pick(baseRecords.filter((p) => p.file === victimFile));
    const cut = r.int(rec.start + 1, rec.end - 1);
    const dir = copyOfBase();
    truncateSync(relocate(rec, dir), cut);
    await expectRefused(dir, relocate(rec, dir), rec.start, `seed ${SEED}: ${segs[1]} cut at ${cut} inside record ${rec.seq}`);
  });

  it('a bit flipped in the middle of the journal: start refuses, naming the file and the offset, and changes nothing', async () => {
    const r = rng(SEED ^ 0x3c3c);
    const middle = baseRecords.slice(SETUP.length, baseRecords.length - 3);
    const segs = listSegments(base);
    const victims: { file: string; byte: number; start: number; what: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const rec = r.pick(middle);
      const byte = r.int(rec.start, rec.end - 1);
      victims.push({ file: rec.file, byte, start: rec.start, what: `record ${rec.seq} [${rec.start}, ${rec.end})` });
    }
    // the header of a segment in the middle: the offset named is 0
    victims.push({ file: join(base, segs[1]!), byte: r.int(0, SEGMENT_HEADER_BYTES - 1), start: 0, what: 'segment header' });
    // a record of the last segment that has whole records after it
    const last = baseRecords.filter((p) => p.file === join(base, segs[segs.length - 1]!));
    const rec = last[Math.floor(last.length / 2)]!;
    victims.push({ file: rec.file, byte: r.int(rec.start, rec.end - 1), start: rec.start, what: `record ${rec.seq} of the last segment` });

    for (const v of victims) {
      const bit = r.int(0, 7);
      const dir = copyOfBase();
      const file = join(dir, v.file.slice(base.length + 1));
      const bytes = readFileSync(file);
      bytes[v.byte] ^= 1 << bit;
      writeFileSync(file, bytes);
      await expectRefused(dir, file, v.start, `seed ${SEED}: bit ${bit} of byte ${v.byte} of ${file} flipped (${v.what})`);
    }
  }, 60_000);

  it('a damaged snapshot file is skipped: start recovers from the journal alone to the same state', async () => {
    const dir = copyOfBase();
    const clean = cleanReplay(dir);
    const replica = cleanReplay(dir, { toSeq: 300 }).engine;
    const path = writeSnapshotFile(dir, 300, replica.stateHash(), replica.snapshot());
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] ^= 0x10;
    writeFileSync(path, bytes);
    const logs: string[] = [];
    const h = await start(dir, { log: (l) => logs.push(l) });
    expect(h.recovery.snapshotSeq).toBe(0);
    expect(h.recovery.lastSeq).toBe(baseLast);
    expect(logs.join('\n')).toContain(`skipping snapshot ${path}`);
    const stopped = await stop(h);
    expect(stopped.stateHash).toBe(clean.hash);
  });

  /**
   * A crash while the journal thread creates a new segment (file created, header not yet written)
   * right after a snapshot of the last record of the previous segment: recovery reads only the
   * segments after the snapshot, finds the new one torn, and must start at the snapshot's seq.
   * (Found by this suite: src/journal/journal.ts recoverJournal leaves lastSeq 0 here, so
   * recoverEngine refuses: "snapshot at seq S is ahead of the journal (last seq 0)".)
   */
  it('a torn segment header right after a snapshot of the previous segment end: starts at the snapshot seq', async () => {
    const r = rng(SEED ^ 0x7777);
    const segs = listSegments(base);
    const dir = copyOfBase();
    const torn = segs[2]!;
    const s = segmentFirstSeq(torn) - 1;
    for (const n of segs.slice(3)) rmSync(join(dir, n));
    const tornBytes = r.int(0, SEGMENT_HEADER_BYTES - 1);
    truncateSync(join(dir, torn), tornBytes);
    const replica = cleanReplay(dir, { toSeq: s }).engine;
    writeSnapshotFile(dir, s, replica.stateHash(), replica.snapshot());

    const h = await start(dir);
    expect(h.recovery.lastSeq).toBe(s);
    expect(h.recovery.snapshotSeq).toBe(s);
    expect(h.recovery.journal.tornBytes).toBe(tornBytes);
    const [[seq, code]] = (await run(h, [order(20_000)])) as [[number, number]];
    expect(code).toBe(Code.OK);
    expect(seq).toBeGreaterThan(s);
    const stopped = await stop(h);
    const clean = cleanReplay(dir);
    expect(clean.records).toBe(clean.lastSeq);
    expect(stopped.stateHash).toBe(clean.hash);
  });
});
