/**
 * The market-data ring: the worker (one producer) to every gateway thread (one consumer each).
 * A frame is one message already encoded twice (MessagePack and JSON): an update for a topic
 * (`channel:symbol`), a snapshot answering one gateway's request (it sits in the ring between the
 * updates, so the updates after it are exactly those with a higher seq), or a reset (the worker
 * rebuilt its state: every subscriber takes new snapshots). The worker never waits for a gateway:
 * one more than a ring behind is lapped and drops its subscribers (they reconnect).
 *
 * Payload: u8 kind, u8 gateway (snapshots), u16 topic bytes, u32 request id, f64 seq,
 * u32 msgpack bytes, u32 json bytes, then topic (latin1), msgpack, json.
 */
import { BroadcastRing, type BroadcastReader, EMPTY, LAPPED } from '../ring/broadcastRing.js';
import type { Encoded } from './wire.js';

export const MdKind = { UPDATE: 1, SNAPSHOT: 2, RESET: 3 } as const;
export const ALL_GATEWAYS = 255;
const HEAD = 24;
/** a frame bigger than this is refused (a snapshot too large for the ring: the request gets an error) */
export const MAX_MD_FRAME = 8 << 20;

export interface MdFrame {
  kind: number;
  gateway: number;
  requestId: number;
  topic: string;
  seq: number;
  msgpack: Buffer;
  json: Buffer;
}

export class MdRingWriter {
  private readonly ring: BroadcastRing;

  constructor(sab: SharedArrayBuffer) {
    this.ring = new BroadcastRing(sab);
  }

  /** false: the frame is larger than MAX_MD_FRAME (nothing written) */
  write(kind: number, topic: string, seq: number, e: Encoded, gateway = ALL_GATEWAYS, requestId = 0): boolean {
    const size = HEAD + topic.length + e.msgpack.length + e.json.length;
    if (size > MAX_MD_FRAME || size > this.ring.capacity / 4) return false;
    const at = this.ring.claim(kind, size);
    const b = this.ring.v.bytes;
    const dv = new DataView(b.buffer, b.byteOffset + at, size);
    dv.setUint8(0, kind);
    dv.setUint8(1, gateway);
    dv.setUint16(2, topic.length, true);
    dv.setUint32(4, requestId, true);
    dv.setFloat64(8, seq, true);
    dv.setUint32(16, e.msgpack.length, true);
    dv.setUint32(20, e.json.length, true);
    let p = at + HEAD;
    for (let i = 0; i < topic.length; i++) b[p++] = topic.charCodeAt(i);
    b.set(e.msgpack, p);
    b.set(e.json, p + e.msgpack.length);
    return true;
  }

  /** makes what was written readable (once per batch) and wakes the gateways */
  publish(): void {
    this.ring.publishTo(this.ring.position());
  }
}

export class MdRingReader {
  private readonly reader: BroadcastReader;
  private readonly v: BroadcastRing['v'];
  laps = 0;

  constructor(sab: SharedArrayBuffer, consumer: number) {
    const ring = new BroadcastRing(sab);
    this.v = ring.v;
    this.reader = ring.reader(consumer);
  }

  /** Hands each frame (its bytes copied out) to `onFrame`, at most `max`; `onLapped` when frames were lost. */
  poll(onFrame: (f: MdFrame) => void, onLapped: () => void, max = 256): number {
    const r = this.reader;
    let n = 0;
    while (n < max) {
      const at = r.next();
      if (at === EMPTY) break;
      let f: MdFrame | null = null;
      if (at !== LAPPED) f = this.read(at, r.payloadBytes);
      if (f === null || !r.intact()) {
        this.laps++;
        r.resync();
        onLapped();
        continue;
      }
      r.advance();
      n++;
      onFrame(f);
    }
    return n;
  }

  private read(at: number, size: number): MdFrame | null {
    if (size < HEAD) return null;
    const b = this.v.bytes;
    // copied before checking the frame is intact: the producer may be writing over it
    const copy = Buffer.from(b.subarray(at, at + size));
    const topicLen = copy.readUInt16LE(2);
    const mpLen = copy.readUInt32LE(16);
    const jsLen = copy.readUInt32LE(20);
    if (HEAD + topicLen + mpLen + jsLen > size) return null;
    const t0 = HEAD;
    const m0 = t0 + topicLen;
    const j0 = m0 + mpLen;
    return {
      kind: copy[0]!,
      gateway: copy[1]!,
      requestId: copy.readUInt32LE(4),
      seq: copy.readDoubleLE(8),
      topic: copy.toString('latin1', t0, m0),
      msgpack: copy.subarray(m0, j0),
      json: copy.subarray(j0, j0 + jsLen),
    };
  }

  waitAsync(timeoutMs: number): Promise<boolean> {
    return this.reader.waitForFrameAsync(timeoutMs);
  }
}
