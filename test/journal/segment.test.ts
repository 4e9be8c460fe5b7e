import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECORD_HEADER_BYTES, writeRecord } from '../../src/journal/record.js';
import { scanSegment, SEGMENT_HEADER_BYTES, writeSegmentHeader } from '../../src/journal/segment.js';

/** A segment of n records (seq firstSeq..), payload sizes varying; returns bytes and record ends. */
function segment(n: number, firstSeq = 1, spare = 0): { buf: Uint8Array; ends: number[] } {
  const sizes = Array.from({ length: n }, (_, i) => (i * 37) % 90);
  const total = SEGMENT_HEADER_BYTES + sizes.reduce((a, s) => a + RECORD_HEADER_BYTES + s, 0) + spare;
  const buf = new Uint8Array(total);
  let at = writeSegmentHeader(buf, 3, firstSeq);
  const ends: number[] = [];
  sizes.forEach((size, i) => {
    at = writeRecord(buf, at, firstSeq + i, 1_700_000_000_000_000 + i, 1 + (i % 5), Uint8Array.from({ length: size }, (_, k) => (k * 13 + i) & 0xff));
    ends.push(at);
  });
  return { buf, ends };
}

describe('journal segments', () => {
  it('a clean segment scans to its end with every record, seqs gap-free', () => {
    const { buf, ends } = segment(50, 1001);
    const seen: number[] = [];
    const r = scanSegment(buf, true, (seq) => seen.push(seq));
    expect(r).toMatchObject({ records: 50, lastSeq: 1050, validEnd: ends[49], tornTail: false, error: null });
    expect(r.header).toEqual({ version: 1, epoch: 3, firstSeq: 1001 });
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => 1001 + i));
  });

  it('preallocated zero bytes after the data are not damage', () => {
    const { buf, ends } = segment(10, 1, 4096);
    expect(scanSegment(buf, true)).toMatchObject({ records: 10, validEnd: ends[9], tornTail: false, error: null });
  });

  it('truncated at any byte of the newest segment: torn tail at the last whole record, nothing before it lost', () => {
    const { buf, ends } = segment(20);
    fc.assert(
      fc.property(fc.integer({ min: SEGMENT_HEADER_BYTES, max: buf.length - 1 }), (cut) => {
        const r = scanSegment(buf.subarray(0, cut), true);
        const whole = ends.filter((e) => e <= cut).length;
        expect(r.error).toBeNull();
        expect(r.records).toBe(whole);
        expect(r.lastSeq).toBe(whole);
        expect(r.validEnd).toBe(whole === 0 ? SEGMENT_HEADER_BYTES : ends[whole - 1]);
        expect(r.tornTail).toBe(cut !== r.validEnd);
      }),
      { numRuns: 300 },
    );
  });

  it('a flipped bit in the middle is corruption with the offset of the damaged record, newest or not', () => {
    const { buf, ends } = segment(20);
    fc.assert(
      fc.property(fc.integer({ min: SEGMENT_HEADER_BYTES, max: ends[17]! - 1 }), fc.nat(7), fc.boolean(), (byte, bit, newest) => {
        const bad = Uint8Array.from(buf);
        bad[byte]! ^= 1 << bit;
        const r = scanSegment(bad, newest);
        const damaged = ends.findIndex((e) => e > byte); // index of the record holding the byte
        const start = damaged === 0 ? SEGMENT_HEADER_BYTES : ends[damaged - 1]!;
        expect(r.error?.offset).toBe(start);
        expect(r.tornTail).toBe(false);
        expect(r.records).toBe(damaged);
      }),
      { numRuns: 300 },
    );
  });

  it('a damaged last record is a torn tail in the newest segment and corruption in an older one', () => {
    const { buf, ends } = segment(5);
    const bad = Uint8Array.from(buf);
    bad[ends[3]! + 30]! ^= 0x10;
    expect(scanSegment(bad, true)).toMatchObject({ records: 4, validEnd: ends[3], tornTail: true, error: null });
    expect(scanSegment(bad, false)).toMatchObject({ records: 4, tornTail: false, error: { offset: ends[3] } });
  });

  it('refuses foreign files and damaged headers, and reports a seq gap', () => {
    expect(scanSegment(Buffer.from('definitely not a journal segment!!'), true).error?.reason).toMatch(/magic/);
    const { buf } = segment(3);
    const badHeader = Uint8Array.from(buf);
    badHeader[20]! ^= 1;
    expect(scanSegment(badHeader, true).error?.reason).toMatch(/header checksum/);
    const gap = new Uint8Array(SEGMENT_HEADER_BYTES + 2 * RECORD_HEADER_BYTES);
    let at = writeSegmentHeader(gap, 1, 1);
    at = writeRecord(gap, at, 1, 0, 1, new Uint8Array(0));
    writeRecord(gap, at, 3, 0, 1, new Uint8Array(0));
    expect(scanSegment(gap, true)).toMatchObject({ records: 1, error: { offset: SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES } });
  });
});
