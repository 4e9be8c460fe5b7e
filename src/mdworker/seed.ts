/**
 * Where the market-data worker starts: the market state as of a journal seq, rebuilt from the
 * data directory alone (the newest snapshot at or before it, then the journal records after the
 * snapshot up to it), the same way recovery builds the engine. The worker needs it at start-up
 * (the event ring begins after the sequencer's recovered seq) and after falling a whole event ring
 * behind (the frames it lost are in the journal). The records replayed after the snapshot feed the
 * market state too, so their trades and candles are there; older history is not (docs/market-data.md).
 *
 * Runs while the exchange is live: the journal is read without repairing anything (the writer owns
 * the tail), and records past `toSeq` are ignored.
 */
import type { EngineOptions } from '../engine/engine.js';
import { MarketState, type MarketStateOptions } from '../marketdata/marketState.js';
import { seedFromEngine } from '../marketdata/seed.js';
import { replayJournal } from '../sequencer/recovery.js';
import type { SymbolConfig } from '../engine/commands.js';

export interface Seeded {
  state: MarketState;
  /** every symbol's configuration at `toSeq` (tick and lot sizes for formatting), by idx */
  configs: SymbolConfig[];
  snapshotSeq: number;
  replayed: number;
  ms: number;
}

export function seedMarketState(dataDir: string, toSeq: number, engineOptions: EngineOptions, opts: MarketStateOptions, log: (line: string) => void): Seeded {
  const t0 = performance.now();
  // seeded quietly: what it replays is history, not news for subscribers
  const sink = opts.sink;
  const seeded: { state?: MarketState } = {};
  const r = replayJournal(dataDir, {
    snapshotAtOrBefore: toSeq,
    toSeq,
    engine: engineOptions,
    log,
    onStart: (e) => (seeded.state = MarketState.seeded(seedFromEngine(e), { ...opts, sink: () => {} })),
    onEvents: (_seq, events) => seeded.state!.applyRecords(events.buf, 0, events.len, events.strings),
  });
  const state = seeded.state!;
  if (r.undecodable > 0) throw new Error(`market data: ${r.undecodable} journal records do not decode`);
  const { engine, snapshotSeq, applied: replayed } = r;
  if (engine.lastSeq !== toSeq) throw new Error(`market data: the journal ends at seq ${engine.lastSeq}, before ${toSeq}`);
  state.setSink(sink);
  const configs: SymbolConfig[] = [];
  for (const name of engine.symbolNames()) {
    const v = engine.symbol(name)!;
    configs[v.idx] = v.config;
  }
  return { state, configs, snapshotSeq, replayed, ms: performance.now() - t0 };
}
