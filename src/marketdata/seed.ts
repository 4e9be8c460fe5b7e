/**
 * Seeding after a restart: the market-data worker starts from an engine restored from a snapshot
 * (plus the journal after it), not from the first event, so it takes the engine's symbols, trading
 * states, last prices and books (bookL3, priority order) as its starting point and then follows
 * the events of the commands after `engine.lastSeq`.
 *
 * What a seed cannot restore, because the engine does not keep it: recent trades and candles start
 * empty (the report database has the history), L1 lastQty is null until the next trade (lastPx is
 * the engine's last price), and every channel's seq starts at 0 again: clients reconnecting to a
 * restarted worker take new snapshots, which the seq rules make them do anyway.
 */
import type { Engine } from '../engine/engine.js';
import { MarketState, type MarketSeed, type MarketStateOptions } from './marketState.js';

/** The engine's market-data view as plain data (safe to post to another thread). */
export function seedFromEngine(engine: Engine): MarketSeed {
  const symbols: MarketSeed['symbols'] = [];
  for (const name of engine.symbolNames()) {
    const v = engine.symbol(name)!;
    const book = engine.bookL3(name)!;
    const strip = (xs: { orderId: number; priceTicks: number; qtyLots: number }[]) => xs.map((o) => ({ orderId: o.orderId, priceTicks: o.priceTicks, qtyLots: o.qtyLots }));
    symbols.push({ idx: v.idx, name, state: v.state, tradingDay: v.tradingDay, lastPxTicks: v.lastPxTicks, bids: strip(book.bids), asks: strip(book.asks) });
  }
  return { journalSeq: engine.lastSeq, clockUs: engine.nowUs, symbols };
}

/** A MarketState equal (books, symbols) to the engine's state now. */
export function marketStateFromEngine(engine: Engine, opts: MarketStateOptions = {}): MarketState {
  return MarketState.seeded(seedFromEngine(engine), opts);
}
