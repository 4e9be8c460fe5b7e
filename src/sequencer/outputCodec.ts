/**
 * The engine's output for one command as a ring frame (event ring and gateway outbound rings):
 *
 *   Float64 [seq, tsUs, code, eventFloats, stringCount, source, flags, 0]
 *   Float64 x eventFloats   the command's event records, exactly as the EventLog holds them
 *   strings                 per string: Uint16 byte length, UTF-8 bytes (indices as in the records)
 *
 * Numbers stay numbers (no JSON, no MessagePack on the hot path); the few strings (clOrdIds,
 * names) are copied as UTF-8. The event ring gets every event of the command; a gateway's outbound
 * ring gets the response: the events addressed to the account that sent the command (its own
 * execution reports, cancel rejects, the reject) — see `responseEvents`. An output larger than a quarter of the ring (a mass cancel or an
 * expiry of thousands of orders) goes as several frames of whole event records with the same seq,
 * every one but the last flagged MORE. `decodeOutput` turns a frame back into objects for consumers that
 * want them (tests, gateways answering a request, `replay --events`).
 */
import { EventLog, decodeEvents, type DecodedEvent } from '../engine/events.js';
import type { BroadcastRing } from '../ring/broadcastRing.js';
import type { RingViews } from '../ring/frame.js';
import { Ev, EVENT_FIELDS, EVENT_LENGTH } from '../engine/events.js';

export const OUTPUT_HEADER_FLOATS = 8;
/** flags: more frames of the same command follow */
export const OUTPUT_MORE = 1;

/** Source of commands the sequencer makes itself (clock ticks): no gateway gets a response. */
export const SOURCE_SEQUENCER = -1;

/** UTF-8 length of s; ASCII (clOrdIds, symbols: nearly every string here) without a native call */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** Payload bytes needed for the log's current content. */
export function outputBytes(log: EventLog): number {
  let n = (OUTPUT_HEADER_FLOATS + log.len) * 8;
  const strings = log.strings;
  for (let i = 0; i < strings.length; i++) n += 2 + utf8Length(strings[i]!);
  return n;
}

/** Writes s as UTF-8 at bytes[p] and returns its length: ASCII byte by byte (a Buffer.write call costs more than the copy) */
function writeUtf8(v: RingViews, p: number, s: string): number {
  const bytes = v.bytes;
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    bytes[p + i] = c;
  }
  const len = i === n ? n : bufferOf(v).write(s, p, 'utf8');
  // frames carry a Uint16 length; the engine's strings are far shorter (clOrdIds, names, messages)
  if (len > 0xffff) throw new Error(`output string of ${len} bytes: longer than a frame string can be`);
  return len;
}

const buffers = new WeakMap<SharedArrayBuffer | ArrayBuffer, Buffer>();
function bufferOf(v: RingViews): Buffer {
  let b = buffers.get(v.sab);
  if (b === undefined) {
    b = Buffer.from(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength);
    buffers.set(v.sab, b);
  }
  return b;
}

/** The frame header at float index `o`: [seq, tsUs, code, eventFloats, stringCount, source, flags, 0]. */
function writeHeader(f: Float64Array, o: number, seq: number, tsUs: number, code: number, floats: number, strings: number, source: number, flags: number): void {
  f[o] = seq;
  f[o + 1] = tsUs;
  f[o + 2] = code;
  f[o + 3] = floats;
  f[o + 4] = strings;
  f[o + 5] = source;
  f[o + 6] = flags;
  f[o + 7] = 0;
}

/** Writes the log's content at payload offset `at` (8-aligned) of a ring. */
export function writeOutput(v: RingViews, at: number, seq: number, tsUs: number, code: number, source: number, log: EventLog, more: boolean): void {
  const f = v.f64;
  const o = at >> 3;
  const n = log.len;
  writeHeader(f, o, seq, tsUs, code, n, log.strings.length, source, more ? OUTPUT_MORE : 0);
  const src = log.buf;
  const base = o + OUTPUT_HEADER_FLOATS;
  for (let i = 0; i < n; i++) f[base + i] = src[i]!;
  const strings = log.strings;
  const bytes = v.bytes;
  let p = (base + n) * 8;
  for (let i = 0; i < strings.length; i++) {
    const len = writeUtf8(v, p + 2, strings[i]!);
    bytes[p] = len & 0xff; // Uint16 little-endian
    bytes[p + 1] = len >>> 8;
    p += 2 + len;
  }
}

