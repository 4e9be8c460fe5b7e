import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSnapshots, newestSnapshot, readSnapshotFile, writeSnapshotFile } from '../../src/journal/snapshotFile.js';

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
});
