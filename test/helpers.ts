/**
 * Test fixture for the engine rule suite: an engine with USD(2) / AAPL(0) / BTC(8), the symbols
 * AAPL (tick 0.01, lot 1: k = 1, lotMinor = 1) and BTC-USD (tick 1, lot 0.01: k = 1,
 * lotMinor = 1_000_000), funded accounts alice(1) / bob(2) / carol(3), and helpers that stamp
 * seq / tsUs and decode the events of the last command.
 */
import { expect } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { decodeEvents, type DecodedEvent } from '../src/engine/events.js';
import type { Command, NewOrderCmd, SymbolConfig } from '../src/engine/commands.js';
import { Code, CODE_NAMES, ExecType, OrdStatus, OrdType, Side } from '../src/domain/codes.js';

export { Code, ExecType, OrdStatus, OrdType, Side };

export const ALICE = 1;
export const BOB = 2;
export const CAROL = 3;
export const FEE = 0;

/** 2024-01-03 (a Wednesday) 12:00:00 UTC in microseconds */
export const T0 = Date.UTC(2024, 0, 3, 12, 0, 0) * 1000;
export const DAY_US = 86_400_000_000;
export const HOUR_US = 3_600_000_000;
export const MIN_US = 60_000_000;
/** 00:00 UTC of the day containing tsUs */
export const dayStart = (tsUs: number) => Math.floor(tsUs / DAY_US) * DAY_US;

/** Initial funding of every trading account. */
export const FUND = { USD: 100_000_000, AAPL: 10_000, BTC: 10_000_000_000 } as const; // $1,000,000.00, 10,000 sh, 100 BTC

export const AAPL_CFG: SymbolConfig = {
  symbol: 'AAPL',
  base: 'AAPL',
  quote: 'USD',
  tickSize: '0.01',
  lotSize: '1',
  maxQty: '1000000',
  maxNotional: '100000000',
};
export const BTC_CFG: SymbolConfig = {
  symbol: 'BTC-USD',
  base: 'BTC',
  quote: 'USD',
  tickSize: '1',
  lotSize: '0.01',
  maxQty: '1000',
  maxNotional: '100000000',
};

/** base / quote and the integer parameters of the fixture's symbols (computed by hand from the docs) */
export const SYMS: Record<string, { base: string; quote: string; k: number; lotMinor: number }> = {
  AAPL: { base: 'AAPL', quote: 'USD', k: 1, lotMinor: 1 },
  'BTC-USD': { base: 'BTC', quote: 'USD', k: 1, lotMinor: 1_000_000 },
};

type Body<C> = C extends Command ? Omit<C, 'seq' | 'tsUs'> & { tsUs?: number } : never;
export type CmdBody = Body<Command>;

export interface FixtureOptions {
  aapl?: Partial<SymbolConfig>;
  btc?: Partial<SymbolConfig>;
  engine?: ConstructorParameters<typeof Engine>[0];
  /** start time (default T0) */
  t0?: number;
  /** skip funding */
  noFunding?: boolean;
}

export type OrderOpts = Partial<Omit<NewOrderCmd, 'type' | 'seq' | 'tsUs'>>;

export class Fixture {
  readonly e: Engine;
  seq = 0;
  now: number;
  /** decoded events of the last command */
  ev: DecodedEvent[] = [];
  lastCode: Code = Code.OK;

  constructor(opts: FixtureOptions = {}) {
    this.e = new Engine(opts.engine);
    this.now = opts.t0 ?? T0;
    const must = (c: CmdBody) => {
      const code = this.run(c);
      if (code !== Code.OK) throw new Error(`fixture setup failed: ${JSON.stringify(c)} -> ${CODE_NAMES[code]}`);
    };
    must({ type: 'addAsset', asset: 'USD', decimals: 2 });
    must({ type: 'addAsset', asset: 'AAPL', decimals: 0 });
    must({ type: 'addAsset', asset: 'BTC', decimals: 8 });
    must({ type: 'addSymbol', config: { ...AAPL_CFG, ...opts.aapl } });
    must({ type: 'addSymbol', config: { ...BTC_CFG, ...opts.btc } });
    for (const name of ['alice', 'bob', 'carol']) must({ type: 'createAccount', name });
    if (!opts.noFunding) {
      for (const acct of [ALICE, BOB, CAROL])
        for (const [asset, amt] of Object.entries(FUND))
          must({ type: 'deposit', accountId: acct, asset, amountMinor: amt, transferId: `fund-${acct}-${asset}` });
    }
    this.e.events.clear();
    this.ev = [];
  }

