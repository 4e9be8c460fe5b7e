/**
 * What the rings have in common: a SharedArrayBuffer holding a control block (cursors and wake
 * words, each on its own 64-byte cache line) followed by a power-of-two data region of 8-aligned
 * frames. A frame is an 8-byte header [Int32 length of header + payload, Int32 tag] and the
 * payload; a frame never straddles the end of the region: a producer that would cross it writes a
 * pad (negative length) to the end and starts again at 0.
 *
 * Positions are Int32 byte counters that wrap at 2^32; the distance between two positions is
 * `(a - b) | 0`, exact as long as the region is at most 2^30 bytes.
 */

export const FRAME_HEADER_BYTES = 8;
/** Control block: 64 Int32 slots of 16 (one cache line each). */
export const CONTROL_INTS = 256;
export const CONTROL_BYTES = CONTROL_INTS * 4;
export const LINE = 16;
export const MAX_RING_BYTES = 1 << 30;
export const MIN_RING_BYTES = 1 << 12;

/** Bytes a frame with `payloadBytes` of payload occupies (header included, 8-aligned). */
export function frameBytes(payloadBytes: number): number {
  return (FRAME_HEADER_BYTES + payloadBytes + 7) & ~7;
}

export function checkCapacity(capacityBytes: number): void {
  if (!Number.isInteger(capacityBytes) || capacityBytes < MIN_RING_BYTES || capacityBytes > MAX_RING_BYTES || (capacityBytes & (capacityBytes - 1)) !== 0)
    throw new Error(`ring capacity must be a power of two between ${MIN_RING_BYTES} and ${MAX_RING_BYTES} bytes, not ${capacityBytes}`);
}

/** Typed views of one ring's SharedArrayBuffer, made once per thread that attaches. */
export class RingViews {
  readonly ctrl: Int32Array;
  readonly bytes: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly capacity: number;
  readonly mask: number;
  /** the largest payload a frame may carry: a quarter of the ring, so a full frame always fits after a pad */
  readonly maxPayloadBytes: number;

  constructor(readonly sab: SharedArrayBuffer) {
    const capacity = sab.byteLength - CONTROL_BYTES;
    checkCapacity(capacity);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.maxPayloadBytes = capacity / 4 - FRAME_HEADER_BYTES;
    this.ctrl = new Int32Array(sab, 0, CONTROL_INTS);
    this.bytes = new Uint8Array(sab, CONTROL_BYTES, capacity);
    this.i32 = new Int32Array(sab, CONTROL_BYTES, capacity / 4);
    this.f64 = new Float64Array(sab, CONTROL_BYTES, capacity / 8);
  }
}

/**
 * Waiting without burning a core (DESIGN.md rule 7): spin a little, then sleep on a wake word.
 * A sleeper raises a flag before its last check; a producer that finds the flag up swaps it down
 * and notifies. Only the first producer after a sleep pays the syscall: with a counter instead,
 * every commit of a burst notified until the sleeper was scheduled (measured: 8% of the
 * sequencer's time in futex wakes).
 */
export const DEFAULT_SPINS = 100;

export function wakeSleepers(ctrl: Int32Array, signal: number, sleeping: number): void {
  if (Atomics.load(ctrl, sleeping) !== 0 && Atomics.exchange(ctrl, sleeping, 0) !== 0) {
    Atomics.add(ctrl, signal, 1);
    Atomics.notify(ctrl, signal);
  }
}

/**
 * Blocks the calling thread until `ready()` or the timeout. The flag is raised before the last
 * check of `ready()`, so a producer that publishes after that check sees it and notifies (both
 * sides use sequentially consistent atomics); one that published before is seen by the check.
 * Several sleepers may share the flag: a wake-up notifies them all.
 */
export function sleepUntil(ctrl: Int32Array, signal: number, sleeping: number, ready: () => boolean, spins: number, timeoutMs: number): boolean {
  for (let i = 0; i < spins; i++) if (ready()) return true;
  const seen = Atomics.load(ctrl, signal);
  Atomics.store(ctrl, sleeping, 1);
  if (ready()) return true;
  Atomics.wait(ctrl, signal, seen, timeoutMs);
  return ready();
}

/** The same for threads that must not block (a uWS event loop): resolves when woken or timed out. */
export async function sleepUntilAsync(ctrl: Int32Array, signal: number, sleeping: number, ready: () => boolean, timeoutMs: number): Promise<boolean> {
  if (ready()) return true;
  const seen = Atomics.load(ctrl, signal);
  Atomics.store(ctrl, sleeping, 1);
  if (ready()) return true;
  const w = Atomics.waitAsync(ctrl, signal, seen, timeoutMs);
  if (w.async) await w.value;
  return ready();
}
