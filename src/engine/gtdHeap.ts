/**
 * Min-heap of GTD expiries keyed by (expireTimeUs, orderId), so expiries run in a total order that
 * replays identically. Entries of orders that ended earlier stay until popped and are skipped then
 * (lazy deletion); the heap is rebuilt from live orders on restore.
 */
export class GtdHeap {
  private times: number[] = [];
  private ids: number[] = [];

  clear(): void {
    this.times.length = 0;
    this.ids.length = 0;
  }

  get size(): number {
    return this.times.length;
  }

  topTime(): number {
    return this.times[0]!;
  }

  topOrderId(): number {
    return this.ids[0]!;
  }

  private less(i: number, j: number): boolean {
    const t = this.times;
    return t[i]! < t[j]! || (t[i] === t[j] && this.ids[i]! < this.ids[j]!);
  }

  private swap(i: number, j: number): void {
    const t = this.times;
    const d = this.ids;
    [t[i], t[j]] = [t[j]!, t[i]!];
    [d[i], d[j]] = [d[j]!, d[i]!];
  }

  push(timeUs: number, orderId: number): void {
    this.times.push(timeUs);
    this.ids.push(orderId);
    let i = this.times.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): void {
    const last = this.times.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.ids.pop();
    let i = 0;
    const n = this.times.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
