/**
 * One producer (the sequencer) -> several consumers, each with its own cursor; the producer never
 * waits for a consumer (DESIGN.md rule 6). Used for the event ring (market data, reports,
 * replication) and, with one consumer, for each gateway's outbound ring.
 *
 * The producer announces how far it will write (`claimed`) before writing, and makes frames
 * readable by moving `published`; the sequencer moves it only once the frames' commands are durable,
 * so everything a consumer can read is already in the journal. A consumer more than a ring behind
 * is lapped: it reads optimistically, checks with `intact()` that the producer has not claimed over
 * the frame meanwhile (a seqlock), and on a lap is told to resync from a snapshot. Consumers store
 * their cursor so the producer side can report lag.
 */
import { CONTROL_BYTES, DEFAULT_SPINS, FRAME_HEADER_BYTES, frameBytes, LINE, RingViews, checkCapacity, sleepUntil, sleepUntilAsync, wakeSleepers } from './frame.js';

const CLAIMED = 0;
const PUBLISHED = LINE;
const SIGNAL = 2 * LINE;
const SLEEPING = 3 * LINE;
/** laps detected by consumers, in all */
const LAPS = 4 * LINE;
const CURSORS = 5 * LINE;
/** consumers with a lag-reporting cursor slot (the control block's remaining lines) */
export const MAX_CONSUMERS = 11;

export const EMPTY = -1;
export const LAPPED = -2;

export class BroadcastRing {
  readonly v: RingViews;
  /** producer side: where the next frame goes (mirrors CLAIMED) */
  private head: number;
  /** producer side: mirrors PUBLISHED (only the producer writes it) */
  private published: number;

  static create(capacityBytes: number): BroadcastRing {
    checkCapacity(capacityBytes);
    return new BroadcastRing(new SharedArrayBuffer(CONTROL_BYTES + capacityBytes));
  }

  constructor(readonly sab: SharedArrayBuffer) {
    this.v = new RingViews(sab);
    this.head = Atomics.load(this.v.ctrl, CLAIMED);
    this.published = Atomics.load(this.v.ctrl, PUBLISHED);
  }

  get capacity(): number {
    return this.v.capacity;
  }

  // ------------------------------------------------------------------ the producer

  /** The producer's position after the last claimed frame: what `publishTo` takes. */
  position(): number {
    return this.head;
  }

  /** Bytes written but not yet published (held until durable). */
  heldBytes(): number {
    return (this.head - this.published) | 0;
  }

  /** Whether a frame of `payloadBytes` can be claimed without overwriting unpublished frames. */
  canClaim(payloadBytes: number): boolean {
    return this.heldBytes() + 2 * frameBytes(payloadBytes) <= this.v.capacity;
  }

  /**
   * Reserves a frame, writes its header, and returns the payload's byte offset (8-aligned). The
   * caller writes the payload; the frame becomes readable with `publishTo`. The caller checks
   * `canClaim` first (a frame may not overwrite unpublished ones).
   */
  claim(tag: number, payloadBytes: number): number {
    const v = this.v;
    if (!Number.isInteger(payloadBytes) || payloadBytes < 0 || payloadBytes > v.maxPayloadBytes) throw new Error(`frame payload of ${payloadBytes} bytes (max ${v.maxPayloadBytes})`);
    const need = frameBytes(payloadBytes);
    let at = this.head & v.mask;
    const toEnd = v.capacity - at;
    const total = need <= toEnd ? need : toEnd + need;
    // announce before writing: a consumer that read these bytes for an older frame sees the claim
    Atomics.store(v.ctrl, CLAIMED, (this.head + total) | 0);
    if (total !== need) {
      v.i32[at >> 2] = -toEnd;
      at = 0;
    }
    v.i32[at >> 2] = FRAME_HEADER_BYTES + payloadBytes;
    v.i32[(at >> 2) + 1] = tag;
    this.head = (this.head + total) | 0;
    return at + FRAME_HEADER_BYTES;
  }

  /** Makes every frame claimed before `position` readable, and wakes sleeping consumers. */
  publishTo(position: number): void {
    const ctrl = this.v.ctrl;
    if (((position - this.published) | 0) <= 0) return;
    this.published = position;
    Atomics.store(ctrl, PUBLISHED, position);
    wakeSleepers(ctrl, SIGNAL, SLEEPING);
  }

