import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, Code, codeName, dayStart, DAY_US, fixture, FUND, OrdType, Side, T0, type OrderOpts } from '../helpers.js';

const LIMIT = OrdType.LIMIT;
const BUY = Side.BUY;
const SELL = Side.SELL;
const px = (priceTicks: number, extra: OrderOpts = {}): OrderOpts => ({ priceTicks, ...extra });
const CLOSED = 1;
const PRE_OPEN = 2;
const OPEN = 3;
const HALTED = 4;
const CANCEL_ONLY = 5;

describe('validation step 1: shape', () => {
  it('UNAUTHORIZED for an unknown account, FORBIDDEN for the fee account 0', () => {
    const f = fixture();
    f.expectOrderReject(99, 'AAPL', BUY, LIMIT, 1, px(100), Code.UNAUTHORIZED);
    f.expectOrderReject(0, 'AAPL', BUY, LIMIT, 1, px(100), Code.FORBIDDEN);
    f.expectOrderReject(-1, 'AAPL', BUY, LIMIT, 1, px(100), Code.UNAUTHORIZED);
    f.done();
  });

  it('INVALID_REQUEST for unknown enums, market not IOC/FOK, bad clOrdId', () => {
    const f = fixture();
    f.expectOrderReject(ALICE, 'AAPL', 3 as Side, LIMIT, 1, px(100), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', 0 as Side, LIMIT, 1, px(100), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, 5 as OrdType, 1, px(100), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { tif: 6 as never }), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { stp: 5 as never }), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.MARKET, 1, { tif: 1 }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.MARKET, 1, { tif: 2 }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { clOrdId: 'has space' }), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { clOrdId: 'x'.repeat(37) }), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { clOrdId: '' }), Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { clOrdId: 'é' }), Code.INVALID_REQUEST);
    // the longest allowed clOrdId is fine
    expect(f.buy(ALICE, 1, 100, { clOrdId: 'A-z_9'.repeat(7) + 'x' })).toBeGreaterThan(0);
    f.done();
  });

  it('INVALID_QUANTITY for a non-positive or non-integer qty', () => {
    const f = fixture();
    for (const q of [0, -1, 1.5, NaN, Infinity, 2 ** 53, '5' as unknown as number])
      f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, q, px(100), Code.INVALID_QUANTITY);
    f.done();
  });

  it('INVALID_PRICE: price required and positive for limit / stop_limit, absent for market / stop; stop price likewise', () => {
    const f = fixture();
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, {}, Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(0), Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(-100), Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100.5), Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.MARKET, 1, px(100), Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP, 1, { priceTicks: 100, stopPriceTicks: 100 }, Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP, 1, {}, Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP, 1, { stopPriceTicks: 0 }, Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP_LIMIT, 1, { stopPriceTicks: 100 }, Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP_LIMIT, 1, { priceTicks: 100 }, Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { stopPriceTicks: 100 }), Code.INVALID_PRICE);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.MARKET, 1, { stopPriceTicks: 100 }, Code.INVALID_PRICE);
    f.done();
  });

  it('apply never throws on garbage', () => {
    const f = fixture();
    const before = f.e.stateHash();
    for (const c of [{ type: 'bogus' }, { type: 'newOrder' }, { type: 'newOrder', accountId: 'x', symbol: 5 }, { type: 'cancelOrder', accountId: {} }, { type: 'deposit' }])
      expect(() => f.run(c as never)).not.toThrow();
    expect(codeName(f.run({ type: 'bogus' } as never))).toBe('INVALID_REQUEST');
    expect(f.e.stateHash()).toBe(before);
    f.done();
  });
});

