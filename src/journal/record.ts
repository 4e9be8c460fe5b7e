/**
 * Journal record framing (DESIGN.md, Journal). One record per sequenced command, little-endian:
 *
 *   offset 0  u32  length of the whole record in bytes (header + payload)
 *          4  u32  CRC-32C of bytes [0, 4) and [8, length): everything but the checksum itself
 *          8  f64  seq
 *         16  f64  tsUs (sequencer timestamp, microseconds since the Unix epoch)
 *         24  u16  command type
 *         26  u16  flags (0 for now)
 *         28       payload (the command's fixed binary encoding)
 *
 * The checksum covers the length, so a corrupted length is caught like any other flipped bit.
 * Reading never trusts a field before the checksum says the record is whole; what a bad record
 * means (torn tail or corruption in the middle) is the reader's decision, which knows where the
 * record sits in its file.
 */
import { crc32c } from './crc32c.js';

export const RECORD_HEADER_BYTES = 28;
/** Bounded like everything else: the largest command encoding plus headroom. */
export const MAX_RECORD_BYTES = 64 * 1024;
export const MAX_PAYLOAD_BYTES = MAX_RECORD_BYTES - RECORD_HEADER_BYTES;

export interface RecordView {
  seq: number;
  tsUs: number;
  type: number;
  flags: number;
  /** payload is bytes[payloadStart, payloadEnd) of the buffer that was read */
  payloadStart: number;
  payloadEnd: number;
  /** offset of the next record */
  next: number;
}

/** ok; truncated: the buffer ends inside the record; bad_length / bad_checksum: the bytes are wrong. */
export type ReadResult = { status: 'ok'; record: RecordView } | { status: 'truncated' | 'bad_length' | 'bad_checksum'; at: number };

/** DataViews are cheap but not free: reuse the last one while the same buffer is being read. */
let lastBuf: Uint8Array | null = null;
let lastView: DataView | null = null;
function viewOf(buf: Uint8Array): DataView {
  if (buf !== lastBuf) {
    lastBuf = buf;
    lastView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return lastView!;
}

function recordCrc(buf: Uint8Array, at: number, length: number): number {
  return crc32c(buf, at + 8, at + length, crc32c(buf, at, at + 4));
}

/**
 * Writes a record at `at` of `buf` (which must have room) and returns the offset after it. Throws
 * on values that could not be read back (a programming error, not input: commands are validated
 * before they are journaled).
 */
export function writeRecord(buf: Uint8Array, at: number, seq: number, tsUs: number, type: number, payload: Uint8Array, flags = 0): number {
  return writeRecordFrom(buf, at, seq, tsUs, type, payload, 0, payload.length, flags);
}

/** `writeRecord` with the payload taken from src[from, to) (no view per record on the hot path). */
export function writeRecordFrom(buf: Uint8Array, at: number, seq: number, tsUs: number, type: number, src: Uint8Array, from: number, to: number, flags = 0): number {
  if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isSafeInteger(tsUs) || tsUs < 0) throw new Error(`record seq/tsUs not safe integers: ${seq} ${tsUs}`);
  if (!Number.isInteger(type) || type < 0 || type > 0xffff || !Number.isInteger(flags) || flags < 0 || flags > 0xffff)
    throw new Error(`record type/flags out of range: ${type} ${flags}`);
  const payloadBytes = to - from;
  if (payloadBytes > MAX_PAYLOAD_BYTES) throw new Error(`record payload ${payloadBytes} bytes > ${MAX_PAYLOAD_BYTES}`);
  const length = RECORD_HEADER_BYTES + payloadBytes;
  if (at + length > buf.length) throw new Error('record does not fit in the buffer');
  const dv = viewOf(buf);
  dv.setUint32(at, length, true);
  dv.setFloat64(at + 8, seq, true);
  dv.setFloat64(at + 16, tsUs, true);
  dv.setUint16(at + 24, type, true);
  dv.setUint16(at + 26, flags, true);
  const o = at + RECORD_HEADER_BYTES;
  if (payloadBytes <= 64) for (let i = 0; i < payloadBytes; i++) buf[o + i] = src[from + i]!;
  else buf.set(src.subarray(from, to), o);
  dv.setUint32(at + 4, recordCrc(buf, at, length), true);
  return at + length;
}

export const enum ReadStatus {
  OK = 0,
  TRUNCATED = 1,
  BAD_LENGTH = 2,
  BAD_CHECKSUM = 3,
}
export const READ_STATUS_NAMES = ['ok', 'truncated', 'bad_length', 'bad_checksum'] as const;

/**
 * Reads the record at `at` into `out` (reused: replay reads millions a second without allocating);
 * `end` is where the valid bytes of the buffer end. `out` is meaningful only when OK is returned.
 */
export function readRecordInto(buf: Uint8Array, at: number, end: number, out: RecordView): ReadStatus {
  if (end - at < RECORD_HEADER_BYTES) return ReadStatus.TRUNCATED;
  const dv = viewOf(buf);
  const length = dv.getUint32(at, true);
  if (length < RECORD_HEADER_BYTES || length > MAX_RECORD_BYTES) return ReadStatus.BAD_LENGTH;
  if (end - at < length) return ReadStatus.TRUNCATED;
  if (dv.getUint32(at + 4, true) !== recordCrc(buf, at, length)) return ReadStatus.BAD_CHECKSUM;
  out.seq = dv.getFloat64(at + 8, true);
  out.tsUs = dv.getFloat64(at + 16, true);
  out.type = dv.getUint16(at + 24, true);
  out.flags = dv.getUint16(at + 26, true);
  out.payloadStart = at + RECORD_HEADER_BYTES;
  out.payloadEnd = out.next = at + length;
  return ReadStatus.OK;
}

export const newRecordView = (): RecordView => ({ seq: 0, tsUs: 0, type: 0, flags: 0, payloadStart: 0, payloadEnd: 0, next: 0 });

/** Reads the record at `at`; `end` is where the valid bytes of the buffer end. */
export function readRecord(buf: Uint8Array, at: number, end = buf.length): ReadResult {
  const record = newRecordView();
  const status = readRecordInto(buf, at, end, record);
  return status === ReadStatus.OK ? { status: 'ok', record } : { status: READ_STATUS_NAMES[status] as 'truncated' | 'bad_length' | 'bad_checksum', at };
}
