/**
 * A random trading session for the market-data tests, from a seed (no fast-check: the tests need
 * the same long sequence again and again, and a failure names its seed). Drives the rule-suite
 * Fixture (test/helpers.ts: AAPL and BTC-USD, funded accounts 1-3) plus three more funded
 * accounts and a third symbol, ETH-USD, added through the stream (so its SYMBOL event teaches the
 * market data its name) with a 04:00-22:00 UTC session (scheduled open / close, DAY expiry).
 * Orders: limit (GTC / DAY / GTD / IOC / FOK, post-only), market, stop, stop-limit, all STP modes;
 * cancels, replaces (qty up / down, price moves, crossing), mass cancels, halts, kill switches,
 * and time jumps from 1 ms to hours, so candles of every resolution close and days roll over.
 */
import { Stp, Tif, TradingState } from '../../src/domain/codes.js';
import type { DecodedEvent } from '../../src/engine/events.js';
import { fixture, OrdType, Side, type CmdBody, type Fixture } from '../helpers.js';
import { mulberry32 } from '../../tools/bench/workload.js';

/** mulberry32 (tools/bench/workload.ts) */
export const rng = mulberry32;

export const SYMBOLS = [
  { name: 'AAPL', mid: 10_000, qtyMax: 40 },
  { name: 'BTC-USD', mid: 40_000, qtyMax: 60 },
  { name: 'ETH-USD', mid: 30_000, qtyMax: 30 },
] as const;
export const ACCOUNTS = [1, 2, 3, 4, 5, 6];

export interface Step {
  /** the command's decoded events */
  ev: DecodedEvent[];
  /** the command's raw records and strings (copies) */
  records: Float64Array;
  strings: string[];
}

/** The fixture after the setup the session needs; its setup events are gone (seed market data from the engine). */
export function sessionFixture(): Fixture {
  const f = fixture();
  const must = (c: CmdBody) => {
    if (f.run(c) !== 0) throw new Error(`session setup failed: ${JSON.stringify(c)}`);
  };
  for (const name of ['dave', 'erin', 'frank']) must({ type: 'createAccount', name });
  for (const a of [4, 5, 6])
    for (const [asset, amt] of [
      ['USD', 100_000_000],
      ['AAPL', 10_000],
      ['BTC', 10_000_000_000],
    ] as const)
      must({ type: 'deposit', accountId: a, asset, amountMinor: amt, transferId: `s-${a}-${asset}` });
  return f;
}

/**
 * Runs `n` random commands on `f`, calling `onStep` after each with its events. The first
 * commands add ETH-USD (asset, symbol, deposits) through the stream.
 */
