import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32, crc32Portable } from '../../src/journal/crc32.js';
import { crc32c } from '../../src/journal/crc32c.js';
import { listSnapshots, newestSnapshot, readSnapshotFile, snapshotName, writeSnapshotFile } from '../../src/journal/snapshotFile.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'seqex-snap-'));
  dirs.push(d);
  return d;
};
const HASH_A = 'a'.repeat(64);
const HASH_B = '0123456789abcdef'.repeat(4);

describe('snapshot files', () => {
  it('write then read: seq, hash and body come back; newest first', () => {
    const dir = tmp();
    writeSnapshotFile(dir, 100, HASH_A, Buffer.from('body-100'));
    writeSnapshotFile(dir, 2500, HASH_B, Buffer.from('body-2500'));
    expect(listSnapshots(dir)).toHaveLength(2);
    const s = newestSnapshot(dir);
    expect(s).toMatchObject({ seq: 2500, stateHash: HASH_B });
    expect(Buffer.from(s!.body).toString()).toBe('body-2500');
    expect(newestSnapshot(dir, 2499)).toMatchObject({ seq: 100, stateHash: HASH_A });
    expect(newestSnapshot(dir, 99)).toBeNull();
  });

  it('a damaged snapshot is refused with the reason, and the next older one is used', () => {
    const dir = tmp();
    writeSnapshotFile(dir, 100, HASH_A, Buffer.from('older snapshot body'));
    const path = writeSnapshotFile(dir, 200, HASH_B, Buffer.from('newer snapshot body'));
    const bytes = readFileSync(path);
    bytes[bytes.length - 3]! ^= 1;
    writeFileSync(path, bytes);
    expect(readSnapshotFile(path)).toBe('body checksum mismatch');
    const skipped: string[] = [];
    expect(newestSnapshot(dir, undefined, (_p, why) => skipped.push(why))).toMatchObject({ seq: 100 });
    expect(skipped).toEqual(['body checksum mismatch']);
    writeFileSync(path, bytes.subarray(0, 40));
    expect(readSnapshotFile(path)).toBe('shorter than a snapshot header');
    const header = readFileSync(join(dir, listSnapshots(dir)[1]!));
    header[20]! ^= 1;
    writeFileSync(path, header);
    expect(readSnapshotFile(path)).toBe('header checksum mismatch');
  });

  it('format 2 puts the body at an 8-aligned offset (its float sections are read in place)', () => {
    const dir = tmp();
    const path = writeSnapshotFile(dir, 7, HASH_A, Buffer.from('12345678'));
    const bytes = readFileSync(path);
    expect(bytes.readUInt32LE(8)).toBe(2);
    expect(bytes.length).toBe(72 + 8);
    const s = readSnapshotFile(path);
    if (typeof s === 'string') throw new Error(s);
    expect(s.body.byteOffset % 8).toBe(0);
    expect(Buffer.from(s.body).toString()).toBe('12345678');
  });

  it('a format 1 file (CRC-32C, body at 68) written by an older build is still read; an unknown version is refused by name', () => {
    const dir = tmp();
    const body = Buffer.from('a version one body');
    const header = Buffer.alloc(68);
    header.write('SEQXSNPF', 0, 'latin1');
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(crc32c(body), 12);
    header.writeDoubleLE(42, 16);
    header.writeDoubleLE(body.length, 24);
    Buffer.from(HASH_B, 'hex').copy(header, 32);
    header.writeUInt32LE(crc32c(header, 0, 64), 64);
    const path = join(dir, snapshotName(42));
    writeFileSync(path, Buffer.concat([header, body]));
    expect(readSnapshotFile(path)).toMatchObject({ seq: 42, stateHash: HASH_B });
    const flipped = Buffer.concat([header, body]);
    flipped[flipped.length - 1]! ^= 0x10;
    writeFileSync(path, flipped);
    expect(readSnapshotFile(path)).toBe('body checksum mismatch');
    header.writeUInt32LE(9, 8);
    writeFileSync(path, Buffer.concat([header, body]));
    expect(readSnapshotFile(path)).toMatch(/snapshot file version 9, this build reads 1 and 2/);
  });
});

describe('CRC-32 (snapshot files)', () => {
  it('matches the standard check value and the portable implementation', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32Portable(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    let x = 12345;
    for (const n of [1, 7, 64, 1000, 65_537]) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
      expect(crc32(b)).toBe(crc32Portable(b));
      expect(crc32(b.subarray(n >> 1), crc32(b.subarray(0, n >> 1)))).toBe(crc32(b));
    }
  });
});