/** Offsets (after the record header) of the string-index fields of each event type. */
const STRING_FIELDS: number[][] = [];
for (const [t, names] of Object.entries(EVENT_FIELDS)) STRING_FIELDS[Number(t)] = names.flatMap((n, i) => (n.endsWith('Str') ? [3 + i] : []));

/**
 * The rare output too large for one frame: whole event records in parts of at most half the
 * ring's frame limit, each part with its own string table. `room(bytes)` waits until the ring can
 * take a frame (the sequencer's disk back-pressure).
 */
export function writeOutputParts(ring: BroadcastRing, tag: number, seq: number, tsUs: number, code: number, source: number, log: EventLog, room: (bytes: number) => void): void {
  const limit = ring.v.maxPayloadBytes >> 1;
  const part = new EventLog(1 << 12);
  let i = 0;
  do {
    part.clear();
    let bytes = OUTPUT_HEADER_FLOATS * 8;
    while (i < log.len) {
      const type = log.buf[i]!;
      const len = EVENT_LENGTH[type]!;
      let recBytes = len * 8;
      for (const f of STRING_FIELDS[type]!) {
        const s = log.strings[log.buf[i + f]!];
        if (s !== undefined) recBytes += 2 + utf8Length(s);
      }
      if (part.len > 0 && bytes + recBytes > limit) break;
      while (part.len + len > part.buf.length) {
        const grown = new Float64Array(part.buf.length * 2);
        grown.set(part.buf);
        part.buf = grown;
      }
      part.buf.set(log.buf.subarray(i, i + len), part.len);
      for (const f of STRING_FIELDS[type]!) {
        const idx = log.buf[i + f]!;
        part.buf[part.len + f] = idx < 0 ? -1 : part.str(log.strings[idx]);
      }
      part.len += len;
      bytes += recBytes;
      i += len;
    }
    const payload = outputBytes(part);
    room(payload);
    writeOutput(ring.v, ring.claim(tag, payload), seq, tsUs, code, source, part, i < log.len);
  } while (i < log.len);
}

const EXEC_ACCOUNT = 3 + EVENT_FIELDS[Ev.EXEC]!.indexOf('accountId');
const CANCEL_REJECT_ACCOUNT = 3 + EVENT_FIELDS[Ev.CANCEL_REJECT]!.indexOf('accountId');

/**
 * Copies into `out` the events of `log` that answer `accountId`'s command: its execution reports
 * and cancel rejects, and rejects. Other accounts' reports (the makers of a trade) and market
 * events travel on the event ring only.
 */
export function responseEvents(log: EventLog, accountId: number, out: EventLog): void {
  out.clear();
  const b = log.buf;
  let i = 0;
  while (i < log.len) {
    const type = b[i]!;
    const len = EVENT_LENGTH[type]!;
    const keep = type === Ev.EXEC ? b[i + EXEC_ACCOUNT] === accountId : type === Ev.CANCEL_REJECT ? b[i + CANCEL_REJECT_ACCOUNT] === accountId : type === Ev.REJECT;
    if (keep) {
      if (out.len + len > out.buf.length) {
        const grown = new Float64Array(Math.max(out.buf.length * 2, out.len + len));
        grown.set(out.buf.subarray(0, out.len));
        out.buf = grown;
      }
      const o = out.len;
      for (let k = 0; k < len; k++) out.buf[o + k] = b[i + k]!;
      for (const f of STRING_FIELDS[type]!) {
        const idx = b[i + f]!;
        out.buf[o + f] = idx < 0 ? -1 : out.str(log.strings[idx]);
      }
      out.len = o + len;
    }
    i += len;
  }
}

/** Whether record `i` of `log` answers `accountId`'s command (see responseEvents). */
function answers(b: Float64Array, i: number, accountId: number): boolean {
  const type = b[i]!;
  return type === Ev.EXEC ? b[i + EXEC_ACCOUNT] === accountId : type === Ev.CANCEL_REJECT ? b[i + CANCEL_REJECT_ACCOUNT] === accountId : type === Ev.REJECT;
}

/** Payload bytes of the response to `accountId` (what responseEvents would keep), written by writeResponse. */
export function responseBytes(log: EventLog, accountId: number): number {
  const b = log.buf;
  let n = OUTPUT_HEADER_FLOATS * 8;
  for (let i = 0; i < log.len; ) {
    const type = b[i]!;
    const len = EVENT_LENGTH[type]!;
    if (answers(b, i, accountId)) {
      n += len * 8;
      for (const f of STRING_FIELDS[type]!) {
        const idx = b[i + f]!;
        if (idx >= 0) n += 2 + utf8Length(log.strings[idx]!);
      }
    }
    i += len;
  }
  return n;
}