describe('validation step 2: symbol and account', () => {
  it('UNKNOWN_SYMBOL', () => {
    const f = fixture();
    f.expectOrderReject(ALICE, 'MSFT', BUY, LIMIT, 1, px(100), Code.UNKNOWN_SYMBOL);
    f.expectOrderReject(ALICE, 'aapl', BUY, LIMIT, 1, px(100), Code.UNKNOWN_SYMBOL);
    f.done();
  });

  it('ACCOUNT_DISABLED, checked after the symbol', () => {
    const f = fixture();
    f.run({ type: 'setAccountEnabled', accountId: CAROL, enabled: false });
    f.expectOrderReject(CAROL, 'AAPL', BUY, LIMIT, 1, px(100), Code.ACCOUNT_DISABLED);
    f.expectOrderReject(CAROL, 'MSFT', BUY, LIMIT, 1, px(100), Code.UNKNOWN_SYMBOL);
    f.done();
  });

  it('shape is checked before the symbol', () => {
    const f = fixture();
    f.expectOrderReject(ALICE, 'MSFT', BUY, LIMIT, 0, px(100), Code.INVALID_QUANTITY);
    f.expectOrderReject(ALICE, 'MSFT', BUY, LIMIT, 1, {}, Code.INVALID_PRICE);
    f.done();
  });
});

describe('validation step 3: clOrdId', () => {
  it('DUPLICATE_CLORDID for a kept clOrdId with different parameters', () => {
    const f = fixture();
    f.buy(ALICE, 1, 100, { clOrdId: 'dup' });
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 2, px(100, { clOrdId: 'dup' }), Code.DUPLICATE_CLORDID);
    f.done();
  });
});

describe('validation step 4: trading state', () => {
  it('SYMBOL_HALTED when halted; MARKET_CLOSED when closed or cancel_only', () => {
    const f = fixture();
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: HALTED });
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100), Code.SYMBOL_HALTED);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 2_000_000, px(100), Code.SYMBOL_HALTED); // before MAX_QTY (step 5)
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: CLOSED });
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100), Code.MARKET_CLOSED);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: CANCEL_ONLY });
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100), Code.MARKET_CLOSED);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: OPEN });
    expect(f.buy(ALICE, 1, 100)).toBeGreaterThan(0);
    f.done();
  });

  it('pre_open accepts only non-crossing limit GTC / DAY / GTD', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: PRE_OPEN });
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(10000), Code.MARKET_CLOSED);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(9000, { tif: 3 }), Code.MARKET_CLOSED);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(9000, { tif: 4 }), Code.MARKET_CLOSED);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.MARKET, 1, {}, Code.MARKET_CLOSED);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP_LIMIT, 1, { priceTicks: 9000, stopPriceTicks: 9000 }, Code.MARKET_CLOSED);
    expect(f.buy(ALICE, 1, 9999)).toBeGreaterThan(0);
    expect(f.buy(ALICE, 1, 9000, { tif: 2 })).toBeGreaterThan(0);
    expect(f.buy(ALICE, 1, 9000, { tif: 5, expireTimeUs: f.now + DAY_US })).toBeGreaterThan(0);
    f.done();
  });
});

describe('validation step 5: quantity bounds', () => {
  it('INVALID_QUANTITY below minQty, MAX_QTY_EXCEEDED above maxQty', () => {
    const f = fixture({ aapl: { minQty: '5' } });
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 4, px(100), Code.INVALID_QUANTITY);
    expect(f.buy(ALICE, 5, 100)).toBeGreaterThan(0);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1_000_001, px(1), Code.MAX_QTY_EXCEEDED);
    f.expectOrderReject(ALICE, 'BTC-USD', BUY, LIMIT, 100_001, px(1), Code.MAX_QTY_EXCEEDED);
    f.done();
  });
});

