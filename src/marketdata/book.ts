/**
 * One symbol's order book as the market-data worker sees it, rebuilt from the engine's book events
 * alone (bookAdd / bookExecute / bookCancel / bookDelete / bookReplace), plus the record of which
 * L2 levels the current command touched (for coalesced L2 updates).
 *
 * Priority mirrors the engine (docs/engine.md "Replace", engine.ts replaceOrder):
 * - bookAdd appends the order at the back of its level;
 * - bookExecute and bookCancel shrink an order in place (keeps its place; remaining 0 = it is gone:
 *   the engine sends no bookDelete after a full fill);
 * - bookReplace always moves the order to the back of its new level, even at the same price (the
 *   engine emits it for a price change or a quantity increase; a pure decrease is a bookCancel);
 * - a replace that crosses arrives as bookDelete then the events of an incoming order.
 *
 * Structure: per side a Map price -> level and a SortedPrices (best at the end, no re-sort), per
 * level an insertion-ordered Map orderId -> order, whose delete + set is exactly "to the back of
 * the queue". Everything per event is O(1) except the birth or death of a level (a short
 * copyWithin near the touch). Every event is checked against the book (order present, side,
 * price and remaining quantity agree): a mismatch means the stream and this book diverged, and
 * throws MarketDataDesyncError so the owner rebuilds from an engine snapshot instead of serving
 * a wrong book.
 */
import { SortedPrices } from './sortedPrices.js';
import type { L2Level, L3Entry } from './types.js';

export const BUY = 1;
export const SELL = 2;

export class MarketDataDesyncError extends Error {
  override name = 'MarketDataDesyncError';
}

export interface MdOrder {
  orderId: number;
  side: number;
  priceTicks: number;
  qtyLots: number;
}

export interface MdLevel {
  priceTicks: number;
  qtyLots: number;
  count: number;
  /** insertion order = time priority */
  orders: Map<number, MdOrder>;
}

const bestBidFirst = (a: L2Level, b: L2Level) => b[0] - a[0];
const bestAskFirst = (a: L2Level, b: L2Level) => a[0] - b[0];

export class MdBookSide {
  readonly levels = new Map<number, MdLevel>();
  readonly prices: SortedPrices;
  /** price -> [qty, count] of the level before the current command first touched it */
  readonly touched = new Map<number, [number, number]>();

  constructor(readonly isBid: boolean) {
    this.prices = new SortedPrices(isBid);
  }

  /** The level at a price for a change, remembering its state before the command's first change. */
  levelFor(priceTicks: number, create: boolean): MdLevel | undefined {
    let l = this.levels.get(priceTicks);
    if (!this.touched.has(priceTicks)) this.touched.set(priceTicks, l === undefined ? [0, 0] : [l.qtyLots, l.count]);
    if (l === undefined && create) {
      l = { priceTicks, qtyLots: 0, count: 0, orders: new Map() };
      this.levels.set(priceTicks, l);
      this.prices.insert(priceTicks);
    }
    return l;
  }

  dropIfEmpty(l: MdLevel): void {
    if (l.count !== 0) return;
    this.levels.delete(l.priceTicks);
    this.prices.remove(l.priceTicks);
  }

  best(): MdLevel | undefined {
    return this.prices.n === 0 ? undefined : this.levels.get(this.prices.priceAt(0));
  }

  /** [price, qty, count] best first, at most depth levels */
  l2(depth: number): L2Level[] {
    const out: L2Level[] = [];
    const n = Math.min(depth, this.prices.n);
    for (let i = 0; i < n; i++) {
      const l = this.levels.get(this.prices.priceAt(i))!;
      out.push([l.priceTicks, l.qtyLots, l.count]);
    }
    return out;
  }

  /** every order in priority order */
  l3(): L3Entry[] {
    const out: L3Entry[] = [];
    for (let i = 0; i < this.prices.n; i++)
      for (const o of this.levels.get(this.prices.priceAt(i))!.orders.values()) out.push({ orderId: o.orderId, priceTicks: o.priceTicks, qtyLots: o.qtyLots });
    return out;
  }

  /** The touched levels whose qty or count differ from before the command, best first; forgets the touches. */
  drainChanges(): L2Level[] {
    const out: L2Level[] = [];
    if (this.touched.size === 0) return out;
    for (const [px, [qty0, count0]] of this.touched) {
      const l = this.levels.get(px);
      const qty = l === undefined ? 0 : l.qtyLots;
      const count = l === undefined ? 0 : l.count;
      if (qty !== qty0 || count !== count0) out.push([px, qty, count]);
    }
    this.touched.clear();
    if (out.length > 1) out.sort(this.isBid ? bestBidFirst : bestAskFirst);
    return out;
  }
}

