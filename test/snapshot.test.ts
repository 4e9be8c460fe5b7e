import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { buildClOrdTable } from '../src/engine/snapshot.js';
import { fixture, ALICE, BOB, CAROL, type CmdBody, type Fixture } from './helpers.js';

describe('snapshot format', () => {
  it('round-trips: restore(snapshot()) has the same hash, books, balances and open orders', () => {
    const f = fixture();
    f.buy(ALICE, 10, 10000, { clOrdId: 'keep-me' });
    f.sell(BOB, 4, 10000);
    f.sell(BOB, 3, 10100);
    const bytes = f.e.snapshot();
    const r = Engine.restore(bytes);
    expect(r.stateHash()).toBe(f.e.stateHash());
    expect(r.bookL3('AAPL')).toEqual(f.e.bookL3('AAPL'));
    expect(r.balances(ALICE)).toEqual(f.e.balances(ALICE));
    expect(r.openOrders(ALICE)).toEqual(f.e.openOrders(ALICE));
    expect(r.getOrderByClOrdId(ALICE, 'keep-me')?.filledLots).toBe(4);
    expect(Buffer.from(r.snapshot()).equals(Buffer.from(bytes))).toBe(true);
    r.checkInvariants();
  });

  it('refuses foreign, truncated and padded bytes with a clear error', () => {
    const f = fixture();
    f.buy(ALICE, 10, 10000);
    const bytes = Buffer.from(f.e.snapshot());
    expect(() => Engine.restore(Buffer.from('hello world, not a snapshot'))).toThrow(/bad magic/);
    const wrongVersion = Buffer.from(bytes);
    wrongVersion.writeUInt32LE(99, 8);
    expect(() => Engine.restore(wrongVersion)).toThrow(/version 99/);
    expect(() => Engine.restore(bytes.subarray(0, bytes.length - 8))).toThrow();
    expect(() => Engine.restore(Buffer.concat([bytes, Buffer.alloc(8)]))).toThrow(/length/);
  });

  it('refuses a clOrdId section whose lengths do not add up to its size', () => {
    const f = fixture();
    f.buy(ALICE, 10, 10000, { clOrdId: 'keep-me' });
    f.buy(BOB, 10, 9000);
    const bytes = Buffer.from(f.e.snapshot());
    const at = bytes.lastIndexOf('keep-me') - 1; // its length byte
    expect(bytes[at]).toBe(7);
    for (const wrong of [6, 8, 200]) {
      const b = Buffer.from(bytes);
      b[at] = wrong;
      expect(() => Engine.restore(b), `length ${wrong}`).toThrow(/clOrdId section/);
    }
  });

  it.each([
    ['built while restoring', false],
    ['prebuilt from the bytes (another thread at start-up)', true],
  ])('restored clOrdIds (kept as offsets until read; index %s) dedupe, cancel, evict and snapshot exactly like the originals', (_how, prebuilt) => {
    // two engines fed the same commands; the second is restored from a snapshot half way. A small
    // dedupe window makes the later orders evict restored ids that were never read as strings.
    const engine = { dedupeCapacity: 6 };
    const a = fixture({ engine });
    const b = fixture({ engine });
    const both = (c: CmdBody) => {
      const ca = a.run(c);
      const cb = b.run(c);
      expect(cb, JSON.stringify(c)).toBe(ca);
      expect(b.ev).toEqual(a.ev);
      return ca;
    };
    const order = (acct: number, side: 1 | 2, qty: number, px: number, clOrdId: string): CmdBody =>
      ({ type: 'newOrder', accountId: acct, symbol: 'AAPL', side, ordType: 1, qtyLots: qty, priceTicks: px, clOrdId }) as CmdBody;
    for (let i = 0; i < 8; i++) both(order(ALICE, 1, 5, 9_900 + i, `resting-alice-${i}`));
    for (let i = 0; i < 6; i++) both(order(BOB, 2, 2, 9_907 - (i % 3), `closed-bob-${i}-fill`));
    both({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'resting-alice-1' } as CmdBody);
    const bytes = b.e.snapshot();
    (b as { e: Fixture['e'] }).e = prebuilt ? Engine.restore(bytes, engine, () => buildClOrdTable(bytes, engine)) : Engine.restore(bytes, engine);
    expect(b.e.stateHash()).toBe(a.e.stateHash());
    // nothing read yet: the restored engine snapshots to the same bytes
    expect(Buffer.from(b.e.snapshot()).equals(Buffer.from(bytes))).toBe(true);
    expect(both(order(ALICE, 1, 5, 9_000, 'resting-alice-3'))).toBe(a.lastCode); // a live duplicate
    expect(a.lastCode).not.toBe(0);
    both({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'resting-alice-4' } as CmdBody);
    expect(b.execs()[0]?.clOrdId).toBe('resting-alice-4');
    // new closed orders push the restored ones out of the dedupe window (never read as strings)
    for (let i = 0; i < 10; i++) both(order(CAROL, 2, 1, 9_905, `carol-${i}-crossing-order`));
    // an id evicted from the window is free again; one still in it is a duplicate
    both(order(BOB, 2, 1, 20_000, 'closed-bob-0-fill'));
    both(order(CAROL, 2, 1, 20_000, 'carol-9-crossing-order'));
    expect(b.e.stateHash()).toBe(a.e.stateHash());
    expect(Buffer.from(b.e.snapshot()).equals(Buffer.from(a.e.snapshot()))).toBe(true);
    b.e.checkInvariants();
  });

  it('a prebuilt clOrdId index of other bytes is not adopted: restore indexes the ids itself', () => {
    const make = (ids: string[]) => {
      const f = fixture();
      ids.forEach((id, k) => f.buy(ALICE, 1, 9_000 + k, { clOrdId: id }));
      return f;
    };
    const f = make(['a-1', 'a-2', 'a-3']);
    const bytes = f.e.snapshot();
    // same bucket count; one with another id count, one with the same count but other ids
    for (const other of [make(['b-1', 'b-2']), make(['b-1', 'b-2', 'b-3'])]) {
      const foreign = buildClOrdTable(other.e.snapshot(), {});
      const r = Engine.restore(bytes, {}, () => foreign);
      expect(r.stateHash()).toBe(f.e.stateHash());
      for (const id of ['a-1', 'a-2', 'a-3']) expect(r.getOrderByClOrdId(ALICE, id)?.clOrdId).toBe(id);
      expect(r.getOrderByClOrdId(ALICE, 'b-1')).toBeFalsy();
    }
  });
});
