/**
 * Closed orders kept for clOrdId dedupe, oldest first: a ring of (orderId, UTC day closed) pairs
 * in a Float64Array that doubles when full. No allocation per order (a JS array with shift /
 * slice showed up as garbage-collector time).
 */
export class RetainQueue {
  private buf = new Float64Array(2 * 1024);
  private head = 0; // index of the oldest pair (in pairs)
  size = 0;

  push(orderId: number, day: number): void {
    const cap = this.buf.length / 2;
    if (this.size === cap) this.grow();
    const at = ((this.head + this.size) % (this.buf.length / 2)) * 2;
    this.buf[at] = orderId;
    this.buf[at + 1] = day;
    this.size++;
  }

  oldestOrderId(): number {
    return this.buf[this.head * 2]!;
  }

  oldestDay(): number {
    return this.buf[this.head * 2 + 1]!;
  }

  shift(): void {
    this.head = (this.head + 1) % (this.buf.length / 2);
    this.size--;
  }

  /** [orderId, day, orderId, day, ...] oldest first (for snapshots), copied. */
  toArray(): Float64Array {
    const out = new Float64Array(this.size * 2);
    const cap = this.buf.length / 2;
    const firstRun = Math.min(this.size, cap - this.head);
    out.set(this.buf.subarray(this.head * 2, (this.head + firstRun) * 2));
    out.set(this.buf.subarray(0, (this.size - firstRun) * 2), firstRun * 2);
    return out;
  }

  /** Replaces the contents with `flat` (toArray's layout), for snapshot restore: one copy, no growth steps. */
  load(flat: Float64Array): void {
    let cap = 1024;
    while (cap < flat.length / 2 + 1) cap *= 2;
    this.buf = new Float64Array(cap * 2);
    this.buf.set(flat);
    this.head = 0;
    this.size = flat.length / 2;
  }

  private grow(): void {
    const flat = this.toArray();
    this.buf = new Float64Array(this.buf.length * 2);
    this.buf.set(flat);
    this.head = 0;
  }
}