export function runSession(f: Fixture, seed: number, n: number, onStep: (s: Step, i: number) => void): void {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  /** every order accepted, and the live ones (from the exec reports) */
  const orders: { id: number; acct: number; sym: number }[] = [];
  const live = new Map<number, { id: number; acct: number; sym: number }>();
  const disabled = new Set<number>();
  const step = (c: CmdBody, i: number) => {
    f.run(c);
    const ev = f.ev;
    for (const x of ev) {
      if (x.event !== 'exec' || (x.orderId as number) <= 0) continue;
      const o = { id: x.orderId as number, acct: x.accountId as number, sym: x.symbolIdx as number };
      if (x.execType === 1 /* NEW */) orders.push(o);
      const st = x.ordStatus as number;
      if (st === 1 || st === 2 || st === 7) live.set(o.id, o);
      else live.delete(o.id);
    }
    onStep({ ev, records: f.e.events.buf.slice(0, f.e.events.len), strings: [...f.e.events.strings] }, i);
  };
  const setup: CmdBody[] = [
    { type: 'addAsset', asset: 'ETH', decimals: 8 },
    { type: 'addSymbol', config: { symbol: 'ETH-USD', base: 'ETH', quote: 'USD', tickSize: '0.1', lotSize: '0.1', maxQty: '1000', maxNotional: '100000000', session: { open: '04:00', close: '22:00', weekdays: [0, 1, 2, 3, 4, 5, 6] } } },
    ...ACCOUNTS.map((a) => ({ type: 'deposit', accountId: a, asset: 'ETH', amountMinor: 100_000_000_000, transferId: `eth-${a}` }) as CmdBody),
  ];
  /** mostly a live order, sometimes any earlier one (rejected as unknown or too late) */
  const someOrder = () => {
    if (live.size > 0 && r() < 0.85) {
      const xs = [...live.values()];
      return xs[Math.floor(r() * xs.length)]!;
    }
    return orders[Math.max(0, orders.length - 1 - int(0, 150))]!;
  };
  let now = f.now;
  let i = 0;
  for (const c of setup) step({ ...c, tsUs: (now += 1000) }, i++);
  for (; i < n; i++) {
    const u = r();
    now += u < 0.7 ? int(1, 500_000) : u < 0.95 ? int(1, 30_000_000) : u < 0.99 ? int(1, 600_000_000) : int(1, 6 * 3_600_000_000);
    const s = int(0, SYMBOLS.length - 1);
    const sym = SYMBOLS[s]!;
    const acct = pick(ACCOUNTS);
    const side = r() < 0.5 ? Side.BUY : Side.SELL;
    const qty = r() < 0.9 ? int(1, sym.qtyMax) : int(1, 4 * sym.qtyMax);
    // buys from 10 below to 6 above mid, sells the mirror image: orders cross often
    const px = (sd: Side) => sym.mid + (sd === Side.BUY ? 1 : -1) * int(-10, 6);
    const stp = pick([undefined, undefined, Stp.CANCEL_NEWEST, Stp.CANCEL_OLDEST, Stp.CANCEL_BOTH, Stp.DECREMENT]);
    const k = r() * 100;
    let c: CmdBody;
    if (k < 42) {
      const tif = pick([undefined, Tif.GTC, Tif.GTC, Tif.DAY, Tif.GTD, Tif.IOC, Tif.FOK]);
      c = { type: 'newOrder', accountId: acct, symbol: sym.name, side, ordType: OrdType.LIMIT, qtyLots: qty, priceTicks: px(side), ...(tif === undefined ? {} : { tif }), ...(stp === undefined ? {} : { stp }) } as CmdBody;
      if (tif === Tif.GTD) (c as { expireTimeUs?: number }).expireTimeUs = now + int(1, 3_600_000_000);
      if ((tif === undefined || tif === Tif.GTC) && r() < 0.1) (c as { postOnly?: boolean }).postOnly = true;
    } else if (k < 48) {
      c = { type: 'newOrder', accountId: acct, symbol: sym.name, side, ordType: OrdType.MARKET, qtyLots: qty, ...(r() < 0.3 ? { tif: Tif.FOK } : {}), ...(stp === undefined ? {} : { stp }) } as CmdBody;
    } else if (k < 53) {
      const stop = sym.mid + int(-8, 8);
      const limit = r() < 0.5;
      c = { type: 'newOrder', accountId: acct, symbol: sym.name, side, ordType: limit ? OrdType.STOP_LIMIT : OrdType.STOP, qtyLots: qty, stopPriceTicks: stop, ...(limit ? { priceTicks: stop + (side === Side.BUY ? 2 : -2) } : {}) } as CmdBody;
    } else if (k < 66 && orders.length > 0) {
      const o = someOrder();
      c = { type: 'cancelOrder', accountId: o.acct, orderId: o.id };
    } else if (k < 82 && orders.length > 0) {
      const o = someOrder();
      const m = SYMBOLS[o.sym] ?? sym;
      const v = r();
      const body: Record<string, unknown> = { type: 'replaceOrder', accountId: o.acct, orderId: o.id };
      if (v < 0.35) body.qtyLots = int(1, m.qtyMax); // up or down, same price
      else if (v < 0.7) body.priceTicks = m.mid + int(-12, 12);
      else {
        body.qtyLots = int(1, m.qtyMax);
        body.priceTicks = m.mid + int(-12, 12);
      }
      c = body as CmdBody;
    } else if (k < 84) {
      c = { type: 'massCancel', accountId: acct, ...(r() < 0.7 ? { symbol: sym.name } : {}) } as CmdBody;
    } else if (k < 84.7) {
      // halts and other states (a symbol not open is reopened soon, below)
      c = { type: 'setSymbolState', symbol: sym.name, state: pick([TradingState.HALTED, TradingState.CANCEL_ONLY, TradingState.PRE_OPEN, TradingState.CLOSED]) };
    } else if (k < 87.7) {
      const closed = SYMBOLS.find((x) => f.e.symbol(x.name)?.state !== TradingState.OPEN);
      c = closed === undefined ? { type: 'tick' } : { type: 'setSymbolState', symbol: closed.name, state: TradingState.OPEN };
    } else if (k < 88) {
      // kill switch: cancels the account's orders; re-enabled soon (below)
      disabled.add(acct);
      c = { type: 'setAccountEnabled', accountId: acct, enabled: false };
    } else if (k < 91) {
      const a = [...disabled][0];
      if (a !== undefined) disabled.delete(a);
      c = a === undefined ? { type: 'tick' } : { type: 'setAccountEnabled', accountId: a, enabled: true };
    } else if (k < 92) {
      c = { type: 'tick' };
    } else {
      // more resting liquidity away from the touch
      c = { type: 'newOrder', accountId: acct, symbol: sym.name, side, ordType: OrdType.LIMIT, qtyLots: qty, priceTicks: sym.mid + (side === Side.BUY ? -1 : 1) * int(3, 25) } as CmdBody;
    }
    step({ ...c, tsUs: now } as CmdBody, i);
  }
}