  /** How far behind the published position consumer `index` is, in bytes. */
  lagBytes(index: number): number {
    const ctrl = this.v.ctrl;
    return (Atomics.load(ctrl, PUBLISHED) - Atomics.load(ctrl, CURSORS + index * LINE)) | 0;
  }

  lapCount(): number {
    return Atomics.load(this.v.ctrl, LAPS);
  }

  // ------------------------------------------------------------------ consumers

  /** A consumer that starts at the current published position (it takes a snapshot first), or at `from`. */
  reader(index: number, from?: number): BroadcastReader {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_CONSUMERS) throw new Error(`consumer index must be 0..${MAX_CONSUMERS - 1}`);
    return new BroadcastReader(this.v, index, from);
  }
}

export class BroadcastReader {
  private cursor: number;
  /** the current frame (after `next` returned its payload offset) */
  tag = 0;
  payloadBytes = 0;
  private frameAt = 0;
  private frameEnd = 0;

  constructor(
    readonly v: RingViews,
    private readonly index: number,
    /** where to start (a position the producer wrote from); default the current published position */
    from?: number,
  ) {
    this.cursor = from ?? Atomics.load(v.ctrl, PUBLISHED);
    Atomics.store(v.ctrl, CURSORS + index * LINE, this.cursor);
  }

  hasFrame(): boolean {
    return ((Atomics.load(this.v.ctrl, PUBLISHED) - this.cursor) | 0) > 0;
  }

  /**
   * The payload offset of the next published frame (tag and payloadBytes set), EMPTY, or LAPPED.
   * Read the payload, check `intact()`, act on it, then `advance()`.
   */
  next(): number {
    const v = this.v;
    for (;;) {
      const published = Atomics.load(v.ctrl, PUBLISHED);
      if (((published - this.cursor) | 0) <= 0) return EMPTY;
      if (((Atomics.load(v.ctrl, CLAIMED) - this.cursor) | 0) > v.capacity) return this.lapped();
      const at = this.cursor & v.mask;
      const len = v.i32[at >> 2]!;
      if (len < 0) {
        if (-len > v.capacity - at || !this.intactFrom(this.cursor)) return this.lapped();
        this.cursor = (this.cursor - len) | 0;
        continue;
      }
      if (len < FRAME_HEADER_BYTES || len > FRAME_HEADER_BYTES + v.maxPayloadBytes || at + len > v.capacity) return this.lapped();
      this.tag = v.i32[(at >> 2) + 1]!;
      this.payloadBytes = len - FRAME_HEADER_BYTES;
      this.frameAt = this.cursor;
      this.frameEnd = (this.cursor + ((len + 7) & ~7)) | 0;
      if (!this.intactFrom(this.cursor)) return this.lapped();
      return at + FRAME_HEADER_BYTES;
    }
  }

  /** True if nothing was written over the current frame since `next` returned it. */
  intact(): boolean {
    return this.intactFrom(this.frameAt);
  }

  private intactFrom(position: number): boolean {
    return ((Atomics.load(this.v.ctrl, CLAIMED) - position) | 0) <= this.v.capacity;
  }

  advance(): void {
    this.cursor = this.frameEnd;
    Atomics.store(this.v.ctrl, CURSORS + this.index * LINE, this.cursor);
  }

  private lapped(): number {
    Atomics.add(this.v.ctrl, LAPS, 1);
    return LAPPED;
  }

  /** After a lap: jump to the live position (the consumer then rebuilds its state from a snapshot). */
  resync(): void {
    this.cursor = Atomics.load(this.v.ctrl, PUBLISHED);
    Atomics.store(this.v.ctrl, CURSORS + this.index * LINE, this.cursor);
  }

  waitForFrame(timeoutMs: number, spins = DEFAULT_SPINS): boolean {
    return sleepUntil(this.v.ctrl, SIGNAL, SLEEPING, () => this.hasFrame(), spins, timeoutMs);
  }

  waitForFrameAsync(timeoutMs: number): Promise<boolean> {
    return sleepUntilAsync(this.v.ctrl, SIGNAL, SLEEPING, () => this.hasFrame(), timeoutMs);
  }
}
