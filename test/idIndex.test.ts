import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdIndex } from '../src/engine/idIndex.js';
import { ClOrdIndex, clOrdHash, clOrdHashBytes } from '../src/engine/clOrdIndex.js';
import { OrderStore } from '../src/engine/orderStore.js';

describe('IdIndex (paged direct map of dense orderIds)', () => {
  it('behaves like a Map under random inserts of increasing ids and random deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(50), fc.nat(5000)), { maxLength: 2000 }), (ops) => {
        const idx = new IdIndex();
        const ref = new Map<number, number>();
        let nextId = 1;
        for (const [insert, gap, pick] of ops) {
          if (insert || ref.size === 0) {
            nextId += gap * 97; // ids increase, sometimes jumping whole pages
            idx.set(nextId, nextId % 7919);
            ref.set(nextId, nextId % 7919);
            nextId++;
          } else {
            const keys = [...ref.keys()];
            const k = keys[pick % keys.length]!;
            expect(idx.delete(k)).toBe(true);
            ref.delete(k);
            expect(idx.delete(k)).toBe(false);
          }
          expect(idx.size).toBe(ref.size);
        }
        for (const [k, v] of ref) expect(idx.get(k)).toBe(v);
        for (let probe = 1; probe < nextId; probe += 13) expect(idx.get(probe)).toBe(ref.get(probe) ?? -1);
      }),
      { numRuns: 100 },
    );
  });

  it('releases pages whose ids all ended (memory follows live ids)', () => {
    const idx = new IdIndex();
    for (let id = 1; id <= 200_000; id++) idx.set(id, id);
    const full = idx.byteSize();
    for (let id = 1; id < 199_000; id++) idx.delete(id);
    expect(idx.byteSize()).toBeLessThan(full / 50);
    expect(idx.get(199_500)).toBe(199_500);
    expect(idx.get(5)).toBe(-1);
  });
});

describe('ClOrdIndex', () => {
  it('finds, removes and keeps probing chains intact (backward shift)', () => {
    const store = new OrderStore(64);
    const idx = new ClOrdIndex(store, 8);
    const slots: number[] = [];
    for (let i = 0; i < 40; i++) {
      const s = store.alloc();
      store.setAccountIdx(s, i % 3);
      store.setClOrdId(s, `c${i % 10}`);
      idx.insert(s);
      slots.push(s);
    }
    for (let i = 0; i < 40; i += 3) idx.remove(slots[i]!);
    for (let i = 0; i < 40; i++) {
      const found = idx.find(i % 3, `c${i % 10}`);
      if (i % 3 === 0) continue;
      // (account, clOrdId) pairs repeat every 30: any slot with that pair that was not removed
      expect(found).toBeGreaterThanOrEqual(0);
      expect(store.accountIdx(found)).toBe(i % 3);
      expect(store.clOrdIdOf(found)).toBe(`c${i % 10}`);
    }
    expect(idx.find(0, 'nope')).toBe(-1);
  });

  it('hashes an id the same from its string, from latin1 bytes and from the restored-id text (three code paths, one value)', () => {
    let x = 99;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';
    for (let k = 0; k < 500; k++) {
      const id = Array.from({ length: 1 + rnd(36) }, () => alphabet[rnd(alphabet.length)]).join('');
      const account = rnd(100_000);
      const bytes = Buffer.from(`xy${id}z`, 'latin1');
      expect(clOrdHashBytes(account, bytes, 2, 2 + id.length)).toBe(clOrdHash(account, id));
      // a restored id: [length char, id] inside the snapshot's text, read through the store
      const store = new OrderStore(4);
      const slot = store.alloc();
      store.setAccountIdx(slot, account);
      const text = `${String.fromCharCode(3)}abc${String.fromCharCode(id.length)}${id}`;
      store.setRestoredClOrdId(slot, text, 4);
      const idx = new ClOrdIndex(store, 8);
      idx.insert(slot);
      expect(idx.find(account, id)).toBe(slot);
      expect(store.clOrdIdOf(slot)).toBe(id);
    }
  });
});

import { PriceMap } from '../src/engine/priceMap.js';

describe('PriceMap (price -> level, backward-shift deletion)', () => {
  it('behaves like a Map under clustered prices with heavy churn', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 9_900, max: 10_100 })), { maxLength: 3000 }), (ops) => {
        const m = new PriceMap(8);
        const ref = new Map<number, number>();
        for (const [add, px] of ops) {
          if (add) {
            m.set(px, px * 3);
            ref.set(px, px * 3);
          } else {
            m.delete(px);
            ref.delete(px);
          }
          expect(m.size).toBe(ref.size);
        }
        for (let px = 9_890; px <= 10_110; px++) expect(m.get(px)).toBe(ref.get(px) ?? -1);
      }),
      { numRuns: 100 },
    );
  });

  it('handles prices beyond 2^32 ticks', () => {
    const m = new PriceMap();
    const big = 2 ** 40 + 7;
    m.set(big, 5);
    m.set(7, 6);
    expect(m.get(big)).toBe(5);
    expect(m.get(7)).toBe(6);
    m.delete(big);
    expect(m.get(big)).toBe(-1);
    expect(m.get(7)).toBe(6);
  });
});
