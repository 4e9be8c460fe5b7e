/**
 * Determinism (docs/engine.md, "State" and the opening paragraph):
 * - the same commands applied to two fresh engines give byte-identical events and the same stateHash;
 * - snapshot() at any point + Engine.restore() + the rest of the commands gives the same events and
 *   hash as the uninterrupted run (time-based commands included: ticks, GTD / DAY, sessions);
 * - hostile input never throws from apply(), is rejected with a non-OK code and changes no state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Code, CODE_NAMES, OrdType, Side, Stp, Tif, TradingState } from '../src/domain/codes.js';
import type { Command } from '../src/engine/commands.js';
import { Engine } from '../src/engine/engine.js';
import { decodeEvents } from '../src/engine/events.js';

const NUM_RUNS = Number(process.env.DET_RUNS ?? 100);
const MIN_US = 60_000_000;
const HOUR_US = 60 * MIN_US;
/** Wednesday 2024-01-03 18:00 UTC */
const T0 = Date.UTC(2024, 0, 3, 18) * 1000;

type Body = Record<string, unknown>;

const SYMBOLS = ['AAA-USD', 'BBB-USD'] as const;
const MID = [1000, 400] as const;

const SETUP: Body[] = [
  { type: 'addAsset', asset: 'USD', decimals: 2 },
  { type: 'addAsset', asset: 'AAA', decimals: 0 },
  { type: 'addAsset', asset: 'BBB', decimals: 6 },
  {
    type: 'addSymbol',
    config: { symbol: 'AAA-USD', base: 'AAA', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '50', maxNotional: '400', priceBandPct: '20', referencePrice: '10', dailyAccountQtyLimit: '300', makerFeeBps: 3, takerFeeBps: 7 },
  },
  {
    type: 'addSymbol',
    config: {
      symbol: 'BBB-USD',
      base: 'BBB',
      quote: 'USD',
      tickSize: '0.5',
      lotSize: '0.1',
      minQty: '0.3',
      maxQty: '5',
      maxNotional: '1000',
      makerFeeBps: 10,
      takerFeeBps: 25,
      marketProtectionPct: '2.5',
      session: { open: '20:00', close: '23:30', weekdays: [0, 1, 2, 3, 4, 5, 6] },
    },
  },
  { type: 'createAccount', name: 'a1' },
  { type: 'createAccount', name: 'a2' },
  { type: 'createAccount', name: 'a3' },
  { type: 'createAccount', name: 'a4' },
  ...[1, 2, 3, 4].flatMap((a) => [
    { type: 'deposit', accountId: a, asset: 'USD', amountMinor: 500_000, transferId: `fund-usd-${a}` },
    { type: 'deposit', accountId: a, asset: 'AAA', amountMinor: 300, transferId: `fund-aaa-${a}` },
    { type: 'deposit', accountId: a, asset: 'BBB', amountMinor: 30_000_000, transferId: `fund-bbb-${a}` },
  ]),
];

// ---------------------------------------------------------------------------- command generator

/** A command body plus the time step before it; `at` resolves relative times when the sequence is built. */
type Gen = { body: Body; dt: number; gtdMin?: number };

const dt = fc.oneof({ weight: 5, arbitrary: fc.constant(1000) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 30 * MIN_US }) });
const acct = fc.integer({ min: 1, max: 4 });
const symIdx = fc.nat(1);
const qty = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 10 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 60 }) });
const orderRef = fc.integer({ min: 1, max: 60 });

