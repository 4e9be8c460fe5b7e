/**
 * A gateway's end of the sequencer: submits commands into the shared inbound ring (fixed binary
 * encoding, no objects cross threads) and reads its own outbound ring of responses, each tagged
 * with the correlation id the gateway chose. Used by gateway threads, the crash tests and the
 * end-to-end benchmark.
 */
import type { Command } from '../engine/commands.js';
import { BroadcastRing, BroadcastReader, EMPTY, LAPPED } from '../ring/broadcastRing.js';
import { InboundRing } from '../ring/inboundRing.js';
import { encodeCommand, MAX_COMMAND_BYTES } from './codec.js';
import { Ev, EVENT_LENGTH } from '../engine/events.js';
import { decodeOutput, OUTPUT_HEADER_FLOATS, OUTPUT_MORE, type Output } from './outputCodec.js';
import { INBOUND_HEADER_BYTES } from './sequencer.js';

export class GatewayPort {
  readonly inbound: InboundRing;
  readonly outbound: BroadcastRing;
  private readonly reader: BroadcastReader;
  private readonly scratch = new Uint8Array(MAX_COMMAND_BYTES);
  /** responses lost because this gateway fell a whole ring behind (then it resynced) */
  laps = 0;

  constructor(
    readonly source: number,
    inboundSab: SharedArrayBuffer,
    outboundSab: SharedArrayBuffer,
  ) {
    this.inbound = new InboundRing(inboundSab);
    this.outbound = new BroadcastRing(outboundSab);
    this.reader = this.outbound.reader(0);
  }

  /**
   * Puts a command on the inbound ring; false means the ring is full (answer OVERLOADED).
   * `wake` false leaves a sleeping sequencer asleep: the caller calls `wake()` after its batch.
   */
  submit(cmd: Command, correlation: number, wake = true): boolean {
    const [type, len] = encodeCommand(cmd, this.scratch);
    return this.submitEncoded(type, this.scratch, len, correlation, wake);
  }

  submitEncoded(type: number, payload: Uint8Array, len: number, correlation: number, wake = true): boolean {
    const ring = this.inbound;
    const at = ring.claim(INBOUND_HEADER_BYTES + len);
    if (at < 0) return false;
    const v = ring.v;
    v.i32[at >> 2] = this.source;
    v.i32[(at >> 2) + 1] = correlation;
    const o = at + INBOUND_HEADER_BYTES;
    for (let i = 0; i < len; i++) v.bytes[o + i] = payload[i]!;
    if (wake) ring.commit(at, type, INBOUND_HEADER_BYTES + len);
    else ring.commitQuiet(at, type, INBOUND_HEADER_BYTES + len);
    return true;
  }

  /** wakes the sequencer if it sleeps (after submits with `wake` false) */
  wake(): void {
    this.inbound.wakeConsumer();
  }

  /**
   * Hands each released response frame to `onFrame(correlation, seq, code, more, at)` (read the
   * payload with `decode(at)` during the call if needed). Returns frames handled.
   */
  poll(onFrame: (correlation: number, seq: number, code: number, more: boolean, at: number) => void, max = 1024): number {
    const r = this.reader;
    const f = this.outbound.v.f64;
    let n = 0;
    while (n < max) {
      const at = r.next();
      if (at === EMPTY) break;
      if (at === LAPPED) {
        this.laps++;
        r.resync();
        continue;
      }
      const o = at >> 3;
      const seq = f[o]!;
      const code = f[o + 2]!;
      const more = (f[o + 6]! & OUTPUT_MORE) !== 0;
      if (!r.intact()) {
        this.laps++;
        r.resync();
        continue;
      }
      onFrame(r.tag, seq, code, more, at);
      r.advance();
      n++;
    }
    return n;
  }

  /** whether the response frame at `at` carries a reject record (a command refused, with its message) */
  hasReject(at: number): boolean {
    const f = this.outbound.v.f64;
    const o = at >> 3;
    const n = f[o + 3]!;
    const base = o + OUTPUT_HEADER_FLOATS;
    for (let i = 0; i < n; ) {
      const type = f[base + i]!;
      if (type === Ev.REJECT) return true;
      const len = EVENT_LENGTH[type];
      if (len === undefined) return true; // not readable as records: let the full decode say what it is
      i += len;
    }
    return false;
  }

  /** the engine time of the response frame at `at` */
  tsUs(at: number): number {
    return this.outbound.v.f64[(at >> 3) + 1]!;
  }

  /** The whole response frame at `at` as objects (seq, code, events). */
  decode(at: number): Output {
    return decodeOutput(this.outbound.v, at, this.reader.payloadBytes);
  }

  waitForResponse(timeoutMs: number, spins?: number): boolean {
    return this.reader.waitForFrame(timeoutMs, spins);
  }

  waitForResponseAsync(timeoutMs: number): Promise<boolean> {
    return this.reader.waitForFrameAsync(timeoutMs);
  }
}
