/**
 * (accountId, small index) -> fixed-width record of numbers, in one shared table: balances
 * (account, asset) -> [total, reserved] and daily counters (account, symbol) -> [day, filled,
 * working]. One table instead of an array or Map per account keeps an account that holds 2 of
 * 1,000 assets at 2 records, not 1,000 (measured: 16 KB an account with per-account arrays).
 * Open addressing, linear probing, records never removed (an account keeps its rows).
 */
export const MINOR_BITS = 20;
/** assets and symbols are bounded by the key layout: account * 2^20 + index */
export const MAX_MINOR = (1 << MINOR_BITS) - 1;
const SPAN = 1 << MINOR_BITS;
const EMPTY = -1;

export class PairTable {
  private keys: Float64Array;
  private recs: Int32Array;
  private mask: number;
  /** records, `width` numbers each; read and write `data[rec * width + field]` */
  data: Float64Array;
  count = 0;

  constructor(readonly width: number, capacityPow2 = 1 << 12) {
    this.keys = new Float64Array(capacityPow2);
    this.recs = new Int32Array(capacityPow2).fill(EMPTY);
    this.mask = capacityPow2 - 1;
    this.data = new Float64Array(capacityPow2 * width);
  }

  private static hash(account: number, minor: number): number {
    const h = Math.imul(account ^ Math.imul(minor + 1, 0x85ebca6b), 0x9e3779b1);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** The record of (account, minor), or -1. */
  find(account: number, minor: number): number {
    const key = account * SPAN + minor;
    const keys = this.keys;
    let i = PairTable.hash(account, minor) & this.mask;
    for (;;) {
      const r = this.recs[i]!;
      if (r === EMPTY) return EMPTY;
      if (keys[i] === key) return r;
      i = (i + 1) & this.mask;
    }
  }

  /** The record of (account, minor), created zeroed if absent. */
  findOrAdd(account: number, minor: number): number {
    const found = this.find(account, minor);
    if (found !== EMPTY) return found;
    if ((this.count + 1) * 2 > this.recs.length) this.grow();
    const rec = this.count++;
    if ((rec + 1) * this.width > this.data.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.place(account * SPAN + minor, PairTable.hash(account, minor), rec);
    return rec;
  }

  /** Every (account, minor, record), in record creation order. */
  *entries(): Generator<[number, number, number]> {
    const byRec = new Float64Array(this.count);
    for (let i = 0; i < this.recs.length; i++) if (this.recs[i] !== EMPTY) byRec[this.recs[i]!] = this.keys[i]!;
    for (let r = 0; r < this.count; r++) {
      const key = byRec[r]!;
      yield [Math.floor(key / SPAN), key % SPAN, r];
    }
  }

  private place(key: number, hash: number, rec: number): void {
    let i = hash & this.mask;
    while (this.recs[i] !== EMPTY) i = (i + 1) & this.mask;
    this.keys[i] = key;
    this.recs[i] = rec;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldRecs = this.recs;
    const cap = oldRecs.length * 2;
    this.keys = new Float64Array(cap);
    this.recs = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    for (let i = 0; i < oldRecs.length; i++) {
      const r = oldRecs[i]!;
      if (r === EMPTY) continue;
      const key = oldKeys[i]!;
      this.place(key, PairTable.hash(Math.floor(key / SPAN), key % SPAN), r);
    }
  }
}