const genOrder: fc.Arbitrary<Gen> = fc
  .record({
    a: acct,
    s: symIdx,
    buy: fc.boolean(),
    ordType: fc.constantFrom(OrdType.LIMIT, OrdType.LIMIT, OrdType.LIMIT, OrdType.MARKET, OrdType.STOP, OrdType.STOP_LIMIT),
    tif: fc.constantFrom(undefined, Tif.GTC, Tif.DAY, Tif.GTD, Tif.IOC, Tif.FOK),
    off: fc.integer({ min: -5, max: 5 }),
    stopOff: fc.integer({ min: -6, max: 6 }),
    qty,
    stp: fc.constantFrom(undefined, Stp.CANCEL_NEWEST, Stp.CANCEL_OLDEST, Stp.CANCEL_BOTH, Stp.DECREMENT),
    postOnly: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    clOrdId: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
    gtdMin: fc.integer({ min: 1, max: 600 }),
    dt,
  })
  .map((r) => {
    const mid = MID[r.s];
    const body: Body = { type: 'newOrder', accountId: r.a, symbol: SYMBOLS[r.s], side: r.buy ? Side.BUY : Side.SELL, ordType: r.ordType, qtyLots: r.qty };
    let tif = r.tif;
    if (r.ordType === OrdType.MARKET) tif = tif === Tif.FOK ? Tif.FOK : undefined;
    else if (r.ordType !== OrdType.LIMIT && (tif === Tif.IOC || tif === Tif.FOK)) tif = undefined;
    if (tif !== undefined) body.tif = tif;
    if (r.ordType === OrdType.LIMIT || r.ordType === OrdType.STOP_LIMIT) body.priceTicks = mid + r.off + (r.buy ? 1 : -1);
    if (r.ordType === OrdType.STOP || r.ordType === OrdType.STOP_LIMIT) body.stopPriceTicks = mid + r.stopOff;
    if (r.stp !== undefined) body.stp = r.stp;
    if (r.postOnly && r.ordType === OrdType.LIMIT && (tif === undefined || tif === Tif.GTC || tif === Tif.DAY)) body.postOnly = true;
    if (r.clOrdId !== undefined) body.clOrdId = `k${r.a}-${r.clOrdId}`;
    return { body, dt: r.dt, ...(tif === Tif.GTD ? { gtdMin: r.gtdMin } : {}) };
  });

