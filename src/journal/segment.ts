/**
 * Journal segment files: a 32-byte header, then records back to back (record.ts).
 *
 *   offset 0  "SEQXJRNL"   magic
 *          8  u32          format version (1)
 *         12  u32          epoch (bumped by each failover; a standby's takeover starts a new one)
 *         16  f64          seq of the first record
 *         24  u32          reserved (0)
 *         28  u32          CRC-32C of bytes [0, 28)
 *
 * `scanSegment` checks a segment's bytes and says how far they are good. The rule for a bad
 * record: in the newest segment, a bad record after which no whole record can be found is a torn
 * tail (a crash mid-write: never acknowledged, safe to cut); anywhere else it is corruption,
 * reported with its offset, and recovery must stop. Zero bytes after the data are preallocated
 * space, not damage.
 */
import { crc32c } from './crc32c.js';
import { newRecordView, readRecord, readRecordInto, READ_STATUS_NAMES, ReadStatus, RECORD_HEADER_BYTES } from './record.js';

export const SEGMENT_MAGIC = 'SEQXJRNL';
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 32;

export interface SegmentHeader {
  version: number;
  epoch: number;
  firstSeq: number;
}

export function writeSegmentHeader(buf: Uint8Array, epoch: number, firstSeq: number): number {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff || !Number.isSafeInteger(firstSeq) || firstSeq < 1)
    throw new Error(`bad segment header values: epoch ${epoch}, firstSeq ${firstSeq}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < 8; i++) buf[i] = SEGMENT_MAGIC.charCodeAt(i);
  dv.setUint32(8, SEGMENT_VERSION, true);
  dv.setUint32(12, epoch, true);
  dv.setFloat64(16, firstSeq, true);
  dv.setUint32(24, 0, true);
  dv.setUint32(28, crc32c(buf, 0, 28), true);
  return SEGMENT_HEADER_BYTES;
}

export function readSegmentHeader(buf: Uint8Array): SegmentHeader | string {
  if (buf.length < SEGMENT_HEADER_BYTES) return 'file shorter than a segment header';
  for (let i = 0; i < 8; i++) if (buf[i] !== SEGMENT_MAGIC.charCodeAt(i)) return 'not a seqex journal segment (bad magic)';
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(28, true) !== crc32c(buf, 0, 28)) return 'segment header checksum mismatch';
  const version = dv.getUint32(8, true);
  if (version !== SEGMENT_VERSION) return `segment format version ${version}, this build reads ${SEGMENT_VERSION}`;
  return { version, epoch: dv.getUint32(12, true), firstSeq: dv.getFloat64(16, true) };
}

export interface ScanResult {
  header: SegmentHeader | null;
  records: number;
  /** seq of the last good record (firstSeq - 1 when there is none) */
  lastSeq: number;
  /** offset just after the last good record */
  validEnd: number;
  /** the newest segment ends in a torn record at validEnd: cut the file there */
  tornTail: boolean;
  /** corruption: recovery must stop; names the offset and why */
  error: { offset: number; reason: string } | null;
}

/**
 * Checks a segment. `newest` says whether it is the last segment of the journal (only there can a
 * crash leave a torn record). `onRecord` sees every good record in order (for replay).
 */
export function scanSegment(
  buf: Uint8Array,
  newest: boolean,
  onRecord?: (seq: number, tsUs: number, type: number, payloadStart: number, payloadEnd: number) => void,
): ScanResult {
  const header = readSegmentHeader(buf);
  if (typeof header === 'string')
    return { header: null, records: 0, lastSeq: 0, validEnd: 0, tornTail: false, error: { offset: 0, reason: header } };
  let at = SEGMENT_HEADER_BYTES;
  let expected = header.firstSeq;
  let records = 0;
  const result = (tornTail: boolean, error: ScanResult['error']): ScanResult => ({
    header,
    records,
    lastSeq: expected - 1,
    validEnd: at,
    tornTail,
    error,
  });
  const rec = newRecordView();
  while (at < buf.length) {
    const status = readRecordInto(buf, at, buf.length, rec);
    if (status === ReadStatus.OK) {
      if (rec.seq !== expected) return result(false, { offset: at, reason: `seq ${rec.seq} where ${expected} was expected` });
      onRecord?.(rec.seq, rec.tsUs, rec.type, rec.payloadStart, rec.payloadEnd);
      records++;
      expected++;
      at = rec.next;
      continue;
    }
    if (allZero(buf, at)) return result(false, null); // preallocated space after the data
    // a crash tears only the last record being written: if any whole record follows, this is
    // damage in the middle of the journal, not a torn tail
    if (newest && !wholeRecordAfter(buf, at)) return result(true, null);
    return result(false, { offset: at, reason: status === ReadStatus.TRUNCATED ? 'record cut short before the end of the journal' : `record ${READ_STATUS_NAMES[status].replace('_', ' ')}` });
  }
  return result(false, null);
}

/** Whether a record with a valid checksum starts anywhere after `from` (error path only). */
function wholeRecordAfter(buf: Uint8Array, from: number): boolean {
  for (let off = from + 1; off + RECORD_HEADER_BYTES <= buf.length; off++) if (readRecord(buf, off).status === 'ok') return true;
  return false;
}

/** Whether buf[from..] is all zeros (a preallocated segment's free space: up to 64 MiB, so by words). */
function allZero(buf: Uint8Array, from: number): boolean {
  let i = from;
  while (i < buf.length && ((buf.byteOffset + i) & 3) !== 0) if (buf[i++] !== 0) return false;
  const words = (buf.length - i) >> 2;
  if (words > 0) {
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    for (let k = 0; k < words; k++) if (w[k] !== 0) return false;
    i += words * 4;
  }
  for (; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
