/**
 * Seeded workload generator for the engine benchmark.
 *
 * The generator runs a small "shadow" order book (price-time priority, trades at the maker's
 * price) so it knows, for every operation, exactly which orders are resting. That lets it:
 *  - cancel only orders that are really live (picked uniformly from the live set of the symbol);
 *  - size market orders so they fill completely inside the engine's market-protection band (so
 *    every engine, ours and the competitors', sees the same fills and the same book afterwards);
 *  - pick, for every order that will trade, an account that owns none of the makers it would
 *    hit, so self-trade prevention never fires and the outcome is engine-independent;
 *  - keep the book at a steady size: the size of market / crossing orders follows the number of
 *    live "active" orders of the symbol (a proportional controller), so the op mix stays exact.
 *
 * The output is a set of flat typed arrays (one entry per operation); nothing here is timed.
 * No Math.random: the PRNG is mulberry32, so a seed gives the same operations on every machine.
 */

export const enum OpKind {
  /** limit GTC that rests (does not cross) */
  LIMIT = 0,
  /** cancel of a live order (`ref` = the generator's index of the target order) */
  CANCEL = 1,
  /** market IOC, sized to fill completely inside the protection band */
  MARKET = 2,
  /** limit GTC priced through the best opposite price: trades, the remainder rests */
  CROSS = 3,
  /** resting limit of the deep-book pre-fill phase */
  PREFILL = 4,
}
export const OP_KIND_NAMES = ['limit', 'cancel', 'market', 'cross', 'prefill'] as const;

export const BUY = 1;
export const SELL = 2;

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorkloadSpec {
  name: string;
  seed: number;
  symbols: number;
  /** total accounts; symbol s is traded by accounts s+1, s+1+S, s+1+2S, ... (accounts / symbols each) */
  accounts: number;
  /** resting orders placed first (deep book), spread over `prefillWidthTicks` on each side */
  prefill: number;
  /** operations after the pre-fill that are applied but not measured (JIT warm-up, book build-up) */
  warmup: number;
  /** measured operations */
  ops: number;
  /** steady-state number of live orders per symbol placed by the mixed phase */
  activeTargetPerSymbol: number;
  midTicks: number;
  prefillWidthTicks: number;
  /** mix, cumulative thresholds are derived: limit / cancel / market / cross (sum 1) */
  mix: { limit: number; cancel: number; market: number; cross: number };
  /** mean size (lots) of a resting order */
  restMeanLots: number;
}

export const DEFAULT_MIX = { limit: 0.6, cancel: 0.25, market: 0.1, cross: 0.05 };

/** One price level in the shadow's final state, for cross-checking engines: [priceTicks, qtyLots, orders]. */
export type L2Level = [number, number, number];

export interface Workload {
  spec: WorkloadSpec;
  /** total operations: prefill + warmup + ops */
  n: number;
  /** index of the first warm-up op (= prefill count) */
  warmupFrom: number;
  /** index of the first measured op */
  measuredFrom: number;
  kind: Uint8Array;
  sym: Uint16Array;
  /** account of the order (for a cancel: the owner of the target order) */
  acct: Int32Array;
  side: Uint8Array;
  /** limit price in ticks; for a market order the protection bound used by the generator */
  price: Int32Array;
  qty: Int32Array;
  /** new orders: the generator's order index g (0, 1, 2, ... in submission order); cancels: the target's g */
  ref: Int32Array;
  /** number of new orders (g values) */
  orders: number;
  /** op counts by kind in the measured window */
  measuredCounts: number[];
  /** live orders per symbol at the end, and top levels of a few symbols */
  liveAtEnd: number;
  liveAtMeasuredStart: number;
  finalTop: Map<number, { bids: L2Level[]; asks: L2Level[] }>;
  /** how often an order's account had to be re-drawn to avoid a self-trade */
  stpAvoided: number;
  /** market / cross orders turned into resting limits because the opposite side was empty */
  converted: number;
  genMs: number;
}

class Level {
  q: number[] = [];
  head = 0;
  total = 0;
}

class SideBook {
  levels = new Map<number, Level>();
  best = 0;
  count = 0;
  constructor(readonly isBid: boolean) {}
}

/** Growable int set with O(1) add / remove / random pick. */
class LiveSet {
  items: number[] = [];
  add(g: number, pos: Int32Array): void {
    pos[g] = this.items.length;
    this.items.push(g);
  }
  remove(g: number, pos: Int32Array): void {
    const i = pos[g]!;
    const last = this.items.pop()!;
    if (last !== g) {
      this.items[i] = last;
      pos[last] = i;
    }
    pos[g] = -1;
  }
  get size(): number {
    return this.items.length;
  }
}

