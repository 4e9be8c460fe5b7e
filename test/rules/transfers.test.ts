import { describe, expect, it } from 'vitest';
import { ALICE, BOB, Code, codeName, fixture, FUND, type CmdBody } from '../helpers.js';

const dep = (transferId: string, amountMinor: number, accountId = ALICE, asset = 'USD'): CmdBody => ({ type: 'deposit', accountId, asset, amountMinor, transferId });
const wd = (transferId: string, amountMinor: number, accountId = ALICE, asset = 'USD'): CmdBody => ({ type: 'withdraw', accountId, asset, amountMinor, transferId });

describe('deposits and withdrawals', () => {
  it('a deposit credits total and supply, with transfer and balance events', () => {
    const f = fixture();
    expect(f.run(dep('d1', 12_345))).toBe(Code.OK);
    expect(f.of('transfer')).toMatchObject([{ accountId: ALICE, assetIdx: 0, amountMinor: 12_345, transferId: 'd1', replay: 0 }]);
    expect(f.of('balance')).toMatchObject([{ accountId: ALICE, assetIdx: 0, deltaTotal: 12_345, deltaReserved: 0, total: FUND.USD + 12_345, reserved: 0 }]);
    f.expectBal(ALICE, 'USD', FUND.USD + 12_345, 0);
    expect(f.e.assetSupply('USD')).toBe(3 * FUND.USD + 12_345);
    f.done();
  });

  it('the same deposit again is OK, flagged replay, and changes nothing', () => {
    const f = fixture();
    f.run(dep('d1', 12_345));
    const before = f.e.stateHash();
    expect(f.run(dep('d1', 12_345))).toBe(Code.OK);
    expect(f.of('transfer')).toMatchObject([{ transferId: 'd1', replay: 1, amountMinor: 12_345 }]);
    expect(f.of('balance')).toEqual([]);
    expect(f.e.stateHash()).toBe(before);
    f.expectBal(ALICE, 'USD', FUND.USD + 12_345, 0);
    f.done();
  });

  it('the same transferId with different parameters is DUPLICATE_TRANSFER_ID', () => {
    const f = fixture();
    f.run(dep('d1', 12_345));
    f.expectReject(dep('d1', 12_346), Code.DUPLICATE_TRANSFER_ID);
    f.expectReject(dep('d1', 12_345, BOB), Code.DUPLICATE_TRANSFER_ID);
    f.expectReject(dep('d1', 12_345, ALICE, 'BTC'), Code.DUPLICATE_TRANSFER_ID);
    f.expectReject(wd('d1', 12_345), Code.DUPLICATE_TRANSFER_ID);
    f.done();
  });

  it('withdrawals are idempotent too', () => {
    const f = fixture();
    expect(f.run(wd('w1', 500))).toBe(Code.OK);
    f.expectBal(ALICE, 'USD', FUND.USD - 500, 0);
    expect(f.run(wd('w1', 500))).toBe(Code.OK);
    expect(f.of('transfer')).toMatchObject([{ replay: 1 }]);
    f.expectBal(ALICE, 'USD', FUND.USD - 500, 0);
    expect(f.e.assetSupply('USD')).toBe(3 * FUND.USD - 500);
    f.expectReject(wd('w1', 501), Code.DUPLICATE_TRANSFER_ID);
    f.done();
  });

  it('a withdrawal needs available funds (reserved ones are not)', () => {
    const f = fixture();
    f.buy(ALICE, 10, 10000); // reserves 100,000
    f.expectReject(wd('w1', FUND.USD - 100_000 + 1), Code.INSUFFICIENT_FUNDS);
    f.expectReject(wd('w2', FUND.USD + 1), Code.INSUFFICIENT_FUNDS);
    expect(f.run(wd('w3', FUND.USD - 100_000))).toBe(Code.OK);
    f.expectBal(ALICE, 'USD', 100_000, 100_000);
    f.expectReject(wd('w4', 1), Code.INSUFFICIENT_FUNDS);
    f.done();
  });

  it('a rejected transfer does not take its transferId', () => {
    const f = fixture();
    f.expectReject(wd('w1', FUND.USD + 1), Code.INSUFFICIENT_FUNDS);
    expect(f.run(wd('w1', 1))).toBe(Code.OK);
    expect(f.of('transfer')).toMatchObject([{ replay: 0 }]);
    f.done();
  });

  it('bad amounts, ids, accounts and assets are refused without state change', () => {
    const f = fixture();
    for (const c of [
      dep('x1', 0),
      dep('x2', -5),
      dep('x3', 1.5),
      dep('x4', NaN),
      dep('', 5),
      dep('y'.repeat(65), 5),
      dep('x5', 5, 99),
      dep('x6', 5, ALICE, 'EUR'),
      wd('x7', 0),
    ]) {
      const before = f.e.stateHash();
      expect(codeName(f.run(c)), JSON.stringify(c)).not.toBe('OK');
      expect(f.e.stateHash()).toBe(before);
      expect(f.of('balance')).toEqual([]);
    }
    expect(f.run(dep('z'.repeat(64), 5))).toBe(Code.OK);
    f.done();
  });

  it('a deposit that would make the supply exceed 2^53 - 1 is refused', () => {
    const f = fixture();
    const room = Number.MAX_SAFE_INTEGER - f.e.assetSupply('BTC');
    const before = f.e.stateHash();
    expect(codeName(f.run(dep('big', room + 1, ALICE, 'BTC')))).not.toBe('OK');
    expect(f.e.stateHash()).toBe(before);
    expect(f.run(dep('big2', room, ALICE, 'BTC'))).toBe(Code.OK);
    expect(f.e.assetSupply('BTC')).toBe(Number.MAX_SAFE_INTEGER);
    f.done();
  });
});