/**
 * Writes the response to `accountId` straight from the command's log (no copy into a response
 * log first): the records responseEvents keeps, their strings renumbered in order. Same frame as
 * writeOutput of responseEvents' output.
 */
export function writeResponse(v: RingViews, at: number, seq: number, tsUs: number, code: number, source: number, log: EventLog, accountId: number): void {
  const f = v.f64;
  const bytes = v.bytes;
  const b = log.buf;
  const o = at >> 3;
  // the floats first, counting strings; string bytes go after the floats, so find where they start
  let floats = 0;
  let strings = 0;
  for (let i = 0; i < log.len; ) {
    const type = b[i]!;
    const len = EVENT_LENGTH[type]!;
    if (answers(b, i, accountId)) {
      floats += len;
      for (const fi of STRING_FIELDS[type]!) if (b[i + fi]! >= 0) strings++;
    }
    i += len;
  }
  writeHeader(f, o, seq, tsUs, code, floats, strings, source, 0);
  let out = o + OUTPUT_HEADER_FLOATS;
  let p = (out + floats) * 8;
  let nextString = 0;
  for (let i = 0; i < log.len; ) {
    const type = b[i]!;
    const len = EVENT_LENGTH[type]!;
    if (answers(b, i, accountId)) {
      for (let k = 0; k < len; k++) f[out + k] = b[i + k]!;
      for (const fi of STRING_FIELDS[type]!) {
        const idx = b[i + fi]!;
        if (idx < 0) continue;
        f[out + fi] = nextString++;
        const n = writeUtf8(v, p + 2, log.strings[idx]!);
        bytes[p] = n & 0xff;
        bytes[p + 1] = n >>> 8;
        p += 2 + n;
      }
      out += len;
    }
    i += len;
  }
}

export interface Output {
  more: boolean;
  seq: number;
  tsUs: number;
  code: number;
  source: number;
  events: DecodedEvent[];
}

const scratch = new EventLog(1 << 10);

/** The string table of the frame at `at` (its records take `floats` floats). */
export function frameStrings(v: RingViews, at: number, floats: number, count: number): string[] {
  const buf = bufferOf(v);
  let p = at + (OUTPUT_HEADER_FLOATS + floats) * 8;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = buf.readUInt16LE(p);
    out.push(buf.toString('utf8', p + 2, p + 2 + len));
    p += 2 + len;
  }
  return out;
}

/** The string table of a frame with no event records: a query's answer (JSON in chunks, joined). */
export function decodeAnswerText(v: RingViews, at: number): string {
  const f = v.f64;
  const o = at >> 3;
  const n = f[o + 3]!;
  const stringCount = f[o + 4]!;
  const buf = bufferOf(v);
  let p = at + (OUTPUT_HEADER_FLOATS + n) * 8;
  let text = '';
  for (let i = 0; i < stringCount; i++) {
    const len = buf.readUInt16LE(p);
    text += buf.toString('utf8', p + 2, p + 2 + len);
    p += 2 + len;
  }
  return text;
}

/** Reads a frame written by `writeOutput` (bytes is the payload length). */
export function decodeOutput(v: RingViews, at: number, bytes: number): Output {
  const head = copyOutput(v, at, bytes, scratch);
  return { ...head, events: decodeEvents(scratch) };
}

/**
 * Copies a frame's event records and strings into `into` (cleared first) without making an object
 * per event (consumers that read records in place: the market-data worker); returns its header.
 */
export function copyOutput(v: RingViews, at: number, bytes: number, into: EventLog): Omit<Output, 'events'> {
  const f = v.f64;
  const o = at >> 3;
  const n = f[o + 3]!;
  const stringCount = f[o + 4]!;
  if ((OUTPUT_HEADER_FLOATS + n) * 8 > bytes) throw new Error('output frame shorter than its event records');
  into.clear();
  while (into.buf.length < n) into.buf = new Float64Array(into.buf.length * 2);
  into.buf.set(f.subarray(o + OUTPUT_HEADER_FLOATS, o + OUTPUT_HEADER_FLOATS + n));
  into.len = n;
  const buf = bufferOf(v);
  let p = at + (OUTPUT_HEADER_FLOATS + n) * 8;
  for (let i = 0; i < stringCount; i++) {
    const len = buf.readUInt16LE(p);
    into.strings.push(buf.toString('utf8', p + 2, p + 2 + len));
    p += 2 + len;
  }
  return { seq: f[o]!, tsUs: f[o + 1]!, code: f[o + 2]!, source: f[o + 5]!, more: (f[o + 6]! & OUTPUT_MORE) !== 0 };
}
