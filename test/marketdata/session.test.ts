/**
 * Market data equals the engine (issue 5): random sessions (several seeds, thousands of commands,
 * three symbols, every order type, cancels, replaces, mass cancels, halts, sessions, time jumps)
 * are fed to a MarketState seeded from the engine, and:
 * - after every command its L2 and L3 equal engine.bookL2 / bookL3 for every symbol, and L1's
 *   best bid / ask equal the L2 tops;
 * - per symbol and channel the update seqs are 1, 2, 3, ... and a command gives at most one update
 *   per (symbol, channel); snapshots carry the seq of the last update;
 * - a LocalBook that took an L2 snapshot midway (with updates buffered before it) and one that
 *   missed an update (detects the gap, resnapshots) both end equal to the engine's L2; a client
 *   L3 book kept from an L3 snapshot + L3 updates ends equal to bookL3;
 * - trades and candles equal those recomputed here from the TRADE events; L1's last and day
 *   fields agree with them;
 * - a MarketState seeded from Engine.restore(snapshot) midway ends equal to the one fed from the start;
 * - the same events give the same updates, through apply() and through applyRecords().
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { DecodedEvent } from '../../src/engine/events.js';
import { LocalBook } from '../../src/marketdata/localBook.js';
import { MarketState } from '../../src/marketdata/marketState.js';
import { marketStateFromEngine } from '../../src/marketdata/seed.js';
import { CHANNELS, RESOLUTION_MS, RESOLUTIONS, type Candle, type CandlesUpdate, type L3Entry, type MdUpdate, type Trade } from '../../src/marketdata/types.js';
import type { Fixture } from '../helpers.js';
import { runSession, sessionFixture } from './session.js';

const SEEDS = [1, 2, 3];
const N = Number(process.env.MD_LEN ?? 3000);

/** Collects updates and checks seq continuity and one update per (command, symbol, channel). */
class Recorder {
  readonly all: MdUpdate[] = [];
  readonly lastSeq = new Map<string, number>();
  private readonly seenThisCommand = new Set<string>();
  readonly sink = (u: MdUpdate) => {
    const key = `${u.symbol}|${u.channel}`;
    const last = this.lastSeq.get(key) ?? 0;
    if (u.seq !== last + 1) throw new Error(`${key}: seq ${u.seq} after ${last}`);
    this.lastSeq.set(key, u.seq);
    const ck = `${u.journalSeq}|${key}`;
    if (this.seenThisCommand.has(ck)) throw new Error(`two ${key} updates for command ${u.journalSeq}`);
    this.seenThisCommand.add(ck);
    this.all.push(u);
  };
  endCommand(): void {
    this.seenThisCommand.clear();
  }
}

/** A client's L3 book from an L3 snapshot + L3 updates, with plain arrays (independent of book.ts). */
class L3Client {
  bids: L3Entry[] = [];
  asks: L3Entry[] = [];
  seq = -1;
  load(s: { seq: number; bids: L3Entry[]; asks: L3Entry[] }): void {
    this.bids = s.bids.map((x) => ({ ...x }));
    this.asks = s.asks.map((x) => ({ ...x }));
    this.seq = s.seq;
  }
  apply(u: MdUpdate): void {
    if (u.channel !== 'l3' || this.seq < 0 || u.seq <= this.seq) return;
    if (u.seq !== this.seq + 1) throw new Error(`L3 seq ${u.seq} after ${this.seq}`);
    this.seq = u.seq;
    for (const m of u.msgs) {
      if (m.type === 'trade' || m.type === 'tradingState') continue;
      const side = m.side === 1 ? this.bids : this.asks;
      const i = side.findIndex((o) => o.orderId === m.orderId);
      const insert = (priceTicks: number, qtyLots: number) => {
        let at = side.length;
        while (at > 0 && (m.side === 1 ? side[at - 1]!.priceTicks < priceTicks : side[at - 1]!.priceTicks > priceTicks)) at--;
        side.splice(at, 0, { orderId: m.orderId, priceTicks, qtyLots });
      };
      if (m.type === 'add') {
        if (i >= 0) throw new Error(`add of order ${m.orderId}, already on the client's book`);
        insert(m.priceTicks, m.qtyLots);
        continue;
      }
      if (i < 0) throw new Error(`${m.type} of order ${m.orderId}, not on the client's book`);
      if (m.type === 'execute' || m.type === 'cancel') {
        side[i]!.qtyLots = m.remainingLots;
        if (m.remainingLots === 0) side.splice(i, 1);
      } else if (m.type === 'delete') side.splice(i, 1);
      else {
        side.splice(i, 1);
        insert(m.priceTicks, m.qtyLots);
      }
    }
  }
}

