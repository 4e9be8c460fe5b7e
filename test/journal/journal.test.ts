import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalCorruptError, JournalWriter, listSegments, recoverJournal } from '../../src/journal/journal.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'seqex-journal-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

const payload = (seq: number) => Uint8Array.from({ length: 10 + (seq % 50) }, (_, i) => (seq * 31 + i) & 0xff);

/** Writes seqs 1..n in commits of `batch`, returns the writer (closed). */
function fill(dir: string, n: number, batch = 7, segmentBytes?: number, durability: 'fsync' | 'none' = 'none'): JournalWriter {
  const w = new JournalWriter({ dir, durability, ...(segmentBytes === undefined ? {} : { segmentBytes }) });
  for (let seq = w.lastSeq + 1; seq <= n; seq++) {
    w.append(seq, 1_700_000_000_000_000 + seq, seq % 9, payload(seq));
    if (seq % batch === 0) w.commit();
  }
  w.close();
  return w;
}

function replay(dir: string): number[] {
  const seqs: number[] = [];
  recoverJournal(dir, false, (seq, _ts, _type, bytes, from, to) => {
    expect(Buffer.from(bytes.subarray(from, to)).equals(Buffer.from(payload(seq)))).toBe(true);
    seqs.push(seq);
  });
  return seqs;
}

describe('journal on disk', () => {
  it('a segment read from a snapshot on is checked whole: damage before the snapshot seq is refused too (DESIGN: corruption stops start-up)', () => {
    const dir = tmp();
    fill(dir, 100);
    const [seg] = listSegments(dir);
    const path = join(dir, seg!);
    const clean = readFileSync(path);
    // offsets of the records, from their length words (segment header 32 bytes)
    const offsets: number[] = [];
    for (let at = 32; at < clean.length; at += clean.readUInt32LE(at)) offsets.push(at);
    expect(offsets).toHaveLength(100);
    const damage = (seq: number, byteInRecord: number) => {
      const b = Buffer.from(clean);
      b[offsets[seq - 1]! + byteInRecord]! ^= 0x04;
      writeFileSync(path, b);
    };
    const seen = (afterSeq: number) => {
      const seqs: number[] = [];
      recoverJournal(dir, false, (seq) => seqs.push(seq), { afterSeq });
      return seqs;
    };
    expect(seen(50)).toHaveLength(100); // every record of the segment read is passed on
    damage(10, 30); // payload of seq 10, which a snapshot at 50 covers
    expect(() => seen(50)).toThrow(/offset \d+.*bad checksum|bad checksum/);
    // the last record damaged reads as a torn tail whether a snapshot covers it or not: the journal
    // ends at 99, and recovery (recovery.ts) refuses a snapshot at 100 as ahead of the journal
    damage(100, 30);
    expect(recoverJournal(dir, false, undefined, { afterSeq: 100 })).toMatchObject({ lastSeq: 99 });
    expect(recoverJournal(dir, false, undefined, { afterSeq: 100 }).tornBytes).toBeGreaterThan(0);
  });

  it('appends with group commit (fsync), reopens where it left off, replays every record', () => {
    const dir = tmp();
    const w = new JournalWriter({ dir });
    for (let seq = 1; seq <= 100; seq++) {
      w.append(seq, seq, 1, payload(seq));
      if (seq % 10 === 0) expect(w.commit()).toBe(seq);
    }
    w.close();
    const w2 = new JournalWriter({ dir });
    expect(w2.recovery).toMatchObject({ lastSeq: 100, records: 100, tornBytes: 0 });
    for (let seq = 101; seq <= 150; seq++) w2.append(seq, seq, 1, payload(seq));
    w2.commit();
    w2.close();
    expect(replay(dir)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  });

  it('rotates segments at the size bound; seqs run on across segments', () => {
    const dir = tmp();
    fill(dir, 2000, 13, 8 * 1024);
    expect(listSegments(dir).length).toBeGreaterThan(5);
    expect(replay(dir)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  it('refuses to append out of sequence', () => {
    const w = new JournalWriter({ dir: tmp(), durability: 'none' });
    w.append(1, 1, 1, payload(1));
    expect(() => w.append(3, 1, 1, payload(3))).toThrow(/seq 3 after 1/);
    w.close();
  });

  it('a crash at any byte of the newest segment loses only the torn record; reopening cuts it and appends after', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (where) => {
        const dir = tmp();
        fill(dir, 300, 11, 16 * 1024);
        const segs = listSegments(dir);
        const newest = join(dir, segs[segs.length - 1]!);
        const size = statSync(newest).size;
        const cut = Math.floor(where * size);
        truncateSync(newest, cut);
        const before = replayTolerant(dir);
        const w = new JournalWriter({ dir, durability: 'none' });
        expect(w.lastSeq).toBe(before.length);
        for (let seq = w.lastSeq + 1; seq <= 320; seq++) w.append(seq, seq, 1, payload(seq));
        w.close();
        expect(replay(dir)).toEqual(Array.from({ length: 320 }, (_, i) => i + 1));
      }),
      { numRuns: 40 },
    );
  });

  it('a flipped bit in an older segment or mid-segment refuses to open, naming file and offset', () => {
    const dir = tmp();
    fill(dir, 500, 9, 8 * 1024);
    const segs = listSegments(dir);
    const victim = join(dir, segs[1]!);
    const bytes = readFileSync(victim);
    bytes[200]! ^= 0x04;
    writeFileSync(victim, bytes);
    let err: unknown;
    try {
      new JournalWriter({ dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JournalCorruptError);
    expect((err as JournalCorruptError).file).toBe(victim);
    expect((err as JournalCorruptError).offset).toBeGreaterThan(0);
    expect((err as JournalCorruptError).offset).toBeLessThanOrEqual(200);
  });

  it('without repair a torn tail is reported and the file left as it was', () => {
    const dir = tmp();
    fill(dir, 50);
    const seg = join(dir, listSegments(dir)[0]!);
    const size = statSync(seg).size;
    truncateSync(seg, size - 5);
    const r = recoverJournal(dir, false);
    expect(r.tornBytes).toBeGreaterThan(0);
    expect(r.lastSeq).toBe(49);
    expect(statSync(seg).size).toBe(size - 5);
    expect(() => new JournalWriter({ dir, repairTornTail: false })).toThrow(/torn record/);
  });
});

/** Seqs readable from a journal that may end in a torn record (no repair). */
function replayTolerant(dir: string): number[] {
  const seqs: number[] = [];
  recoverJournal(dir, false, (seq) => seqs.push(seq));
  return seqs;
}
