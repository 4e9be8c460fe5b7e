/**
 * Memory per resting order: a fresh engine with its accounts funded, then N resting limit orders
 * (no crossing, spread over a wide range of prices on both sides), each with a 17-character
 * clOrdId made while inserting (flat strings, as a network parser would produce, so the ids the
 * engine keeps are counted and the ones it drops are not). Heap + ArrayBuffers after a full GC,
 * after minus before, divided by N.
 */
import { Code, OrdType, Side } from '../../src/domain/codes.js';
import type { NewOrderCmd } from '../../src/engine/commands.js';
import { setupSeqex, symbolName } from './seqex-driver.js';
import { clOrdIdFor, generateWorkload, DEFAULT_MIX } from './workload.js';

export interface MemoryResult {
  n: number;
  bytesPerRestingOrder: number;
  heapBytesPerOrder: number;
  arrayBufferBytesPerOrder: number;
  rejected: number;
  ms: number;
}

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run node with --expose-gc');
  gc();
  gc();
}

const mem = () => {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, ab: m.arrayBuffers };
};

export function measureMemory(n: number, seed: number): MemoryResult {
  const w = generateWorkload({
    name: 'memory',
    seed,
    symbols: 1,
    accounts: 1000,
    prefill: n,
    warmup: 0,
    ops: 0,
    activeTargetPerSymbol: 5000,
    midTicks: 10_000,
    prefillWidthTicks: 5_000,
    mix: DEFAULT_MIX,
    restMeanLots: 50,
  });
  // no preallocation here: the store grows with the orders, so the measured delta is what they cost
  const r = setupSeqex(w, { engineOptions: {} });
  const e = r.engine;
  const sym = symbolName(w.spec, 0);
  const cmd: NewOrderCmd = {
    type: 'newOrder',
    seq: 0,
    tsUs: 0,
    accountId: 0,
    symbol: sym,
    side: Side.BUY,
    ordType: OrdType.LIMIT,
    qtyLots: 0,
    priceTicks: 0,
    clOrdId: undefined,
  };
  gcNow();
  const before = mem();
  const t0 = performance.now();
  let rejected = 0;
  let seq = r.seq;
  let ts = r.ts;
  for (let i = 0; i < w.n; i++) {
    cmd.seq = ++seq;
    cmd.tsUs = ++ts;
    cmd.accountId = w.acct[i]!;
    cmd.side = w.side[i]! as Side;
    cmd.priceTicks = w.price[i]!;
    cmd.qtyLots = w.qty[i]!;
    cmd.clOrdId = clOrdIdFor(w.ref[i]!, w.acct[i]!);
    if (e.apply(cmd) !== Code.OK) rejected++;
    e.events.clear();
  }
  const ms = performance.now() - t0;
  cmd.clOrdId = undefined;
  gcNow();
  const after = mem();
  // keep the engine reachable until after the measurement
  const live = e.account(1)?.openOrders ?? 0;
  if (live < 0) console.log('unreachable');
  const heap = (after.heap - before.heap) / n;
  const ab = (after.ab - before.ab) / n;
  return { n, bytesPerRestingOrder: heap + ab, heapBytesPerOrder: heap, arrayBufferBytesPerOrder: ab, rejected, ms };
}
