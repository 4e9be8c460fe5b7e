import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { ALICE, BOB, Code, fixture, OrdType, Side } from '../helpers.js';
import type { DecodedEvent } from '../../src/engine/events.js';

/** Every account-addressed message (execution reports, cancel rejects) the commands made, in order. */
function messages(events: DecodedEvent[]): { accountId: number; msgSeq: number; event: string }[] {
  return events.filter((e) => e.event === 'exec' || e.event === 'cancelReject').map((e) => ({ accountId: e.accountId as number, msgSeq: e.msgSeq as number, event: e.event }));
}

describe('per-account message numbers (binary session seqNum)', () => {
  it('number every report and cancel reject of an account 1, 2, 3 ... with no gap, makers included', () => {
    const f = fixture();
    const all: DecodedEvent[] = [];
    const step = (fn: () => unknown) => {
      fn();
      all.push(...f.of('exec'), ...f.of('cancelReject'));
    };
    step(() => f.buy(ALICE, 10, 10000)); // alice: new
    step(() => f.sell(BOB, 4, 10000)); // bob: new, trade; alice (maker): trade
    step(() => f.cancel(ALICE, 999)); // alice: cancel reject (unknown order)
    step(() => f.order(BOB, 'AAPL', Side.BUY, OrdType.LIMIT, 10, { priceTicks: 1 })); // bob: rejected? (band) or new
    step(() => f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 10 ** 9, { priceTicks: 10000 })); // alice: rejected (funds / max qty)
    const msgs = messages(all);
    for (const acct of [ALICE, BOB]) {
      const seqs = msgs.filter((m) => m.accountId === acct).map((m) => m.msgSeq);
      expect(seqs.length).toBeGreaterThanOrEqual(3);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
  });

  it('a rejected order is numbered yet leaves the state hash unchanged', () => {
    const f = fixture();
    f.buy(ALICE, 10, 10000);
    const before = f.e.stateHash();
    const seqBefore = f.e.accounts[ALICE]!.msgSeq;
    expect(f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 10 ** 9, { priceTicks: 10000 }).code).not.toBe(Code.OK);
    expect(f.of('exec')[0]!.msgSeq).toBe(seqBefore + 1);
    expect(f.e.stateHash()).toBe(before);
  });

  it('survive a snapshot: a restored engine numbers on from where it stood', () => {
    const f = fixture();
    f.buy(ALICE, 10, 10000);
    f.sell(BOB, 3, 10000);
    const restored = Engine.restore(f.e.snapshot());
    expect(restored.accounts.map((a) => a.msgSeq)).toEqual(f.e.accounts.map((a) => a.msgSeq));
    expect(f.e.accounts[ALICE]!.msgSeq).toBe(2);
  });
});
