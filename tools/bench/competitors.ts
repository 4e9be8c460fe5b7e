/**
 * Adapters that drive the same operation sequence through two open-source JavaScript order books.
 * Both are matching engines only (no accounts, funds, risk checks or event log), so the comparison
 * favours them.
 *
 * - nodejs-order-book 10.1.1 (`OrderBook`): `limit({ id, side, size, price })`, `market({ side,
 *   size })`, `cancel(id)`; ids are strings, prices numbers (ticks / 100, i.e. the decimal price).
 * - orderbook-match-engine 2.0.0: the synchronous `Orderbook` (the `Engine` wrapper only adds a
 *   Promise per call): `add(orderId, side, price, qty)`, `cancel(orderId)`; ids numbers, side
 *   0 = ASK / 1 = BID, arithmetic in its own Decimal type. It has no market order: a market order is
 *   sent as a limit at the generator's protection bound (4% through the best price), which fills
 *   completely by construction of the workload, so nothing rests (checked).
 *
 * Both are CommonJS packages, loaded with createRequire and typed here by the subset we use.
 */
import { createRequire } from 'node:module';
import { BUY, OpKind, type L2Level, type Workload } from './workload.js';

const require = createRequire(import.meta.url);

interface NobResult {
  err: { message: string } | null;
}
interface NobOrderBook {
  limit(o: { id: string; side: string; size: number; price: number }): NobResult;
  market(o: { side: string; size: number }): NobResult;
  cancel(id: string): unknown;
  depth(): [[number, number][], [number, number][]];
}
interface OmeOrder {
  leaveQuantity: { toString(): string };
}
interface OmeOrderbook {
  add(orderId: number, side: number, price: number, qty: number): { order: OmeOrder; trades: unknown[] };
  cancel(orderId: number): unknown;
  getOrderbook(): { asks: { price: string; quantity: string }[]; bids: { price: string; quantity: string }[] };
}

export interface Competitor {
  name: string;
  version: string;
  /** Fresh book; returns a function that applies ops [from, to) and returns elapsed ms. */
  create(w: Workload, prices: Float64Array, ids: string[]): CompetitorRun;
}

export interface CompetitorRun {
  apply(from: number, to: number): number;
  errors: number;
  /** top levels [price in ticks, qty, -1 (order count unknown)] for a cross-check with the shadow */
  top(depth: number): { bids: L2Level[]; asks: L2Level[] };
}

function pkgVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return '?';
  }
}

export const nodejsOrderBook: Competitor = {
  name: 'nodejs-order-book',
  version: pkgVersion('nodejs-order-book'),
  create(w, prices, ids) {
    const { OrderBook } = require('nodejs-order-book') as { OrderBook: new () => NobOrderBook };
    const ob = new OrderBook();
    const { kind, side, qty, ref } = w;
    const run: CompetitorRun = {
      errors: 0,
      apply(from, to) {
        const t0 = performance.now();
        let errors = 0;
        for (let i = from; i < to; i++) {
          const k = kind[i]!;
          const sd = side[i] === BUY ? 'buy' : 'sell';
          if (k === OpKind.CANCEL) {
            if (ob.cancel(ids[ref[i]!]!) === undefined) errors++;
          } else if (k === OpKind.MARKET) {
            if (ob.market({ side: sd, size: qty[i]! }).err !== null) errors++;
          } else {
            if (ob.limit({ id: ids[ref[i]!]!, side: sd, size: qty[i]!, price: prices[i]! }).err !== null) errors++;
          }
        }
        const ms = performance.now() - t0;
        run.errors += errors;
        return ms;
      },
      top(depth) {
        const [asks, bids] = ob.depth();
        const conv = (ls: [number, number][]): L2Level[] => ls.map(([p, q]) => [Math.round(p * 100), q, -1]);
        // depth(): asks in ascending price order as returned by its price tree; bids likewise ascending
        const a = conv(asks).sort((x, y) => x[0] - y[0]).slice(0, depth);
        const b = conv(bids).sort((x, y) => y[0] - x[0]).slice(0, depth);
        return { bids: b, asks: a };
      },
    };
    return run;
  },
};

export const orderbookMatchEngine: Competitor = {
  name: 'orderbook-match-engine',
  version: pkgVersion('orderbook-match-engine'),
  create(w, prices) {
    const { Orderbook } = require('orderbook-match-engine') as { Orderbook: new (o?: { limit?: number }) => OmeOrderbook };
    const ob = new Orderbook({ limit: 1_000_000_000 });
    const { kind, side, qty, ref } = w;
    const run: CompetitorRun = {
      errors: 0,
      apply(from, to) {
        const t0 = performance.now();
        let errors = 0;
        for (let i = from; i < to; i++) {
          const k = kind[i]!;
          const sd = side[i] === BUY ? 1 : 0;
          try {
            if (k === OpKind.CANCEL) {
              ob.cancel(ref[i]! + 1);
            } else {
              const res = ob.add(ref[i]! + 1, sd, prices[i]!, qty[i]!);
              // a market order sent as a limit at the protection bound must not rest
              if (k === OpKind.MARKET && res.order.leaveQuantity.toString() !== '0') {
                errors++;
                ob.cancel(ref[i]! + 1);
              }
            }
          } catch {
            errors++;
          }
        }
        const ms = performance.now() - t0;
        run.errors += errors;
        return ms;
      },
      top(depth) {
        const { asks, bids } = ob.getOrderbook();
        const conv = (ls: { price: string; quantity: string }[]): L2Level[] =>
          ls.slice(0, depth).map((l) => [Math.round(Number(l.price) * 100), Number(l.quantity), -1]);
        return { bids: conv(bids), asks: conv(asks) };
      },
    };
    return run;
  },
};

export const COMPETITORS: Competitor[] = [nodejsOrderBook, orderbookMatchEngine];

/** Decimal prices (ticks / 100) and string ids, built before timing. */
export function competitorInputs(w: Workload): { prices: Float64Array; ids: string[] } {
  const prices = new Float64Array(w.n);
  for (let i = 0; i < w.n; i++) prices[i] = w.price[i]! / 100;
  const ids = new Array<string>(w.orders);
  for (let g = 0; g < w.orders; g++) ids[g] = `o${g + 1}`;
  return { prices, ids };
}
