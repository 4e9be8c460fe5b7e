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

  /** [orderId, day, orderId, day, ...] oldest first (for snapshots). */
  toArray(): number[] {
    const out: number[] = [];
    const cap = this.buf.length / 2;
    for (let k = 0; k < this.size; k++) {
      const at = ((this.head + k) % cap) * 2;
      out.push(this.buf[at]!, this.buf[at + 1]!);
    }
    return out;
  }

  private grow(): void {
    const flat = this.toArray();
    this.buf = new Float64Array(this.buf.length * 2);
    this.buf.set(flat);
    this.head = 0;
  }
}