  /** Applies a command stamped with the next seq and the current time (+1 ms per command unless tsUs is given). */
  run(c: CmdBody): Code {
    if (c.tsUs !== undefined) this.now = c.tsUs;
    else this.now += 1000;
    const full = { ...c, seq: ++this.seq, tsUs: this.now } as Command;
    this.e.events.clear();
    const code = this.e.apply(full);
    this.ev = decodeEvents(this.e.events);
    this.lastCode = code;
    return code;
  }

  /** Advances engine time to tsUs with a tick command. */
  tickAt(tsUs: number): Code {
    return this.run({ type: 'tick', tsUs });
  }

  /** New order; returns its code and the orderId of the accepted order (0 if rejected / replay). */
  order(accountId: number, symbol: string, side: Side, ordType: OrdType, qtyLots: number, opts: OrderOpts = {}): { code: Code; orderId: number } {
    const code = this.run({ type: 'newOrder', accountId, symbol, side, ordType, qtyLots, ...opts } as CmdBody);
    const x = this.execs().find((e) => e.execType === ExecType.NEW);
    return { code, orderId: x === undefined ? 0 : (x.orderId as number) };
  }

  /** Limit order shortcut (GTC by default); returns the new orderId, expecting OK. */
  limit(accountId: number, symbol: string, side: Side, qtyLots: number, priceTicks: number, opts: OrderOpts = {}): number {
    const r = this.order(accountId, symbol, side, OrdType.LIMIT, qtyLots, { priceTicks, ...opts });
    expect(CODE_NAMES[r.code], 'limit order accepted').toBe('OK');
    expect(r.orderId).toBeGreaterThan(0);
    return r.orderId;
  }

  buy(accountId: number, qtyLots: number, priceTicks: number, opts: OrderOpts = {}, symbol = 'AAPL'): number {
    return this.limit(accountId, symbol, Side.BUY, qtyLots, priceTicks, opts);
  }
  sell(accountId: number, qtyLots: number, priceTicks: number, opts: OrderOpts = {}, symbol = 'AAPL'): number {
    return this.limit(accountId, symbol, Side.SELL, qtyLots, priceTicks, opts);
  }

  cancel(accountId: number, orderId: number): Code {
    return this.run({ type: 'cancelOrder', accountId, orderId });
  }

  replace(accountId: number, orderId: number, qtyLots?: number, priceTicks?: number, extra: Record<string, unknown> = {}): Code {
    const c: Record<string, unknown> = { type: 'replaceOrder', accountId, orderId, ...extra };
    if (qtyLots !== undefined) c.qtyLots = qtyLots;
    if (priceTicks !== undefined) c.priceTicks = priceTicks;
    return this.run(c as CmdBody);
  }

  // -------------------------------------------------------------- events of the last command

  of(name: string): DecodedEvent[] {
    return this.ev.filter((e) => e.event === name);
  }
  execs(orderId?: number): DecodedEvent[] {
    return this.of('exec').filter((e) => orderId === undefined || e.orderId === orderId);
  }
  trades(): DecodedEvent[] {
    return this.of('trade');
  }
  /** exec types of the exec events of orderId in the last command */
  execTypes(orderId: number): number[] {
    return this.execs(orderId).map((e) => e.execType as number);
  }
  lastExec(orderId: number): DecodedEvent {
    const xs = this.execs(orderId);
    expect(xs.length, `exec events for order ${orderId}`).toBeGreaterThan(0);
    return xs[xs.length - 1]!;
  }
  names(): string[] {
    return this.ev.map((e) => e.event);
  }

  // -------------------------------------------------------------- state