const strip = (xs: { orderId: number; priceTicks: number; qtyLots: number }[]) => xs.map((o) => ({ orderId: o.orderId, priceTicks: o.priceTicks, qtyLots: o.qtyLots }));

/** deep equality through JSON first: vitest's toEqual on every command of every session is the slow part */
function same(got: unknown, want: unknown, what: string): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, what).toEqual(want);
}

function expectBooksEqual(ms: MarketState, e: Engine, where: string): void {
  same(ms.symbols().map((s) => s.name), e.symbolNames(), `symbols ${where}`);
  for (const name of e.symbolNames()) {
    const l2 = ms.l2(name)!;
    const el2 = e.bookL2(name)!;
    same({ bids: l2.bids, asks: l2.asks }, el2, `L2 of ${name} ${where}`);
    const l3 = ms.l3(name)!;
    const el3 = e.bookL3(name)!;
    same({ bids: l3.bids, asks: l3.asks }, { bids: strip(el3.bids), asks: strip(el3.asks) }, `L3 of ${name} ${where}`);
    const l1 = ms.l1(name)!.l1;
    same([l1.bidPx, l1.bidQty], el2.bids.length === 0 ? [null, null] : el2.bids[0]!.slice(0, 2), `L1 bid of ${name} ${where}`);
    same([l1.askPx, l1.askQty], el2.asks.length === 0 ? [null, null] : el2.asks[0]!.slice(0, 2), `L1 ask of ${name} ${where}`);
  }
}

/** Candles recomputed from trades: bucket by floor(ts / res); closed once the stream's clock reached the bucket's end. */
function recomputeCandles(trades: Trade[], resMs: number, clockUs: number): Candle[] {
  const out: Candle[] = [];
  for (const t of trades) {
    const bucket = Math.floor(t.tsUs / 1000 / resMs) * resMs;
    const c = out[out.length - 1];
    if (c !== undefined && c.t === bucket) {
      c.h = Math.max(c.h, t.priceTicks);
      c.l = Math.min(c.l, t.priceTicks);
      c.c = t.priceTicks;
      c.v += t.qtyLots;
      c.n++;
    } else {
      if (c !== undefined) expect(bucket).toBeGreaterThan(c.t);
      out.push({ t: bucket, o: t.priceTicks, h: t.priceTicks, l: t.priceTicks, c: t.priceTicks, v: t.qtyLots, n: 1, closed: false });
    }
  }
  for (const c of out) c.closed = clockUs >= (c.t + resMs) * 1000;
  return out;
}

interface Observed {
  /** TRADE events per symbol name, as trades */
  trades: Map<string, Trade[]>;
  /** the newest engine time of a non-reject event */
  clockUs: number;
  /** per symbol, the statistics of the UTC day of its latest trade */
  day: Map<string, { day: number; o: number; h: number; l: number; v: number }>;
}

const DAY_US = 86_400_000_000;

/** L1's last trade and day statistics against the TRADE events seen so far */
function expectL1Stats(ms: MarketState, obs: Observed, name: string, where: string): void {
  const l1 = ms.l1(name)!.l1;
  const trades = obs.trades.get(name);
  const last = trades?.[trades.length - 1];
  same([l1.lastPx, l1.lastQty], last === undefined ? [null, null] : [last.priceTicks, last.qtyLots], `L1 last of ${name} ${where}`);
  const d = obs.day.get(name);
  const today = d !== undefined && d.day === Math.floor(obs.clockUs / DAY_US) ? d : undefined;
  same([l1.open, l1.high, l1.low, l1.volume], today === undefined ? [null, null, null, null] : [today.o, today.h, today.l, today.v], `L1 day of ${name} ${where}`);
}

