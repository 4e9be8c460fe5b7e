/**
 * Many producers (gateway threads) -> one consumer (the sequencer), bounded, never lossy.
 *
 * A producer claims space with a CAS on the claim cursor, writes its payload, then commits by
 * storing the frame's length into the header (the consumer reads a frame only once its length is
 * non-zero, so payload writes happen-before the read). A full ring is back-pressure: `claim`
 * returns -1 and the producer answers OVERLOADED; nothing is dropped or written twice.
 * The consumer zeroes what it consumed before moving the tail, so a stale length is never mistaken
 * for a commit.
 *
 * A producer that claims must commit (its frame blocks the ones behind it until it does): gateways
 * are threads of the same process, and a dead one takes the process down with it.
 */
import { CONTROL_BYTES, DEFAULT_SPINS, FRAME_HEADER_BYTES, frameBytes, LINE, RingViews, checkCapacity, sleepUntil, wakeSleepers } from './frame.js';

const CLAIM = 0;
const TAIL = LINE;
const SIGNAL = 2 * LINE;
const SLEEPING = 3 * LINE;
/** claims refused because the ring was full (OVERLOADED answers) */
const OVERLOADED = 4 * LINE;

export class InboundRing {
  readonly v: RingViews;
  /** consumer side: the tail it owns (no atomic load needed) */
  private tail: number;
  /** producer side: a tail seen earlier (tails only grow, so it is a safe under-estimate) */
  private seenTail: number;
  /** exclusive producer (`claimExclusive`): the claim cursor it owns */
  private exclusiveHead = -1;

  static create(capacityBytes: number): InboundRing {
    checkCapacity(capacityBytes);
    return new InboundRing(new SharedArrayBuffer(CONTROL_BYTES + capacityBytes));
  }

  /** Attaches to a ring made by `create` (in any thread). */
  constructor(readonly sab: SharedArrayBuffer) {
    this.v = new RingViews(sab);
    this.tail = Atomics.load(this.v.ctrl, TAIL);
    this.seenTail = this.tail;
  }

  get capacity(): number {
    return this.v.capacity;
  }

  // ------------------------------------------------------------------ producers

  /**
   * Reserves a frame for `payloadBytes` and returns the byte offset of its payload in `v.bytes`
   * (8-aligned, so `v.f64[at >> 3]` and `v.i32[at >> 2]` address it), or -1 if the ring is full.
   */
  claim(payloadBytes: number): number {
    const v = this.v;
    if (!Number.isInteger(payloadBytes) || payloadBytes < 0 || payloadBytes > v.maxPayloadBytes) throw new Error(`frame payload of ${payloadBytes} bytes (max ${v.maxPayloadBytes})`);
    const need = frameBytes(payloadBytes);
    const ctrl = v.ctrl;
    for (;;) {
      const head = Atomics.load(ctrl, CLAIM);
      const at = head & v.mask;
      const toEnd = v.capacity - at;
      const total = need <= toEnd ? need : toEnd + need;
      if (((head - this.seenTail) | 0) + total > v.capacity) {
        this.seenTail = Atomics.load(ctrl, TAIL);
        if (((head - this.seenTail) | 0) + total > v.capacity) {
          Atomics.add(ctrl, OVERLOADED, 1);
          return -1;
        }
      }
      if (Atomics.compareExchange(ctrl, CLAIM, head, (head + total) | 0) !== head) continue;
      return this.placed(at, toEnd, total, need);
    }
  }

  private placed(at: number, toEnd: number, total: number, need: number): number {
    if (total === need) return at + FRAME_HEADER_BYTES;
    // the pad is committed at once: it carries nothing, and the consumer must be able to skip it
    Atomics.store(this.v.i32, at >> 2, -toEnd);
    return FRAME_HEADER_BYTES;
  }

  /**
   * `claim` for a ring with exactly one producer (the sequencer's journal ring): no CAS, the claim
   * cursor is published by `endExclusiveBatch`, which also wakes the consumer once per batch.
   */
  claimExclusive(payloadBytes: number): number {
    const v = this.v;
    if (!Number.isInteger(payloadBytes) || payloadBytes < 0 || payloadBytes > v.maxPayloadBytes) throw new Error(`frame payload of ${payloadBytes} bytes (max ${v.maxPayloadBytes})`);
    if (this.exclusiveHead < 0) this.exclusiveHead = Atomics.load(v.ctrl, CLAIM);
    const head = this.exclusiveHead;
    const need = frameBytes(payloadBytes);
    const at = head & v.mask;
    const toEnd = v.capacity - at;
    const total = need <= toEnd ? need : toEnd + need;
    if (((head - this.seenTail) | 0) + total > v.capacity) {
      this.seenTail = Atomics.load(v.ctrl, TAIL);
      if (((head - this.seenTail) | 0) + total > v.capacity) return -1;
    }
    this.exclusiveHead = (head + total) | 0;
    return this.placed(at, toEnd, total, need);
  }