describe('validation step 6: price collar', () => {
  it('PRICE_OUTSIDE_BAND around the reference price: [ceil(ref × 0.9), floor(ref × 1.1)]', () => {
    const f = fixture({ aapl: { referencePrice: '100.01', priceBandPct: '10' } });
    // ref 10001 ticks: 9000.9 -> 9001, 11001.1 -> 11001
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(9000), Code.PRICE_OUTSIDE_BAND);
    f.expectOrderReject(ALICE, 'AAPL', SELL, LIMIT, 1, px(11002), Code.PRICE_OUTSIDE_BAND);
    expect(f.buy(ALICE, 1, 9001)).toBeGreaterThan(0);
    expect(f.sell(ALICE, 1, 11001)).toBeGreaterThan(0);
    // step 5 before step 6
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1_000_001, px(1), Code.MAX_QTY_EXCEEDED);
    f.done();
  });

  it('the last trade price replaces the reference; stop prices are not collared, stop_limit limits are', () => {
    const f = fixture({ aapl: { referencePrice: '100', priceBandPct: '10' } });
    f.sell(BOB, 1, 10500);
    f.buy(CAROL, 1, 10500); // last = 10500: band [9450, 11550]
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(9449), Code.PRICE_OUTSIDE_BAND);
    expect(f.buy(ALICE, 1, 9450)).toBeGreaterThan(0);
    expect(f.sell(ALICE, 1, 11550)).toBeGreaterThan(0);
    expect(f.order(ALICE, 'AAPL', BUY, OrdType.STOP, 1, { stopPriceTicks: 20000 }).code).toBe(Code.OK);
    expect(f.order(ALICE, 'AAPL', BUY, OrdType.STOP_LIMIT, 1, { stopPriceTicks: 20000, priceTicks: 11000 }).code).toBe(Code.OK);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP_LIMIT, 1, { stopPriceTicks: 11000, priceTicks: 11551 }, Code.PRICE_OUTSIDE_BAND);
    f.done();
  });

  it('no reference and no trade: no collar', () => {
    const f = fixture({ aapl: { priceBandPct: '10' } });
    expect(f.buy(ALICE, 1, 1)).toBeGreaterThan(0);
    expect(f.sell(ALICE, 1, 900_000)).toBeGreaterThan(0);
    f.done();
  });
});

describe('validation step 7: notional', () => {
  it('MAX_NOTIONAL_EXCEEDED on price × qty × k, before the funds check', () => {
    const f = fixture();
    // maxNotional 100,000,000.00 USD = 10^10 minor
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1_000_000, px(10001), Code.MAX_NOTIONAL_EXCEEDED);
    f.expectOrderReject(ALICE, 'AAPL', SELL, LIMIT, 1_000_000, px(10001), Code.MAX_NOTIONAL_EXCEEDED);
    // exactly at the bound passes step 7 and fails on funds
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1_000_000, px(10000), Code.INSUFFICIENT_FUNDS);
    f.done();
  });

  it('market and stop orders are bounded at their reservation (protection) price', () => {
    const f = fixture({ aapl: { maxNotional: '1000' } }); // 100,000 minor
    f.sell(BOB, 10, 10000); // 1000.00: sells are bounded too
    f.expectOrderReject(BOB, 'AAPL', SELL, LIMIT, 11, px(10000), Code.MAX_NOTIONAL_EXCEEDED);
    f.sell(BOB, 10, 10000);
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.MARKET, 10, {}, Code.MAX_NOTIONAL_EXCEEDED); // 10500 × 10
    f.expectOrderReject(ALICE, 'AAPL', BUY, OrdType.STOP, 10, { stopPriceTicks: 10000 }, Code.MAX_NOTIONAL_EXCEEDED);
    expect(f.order(ALICE, 'AAPL', BUY, OrdType.MARKET, 9).code).toBe(Code.OK);
    f.done();
  });
});

