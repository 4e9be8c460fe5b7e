/**
 * (account, clOrdId) -> order slot, for idempotency. Open addressing over an Int32Array of slots;
 * the key is read back from the order store (accountIdx and clOrdId columns), so an entry costs
 * 4-8 bytes and no string is copied. Replaced orders' former clOrdIds are kept in `aliases`.
 */
import type { OrderStore } from './orderStore.js';

const EMPTY = -1;

export function clOrdHash(accountIdx: number, clOrdId: string): number {
  let h = Math.imul(accountIdx ^ 0x811c9dc5, 0x01000193);
  for (let i = 0; i < clOrdId.length; i++) h = Math.imul(h ^ clOrdId.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

export class ClOrdIndex {
  private table: Int32Array;
  private mask: number;
  size = 0;
  /** "accountIdx:clOrdId" -> orderId, for ids an order had before a replace */
  aliases = new Map<string, number>();

  constructor(private readonly store: OrderStore, capacityPow2 = 1 << 12) {
    this.table = new Int32Array(capacityPow2).fill(EMPTY);
    this.mask = capacityPow2 - 1;
  }

  find(accountIdx: number, clOrdId: string): number {
    const t = this.table;
    const s = this.store;
    let i = clOrdHash(accountIdx, clOrdId) & this.mask;
    for (;;) {
      const slot = t[i]!;
      if (slot === EMPTY) return EMPTY;
      if (s.accountIdx(slot) === accountIdx && s.clOrdId[slot] === clOrdId) return slot;
      i = (i + 1) & this.mask;
    }
  }

  insert(slot: number): void {
    if ((this.size + 1) * 2 > this.table.length) this.grow();
    this.place(slot);
    this.size++;
  }

  private place(slot: number): void {
    const t = this.table;
    let i = clOrdHash(this.store.accountIdx(slot), this.store.clOrdId[slot]!) & this.mask;
    while (t[i] !== EMPTY) i = (i + 1) & this.mask;
    t[i] = slot;
  }

  remove(slot: number): void {
    const t = this.table;
    const mask = this.mask;
    const s = this.store;
    let i = clOrdHash(s.accountIdx(slot), s.clOrdId[slot]!) & mask;
    for (;;) {
      const v = t[i]!;
      if (v === EMPTY) return;
      if (v === slot) break;
      i = (i + 1) & mask;
    }
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const v = t[j]!;
      if (v === EMPTY) break;
      const home = clOrdHash(s.accountIdx(v), s.clOrdId[v]!) & mask;
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        t[hole] = v;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    t[hole] = EMPTY;
    this.size--;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2).fill(EMPTY);
    this.mask = this.table.length - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== EMPTY) this.place(old[i]!);
  }
}