  /** Makes a claimed frame visible without waking the consumer: call `wakeConsumer` after a batch (one wake-up for many frames). */
  commitQuiet(payloadAt: number, tag: number, payloadBytes: number): void {
    const v = this.v;
    const h = (payloadAt - FRAME_HEADER_BYTES) >> 2;
    v.i32[h + 1] = tag;
    Atomics.store(v.i32, h, FRAME_HEADER_BYTES + payloadBytes);
  }

  /** Exclusive producer: publishes the claim cursor (for usedBytes) and wakes a sleeping consumer. */
  endExclusiveBatch(): void {
    if (this.exclusiveHead >= 0) Atomics.store(this.v.ctrl, CLAIM, this.exclusiveHead);
    wakeSleepers(this.v.ctrl, SIGNAL, SLEEPING);
  }

  /** wakes the consumer if it sleeps (after frames committed with `commitQuiet`) */
  wakeConsumer(): void {
    wakeSleepers(this.v.ctrl, SIGNAL, SLEEPING);
  }

  /** Publishes a claimed frame: tag first, then the length that makes it visible. */
  commit(payloadAt: number, tag: number, payloadBytes: number): void {
    const v = this.v;
    const h = (payloadAt - FRAME_HEADER_BYTES) >> 2;
    v.i32[h + 1] = tag;
    Atomics.store(v.i32, h, FRAME_HEADER_BYTES + payloadBytes);
    wakeSleepers(v.ctrl, SIGNAL, SLEEPING);
  }

  /** claim + copy + commit; false when full. */
  tryWrite(tag: number, payload: Uint8Array, from = 0, to = payload.length): boolean {
    const at = this.claim(to - from);
    if (at < 0) return false;
    this.v.bytes.set(payload.subarray(from, to), at);
    this.commit(at, tag, to - from);
    return true;
  }

  /** Claims refused because the ring was full, since it was made. */
  overloadedCount(): number {
    return Atomics.load(this.v.ctrl, OVERLOADED);
  }

  /** Bytes claimed and not yet consumed. */
  usedBytes(): number {
    return (Atomics.load(this.v.ctrl, CLAIM) - Atomics.load(this.v.ctrl, TAIL)) | 0;
  }

  // ------------------------------------------------------------------ the consumer

  /** True when a committed frame (or pad) waits at the tail. */
  hasFrame(): boolean {
    return Atomics.load(this.v.i32, (this.tail & this.v.mask) >> 2) !== 0;
  }

  /**
   * Hands up to `maxFrames` committed frames, in ring order, to `onFrame(tag, payloadAt,
   * payloadBytes)`; the payload may be read only during the call. Returns how many.
   */
  drain(maxFrames: number, onFrame: (tag: number, payloadAt: number, payloadBytes: number) => void): number {
    const v = this.v;
    const i32 = v.i32;
    const start = this.tail;
    let tail = start;
    let n = 0;
    try {
      // at most one ring's worth: past it the headers are this batch's own, not yet zeroed
      while (n < maxFrames && ((tail - start) | 0) < v.capacity) {
        const at = tail & v.mask;
        const len = Atomics.load(i32, at >> 2);
        if (len === 0) break;
        if (len < 0) {
          tail = (tail - len) | 0;
          continue;
        }
        onFrame(i32[(at >> 2) + 1]!, at + FRAME_HEADER_BYTES, len - FRAME_HEADER_BYTES);
        tail = (tail + ((len + 7) & ~7)) | 0;
        n++;
      }
    } finally {
      // also when onFrame throws: the frames it already took stay taken (the throwing one comes again)
      if (tail !== start) {
        // zero what was consumed (one or two ranges) before handing it back to the producers
        const from = start & v.mask;
        const to = tail & v.mask;
        if (from < to) i32.fill(0, from >> 2, to >> 2);
        else {
          i32.fill(0, from >> 2);
          i32.fill(0, 0, to >> 2);
        }
        this.tail = tail;
        Atomics.store(v.ctrl, TAIL, tail);
      }
    }
    return n;
  }

  /** Consumer: spin, then sleep until a frame is committed, `wake()` is called, or the timeout. */
  waitForFrame(timeoutMs: number, spins = DEFAULT_SPINS): boolean {
    return sleepUntil(this.v.ctrl, SIGNAL, SLEEPING, () => this.hasFrame(), spins, timeoutMs);
  }

  /** Wakes a sleeping consumer without a frame (the journal thread does this when durability advances). */
  wake(): void {
    wakeSleepers(this.v.ctrl, SIGNAL, SLEEPING);
  }
}