describe('validation step 8: open orders', () => {
  it('MAX_OPEN_ORDERS_EXCEEDED at the account limit (pending stops count); frees up on cancel', () => {
    const f = fixture();
    f.run({ type: 'setAccountLimits', accountId: ALICE, maxOpenOrders: 2 });
    const a = f.buy(ALICE, 1, 100);
    f.order(ALICE, 'AAPL', SELL, OrdType.STOP, 1, { stopPriceTicks: 50 });
    expect(f.e.account(ALICE)).toMatchObject({ maxOpenOrders: 2, openOrders: 2 });
    f.expectOrderReject(ALICE, 'BTC-USD', BUY, LIMIT, 1, px(100), Code.MAX_OPEN_ORDERS_EXCEEDED);
    expect(f.buy(BOB, 1, 100)).toBeGreaterThan(0);
    f.cancel(ALICE, a);
    expect(f.buy(ALICE, 1, 100)).toBeGreaterThan(0);
    f.run({ type: 'setAccountLimits', accountId: ALICE, maxOpenOrders: null });
    expect(f.buy(ALICE, 1, 100)).toBeGreaterThan(0);
    f.done();
  });

  it('the engine-wide default applies', () => {
    const f = fixture({ engine: { defaultMaxOpenOrders: 1 } });
    f.buy(ALICE, 1, 100);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100), Code.MAX_OPEN_ORDERS_EXCEEDED);
    // an order that never rests is still checked before it is accepted
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(100, { tif: 3 }), Code.MAX_OPEN_ORDERS_EXCEEDED);
    f.done();
  });
});

describe('validation step 9: daily quantity', () => {
  it('DAILY_LIMIT_EXCEEDED on filled today + working + qty; resets at the next trading day', () => {
    const f = fixture({ aapl: { dailyAccountQtyLimit: '10' } });
    const w = f.buy(ALICE, 6, 10000);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 5, px(9000), Code.DAILY_LIMIT_EXCEEDED);
    f.expectOrderReject(ALICE, 'AAPL', SELL, LIMIT, 5, px(20000), Code.DAILY_LIMIT_EXCEEDED); // both sides count
    const x = f.buy(ALICE, 4, 9000);
    f.cancel(ALICE, x); // working 6
    f.sell(BOB, 6, 10000); // alice filled 6, working 0
    expect(f.e.openOrders(ALICE).map((o) => o.orderId)).not.toContain(w);
    const y = f.buy(ALICE, 4, 9000); // filled 6 + working 4
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(9000), Code.DAILY_LIMIT_EXCEEDED);
    f.cancel(ALICE, y);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 5, px(9000), Code.DAILY_LIMIT_EXCEEDED); // filled stays counted
    f.buy(ALICE, 4, 9000); // working 4 carries into the next day
    f.tickAt(dayStart(T0) + DAY_US);
    expect(f.buy(ALICE, 6, 9000)).toBeGreaterThan(0);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 1, px(9000), Code.DAILY_LIMIT_EXCEEDED);
    // another symbol is not limited
    expect(f.buy(ALICE, 50, 100, {}, 'BTC-USD')).toBeGreaterThan(0);
    f.done();
  });

  it('a per-account override via setAccountLimits', () => {
    const f = fixture();
    f.run({ type: 'setAccountLimits', accountId: BOB, dailyQtyLimits: { AAPL: '3' } });
    f.expectOrderReject(BOB, 'AAPL', BUY, LIMIT, 4, px(100), Code.DAILY_LIMIT_EXCEEDED);
    expect(f.buy(BOB, 3, 100)).toBeGreaterThan(0);
    expect(f.buy(ALICE, 4, 100)).toBeGreaterThan(0);
    f.run({ type: 'setAccountLimits', accountId: BOB, dailyQtyLimits: { AAPL: null } });
    expect(f.buy(BOB, 4, 100)).toBeGreaterThan(0);
    f.done();
  });
});