  bal(accountId: number, asset: string): { total: number; reserved: number; available: number } {
    const b = this.e.balance(accountId, asset);
    if (b === null) return { total: 0, reserved: 0, available: 0 };
    return { total: b.totalMinor, reserved: b.reservedMinor, available: b.availableMinor };
  }

  expectBal(accountId: number, asset: string, total: number, reserved: number): void {
    expect(this.bal(accountId, asset), `balance of account ${accountId} in ${asset}`).toEqual({
      total,
      reserved,
      available: total - reserved,
    });
  }

  status(orderId: number): number | undefined {
    return this.e.getOrder(orderId)?.status;
  }

  /**
   * Reserved balance of every account equals exactly what its open orders need: buys
   * priceTicks (the reservation price) × leaves × k of quote, sells leaves × lotMinor of base.
   */
  expectReservedMatchesOpenOrders(accounts: number[] = this.accountIds()): void {
    for (const acct of accounts) {
      const need: Record<string, number> = { USD: 0, AAPL: 0, BTC: 0 };
      for (const o of this.e.openOrders(acct)) {
        const s = SYMS[o.symbol];
        if (s === undefined) continue;
        if (o.side === Side.BUY) need[s.quote]! += o.priceTicks * o.leavesLots * s.k;
        else need[s.base]! += o.leavesLots * s.lotMinor;
      }
      for (const asset of Object.keys(need)) {
        expect(this.bal(acct, asset).reserved, `reserved ${asset} of account ${acct}`).toBe(need[asset]);
      }
    }
  }

  /** Every account id (0, 1, 2, ... while account() answers). */
  accountIds(): number[] {
    const ids: number[] = [];
    for (let i = 0; this.e.account(i) !== null; i++) ids.push(i);
    return ids;
  }

  /** Per asset, the sum of totals over every account equals assetSupply (deposits - withdrawals). */
  expectConservation(): void {
    for (const asset of this.e.assetNames()) {
      let sum = 0;
      for (const acct of this.accountIds()) sum += this.bal(acct, asset).total;
      expect(sum, `conservation of ${asset}`).toBe(this.e.assetSupply(asset));
    }
  }

  /** Runs fn and asserts it left stateHash() unchanged. */
  expectNoStateChange(fn: () => void): void {
    const before = this.e.stateHash();
    fn();
    expect(this.e.stateHash()).toBe(before);
  }

  /** Runs a command expected to be rejected with `code`; asserts that the state is unchanged. */
  expectReject(c: CmdBody, code: Code): void {
    const before = this.e.stateHash();
    const got = this.run(c);
    expect(CODE_NAMES[got]).toBe(CODE_NAMES[code]);
    expect(this.e.stateHash(), `state unchanged by rejected ${c.type}`).toBe(before);
  }

  /** A new order expected to be rejected with `code`: one rejected exec (orderId 0), state unchanged. */
  expectOrderReject(accountId: number, symbol: string, side: Side, ordType: OrdType, qtyLots: number, opts: OrderOpts, code: Code): void {
    this.expectReject({ type: 'newOrder', accountId, symbol, side, ordType, qtyLots, ...opts } as CmdBody, code);
    const xs = this.execs();
    expect(xs.length, 'one exec event for a rejected order').toBe(1);
    expect(xs[0]!.execType).toBe(ExecType.REJECTED);
    expect(xs[0]!.ordStatus).toBe(OrdStatus.REJECTED);
    expect(xs[0]!.orderId).toBe(0);
    expect(codeName(xs[0]!.rejectCode as number)).toBe(codeName(code));
    expect(this.of('balance')).toEqual([]);
    expect(this.of('trade')).toEqual([]);
  }

  /** End-of-test checks: engine invariants, reservations, conservation. */
  done(): void {
    expect(() => this.e.checkInvariants()).not.toThrow();
    this.expectReservedMatchesOpenOrders();
    this.expectConservation();
  }

  l3(symbol = 'AAPL') {
    return this.e.bookL3(symbol)!;
  }
  l2(symbol = 'AAPL') {
    return this.e.bookL2(symbol)!;
  }
}

export function fixture(opts: FixtureOptions = {}): Fixture {
  return new Fixture(opts);
}

export const codeName = (c: number) => CODE_NAMES[c];
