import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/journal/crc32c.js';
import { MAX_PAYLOAD_BYTES, readRecord, RECORD_HEADER_BYTES, writeRecord } from '../../src/journal/record.js';

describe('crc32c', () => {
  it('matches the RFC 3720 (iSCSI) test vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('continues across chunks: crc(a + b) = crc(b, crc(a))', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(200), (bytes, cut) => {
        const k = Math.min(cut, bytes.length);
        expect(crc32c(bytes, k, bytes.length, crc32c(bytes, 0, k))).toBe(crc32c(bytes));
      }),
    );
  });
});

describe('journal records', () => {
  const payloadArb = fc.uint8Array({ maxLength: 300 });

  it('round-trip: what is written reads back field for field, records back to back', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(0xffff), payloadArb), { minLength: 1, maxLength: 20 }), (recs) => {
        const buf = new Uint8Array(recs.reduce((n, r) => n + RECORD_HEADER_BYTES + r[3].length, 0));
        let at = 0;
        for (const [seq, ts, type, payload] of recs) at = writeRecord(buf, at, seq, ts, type, payload);
        expect(at).toBe(buf.length);
        at = 0;
        for (const [seq, ts, type, payload] of recs) {
          const r = readRecord(buf, at);
          if (r.status !== 'ok') throw new Error(r.status);
          expect([r.record.seq, r.record.tsUs, r.record.type]).toEqual([seq, ts, type]);
          expect(Buffer.from(buf.subarray(r.record.payloadStart, r.record.payloadEnd)).equals(Buffer.from(payload))).toBe(true);
          at = r.record.next;
        }
        expect(readRecord(buf, at).status).toBe('truncated');
      }),
    );
  });

  it('every single flipped bit is detected (length, checksum, header or payload)', () => {
    const payload = Uint8Array.from({ length: 40 }, (_, i) => i * 7);
    const buf = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
    writeRecord(buf, 0, 123_456_789, 1_700_000_000_000_000, 7, payload);
    for (let bit = 0; bit < buf.length * 8; bit++) {
      const bad = Uint8Array.from(buf);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(readRecord(bad, 0).status, `bit ${bit}`).not.toBe('ok');
    }
  });

  it('a record cut anywhere is reported truncated, never read as whole', () => {
    const buf = new Uint8Array(RECORD_HEADER_BYTES + 50);
    writeRecord(buf, 0, 1, 2, 3, new Uint8Array(50).fill(9));
    for (let end = 0; end < buf.length; end++) expect(readRecord(buf, 0, end).status).toBe('truncated');
    expect(readRecord(buf, 0, buf.length).status).toBe('ok');
  });

  it('refuses impossible lengths without reading past them', () => {
    const buf = new Uint8Array(RECORD_HEADER_BYTES + 8);
    writeRecord(buf, 0, 1, 2, 3, new Uint8Array(8));
    const dv = new DataView(buf.buffer);
    for (const len of [0, 5, RECORD_HEADER_BYTES - 1, 10_000_000, 0xffffffff]) {
      dv.setUint32(0, len, true);
      expect(readRecord(buf, 0).status).toBe('bad_length');
    }
  });

  it('writer refuses what could not be read back', () => {
    const buf = new Uint8Array(1 << 17);
    expect(() => writeRecord(buf, 0, -1, 0, 0, new Uint8Array(0))).toThrow();
    expect(() => writeRecord(buf, 0, 2 ** 53, 0, 0, new Uint8Array(0))).toThrow();
    expect(() => writeRecord(buf, 0, 1, 0, 0x10000, new Uint8Array(0))).toThrow();
    expect(() => writeRecord(buf, 0, 1, 0, 0, new Uint8Array(MAX_PAYLOAD_BYTES + 1))).toThrow();
    expect(() => writeRecord(new Uint8Array(10), 0, 1, 0, 0, new Uint8Array(0))).toThrow();
  });
});
