/**
 * Market-data connections per remote address, counted across every gateway thread: one table in a
 * SharedArrayBuffer (each gateway thread is its own uWS App, and SO_REUSEPORT spreads one client's
 * connections over them, so a per-thread count would let an address hold threads × the limit).
 *
 * Open addressing with linear probing on an Int32Array; a slot is (count, 4 words of the address
 * as 16 bytes: IPv4 as its IPv4-mapped IPv6 form). A slot whose count falls to 0 is removed with a
 * backward shift, so the table holds only addresses with connections open and needs no tombstones.
 * Changes take a spin lock (a few probes, once per connection opened or closed: never per
 * message); reading the totals for /metrics takes none.
 *
 * Bounded: MD_ADDRESS_SLOTS slots, filled to 3/4 at most (MD_MAX_ADDRESSES addresses with a
 * market-data connection at once); past that a new address is refused like a flood.
 */

/** slots in the table (a power of two) */
export const MD_ADDRESS_SLOTS = 1 << 16;
/** addresses with market-data connections open at once (3/4 of the slots: short probes) */
export const MD_MAX_ADDRESSES = (MD_ADDRESS_SLOTS * 3) / 4;

const LOCK = 0;
/** slots in use (addresses with at least one connection) */
const USED = 1;
/** connections counted, over every address */
const TOTAL = 2;
/** connections refused for the limit or a full table, since start */
const REFUSED = 3;
const HEAD = 4;
const SLOT = 5;

export type Acquired = 'ok' | 'limit' | 'full';

/** the 16-byte key of a remote address as uWS gives it (4 bytes IPv4, 16 bytes IPv6); null if neither */
export function addressKey(raw: ArrayBuffer): Uint8Array | null {
  const b = new Uint8Array(raw);
  if (b.length === 16) return Uint8Array.from(b);
  if (b.length !== 4) return null;
  const k = new Uint8Array(16);
  k[10] = 0xff;
  k[11] = 0xff;
  k.set(b, 12);
  return k;
}

export class AddressConnections {
  private readonly i32: Int32Array;
  private readonly mask: number;

  static create(slots = MD_ADDRESS_SLOTS): SharedArrayBuffer {
    if (!Number.isInteger(Math.log2(slots)) || slots < 4) throw new Error('slots must be a power of two >= 4');
    return new SharedArrayBuffer((HEAD + slots * SLOT) * 4);
  }

  constructor(
    sab: SharedArrayBuffer,
    /** connections one address may hold */
    readonly limit: number,
  ) {
    this.i32 = new Int32Array(sab);
    this.mask = (this.i32.length - HEAD) / SLOT - 1;
  }

  /** Counts one more connection of `key` unless it holds `limit` already ('limit') or the table is full ('full'). */
  acquire(key: Uint8Array): Acquired {
    const words = keyWords(key);
    this.lock();
    try {
      const a = this.i32;
      let i = this.home(words);
      for (;;) {
        const at = HEAD + i * SLOT;
        const n = a[at]!;
        if (n === 0) {
          if (a[USED]! >= ((this.mask + 1) * 3) / 4) {
            Atomics.add(a, REFUSED, 1);
            return 'full';
          }
          a[at + 1] = words[0]!;
          a[at + 2] = words[1]!;
          a[at + 3] = words[2]!;
          a[at + 4] = words[3]!;
          Atomics.store(a, at, 1);
          Atomics.add(a, USED, 1);
          Atomics.add(a, TOTAL, 1);
          return 'ok';
        }
        if (same(a, at, words)) {
          if (n >= this.limit) {
            Atomics.add(a, REFUSED, 1);
            return 'limit';
          }
          Atomics.store(a, at, n + 1);
          Atomics.add(a, TOTAL, 1);
          return 'ok';
        }
        i = (i + 1) & this.mask;
      }
    } finally {
      this.unlock();
    }
  }

  /** One connection of `key` closed (it was acquired); false if `key` held none (a bug: nothing changes). */
  release(key: Uint8Array): boolean {
    const words = keyWords(key);
    this.lock();
    try {
      const a = this.i32;
      let i = this.home(words);
      for (let probes = 0; probes <= this.mask; probes++, i = (i + 1) & this.mask) {
        const at = HEAD + i * SLOT;
        if (a[at] === 0) break;
        if (!same(a, at, words)) continue;
        const n = a[at]! - 1;
        Atomics.add(a, TOTAL, -1);
        if (n > 0) Atomics.store(a, at, n);
        else this.remove(i);
        return true;
      }
      return false;
    } finally {
      this.unlock();
    }
  }

  /** connections `key` holds now */
  count(key: Uint8Array): number {
    const words = keyWords(key);
    const a = this.i32;
    for (let i = this.home(words), probes = 0; probes <= this.mask; probes++, i = (i + 1) & this.mask) {
      const at = HEAD + i * SLOT;
      if (Atomics.load(a, at) === 0) return 0;
      if (same(a, at, words)) return Atomics.load(a, at);
    }
    return 0;
  }

  /** every connection counted, and the addresses holding them (metrics; no lock: a moment old) */
  totals(): { connections: number; addresses: number; refused: number } {
    return { connections: Atomics.load(this.i32, TOTAL), addresses: Atomics.load(this.i32, USED), refused: Atomics.load(this.i32, REFUSED) };
  }

  /** empties slot `i`, moving later entries of its probe run back so none is cut off from its home */
  private remove(i: number): void {
    const a = this.i32;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const at = HEAD + j * SLOT;
      if (a[at] === 0) break;
      const home = this.home([a[at + 1]!, a[at + 2]!, a[at + 3]!, a[at + 4]!]);
      // the entry at j may fill the hole unless its home lies cyclically in (hole, j]
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      const to = HEAD + hole * SLOT;
      for (let w = 1; w <= 4; w++) a[to + w] = a[at + w]!;
      Atomics.store(a, to, a[at]!);
      hole = j;
    }
    Atomics.store(a, HEAD + hole * SLOT, 0);
    Atomics.add(a, USED, -1);
  }

  private home(words: ArrayLike<number>): number {
    // FNV-1a over the four words, then a final mix
    let h = 0x811c9dc5;
    for (let w = 0; w < 4; w++) {
      h ^= words[w]!;
      h = Math.imul(h, 0x01000193);
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h & this.mask;
  }

  private lock(): void {
    const a = this.i32;
    // held for a few probes: spin a little, then sleep briefly (gateway threads may wait)
    for (let spins = 0; Atomics.compareExchange(a, LOCK, 0, 1) !== 0; spins++) if (spins > 64) Atomics.wait(a, LOCK, 1, 1);
  }

  private unlock(): void {
    Atomics.store(this.i32, LOCK, 0);
    Atomics.notify(this.i32, LOCK, 1);
  }
}

function keyWords(key: Uint8Array): Int32Array {
  if (key.length !== 16) throw new Error('an address key is 16 bytes');
  const dv = new DataView(key.buffer, key.byteOffset, 16);
  return Int32Array.of(dv.getInt32(0, true), dv.getInt32(4, true), dv.getInt32(8, true), dv.getInt32(12, true));
}

function same(a: Int32Array, at: number, words: Int32Array): boolean {
  return a[at + 1] === words[0] && a[at + 2] === words[1] && a[at + 3] === words[2] && a[at + 4] === words[3];
}