export class MdBook {
  readonly bids = new MdBookSide(true);
  readonly asks = new MdBookSide(false);
  readonly orders = new Map<number, MdOrder>();

  constructor(readonly symbol: string) {}

  side(side: number): MdBookSide {
    if (side === BUY) return this.bids;
    if (side === SELL) return this.asks;
    throw new MarketDataDesyncError(`${this.symbol}: bad side ${side}`);
  }

  add(orderId: number, side: number, priceTicks: number, qtyLots: number): void {
    if (this.orders.has(orderId)) throw new MarketDataDesyncError(`${this.symbol}: bookAdd of order ${orderId}, already on the book`);
    if (!(qtyLots > 0)) throw new MarketDataDesyncError(`${this.symbol}: bookAdd of order ${orderId} with qty ${qtyLots}`);
    const o: MdOrder = { orderId, side, priceTicks, qtyLots };
    this.append(this.side(side), o);
    this.orders.set(orderId, o);
  }

  /** bookExecute / bookCancel: the order shrinks by d in place; remaining 0 removes it. */
  reduce(what: string, orderId: number, side: number, priceTicks: number, d: number, remainingLots: number): void {
    const o = this.find(what, orderId, side, priceTicks);
    if (!(d > 0) || o.qtyLots - d !== remainingLots)
      throw new MarketDataDesyncError(`${this.symbol}: ${what} of order ${orderId} by ${d} to ${remainingLots}, book has ${o.qtyLots}`);
    const bs = this.side(side);
    const l = bs.levelFor(priceTicks, false)!;
    l.qtyLots -= d;
    o.qtyLots = remainingLots;
    if (remainingLots === 0) {
      l.orders.delete(orderId);
      l.count--;
      this.orders.delete(orderId);
      bs.dropIfEmpty(l);
    }
  }

  delete(orderId: number, side: number, priceTicks: number, qtyLots: number): void {
    const o = this.find('bookDelete', orderId, side, priceTicks);
    if (o.qtyLots !== qtyLots) throw new MarketDataDesyncError(`${this.symbol}: bookDelete of order ${orderId} with ${qtyLots}, book has ${o.qtyLots}`);
    this.unlink(this.side(side), o);
    this.orders.delete(orderId);
  }

  replace(orderId: number, side: number, oldPriceTicks: number, oldQtyLots: number, newPriceTicks: number, newQtyLots: number): void {
    const o = this.find('bookReplace', orderId, side, oldPriceTicks);
    if (o.qtyLots !== oldQtyLots || !(newQtyLots > 0))
      throw new MarketDataDesyncError(`${this.symbol}: bookReplace of order ${orderId} from ${oldQtyLots} to ${newQtyLots}, book has ${o.qtyLots}`);
    const bs = this.side(side);
    this.unlink(bs, o);
    o.priceTicks = newPriceTicks;
    o.qtyLots = newQtyLots;
    this.append(bs, o);
  }

  bestBid(): MdLevel | undefined {
    return this.bids.best();
  }

  bestAsk(): MdLevel | undefined {
    return this.asks.best();
  }

  /** Empties the book (a reseed). */
  clear(): void {
    for (const bs of [this.bids, this.asks]) {
      bs.levels.clear();
      bs.prices.clear();
      bs.touched.clear();
    }
    this.orders.clear();
  }

  private find(what: string, orderId: number, side: number, priceTicks: number): MdOrder {
    const o = this.orders.get(orderId);
    if (o === undefined) throw new MarketDataDesyncError(`${this.symbol}: ${what} of order ${orderId}, not on the book`);
    if (o.side !== side || o.priceTicks !== priceTicks)
      throw new MarketDataDesyncError(`${this.symbol}: ${what} of order ${orderId} side ${side} @ ${priceTicks}, book has side ${o.side} @ ${o.priceTicks}`);
    return o;
  }

  private append(bs: MdBookSide, o: MdOrder): void {
    const l = bs.levelFor(o.priceTicks, true)!;
    l.orders.set(o.orderId, o);
    l.qtyLots += o.qtyLots;
    l.count++;
  }

  private unlink(bs: MdBookSide, o: MdOrder): void {
    const l = bs.levelFor(o.priceTicks, false)!;
    l.orders.delete(o.orderId);
    l.qtyLots -= o.qtyLots;
    l.count--;
    bs.dropIfEmpty(l);
  }
}
