/**
 * (account, clOrdId) -> order slot, for idempotency. Open addressing over typed arrays: a bucket
 * holds the slot and the key's 32-bit hash; the key itself is read back from the order store
 * (accountIdx and clOrdId columns), so no string is copied. Keeping the hash in the bucket lets a
 * probe skip most string compares and lets deletion (backward shift) and growth move entries
 * without hashing strings again (the profile showed rehashing strings in `remove` dominating once
 * the dedupe window was full). Replaced orders' former clOrdIds are kept in `aliases`.
 */
import type { OrderStore } from './orderStore.js';

const EMPTY = -1;

export function clOrdHash(accountIdx: number, clOrdId: string): number {
  return clOrdHashOf(accountIdx, clOrdId, 0, clOrdId.length);
}

/** clOrdHash of latin1 bytes[from, to): the same value as of the string they decode to */
export function clOrdHashBytes(accountIdx: number, bytes: Uint8Array, from: number, to: number): number {
  let h = Math.imul(accountIdx ^ 0x811c9dc5, 0x01000193);
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h ^ (h >>> 15)) | 0;
}

/** An index's table built elsewhere (snapshot.ts buildClOrdTable, on another thread) for `adopt`. */
export interface PrebuiltClOrdTable {
  table: Int32Array;
  size: number;
}

/** clOrdHash of text[from, to) (a restored id inside the snapshot's id text: no substring made) */
function clOrdHashOf(accountIdx: number, text: string, from: number, to: number): number {
  let h = Math.imul(accountIdx ^ 0x811c9dc5, 0x01000193);
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) | 0;
}

export class ClOrdIndex {
  /** bucket b: [2b] = slot (EMPTY if free), [2b + 1] = the key's hash; one cache line per probe */
  private table: Int32Array;
  private mask: number;
  size = 0;
  /** "accountIdx:clOrdId" -> orderId, for ids an order had before a replace */
  readonly aliases = new Map<string, number>();
  /** orderId -> its alias keys, so forgetting an order costs its own aliases, not all of them */
  private readonly aliasesByOrder = new Map<number, string[]>();

  addAlias(key: string, orderId: number): void {
    this.aliases.set(key, orderId);
    const keys = this.aliasesByOrder.get(orderId);
    if (keys === undefined) this.aliasesByOrder.set(orderId, [key]);
    else keys.push(key);
  }

  dropAliases(orderId: number): void {
    const keys = this.aliasesByOrder.get(orderId);
    if (keys === undefined) return;
    for (const k of keys) this.aliases.delete(k);
    this.aliasesByOrder.delete(orderId);
  }

  constructor(
    private readonly store: OrderStore | null,
    capacityPow2 = 1 << 12,
    shared = false,
  ) {
    this.table = ClOrdIndex.emptyTable(capacityPow2, shared);
    this.mask = capacityPow2 - 1;
  }

  /** Buckets for an engine of `orderCapacity` slots (at most half full before it grows). */
  static bucketsFor(orderCapacity: number): number {
    return 2 ** Math.ceil(Math.log2(orderCapacity * 2));
  }

  /** A store-less index to fill with `placeHashed` and hand over with `exportTable` (another thread's). */
  static forCapacity(orderCapacity: number, shared: boolean): ClOrdIndex {
    return new ClOrdIndex(null, ClOrdIndex.bucketsFor(orderCapacity), shared);
  }

  private static emptyTable(buckets: number, shared = false): Int32Array {
    const t = shared ? new Int32Array(new SharedArrayBuffer(buckets * 8)) : new Int32Array(buckets * 2);
    for (let b = 0; b < t.length; b += 2) t[b] = EMPTY;
    return t;
  }

  /** Inserts `slot` whose key hashes to `h` (the builder's side of a prebuilt table). */
  placeHashed(slot: number, h: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) throw new Error('prebuilt clOrdId table is full');
    this.place(slot, h);
    this.size++;
  }

  exportTable(): PrebuiltClOrdTable {
    return { table: this.table, size: this.size };
  }

  /**
   * Takes a table built by `placeHashed` for the same slots and capacity (snapshot restore) if it
   * fits: same bucket count, this index still empty, as many keys as the restore saw ids, and the
   * `sample` slots found under their keys. Returns whether it did (if not, the caller inserts the
   * keys itself).
   */
  adopt(prebuilt: PrebuiltClOrdTable, keys: number, sample: Int32Array): boolean {
    if (prebuilt.table.length !== this.table.length || this.size !== 0 || prebuilt.size !== keys) return false;
    // and spot checks: each sampled slot is where its own key's hash leads (a table of other bytes is refused)
    const t = prebuilt.table;
    for (const slot of sample) {
      let i = this.hashOfSlot(slot) & this.mask;
      while (t[2 * i] !== slot && t[2 * i] !== EMPTY) i = (i + 1) & this.mask;
      if (t[2 * i] !== slot) return false;
    }
    this.table = prebuilt.table;
    this.size = prebuilt.size;
    return true;
  }

  find(accountIdx: number, clOrdId: string): number {
    const h = clOrdHash(accountIdx, clOrdId);
    const t = this.table;
    const s = this.store!;
    let i = h & this.mask;
    for (;;) {
      const slot = t[2 * i]!;
      if (slot === EMPTY) return EMPTY;
      if (t[2 * i + 1] === h && s.accountIdx(slot) === accountIdx && s.clOrdIdOf(slot) === clOrdId) return slot;
      i = (i + 1) & this.mask;
    }
  }

  insert(slot: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.place(slot, this.hashOfSlot(slot));
    this.size++;
  }

  /** The hash of the slot's key; a restored clOrdId not read yet is hashed where it lies */
  private hashOfSlot(slot: number): number {
    const s = this.store!;
    const at = s.restoredClOrdIdAt(slot);
    if (at < 0) return clOrdHash(s.accountIdx(slot), s.clOrdIdOf(slot)!);
    const text = s.restoredClOrdIds();
    return clOrdHashOf(s.accountIdx(slot), text, at + 1, at + 1 + text.charCodeAt(at));
  }

  private place(slot: number, h: number): void {
    const t = this.table;
    let i = h & this.mask;
    while (t[2 * i] !== EMPTY) i = (i + 1) & this.mask;
    t[2 * i] = slot;
    t[2 * i + 1] = h;
  }

  /** Removes the entry of `slot` (call before its clOrdId is cleared from the store). */
  remove(slot: number): void {
    const t = this.table;
    const mask = this.mask;
    let i = this.hashOfSlot(slot) & mask;
    for (;;) {
      const v = t[2 * i]!;
      if (v === EMPTY) return;
      if (v === slot) break;
      i = (i + 1) & mask;
    }
    // backward-shift deletion: no tombstones, probes stay short
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const v = t[2 * j]!;
      if (v === EMPTY) break;
      const home = t[2 * j + 1]! & mask;
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        t[2 * hole] = v;
        t[2 * hole + 1] = t[2 * j + 1]!;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    t[2 * hole] = EMPTY;
    this.size--;
  }

  private grow(): void {
    const old = this.table;
    this.table = ClOrdIndex.emptyTable(old.length);
    this.mask = old.length - 1;
    for (let b = 0; b < old.length; b += 2) if (old[b] !== EMPTY) this.place(old[b]!, old[b + 1]!);
  }
}