function observe(obs: Observed, ev: DecodedEvent[], f: Fixture): void {
  for (const x of ev) {
    if (x.event === 'reject') continue;
    obs.clockUs = Math.max(obs.clockUs, x.tsUs);
    if (x.event !== 'trade') continue;
    const name = f.e.symbolByIdx(x.symbolIdx as number)!.name;
    if (!obs.trades.has(name)) obs.trades.set(name, []);
    const t = { tradeId: x.tradeId as number, priceTicks: x.priceTicks as number, qtyLots: x.qtyLots as number, takerSide: x.takerSide as number, tsUs: x.tsUs };
    obs.trades.get(name)!.push(t);
    const day = Math.floor(t.tsUs / DAY_US);
    const d = obs.day.get(name);
    if (d === undefined || d.day !== day) obs.day.set(name, { day, o: t.priceTicks, h: t.priceTicks, l: t.priceTicks, v: t.qtyLots });
    else {
      d.h = Math.max(d.h, t.priceTicks);
      d.l = Math.min(d.l, t.priceTicks);
      d.v += t.qtyLots;
    }
  }
}

describe('market data built from the event stream equals the engine', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${N} random commands: books, sequences, local books, trades, candles`, () => {
      const f = sessionFixture();
      const rec = new Recorder();
      const ms = marketStateFromEngine(f.e, { sink: rec.sink });
      const obs: Observed = { trades: new Map(), clockUs: 0, day: new Map() };
      // clients of AAPL's L2: one subscribes at N/3 and snapshots a few commands later; one from the
      // start that misses an update after N/2; L3 clients of every symbol from N/4
      const late = new LocalBook();
      const gappy = new LocalBook();
      gappy.applySnapshot(ms.l2('AAPL')!);
      let dropped = false;
      let resnapshot = false;
      const l3Clients = new Map<string, L3Client>();
      /** candles as the updates tell them: `${symbol}|${res}` -> t -> candle */
      const fromUpdates = new Map<string, Map<number, Candle>>();
      const tradesFromUpdates = new Map<string, Trade[]>();
      let lateBuffered = 0;
      let lateSnapshot: ReturnType<MarketState['l2']> = null;
      const feed = (u: MdUpdate, i: number) => {
        if (u.symbol === 'AAPL' && u.channel === 'l2') {
          if (i >= N / 3) {
            const r = late.applyUpdate(u);
            if (r === 'buffered') lateBuffered++;
          }
          if (!dropped && i > N / 2) dropped = true; // lost on the way
          else if (gappy.applyUpdate(u) === 'gap') resnapshot = true;
        }
        l3Clients.get(u.symbol)?.apply(u);
        if (u.channel.startsWith('candles:')) {
          const key = `${u.symbol}|${u.channel.slice(8)}`;
          if (!fromUpdates.has(key)) fromUpdates.set(key, new Map());
          for (const c of (u as CandlesUpdate).candles) {
            const prev = fromUpdates.get(key)!.get(c.t);
            if (prev !== undefined && prev.closed) throw new Error(`candle ${key} ${c.t} changed after it closed`);
            fromUpdates.get(key)!.set(c.t, c);
          }
        }
        if (u.channel === 'trades') {
          if (!tradesFromUpdates.has(u.symbol)) tradesFromUpdates.set(u.symbol, []);
          tradesFromUpdates.get(u.symbol)!.push(...u.trades);
        }
      };
      let fed = 0;
      runSession(f, seed, N, (step, i) => {
        ms.apply(step.ev);
        rec.endCommand();
        for (; fed < rec.all.length; fed++) feed(rec.all[fed]!, i);
        observe(obs, step.ev, f);
        if (resnapshot) {
          if (!gappy.needsSnapshot || !gappy.applySnapshot(ms.l2('AAPL')!)) throw new Error('the gappy client did not recover');
          resnapshot = false;
        }
        // the late client's snapshot is taken 20 commands after it subscribed and arrives 10 later:
        // the updates buffered meanwhile are partly older than it (dropped), partly newer (applied)
        if (i === Math.floor(N / 3) + 20) lateSnapshot = ms.l2('AAPL')!;
        if (i === Math.floor(N / 3) + 30) {
          expect(lateBuffered).toBeGreaterThan(0);
          expect(late.applySnapshot(lateSnapshot!)).toBe(true);
          expect(late.seq, 'buffered updates newer than the snapshot applied').toBeGreaterThan(lateSnapshot!.seq);
          expect(late.seq).toBe(ms.seq('AAPL', 'l2'));
          expect({ bids: late.bids(), asks: late.asks() }).toEqual(f.e.bookL2('AAPL'));
        }
        if (i === Math.floor(N / 4)) for (const name of f.e.symbolNames()) {
          const c = new L3Client();
          c.load(ms.l3(name)!);
          l3Clients.set(name, c);
        }
        expectBooksEqual(ms, f.e, `after command ${i} (seed ${seed})`);
        for (const name of f.e.symbolNames()) expectL1Stats(ms, obs, name, `after command ${i} (seed ${seed})`);
      });

      // the clients
      const el2 = f.e.bookL2('AAPL')!;
      expect(late.needsSnapshot).toBe(false);
      expect({ bids: late.bids(), asks: late.asks() }, 'late-joining LocalBook').toEqual(el2);
      expect(dropped).toBe(true);
      expect(gappy.gaps, 'the missed update was detected').toBe(1);
      expect({ bids: gappy.bids(), asks: gappy.asks() }, 'LocalBook that missed an update').toEqual(el2);
      for (const [name, c] of l3Clients) {
        const el3 = f.e.bookL3(name)!;
        expect({ bids: c.bids, asks: c.asks }, `client L3 of ${name}`).toEqual({ bids: strip(el3.bids), asks: strip(el3.asks) });
      }

      // sequences: gap-free (checked by the recorder), every channel used, snapshots carry the last seq
      for (const name of f.e.symbolNames()) {
        for (const ch of CHANNELS) expect(ms.seq(name, ch), `seq of ${name} ${ch}`).toBe(rec.lastSeq.get(`${name}|${ch}`) ?? 0);
        expect(ms.l2(name)!.seq).toBe(ms.seq(name, 'l2'));
        expect(ms.l3(name)!.seq).toBe(ms.seq(name, 'l3'));
        expect(ms.l1(name)!.seq).toBe(ms.seq(name, 'l1'));
        expect(ms.trades(name)!.seq).toBe(ms.seq(name, 'trades'));
        expect(ms.candles(name, '1h')!.seq).toBe(ms.seq(name, 'candles:1h'));
      }
      for (const ch of CHANNELS) expect(rec.lastSeq.get(`AAPL|${ch}`) ?? 0, `AAPL ${ch} updates`).toBeGreaterThan(5);

      // trades and candles against the TRADE events
      let totalTrades = 0;
      for (const name of f.e.symbolNames()) {
        const trades = obs.trades.get(name) ?? [];
        totalTrades += trades.length;
        expect(tradesFromUpdates.get(name) ?? [], `trades updates of ${name}`).toEqual(trades);
        expect(ms.trades(name)!.trades, `trades snapshot of ${name}`).toEqual(trades.slice(-1000));
        expect(ms.trades(name, 7)!.trades).toEqual(trades.slice(-7));
        for (const res of RESOLUTIONS) {
          const want = recomputeCandles(trades, RESOLUTION_MS[res], obs.clockUs);
          expect(ms.candles(name, res)!.candles, `${res} candles of ${name}`).toEqual(want.slice(-1000));
          expect([...(fromUpdates.get(`${name}|${res}`)?.values() ?? [])], `${res} candles of ${name} from updates`).toEqual(want);
          expect(want.reduce((s, c) => s + c.v, 0)).toBe(trades.reduce((s, t) => s + t.qtyLots, 0));
          expect(want.reduce((s, c) => s + c.n, 0)).toBe(trades.length);
          if (want.length > 2) {
            const mid = want[Math.floor(want.length / 2)]!;
            expect(ms.candles(name, res, mid.t, mid.t)!.candles).toEqual([mid]);
          }
        }
        // L1's day statistics are the open 1d candle
        const l1 = ms.l1(name)!.l1;
        const day = recomputeCandles(trades, RESOLUTION_MS['1d'], obs.clockUs).filter((c) => !c.closed)[0];
        expect([l1.open, l1.high, l1.low, l1.volume]).toEqual(day === undefined ? [null, null, null, null] : [day.o, day.h, day.l, day.v]);
      }
      expect(totalTrades, 'the session trades').toBeGreaterThan(N / 6);
      // candles of every resolution closed, and more than one day
      expect(ms.candles('AAPL', '1d')!.candles.filter((c) => c.closed).length).toBeGreaterThan(0);
    });
  }

  it('a MarketState seeded from Engine.restore(snapshot) midway ends equal to the one fed from the start', () => {
    const f = sessionFixture();
    const a = marketStateFromEngine(f.e);
    let b: MarketState | null = null;
    const bUpdates: MdUpdate[] = [];
    runSession(f, 11, 2000, (step, i) => {
      a.apply(step.ev);
      if (b !== null) b.apply(step.ev);
      if (i === 1000) {
        b = marketStateFromEngine(Engine.restore(f.e.snapshot()), { sink: (u) => bUpdates.push(u) });
        expect(b.journalSeq).toBe(a.journalSeq);
        expectBooksEqual(b, f.e, 'right after seeding');
      }
    });
    expectBooksEqual(a, f.e, 'fed from the start');
    expectBooksEqual(b!, f.e, 'seeded midway');
    for (const name of f.e.symbolNames()) {
      expect(b!.l3(name)!.state).toBe(a.l3(name)!.state);
      expect(b!.l3(name)!.tradingDay).toBe(a.l3(name)!.tradingDay);
      expect(b!.l1(name)!.l1.lastPx).toBe(a.l1(name)!.l1.lastPx);
    }
    // the seeded one numbers its own updates from 1
    expect(bUpdates.find((u) => u.symbol === 'AAPL' && u.channel === 'l2')?.seq).toBe(1);
  });

  it('determinism: the same events give the same updates, twice, and through apply() and applyRecords() alike', () => {
    const run = () => {
      const f = sessionFixture();
      const decoded: MdUpdate[] = [];
      const raw: MdUpdate[] = [];
      const a = marketStateFromEngine(f.e, { sink: (u) => decoded.push(u) });
      const b = marketStateFromEngine(f.e, { sink: (u) => raw.push(u) });
      runSession(f, 7, 1500, (step) => {
        a.apply(step.ev);
        b.applyRecords(step.records, 0, step.records.length, step.strings);
      });
      expect(raw).toEqual(decoded);
      return decoded;
    };
    const first = run();
    const second = run();
    expect(first.length).toBeGreaterThan(1000);
    expect(second).toEqual(first);
  });

  it('several commands in one apply() give the same updates as one apply() per command', () => {
    const f = sessionFixture();
    const one: MdUpdate[] = [];
    const batched: MdUpdate[] = [];
    const a = marketStateFromEngine(f.e, { sink: (u) => one.push(u) });
    const b = marketStateFromEngine(f.e, { sink: (u) => batched.push(u) });
    let batch: DecodedEvent[] = [];
    runSession(f, 5, 800, (step, i) => {
      a.apply(step.ev);
      batch.push(...step.ev);
      if (i % 17 === 16) {
        b.apply(batch);
        batch = [];
      }
    });
    b.apply(batch);
    expect(batched).toEqual(one);
  });

  it('a command whose events come in several pieces (apply with more) gives the same updates as in one piece', () => {
    const f = sessionFixture();
    const one: MdUpdate[] = [];
    const pieces: MdUpdate[] = [];
    const a = marketStateFromEngine(f.e, { sink: (u) => one.push(u) });
    const b = marketStateFromEngine(f.e, { sink: (u) => pieces.push(u) });
    let split = 0;
    runSession(f, 6, 800, (step) => {
      a.apply(step.ev);
      if (step.ev.length > 3) split++;
      for (let k = 0; k < step.ev.length; k += 3) b.apply(step.ev.slice(k, k + 3), k + 3 < step.ev.length);
      if (step.ev.length === 0) b.apply([]);
    });
    expect(split).toBeGreaterThan(100);
    expect(pieces).toEqual(one);
  });
});
