/**
 * Snapshot files in the data directory: `snap-<seq>.snap`, the engine's snapshot bytes behind a
 * header that names the seq it covers and the state hash, with a checksum over header and body.
 * Written atomically (temporary file, fdatasync, rename, directory fsync), so a crash leaves the
 * previous snapshot or the new one, never half of one.
 *
 * Format version 2 (written):
 *   offset 0  "SEQXSNPF"   magic
 *          8  u32          format version (2)
 *         12  u32          CRC-32 (zlib, native) of the body
 *         16  f64          seq covered (the state after applying it)
 *         24  f64          body length
 *         32  32 bytes     state hash (SHA-256, binary)
 *         64  u32          CRC-32 of bytes [0, 64)
 *         68  u32          zero (the body starts 8-aligned: its float sections are read in place)
 *         72  body         Engine.snapshot() bytes
 * Version 1 (still read): CRC-32C (JS, ~9x slower on 150 MiB) and the body at offset 68.
 */
import { closeSync, fdatasyncSync, openSync, readdirSync, writeSync } from 'node:fs';
import { readOwnedBytes, renameDurably } from './durableFs.js';
import { join } from 'node:path';
import { crc32 } from './crc32.js';
import { crc32c } from './crc32c.js';

const MAGIC = 'SEQXSNPF';
const VERSION = 2;
export const SNAPSHOT_HEADER_BYTES = 72;
/** per format version: header length and the checksum of header and body */
const FORMATS: Record<number, { headerBytes: number; checksum: (b: Uint8Array) => number }> = {
  1: { headerBytes: 68, checksum: (b) => crc32c(b) },
  2: { headerBytes: 72, checksum: (b) => crc32(b) },
};
const NAME_RE = /^snap-(\d{20})\.snap$/;
export const snapshotName = (seq: number) => `snap-${String(seq).padStart(20, '0')}.snap`;
/** The seq a snapshot file name says it covers. */
export const snapshotSeqOf = (name: string) => Number(NAME_RE.exec(name)![1]);

export interface SnapshotFile {
  path: string;
  seq: number;
  stateHash: string;
  body: Uint8Array;
}

export function writeSnapshotFile(dir: string, seq: number, stateHash: string, body: Uint8Array): string {
  if (!/^[0-9a-f]{64}$/.test(stateHash)) throw new Error('state hash must be 64 hex digits');
  const header = new Uint8Array(SNAPSHOT_HEADER_BYTES);
  const dv = new DataView(header.buffer);
  for (let i = 0; i < 8; i++) header[i] = MAGIC.charCodeAt(i);
  dv.setUint32(8, VERSION, true);
  dv.setUint32(12, crc32(body), true);
  dv.setFloat64(16, seq, true);
  dv.setFloat64(24, body.length, true);
  header.set(Buffer.from(stateHash, 'hex'), 32);
  dv.setUint32(64, crc32(header.subarray(0, 64)), true);
  const path = join(dir, snapshotName(seq));
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header);
    let off = 0;
    while (off < body.length) off += writeSync(fd, body, off, body.length - off);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameDurably(tmp, path);
  return path;
}

/** Reads and checks a snapshot file; a string says why it is not usable. */
/** `shared`: the bytes in a SharedArrayBuffer (the host and the sequencer thread read them at start-up). */
export function readSnapshotFile(path: string, shared = false): SnapshotFile | string {
  const bytes = readOwnedBytes(path, shared);
  if (bytes.length < 68) return 'shorter than a snapshot header';
  for (let i = 0; i < 8; i++) if (bytes[i] !== MAGIC.charCodeAt(i)) return 'not a seqex snapshot file (bad magic)';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  const format = FORMATS[version];
  // an unknown version's checksum is unknown too: the version word is all that can be reported
  if (format === undefined) return `snapshot file version ${version}, this build reads ${Object.keys(FORMATS).join(' and ')}`;
  if (bytes.length < format.headerBytes) return 'shorter than a snapshot header';
  if (dv.getUint32(64, true) !== format.checksum(bytes.subarray(0, 64))) return 'header checksum mismatch';
  const length = dv.getFloat64(24, true);
  if (length !== bytes.length - format.headerBytes) return `body is ${bytes.length - format.headerBytes} bytes, header says ${length}`;
  const body = bytes.subarray(format.headerBytes);
  if (dv.getUint32(12, true) !== format.checksum(body)) return 'body checksum mismatch';
  return { path, seq: dv.getFloat64(16, true), stateHash: Buffer.from(bytes.subarray(32, 64)).toString('hex'), body };
}

/** Snapshot files of a directory, newest (highest seq) first. */
export function listSnapshots(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => NAME_RE.test(f))
    .sort()
    .reverse();
}

/**
 * The newest usable snapshot covering at most `maxSeq`; damaged ones are skipped and reported
 * through `onSkip` (an older snapshot plus a longer replay gives the same state).
 */
export function newestSnapshot(dir: string, maxSeq = Number.MAX_SAFE_INTEGER, onSkip?: (path: string, why: string) => void, shared = false): SnapshotFile | null {
  for (const name of listSnapshots(dir)) {
    const path = join(dir, name);
    const s = readSnapshotFile(path, shared);
    if (typeof s === 'string') {
      onSkip?.(path, s);
      continue;
    }
    if (s.seq <= maxSeq) return s;
  }
  return null;
}
