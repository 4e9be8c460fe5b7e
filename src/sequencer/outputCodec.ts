/**
 * The engine's output for one command as a ring frame (event ring and gateway outbound rings):
 *
 *   Float64 [seq, tsUs, code, eventFloats, stringCount, source, flags, 0]
 *   Float64 x eventFloats   the command's event records, exactly as the EventLog holds them
 *   strings                 per string: Uint16 byte length, UTF-8 bytes (indices as in the records)
 *
 * Numbers stay numbers (no JSON, no MessagePack on the hot path); the few strings (clOrdIds,
 * names) are copied as UTF-8. An output larger than a quarter of the ring (a mass cancel or an
 * expiry of thousands of orders) goes as several frames of whole event records with the same seq,
 * every one but the last flagged MORE. `decodeOutput` turns a frame back into objects for consumers that
 * want them (tests, gateways answering a request, `replay --events`).
 */
import { EventLog, decodeEvents, type DecodedEvent } from '../engine/events.js';
import type { BroadcastRing } from '../ring/broadcastRing.js';
import type { RingViews } from '../ring/frame.js';
import { EVENT_FIELDS, EVENT_LENGTH } from '../engine/events.js';

export const OUTPUT_HEADER_FLOATS = 8;
/** flags: more frames of the same command follow */
export const OUTPUT_MORE = 1;

/** Source of commands the sequencer makes itself (clock ticks): no gateway gets a response. */
export const SOURCE_SEQUENCER = -1;

/** Payload bytes needed for the log's current content. */
export function outputBytes(log: EventLog): number {
  let n = (OUTPUT_HEADER_FLOATS + log.len) * 8;
  const strings = log.strings;
  for (let i = 0; i < strings.length; i++) n += 2 + Buffer.byteLength(strings[i]!, 'utf8');
  return n;
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

/** Writes the log's content at payload offset `at` (8-aligned) of a ring. */
export function writeOutput(v: RingViews, at: number, seq: number, tsUs: number, code: number, source: number, log: EventLog, more: boolean): void {
  const f = v.f64;
  const o = at >> 3;
  const n = log.len;
  f[o] = seq;
  f[o + 1] = tsUs;
  f[o + 2] = code;
  f[o + 3] = n;
  f[o + 4] = log.strings.length;
  f[o + 5] = source;
  f[o + 6] = more ? OUTPUT_MORE : 0;
  f[o + 7] = 0;
  const src = log.buf;
  const base = o + OUTPUT_HEADER_FLOATS;
  for (let i = 0; i < n; i++) f[base + i] = src[i]!;
  const strings = log.strings;
  if (strings.length === 0) return;
  const buf = bufferOf(v);
  let p = (base + n) * 8;
  for (let i = 0; i < strings.length; i++) {
    const len = buf.write(strings[i]!, p + 2, 'utf8');
    buf.writeUInt16LE(len, p);
    p += 2 + len;
  }
}

/** Copies a frame payload from one ring to another (the same output to the event ring and a gateway). */
export function copyPayload(from: RingViews, fromAt: number, to: RingViews, toAt: number, bytes: number): void {
  // frames are 8-aligned and padded to 8 bytes: copy whole Int32 words (not Float64: a NaN
  // pattern in string bytes must come through bit for bit)
  const src = from.i32;
  const dst = to.i32;
  const s = fromAt >> 2;
  const d = toAt >> 2;
  const words = ((bytes + 7) >> 3) << 1;
  for (let i = 0; i < words; i++) dst[d + i] = src[s + i]!;
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
        if (s !== undefined) recBytes += 2 + Buffer.byteLength(s, 'utf8');
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

export interface Output {
  more: boolean;
  seq: number;
  tsUs: number;
  code: number;
  source: number;
  events: DecodedEvent[];
}

const scratch = new EventLog(1 << 10);

/** Reads a frame written by `writeOutput` (bytes is the payload length). */
export function decodeOutput(v: RingViews, at: number, bytes: number): Output {
  const f = v.f64;
  const o = at >> 3;
  const n = f[o + 3]!;
  const stringCount = f[o + 4]!;
  if ((OUTPUT_HEADER_FLOATS + n) * 8 > bytes) throw new Error('output frame shorter than its event records');
  scratch.clear();
  while (scratch.buf.length < n) scratch.buf = new Float64Array(scratch.buf.length * 2);
  scratch.buf.set(f.subarray(o + OUTPUT_HEADER_FLOATS, o + OUTPUT_HEADER_FLOATS + n));
  scratch.len = n;
  const buf = bufferOf(v);
  let p = at + (OUTPUT_HEADER_FLOATS + n) * 8;
  for (let i = 0; i < stringCount; i++) {
    const len = buf.readUInt16LE(p);
    scratch.strings.push(buf.toString('utf8', p + 2, p + 2 + len));
    p += 2 + len;
  }
  return { seq: f[o]!, tsUs: f[o + 1]!, code: f[o + 2]!, source: f[o + 5]!, more: (f[o + 6]! & OUTPUT_MORE) !== 0, events: decodeEvents(scratch) };
}
