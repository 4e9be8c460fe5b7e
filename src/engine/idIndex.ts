/**
 * orderId -> slot: open addressing with linear probing and backward-shift deletion, keys in a
 * Float64Array, values in an Int32Array. 12 bytes a bucket at load <= 0.5, no per-entry objects
 * (a Map costs ~3x that and allocates on growth of its chains).
 */
const EMPTY = 0; // orderIds start at 1, so 0 marks an empty bucket

export class IdIndex {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacityPow2 = 1 << 12) {
    this.keys = new Float64Array(capacityPow2);
    this.vals = new Int32Array(capacityPow2);
    this.mask = capacityPow2 - 1;
  }

  private static hash(key: number): number {
    // orderIds are dense and increasing: identity on the low bits keeps recent orders in adjacent
    // buckets (cache-friendly) and spreads them perfectly; the high bits fold in for huge ids
    return (key ^ ((key / 4294967296) >>> 0)) >>> 0;
  }

  get(key: number): number {
    const keys = this.keys;
    let i = IdIndex.hash(key) & this.mask;
    for (;;) {
      const k = keys[i]!;
      if (k === key) return this.vals[i]!;
      if (k === EMPTY) return -1;
      i = (i + 1) & this.mask;
    }
  }

  set(key: number, val: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    let i = IdIndex.hash(key) & this.mask;
    for (;;) {
      const k = keys[i]!;
      if (k === EMPTY) {
        keys[i] = key;
        this.vals[i] = val;
        this.size++;
        return;
      }
      if (k === key) {
        this.vals[i] = val;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  delete(key: number): boolean {
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let i = IdIndex.hash(key) & mask;
    for (;;) {
      const k = keys[i]!;
      if (k === EMPTY) return false;
      if (k === key) break;
      i = (i + 1) & mask;
    }
    // backward-shift: move later entries of the probe chain into the hole
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const k = keys[j]!;
      if (k === EMPTY) break;
      const home = IdIndex.hash(k) & mask;
      // can k move into hole? yes if home is not cyclically in (hole, j]
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        keys[hole] = k;
        vals[hole] = vals[j]!;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    keys[hole] = EMPTY;
    this.size--;
    return true;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const cap = oldKeys.length * 2;
    this.keys = new Float64Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== EMPTY) this.set(k, oldVals[i]!);
    }
  }

  byteSize(): number {
    return this.keys.byteLength + this.vals.byteLength;
  }
}