const genCmd: fc.Arbitrary<Gen> = fc.oneof(
  { weight: 30, arbitrary: genOrder },
  { weight: 6, arbitrary: fc.record({ a: acct, id: orderRef, dt }).map((r) => ({ body: { type: 'cancelOrder', accountId: r.a, orderId: r.id }, dt: r.dt })) },
  {
    weight: 8,
    arbitrary: fc.record({ a: acct, id: orderRef, qty: fc.option(qty, { nil: undefined }), off: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }), s: symIdx, dt }).map((r) => {
      const body: Body = { type: 'replaceOrder', accountId: r.a, orderId: r.id };
      if (r.qty !== undefined) body.qtyLots = r.qty;
      if (r.off !== undefined || r.qty === undefined) body.priceTicks = MID[r.s] + (r.off ?? 0);
      return { body, dt: r.dt };
    }),
  },
  { weight: 2, arbitrary: fc.record({ a: acct, s: fc.option(symIdx, { nil: undefined }), dt }).map((r) => ({ body: { type: 'massCancel', accountId: r.a, ...(r.s === undefined ? {} : { symbol: SYMBOLS[r.s] }) }, dt: r.dt })) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 8 * HOUR_US }).map((d) => ({ body: { type: 'tick' }, dt: d })) },
  {
    weight: 3,
    arbitrary: fc.record({ a: acct, asset: fc.constantFrom('USD', 'AAA', 'BBB'), amount: fc.integer({ min: 1, max: 100_000 }), w: fc.boolean(), id: fc.integer({ min: 1, max: 40 }), dt }).map((r) => ({
      body: { type: r.w ? 'withdraw' : 'deposit', accountId: r.a, asset: r.asset, amountMinor: r.amount, transferId: `t${r.id}` },
      dt: r.dt,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.record({ s: symIdx, st: fc.constantFrom(TradingState.OPEN, TradingState.HALTED, TradingState.CANCEL_ONLY, TradingState.PRE_OPEN, TradingState.CLOSED), dt }).map((r) => ({
      body: { type: 'setSymbolState', symbol: SYMBOLS[r.s], state: r.st },
      dt: r.dt,
    })),
  },
  { weight: 1, arbitrary: fc.record({ a: acct, en: fc.boolean(), dt }).map((r) => ({ body: { type: 'setAccountEnabled', accountId: r.a, enabled: r.en }, dt: r.dt })) },
  { weight: 1, arbitrary: fc.record({ a: acct, n: fc.option(fc.integer({ min: 1, max: 20 }), { nil: null }), dt }).map((r) => ({ body: { type: 'setAccountLimits', accountId: r.a, maxOpenOrders: r.n }, dt: r.dt })) },
  { weight: 1, arbitrary: fc.record({ s: symIdx, fee: fc.integer({ min: 0, max: 30 }), dt }).map((r) => ({ body: { type: 'updateSymbol', symbol: SYMBOLS[r.s], changes: { makerFeeBps: r.fee } }, dt: r.dt })) },
);

/** Stamps seq and tsUs (the setup first, then the generated commands) and resolves GTD expiry times. */
function build(gens: Gen[]): Command[] {
  const out: Command[] = [];
  let seq = 0;
  let now = T0;
  for (const body of SETUP) out.push({ ...body, seq: ++seq, tsUs: (now += 1000) } as unknown as Command);
  for (const g of gens) {
    now += g.dt;
    const body = g.gtdMin === undefined ? g.body : { ...g.body, expireTimeUs: now + g.gtdMin * MIN_US + 3 };
    out.push({ ...body, seq: ++seq, tsUs: now } as unknown as Command);
  }
  return out;
}

const sequence = fc.array(genCmd, { minLength: 1, maxLength: 200, size: 'max' }).map(build);

function runAll(e: Engine, cmds: Command[]): Code[] {
  return cmds.map((c) => e.apply(c));
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** engine options: the defaults, or small limits so dedupe eviction and the open-order limit are exercised */
const OPTIONS = fc.constantFrom<ConstructorParameters<typeof Engine>[0]>(undefined, { dedupeCapacity: 3, defaultMaxOpenOrders: 8, initialOrderCapacity: 4 });

// ---------------------------------------------------------------------------- replay

describe('determinism: the same commands give the same events and state', () => {
  it(`two fresh engines: byte-identical events and equal stateHash (${NUM_RUNS} runs)`, () => {
    let accepted = 0;
    let trades = 0;
    fc.assert(
      fc.property(sequence, OPTIONS, (cmds, options) => {
        const a = new Engine(options);
        const b = new Engine(options);
        const ca = runAll(a, cmds);
        const cb = runAll(b, cmds);
        expect(cb).toEqual(ca);
        expect(Buffer.compare(a.events.toBytes(), b.events.toBytes())).toBe(0);
        expect(b.stateHash()).toBe(a.stateHash());
        expect(hex(b.snapshot())).toBe(hex(a.snapshot()));
        accepted += ca.filter((c) => c === Code.OK).length;
        trades += decodeEvents(a.events).filter((x) => x.event === 'trade' || x.event === 'tradingState').length;
      }),
      { numRuns: NUM_RUNS },
    );
    expect(accepted).toBeGreaterThan(NUM_RUNS * 20);
    expect(trades, 'trades and trading-state changes').toBeGreaterThan(NUM_RUNS * 5);
  }, 60_000);

  it('stateHash and snapshot are pure queries (calling them changes nothing)', () => {
    fc.assert(
      fc.property(sequence, (cmds) => {
        const a = new Engine();
        const b = new Engine();
        for (const c of cmds) {
          a.apply(c);
          a.stateHash();
          a.snapshot();
          b.apply(c);
        }
        expect(Buffer.compare(a.events.toBytes(), b.events.toBytes())).toBe(0);
        expect(a.stateHash()).toBe(b.stateHash());
      }),
      { numRuns: Math.max(10, NUM_RUNS / 5) },
    );
  }, 60_000);
});

describe('determinism: snapshot / restore', () => {
  it(`restore at random points continues with the same events and hash (${NUM_RUNS} runs)`, () => {
    fc.assert(
      fc.property(sequence, fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), OPTIONS, (cmds, cuts, options) => {
        const splits = [...new Set(cuts.map((c) => SETUP.length + (c % (cmds.length - SETUP.length + 1))))].sort((x, y) => x - y);
        // uninterrupted run, events cleared at each split so the tails compare byte for byte
        const ref = new Engine(options);
        const refTails: Buffer[] = [];
        const refHashes: string[] = [];
        let from = 0;
        for (const at of [...splits, cmds.length]) {
          for (let i = from; i < at; i++) ref.apply(cmds[i]!);
          if (from > 0 || at < cmds.length || splits.length === 0) refTails.push(ref.events.toBytes());
          refHashes.push(ref.stateHash());
          ref.events.clear();
          from = at;
        }
        // interrupted run: snapshot, restore, continue; once per split
        let e = new Engine(options);
        for (let i = 0; i < splits[0]!; i++) e.apply(cmds[i]!);
        for (let k = 0; k < splits.length; k++) {
          const bytes = e.snapshot();
          expect(e.stateHash(), `hash at split ${splits[k]}`).toBe(refHashes[k]);
          const restored = Engine.restore(bytes, options);
          expect(restored.stateHash(), `restored hash at split ${splits[k]}`).toBe(refHashes[k]);
          // (snapshot bytes are not compared: their clock section may differ, e.g. a stale next-timer
          // time in the original; the documented contract is events + stateHash)
          e = restored;
          const end = k + 1 < splits.length ? splits[k + 1]! : cmds.length;
          for (let i = splits[k]!; i < end; i++) e.apply(cmds[i]!);
          const tail = e.events.toBytes();
          const want = refTails[k + 1] ?? refTails[refTails.length - 1]!;
          if (Buffer.compare(tail, want) !== 0) {
            throw new Error(`events after restore at command ${splits[k]} differ from the uninterrupted run (${tail.length} vs ${want.length} bytes)`);
          }
          expect(e.stateHash(), `hash after the tail from split ${splits[k]}`).toBe(refHashes[k + 1]);
          e.checkInvariants();
        }
      }),
      { numRuns: NUM_RUNS, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: true },
    );
  }, 60_000);
});

// ---------------------------------------------------------------------------- hostile input

/** An engine with state worth protecting: resting orders, a pending stop, a GTD far away, trades. */
function hostileBase(): { e: Engine; seq: number; now: number } {
  const e = new Engine();
  let seq = 0;
  let now = T0;
  const run = (b: Body) => {
    const code = e.apply({ ...b, seq: ++seq, tsUs: (now += 1000) } as unknown as Command);
    if (code !== Code.OK) throw new Error(`hostile base setup: ${JSON.stringify(b)} -> ${CODE_NAMES[code]}`);
  };
  for (const b of SETUP) run(b);
  run({ type: 'newOrder', accountId: 1, symbol: 'AAA-USD', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 5, priceTicks: 999, clOrdId: 'c1' });
  run({ type: 'newOrder', accountId: 2, symbol: 'AAA-USD', side: Side.SELL, ordType: OrdType.LIMIT, qtyLots: 5, priceTicks: 1001 });
  run({ type: 'newOrder', accountId: 2, symbol: 'AAA-USD', side: Side.SELL, ordType: OrdType.LIMIT, qtyLots: 2, priceTicks: 999 });
  run({ type: 'newOrder', accountId: 3, symbol: 'AAA-USD', side: Side.BUY, ordType: OrdType.STOP, qtyLots: 2, stopPriceTicks: 1003 });
  run({ type: 'newOrder', accountId: 3, symbol: 'AAA-USD', side: Side.SELL, ordType: OrdType.LIMIT, qtyLots: 2, priceTicks: 1005, tif: Tif.GTD, expireTimeUs: now + 100 * HOUR_US });
  return { e, seq, now };
}

/** Valid templates (each would be accepted against hostileBase) and, per field, values that make them invalid. */
const NUM_BAD = [Number.NaN, Infinity, -Infinity, -1, 0, 2 ** 60, 1.5, '5', null, {}, [3], true, undefined];
const ID_BAD = [Number.NaN, Infinity, -1, 2 ** 60, 1.5, '1', null, {}, [1], true, 999, undefined];
const ENUM_BAD = [0, 9, -1, Number.NaN, 1.5, 'buy', null, {}, [1], true];
const STR_BAD = ['', 'NOPE', 5, null, {}, [], true, undefined];

const TEMPLATES: { body: Body; bad: Record<string, unknown[]> }[] = [
  {
    body: { type: 'newOrder', accountId: 4, symbol: 'AAA-USD', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 3, priceTicks: 998, tif: Tif.GTC, stp: Stp.CANCEL_NEWEST, clOrdId: 'fresh-1' },
    bad: {
      type: ['nope', 5, null, undefined, 'constructor', '__proto__', 'toString', 'NEWORDER'],
      accountId: [...ID_BAD, 0],
      symbol: STR_BAD,
      side: [...ENUM_BAD, undefined],
      ordType: [...ENUM_BAD, undefined],
      qtyLots: NUM_BAD,
      priceTicks: NUM_BAD,
      tif: ENUM_BAD,
      stp: ENUM_BAD,
      clOrdId: ['', 'x'.repeat(37), 'bad id!', 'é', 5, {}, null],
      stopPriceTicks: [5, 0, Number.NaN],
      expireTimeUs: [T0 + 10 * HOUR_US, Number.NaN, 'soon'],
    },
  },
  {
    body: { type: 'newOrder', accountId: 4, symbol: 'AAA-USD', side: Side.SELL, ordType: OrdType.STOP_LIMIT, qtyLots: 3, priceTicks: 990, stopPriceTicks: 995, tif: Tif.GTD, expireTimeUs: T0 + 50 * HOUR_US },
    bad: { stopPriceTicks: NUM_BAD, priceTicks: NUM_BAD, expireTimeUs: [T0, 0, -1, Number.NaN, Infinity, 2 ** 60, '1', null, {}, undefined] },
  },
  {
    body: { type: 'newOrder', accountId: 4, symbol: 'AAA-USD', side: Side.BUY, ordType: OrdType.MARKET, qtyLots: 1 },
    bad: { tif: [Tif.GTC, Tif.DAY, Tif.GTD, 0, 'IOC'], priceTicks: [1000, 0, Number.NaN, '1000'], stopPriceTicks: [1000], postOnly: [true], qtyLots: NUM_BAD },
  },
  {
    body: { type: 'cancelOrder', accountId: 1, orderId: 1 },
    bad: { accountId: [...ID_BAD, 0, 2], orderId: [...ID_BAD, 0, 2], type: ['cancel', null] },
  },
  {
    body: { type: 'cancelOrder', accountId: 1, clOrdId: 'c1' },
    bad: { clOrdId: ['', 'c2', 'x'.repeat(37), 5, null, {}, undefined] },
  },
  {
    body: { type: 'replaceOrder', accountId: 1, orderId: 1, qtyLots: 4, priceTicks: 997 },
    bad: { accountId: [...ID_BAD, 0, 3], orderId: [...ID_BAD, 0, 2], qtyLots: NUM_BAD.filter((x) => x !== undefined), priceTicks: NUM_BAD.filter((x) => x !== undefined), clOrdId: ['', 'bad id!', 5, {}] },
  },
  {
    body: { type: 'massCancel', accountId: 1, symbol: 'AAA-USD' },
    bad: { accountId: ID_BAD, symbol: ['', 'NOPE', 5, null, {}, []] },
  },
  {
    body: { type: 'deposit', accountId: 1, asset: 'USD', amountMinor: 100, transferId: 'fresh-t1' },
    bad: { accountId: ID_BAD, asset: STR_BAD, amountMinor: NUM_BAD, transferId: ['', 'x'.repeat(65), 5, null, {}, undefined, 'fund-usd-1'], type: ['deposits', null] },
  },
  {
    body: { type: 'withdraw', accountId: 1, asset: 'USD', amountMinor: 100, transferId: 'fresh-t2' },
    bad: { accountId: ID_BAD, asset: STR_BAD, amountMinor: [...NUM_BAD, 10 ** 9], transferId: ['', 'x'.repeat(65), 5, null, {}, undefined] },
  },
  {
    body: { type: 'addAsset', asset: 'ZZZ', decimals: 4 },
    bad: { asset: ['', 5, null, {}, undefined, 'USD'], decimals: [-1, 99, Number.NaN, 1.5, '2', null, {}, undefined] },
  },
  {
    body: { type: 'addSymbol', config: { symbol: 'ZZ-USD', base: 'AAA', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '10', maxNotional: '100' } },
    bad: { config: [null, 5, 'x', [], {}, undefined, { symbol: 'ZZ-USD' }, { symbol: 'AAA-USD', base: 'AAA', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '10', maxNotional: '100' }] },
  },
  {
    body: { type: 'createAccount', name: 'newbie' },
    bad: { name: [5, null, {}, [], undefined, 'x'.repeat(1000)] },
  },
  {
    body: { type: 'setAccountEnabled', accountId: 4, enabled: false },
    bad: { accountId: [...ID_BAD, 0], enabled: ['false', 0, 1, null, {}, undefined] },
  },
  {
    body: { type: 'setSymbolState', symbol: 'AAA-USD', state: TradingState.HALTED },
    bad: { symbol: STR_BAD, state: [0, 99, Number.NaN, 'halted', null, {}, undefined] },
  },
  {
    body: { type: 'setAccountLimits', accountId: 4, maxOpenOrders: 5 },
    bad: { accountId: [...ID_BAD, 0], maxOpenOrders: [-1, Number.NaN, 1.5, 'x', {}, Infinity] },
  },
  {
    body: { type: 'updateSymbol', symbol: 'AAA-USD', changes: { makerFeeBps: 4 } },
    bad: { symbol: STR_BAD, changes: [
      null,
      5,
      'x',
      { makerFeeBps: -1 },
      { makerFeeBps: Number.NaN },
      { takerFeeBps: Number.NaN },
      { makerFeeBps: Infinity },
      { takerFeeBps: '5' },
      { maxQty: 'abc' },
      { maxQty: Number.NaN },
      { maxNotional: '-5' },
      { priceBandPct: 'abc' },
      { marketProtectionPct: '-1' },
      { referencePrice: 'x' },
      { tickSize: '0.5' },
    ] },
  },
];

function withField(body: Body, field: string, value: unknown): Body {
  const b = { ...body };
  if (value === undefined) delete b[field];
  else b[field] = value;
  return b;
}

describe('hostile commands', () => {
  it('every documented-invalid field value: no throw, a non-OK code, stateHash unchanged', () => {
    const { e, now } = hostileBase();
    let { seq } = hostileBase();
    let before = e.stateHash();
    const failures: string[] = [];
    let n = 0;
    for (const t of TEMPLATES) {
      for (const [field, values] of Object.entries(t.bad)) {
        for (const v of values) {
          const body = withField(t.body, field, v);
          const cmd = { ...body, seq: ++seq, tsUs: now + seq } as unknown as Command;
          let code: Code;
          try {
            code = e.apply(cmd);
          } catch (err) {
            failures.push(`THREW ${(err as Error).message}: ${describeBody(body)}`);
            continue;
          }
          n++;
          if (code === Code.OK) failures.push(`accepted: ${describeBody(body)}`);
          const h = e.stateHash();
          if (h !== before) failures.push(`state changed (${CODE_NAMES[code]}): ${describeBody(body)}`);
          before = h;
        }
      }
    }
    expect(failures).toEqual([]);
    expect(n).toBeGreaterThan(200);
    // the templates themselves are valid: the engine still works
    expect(e.apply({ ...TEMPLATES[0]!.body, seq: ++seq, tsUs: now + seq } as unknown as Command)).toBe(Code.OK);
    e.checkInvariants();
  });

  it('non-object commands and unknown types: no throw, non-OK, no change', () => {
    const { e, now } = hostileBase();
    let seq = 1000;
    const before = e.stateHash();
    const weird: unknown[] = [null, undefined, 0, 5, 'newOrder', [], [1, 2], true, () => 1, Symbol('x'), {}, { type: 'newOrder' }, { type: 'cancelOrder' }, { type: 'replaceOrder' }, { type: 'deposit' }, { type: 'addSymbol' }, { type: 'hasOwnProperty' }];
    for (const w of weird) {
      const withSeq = typeof w === 'object' && w !== null && !Array.isArray(w) ? { ...w, seq: ++seq, tsUs: now + seq } : w;
      let code: Code | undefined;
      expect(() => {
        code = e.apply(withSeq as Command);
      }, String(typeof w === 'symbol' ? 'symbol' : JSON.stringify(w))).not.toThrow();
      expect(code, JSON.stringify(withSeq ?? null)).not.toBe(Code.OK);
      expect(e.stateHash()).toBe(before);
    }
    e.checkInvariants();
  });

  it('fc.anything() in any field of a valid command: no throw; a rejected command changes nothing; invariants hold', () => {
    const { e, now } = hostileBase();
    let seq = 10_000;
    let hash = e.stateHash();
    fc.assert(
      fc.property(fc.nat(TEMPLATES.length - 1), fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.anything(), fc.nat(20)), { minLength: 1, maxLength: 3 }), (ti, muts) => {
        const t = TEMPLATES[ti]!;
        const keys = [...Object.keys(t.body), ...Object.keys(t.bad)];
        let body: Body = { ...t.body };
        for (const [name, value, pick] of muts) {
          const field = pick < keys.length * 2 ? keys[pick % keys.length]! : name;
          if (field === 'seq' || field === 'tsUs') continue;
          body = withField(body, field, value);
        }
        const cmd = { ...body, seq: ++seq, tsUs: now + seq } as unknown as Command;
        let code: Code;
        try {
          code = e.apply(cmd);
        } catch (err) {
          throw new Error(`apply threw ${(err as Error).message} on ${describeBody(body)}`);
        }
        const h = e.stateHash();
        if (code !== Code.OK && h !== hash) throw new Error(`rejected (${CODE_NAMES[code]}) but the state changed: ${describeBody(body)}`);
        hash = h;
        e.checkInvariants();
      }),
      { numRuns: 2000 },
    );
  });

  it('hostile seq / tsUs: no throw, invariants hold, and a rejected command changes nothing', () => {
    const { e, now } = hostileBase();
    let seq = 100;
    const bad = [Number.NaN, Infinity, -1, 1.5, '7', null, {}, undefined, 2 ** 60, -(2 ** 60)];
    for (const field of ['seq', 'tsUs']) {
      for (const v of bad) {
        const before = e.stateHash();
        const cmd = withField({ type: 'newOrder', accountId: 4, symbol: 'AAA-USD', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 1, priceTicks: 990, seq: ++seq, tsUs: now + seq }, field, v);
        if (field === 'tsUs' && v === 2 ** 60) continue; // a valid far-future time: timers may legitimately run
        let code: Code = Code.OK;
        expect(() => {
          code = e.apply(cmd as unknown as Command);
        }).not.toThrow();
        if (code !== Code.OK) expect(e.stateHash(), `${field} = ${String(v)}`).toBe(before);
        e.checkInvariants();
      }
    }
    // seq must increase: a repeated seq is refused without a change
    const before = e.stateHash();
    const code = e.apply({ type: 'tick', seq: 1, tsUs: now + 5000 } as Command);
    expect(code).not.toBe(Code.OK);
    expect(e.stateHash()).toBe(before);
  });
});

function describeBody(b: Body): string {
  return JSON.stringify(b, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v === undefined ? '<undefined>' : typeof v === 'bigint' ? `${v}n` : v));
}