export function generateWorkload(spec: WorkloadSpec, topSymbols = 3): Workload {
  const t0 = performance.now();
  const S = spec.symbols;
  if (spec.accounts % S !== 0) throw new Error('accounts must be a multiple of symbols');
  const perSym = spec.accounts / S;
  const n = spec.prefill + spec.warmup + spec.ops;
  const rnd = mulberry32(spec.seed);
  const ri = (k: number) => Math.floor(rnd() * k);

  const kind = new Uint8Array(n);
  const sym = new Uint16Array(n);
  const acct = new Int32Array(n);
  const side = new Uint8Array(n);
  const price = new Int32Array(n);
  const qty = new Int32Array(n);
  const ref = new Int32Array(n);

  // orders (indexed by g)
  const oLeaves = new Int32Array(n);
  const oAcct = new Int32Array(n);
  const oPrice = new Int32Array(n);
  const oSide = new Uint8Array(n);
  const oSet = new Uint8Array(n); // 0 prefill, 1 active
  const oPos = new Int32Array(n).fill(-1);
  let g = 0;

  const bids: SideBook[] = [];
  const asks: SideBook[] = [];
  const preSet: LiveSet[] = [];
  const actSet: LiveSet[] = [];
  const mid = new Int32Array(S).fill(spec.midTicks);
  for (let s = 0; s < S; s++) {
    bids.push(new SideBook(true));
    asks.push(new SideBook(false));
    preSet.push(new LiveSet());
    actSet.push(new LiveSet());
  }

  const pickAccount = (s: number) => s + 1 + S * ri(perSym);

  const addLevelOrder = (b: SideBook, p: number, o: number) => {
    let lv = b.levels.get(p);
    if (lv === undefined) {
      lv = new Level();
      b.levels.set(p, lv);
      if (b.count === 0 || (b.isBid ? p > b.best : p < b.best)) b.best = p;
      b.count++;
    }
    lv.q.push(o);
    lv.total += oLeaves[o]!;
  };

  const dropLevel = (b: SideBook, p: number) => {
    b.levels.delete(p);
    b.count--;
    if (p !== b.best) return;
    if (b.count === 0) {
      b.best = 0;
      return;
    }
    let q = p;
    if (b.isBid) while (!b.levels.has(--q));
    else while (!b.levels.has(++q));
    b.best = q;
  };

  const unlive = (s: number, o: number) => {
    (oSet[o] === 0 ? preSet[s]! : actSet[s]!).remove(o, oPos);
  };

  const rest = (s: number, o: number, set: 0 | 1) => {
    oSet[o] = set;
    (set === 0 ? preSet[s]! : actSet[s]!).add(o, oPos);
    addLevelOrder(oSide[o] === BUY ? bids[s]! : asks[s]!, oPrice[o]!, o);
  };

  const cancel = (s: number, o: number) => {
    const b = oSide[o] === BUY ? bids[s]! : asks[s]!;
    const p = oPrice[o]!;
    const lv = b.levels.get(p)!;
    lv.total -= oLeaves[o]!;
    oLeaves[o] = 0;
    unlive(s, o);
    if (lv.total === 0) dropLevel(b, p);
  };

  const crosses = (takerSide: number, limit: number, best: number) => (takerSide === BUY ? best <= limit : best >= limit);

  /**
   * Walks the opposite side without changing it: returns the quantity available up to `limit`
   * (capped at `want`) and fills `makers` with the accounts of every maker the order would touch.
   */
  const makers: number[] = [];
  const dryWalk = (s: number, takerSide: number, limit: number, want: number): number => {
    makers.length = 0;
    const b = takerSide === BUY ? asks[s]! : bids[s]!;
    if (b.count === 0) return 0;
    let cum = 0;
    let p = b.best;
    let seen = 0;
    while (cum < want && seen < b.count && crosses(takerSide, limit, p)) {
      const lv = b.levels.get(p);
      if (lv !== undefined) {
        seen++;
        for (let i = lv.head; i < lv.q.length && cum < want; i++) {
          const m = lv.q[i]!;
          const l = oLeaves[m]!;
          if (l === 0) continue;
          cum += l;
          makers.push(oAcct[m]!);
        }
      }
      p += b.isBid ? -1 : 1;
    }
    return Math.min(cum, want);
  };

  /** Matches order o (already described in o* arrays) against the book; returns its leaves. */
  const match = (s: number, o: number, limit: number): number => {
    const takerSide = oSide[o]!;
    const b = takerSide === BUY ? asks[s]! : bids[s]!;
    let left = oLeaves[o]!;
    while (left > 0 && b.count > 0 && crosses(takerSide, limit, b.best)) {
      const p = b.best;
      const lv = b.levels.get(p)!;
      while (left > 0 && lv.head < lv.q.length) {
        const m = lv.q[lv.head]!;
        const l = oLeaves[m]!;
        if (l === 0) {
          lv.head++;
          continue;
        }
        const f = l < left ? l : left;
        oLeaves[m] = l - f;
        lv.total -= f;
        left -= f;
        if (l === f) {
          lv.head++;
          unlive(s, m);
        }
      }
      if (lv.head > 1024 && lv.head * 2 > lv.q.length) {
        lv.q = lv.q.slice(lv.head);
        lv.head = 0;
      }
      if (lv.total === 0) dropLevel(b, p);
    }
    oLeaves[o] = left;
    return left;
  };

  /** Draws an account for symbol s that owns none of `makers` (few tries; counts re-draws). */
  let stpAvoided = 0;
  const accountAvoiding = (s: number): number => {
    let a = pickAccount(s);
    for (let tries = 0; tries < 64 && makers.includes(a); tries++) {
      stpAvoided++;
      a = pickAccount(s);
    }
    if (makers.includes(a)) throw new Error('workload: could not find an account free of self-trades');
    return a;
  };

  const newOrder = (i: number, k: OpKind, s: number, a: number, sd: number, p: number, q: number): number => {
    const o = g++;
    kind[i] = k;
    sym[i] = s;
    acct[i] = a;
    side[i] = sd;
    price[i] = p;
    qty[i] = q;
    ref[i] = o;
    oAcct[o] = a;
    oSide[o] = sd;
    oPrice[o] = p;
    oLeaves[o] = q;
    return o;
  };

  const restLots = () => 1 + ri(2 * spec.restMeanLots - 1);
  // prices of the resting (non-crossing) limits: mostly close to the touch
  const restPrice = (s: number, sd: number) => {
    const r = rnd();
    const d = 1 + Math.floor(r * r * 40);
    if (sd === BUY) {
      let p = mid[s]! - d;
      const a = asks[s]!;
      if (a.count > 0 && p >= a.best) p = a.best - 1 - ri(3);
      return Math.max(1, p);
    }
    let p = mid[s]! + d;
    const b = bids[s]!;
    if (b.count > 0 && p <= b.best) p = b.best + 1 + ri(3);
    return p;
  };

  const placeRestingLimit = (i: number, s: number) => {
    const sd = rnd() < 0.5 ? BUY : SELL;
    const p = restPrice(s, sd);
    const o = newOrder(i, OpKind.LIMIT, s, pickAccount(s), sd, p, restLots());
    rest(s, o, 1);
  };

  let converted = 0;
  const { limit: mLimit, cancel: mCancel, market: mMarket } = spec.mix;
  const cLimit = mLimit;
  const cCancel = cLimit + mCancel;
  const cMarket = cCancel + mMarket;
  let liveAtMeasuredStart = 0;
  const countLive = () => {
    let t = 0;
    for (let s = 0; s < S; s++) t += preSet[s]!.size + actSet[s]!.size;
    return t;
  };

  for (let i = 0; i < n; i++) {
    if (i === spec.prefill + spec.warmup) liveAtMeasuredStart = countLive();
    if (i < spec.prefill) {
      const s = i % S;
      const sd = Math.floor(i / S) % 2 === 0 ? BUY : SELL;
      const off = 1 + ri(spec.prefillWidthTicks);
      const p = sd === BUY ? Math.max(1, spec.midTicks - off) : spec.midTicks + off;
      const o = newOrder(i, OpKind.PREFILL, s, pickAccount(s), sd, p, restLots());
      rest(s, o, 0);
      continue;
    }
    const s = S === 1 ? 0 : ri(S);
    // slow, mean-reverting random walk of the mid
    if (rnd() < 0.02) {
      const pUp = Math.min(0.9, Math.max(0.1, 0.5 + (spec.midTicks - mid[s]!) / 400));
      mid[s] = mid[s]! + (rnd() < pUp ? 1 : -1);
    }
    const r = rnd();
    if (r < cLimit) {
      placeRestingLimit(i, s);
    } else if (r < cCancel) {
      const pre = preSet[s]!;
      const act = actSet[s]!;
      const live = pre.size + act.size;
      if (live === 0) {
        placeRestingLimit(i, s);
        continue;
      }
      const j = ri(live);
      const o = j < pre.size ? pre.items[j]! : act.items[j - pre.size]!;
      kind[i] = OpKind.CANCEL;
      sym[i] = s;
      acct[i] = oAcct[o]!;
      side[i] = oSide[o]!;
      price[i] = oPrice[o]!;
      qty[i] = oLeaves[o]!;
      ref[i] = o;
      cancel(s, o);
    } else {
      // market or crossing limit, sized by the controller
      const isMarket = r < cMarket;
      const sd = rnd() < 0.5 ? BUY : SELL;
      const opp = sd === BUY ? asks[s]! : bids[s]!;
      if (opp.count === 0) {
        converted++;
        placeRestingLimit(i, s);
        continue;
      }
      const act = actSet[s]!.size;
      const f = Math.min(10, Math.max(0.3, (3 * act) / spec.activeTargetPerSymbol));
      const want = Math.max(1, Math.round(spec.restMeanLots * f * (0.5 + rnd())));
      let limit: number;
      if (isMarket) {
        // stay well inside the engine's 5% protection band: 4% of the best opposite price
        const band = Math.floor((opp.best * 4) / 100);
        limit = sd === BUY ? opp.best + band : Math.max(1, opp.best - band);
      } else {
        const j = ri(3);
        limit = sd === BUY ? opp.best + j : Math.max(1, opp.best - j);
      }
      const avail = dryWalk(s, sd, limit, want);
      const q = isMarket ? avail : want;
      if (q === 0) {
        converted++;
        placeRestingLimit(i, s);
        continue;
      }
      const a = accountAvoiding(s);
      const o = newOrder(i, isMarket ? OpKind.MARKET : OpKind.CROSS, s, a, sd, limit, q);
      const left = match(s, o, limit);
      if (isMarket) {
        if (left !== 0) throw new Error('workload: market order not filled');
      } else if (left > 0) {
        rest(s, o, 1);
      }
    }
  }

  const measuredCounts = [0, 0, 0, 0, 0];
  for (let i = spec.prefill + spec.warmup; i < n; i++) measuredCounts[kind[i]!]!++;

  const finalTop = new Map<number, { bids: L2Level[]; asks: L2Level[] }>();
  const topOf = (b: SideBook, depth: number): L2Level[] => {
    const out: L2Level[] = [];
    let p = b.best;
    let seen = 0;
    while (out.length < depth && seen < b.count) {
      const lv = b.levels.get(p);
      if (lv !== undefined) {
        seen++;
        let cnt = 0;
        for (let i = lv.head; i < lv.q.length; i++) if (oLeaves[lv.q[i]!]! > 0) cnt++;
        out.push([p, lv.total, cnt]);
      }
      p += b.isBid ? -1 : 1;
    }
    return out;
  };
  for (let k = 0; k < Math.min(S, topSymbols); k++) {
    const s = Math.floor((k * S) / Math.min(S, topSymbols));
    finalTop.set(s, { bids: topOf(bids[s]!, 5), asks: topOf(asks[s]!, 5) });
  }

  return {
    spec,
    n,
    warmupFrom: spec.prefill,
    measuredFrom: spec.prefill + spec.warmup,
    kind,
    sym,
    acct,
    side,
    price,
    qty,
    ref,
    orders: g,
    measuredCounts,
    liveAtEnd: countLive(),
    liveAtMeasuredStart,
    finalTop,
    stpAvoided,
    converted,
    genMs: performance.now() - t0,
  };
}

/** A 16-20 character clOrdId for order g, as a flat string (as a network parser would produce). */
const idBuf = Buffer.alloc(32);
export function clOrdIdFor(g: number, acct: number): string {
  // "c" + account (base 36, padded to 4) + "-" + order (base 36, padded to 10) + "x" => 17 chars
  let len = 0;
  idBuf[len++] = 0x63; // 'c'
  len = writeBase36(acct, 4, len);
  idBuf[len++] = 0x2d; // '-'
  len = writeBase36(g, 10, len);
  idBuf[len++] = 0x78; // 'x'
  return idBuf.toString('latin1', 0, len);
}

function writeBase36(v: number, width: number, at: number): number {
  for (let k = width - 1; k >= 0; k--) {
    const d = v % 36;
    idBuf[at + k] = d < 10 ? 0x30 + d : 0x61 + d - 10;
    v = Math.floor(v / 36);
  }
  return at + width;
}