describe('validation steps 10-11: post-only, funds', () => {
  it('POST_ONLY_WOULD_TRADE before INSUFFICIENT_FUNDS', () => {
    const f = fixture();
    f.sell(BOB, 1, 100);
    f.expectOrderReject(ALICE, 'AAPL', BUY, LIMIT, 999_999, px(101, { postOnly: true }), Code.POST_ONLY_WOULD_TRADE); // 1,009,998.99 USD > funds
    f.done();
  });

  it('INSUFFICIENT_FUNDS: buys need price × qty × k of available quote, sells qty × lotMinor of available base', () => {
    const f = fixture();
    f.run({ type: 'createAccount', name: 'dave' });
    f.run({ type: 'deposit', accountId: 4, asset: 'USD', amountMinor: 100_000, transferId: 'dave-usd' });
    f.run({ type: 'deposit', accountId: 4, asset: 'BTC', amountMinor: 2_999_999, transferId: 'dave-btc' });
    f.expectOrderReject(4, 'AAPL', BUY, LIMIT, 10, px(10001), Code.INSUFFICIENT_FUNDS);
    f.expectOrderReject(4, 'BTC-USD', SELL, LIMIT, 3, px(40000), Code.INSUFFICIENT_FUNDS);
    f.expectOrderReject(4, 'AAPL', SELL, LIMIT, 1, px(40000), Code.INSUFFICIENT_FUNDS);
    expect(f.buy(4, 10, 10000)).toBeGreaterThan(0);
    expect(f.sell(4, 2, 40000, {}, 'BTC-USD')).toBeGreaterThan(0);
    // reserved funds are not available
    f.expectOrderReject(4, 'AAPL', BUY, LIMIT, 1, px(1), Code.INSUFFICIENT_FUNDS);
    f.expectOrderReject(4, 'BTC-USD', SELL, LIMIT, 1, px(40000), Code.INSUFFICIENT_FUNDS);
    f.expectOrderReject(ALICE, 'AAPL', SELL, LIMIT, FUND.AAPL + 1, px(100), Code.INSUFFICIENT_FUNDS);
    f.done();
  });
});

describe('symbol configuration', () => {
  it('INVALID_CONFIG when tick × lot is not a whole quote minor unit', () => {
    const f = fixture();
    const cfg = { symbol: 'XYZ', base: 'AAPL', quote: 'USD', maxQty: '1000', maxNotional: '100000' };
    f.expectReject({ type: 'addSymbol', config: { ...cfg, tickSize: '0.001', lotSize: '1' } }, Code.INVALID_CONFIG);
    f.expectReject({ type: 'addSymbol', config: { ...cfg, symbol: 'BTC-FINE', base: 'BTC', tickSize: '0.01', lotSize: '0.0001' } }, Code.INVALID_CONFIG);
    expect(f.e.symbol('XYZ')).toBeNull();
    // a quote with more decimals makes the finer grid exact
    f.run({ type: 'addAsset', asset: 'USDT', decimals: 6 });
    expect(f.run({ type: 'addSymbol', config: { ...cfg, symbol: 'BTC-USDT', base: 'BTC', quote: 'USDT', tickSize: '0.01', lotSize: '0.0001' } })).toBe(Code.OK);
    f.done();
  });

  it('INVALID_CONFIG when a lot is finer than the base asset', () => {
    const f = fixture();
    f.expectReject(
      { type: 'addSymbol', config: { symbol: 'XYZ', base: 'AAPL', quote: 'USD', tickSize: '1', lotSize: '0.1', maxQty: '1000', maxNotional: '1000000' } },
      Code.INVALID_CONFIG,
    );
    f.done();
  });

  it('INVALID_CONFIG when the overflow bounds do not hold', () => {
    const f = fixture();
    const cfg = { symbol: 'XYZ', base: 'BTC', quote: 'USD', tickSize: '1', lotSize: '0.01' };
    // maxNotional × 10^4 > 2^53 − 1
    f.expectReject({ type: 'addSymbol', config: { ...cfg, maxQty: '1', maxNotional: '10000000000' } }, Code.INVALID_CONFIG);
    // maxQtyLots × lotMinor × 10^4 > 2^53 − 1 (10^6 lots × 10^6 sat × 10^4)
    f.expectReject({ type: 'addSymbol', config: { ...cfg, maxQty: '10000', maxNotional: '1000' } }, Code.INVALID_CONFIG);
    f.done();
  });
});
