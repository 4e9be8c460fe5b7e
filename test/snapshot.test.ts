import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { fixture, ALICE, BOB } from './helpers.js';

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
});
