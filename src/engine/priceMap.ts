/**
 * priceTicks -> level, for one side of one book. Open addressing on typed arrays with a
 * multiplicative hash and backward-shift deletion (no tombstones; prices near the touch come and
 * go constantly). Replaces a Map, whose lookups showed as 20% of the deep-book profile.
 */
const EMPTY = -1;

export class PriceMap {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  private shift: number;
  size = 0;

  constructor(capacityPow2 = 64) {
    this.keys = new Float64Array(capacityPow2);
    this.vals = new Int32Array(capacityPow2).fill(EMPTY);
    this.mask = capacityPow2 - 1;
    this.shift = 32 - Math.log2(capacityPow2);
  }

  private home(price: number): number {
    // Fibonacci hashing: the top bits of price * 2^32/phi spread consecutive prices apart
    return (Math.imul(price | 0, 0x9e3779b1) ^ Math.imul((price / 4294967296) | 0, 0x85ebca6b)) >>> this.shift;
  }

  get(price: number): number {
    const keys = this.keys;
    const vals = this.vals;
    let i = this.home(price);
    for (;;) {
      const v = vals[i]!;
      if (v === EMPTY) return EMPTY;
      if (keys[i] === price) return v;
      i = (i + 1) & this.mask;
    }
  }

  set(price: number, level: number): void {
    if ((this.size + 1) * 2 > this.vals.length) this.grow();
    let i = this.home(price);
    while (this.vals[i] !== EMPTY) {
      if (this.keys[i] === price) {
        this.vals[i] = level;
        return;
      }
      i = (i + 1) & this.mask;
    }
    this.keys[i] = price;
    this.vals[i] = level;
    this.size++;
  }

  delete(price: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let i = this.home(price);
    for (;;) {
      if (vals[i] === EMPTY) return;
      if (keys[i] === price) break;
      i = (i + 1) & mask;
    }
    let hole = i;
    let j = (i + 1) & mask;
    while (vals[j] !== EMPTY) {
      const h = this.home(keys[j]!);
      const inRange = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (!inRange) {
        keys[hole] = keys[j]!;
        vals[hole] = vals[j]!;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    vals[hole] = EMPTY;
    this.size--;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const cap = oldVals.length * 2;
    this.keys = new Float64Array(cap);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.size = 0;
    for (let i = 0; i < oldVals.length; i++) if (oldVals[i] !== EMPTY) this.set(oldKeys[i]!, oldVals[i]!);
  }
}
