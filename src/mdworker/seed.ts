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
import { Engine, type EngineOptions } from '../engine/engine.js';
import { recoverJournal } from '../journal/journal.js';
import { MarketState, type MarketStateOptions } from '../marketdata/marketState.js';
import { seedFromEngine } from '../marketdata/seed.js';
import { decodeCommand } from '../sequencer/codec.js';
import { restoreNewestSnapshot } from '../sequencer/recovery.js';
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
  const start = restoreNewestSnapshot(dataDir, toSeq, engineOptions, log);
  const engine = start?.engine ?? new Engine(engineOptions);
  const snapshotSeq = start?.snapshot.seq ?? 0;
  // seeded quietly: what it replays is history, not news for subscribers
  const sink = opts.sink;
  const state = MarketState.seeded(seedFromEngine(engine), { ...opts, sink: () => {} });
  let replayed = 0;
  if (toSeq > snapshotSeq) {
    recoverJournal(
      dataDir,
      false,
      (seq, tsUs, type, bytes, from, to) => {
        if (seq <= snapshotSeq || seq > toSeq) return;
        const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
        if (cmd === null) throw new Error(`journal record seq ${seq} (type ${type}) does not decode`);
        engine.events.clear();
        engine.apply(cmd);
        state.applyRecords(engine.events.buf, 0, engine.events.len, engine.events.strings);
        replayed++;
      },
      { afterSeq: snapshotSeq },
    );
  }
  if (engine.lastSeq !== toSeq) throw new Error(`market data: the journal ends at seq ${engine.lastSeq}, before ${toSeq}`);
  state.setSink(sink);
  const configs: SymbolConfig[] = [];
  for (const name of engine.symbolNames()) {
    const v = engine.symbol(name)!;
    configs[v.idx] = v.config;
  }
  return { state, configs, snapshotSeq, replayed, ms: performance.now() - t0 };
}
