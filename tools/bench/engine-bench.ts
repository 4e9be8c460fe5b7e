/**
 * `make bench`: throughput, latency and memory of the seqex engine, and the same workload through
 * two open-source JavaScript order books. Run with `node --expose-gc dist/tools/bench/engine-bench.js`.
 *
 * Scenarios (all with risk and wallets on, accounts funded by deposits, tick 0.01, lot 1, USD 2 dp):
 *   mixed  one symbol, 1,000 accounts: 60% resting limits near the mid, 25% cancels of live
 *          orders, 10% market orders, 5% crossing limits; warm-up, then 1M measured ops
 *   deep   the same after 1M resting orders placed first over ±5,000 ticks
 *   wide   1,000 symbols, 100,000 accounts, the same mix spread uniformly over the symbols
 *   memory bytes per resting order (1M resting orders with 17-char clOrdIds in a fresh engine)
 *   competitors  nodejs-order-book and orderbook-match-engine on the mixed op sequence
 *
 * Progress goes to stderr; stdout gets the human tables and one JSON line per result.
 * Options: --quick, and env BENCH_OPS, BENCH_RUNS, BENCH_WARMUP, BENCH_DEEP, BENCH_MEM_N,
 * BENCH_COMP_OPS, BENCH_COMP_RUNS, BENCH_SEED, BENCH_SCENARIOS (comma list of
 * mixed,deep,wide,competitors,memory), BENCH_WIDE_SYMBOLS, BENCH_WIDE_ACCOUNTS, BENCH_CLORDIDS=1.
 */
import { CODE_NAMES } from '../../src/domain/codes.js';
import { COMPETITORS, competitorInputs } from './competitors.js';
import { measureMemory, type MemoryResult } from './memory.js';
import { applyOps, buildClOrdIds, setupSeqex, symbolName } from './seqex-driver.js';
import { fmtInt, fmtMops, fmtNs, mark, median, summarizeLatencyMs, table, timerOverheadNs, type LatencySummary } from './stats.js';
import { DEFAULT_MIX, OP_KIND_NAMES, generateWorkload, type L2Level, type Workload, type WorkloadSpec } from './workload.js';
import { ENGINE_V8_FLAGS, tuneV8ForEngine } from '../../src/platform/v8.js';

// the same V8 settings the exchange runs its engine thread with; process-wide, so the
// competitors measured in this process get them too
tuneV8ForEngine();

const argv = process.argv.slice(2);
const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const envInt = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number`);
  return Math.floor(n);
};

const CFG = {
  ops: envInt('BENCH_OPS', quick ? 200_000 : 1_000_000),
  runs: Math.max(1, envInt('BENCH_RUNS', quick ? 3 : 5)),
  warmup: envInt('BENCH_WARMUP', quick ? 50_000 : 200_000),
  deep: envInt('BENCH_DEEP', quick ? 200_000 : 1_000_000),
  memN: Math.max(1, envInt('BENCH_MEM_N', quick ? 200_000 : 1_000_000)),
  compOps: Math.max(1, envInt('BENCH_COMP_OPS', quick ? 50_000 : 200_000)),
  compRuns: Math.max(1, envInt('BENCH_COMP_RUNS', 3)),
  seed: envInt('BENCH_SEED', 42),
  wideSymbols: Math.max(1, envInt('BENCH_WIDE_SYMBOLS', 1000)),
  wideAccounts: Math.max(1, envInt('BENCH_WIDE_ACCOUNTS', 100_000)),
  /** 1: every order of the throughput scenarios carries a 17-char clOrdId (default: none; memory always has them) */
  clOrdIds: envInt('BENCH_CLORDIDS', 0) === 1,
  scenarios: (process.env.BENCH_SCENARIOS ?? 'mixed,deep,wide,competitors,memory').split(',').map((s) => s.trim()),
};

const TARGET = {
  mixedOpsPerSec: 3_000_000,
  p999Ns: 10_000,
  deepWithin: 0.2,
  bytesPerOrder: 200,
  ratio: { 'nodejs-order-book': 100, 'orderbook-match-engine': 10 } as Record<string, number>,
};

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const out = (line: string) => process.stdout.write(`${line}\n`);

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run node with --expose-gc (make bench does)');
  g();
}

function spec(name: string, over: Partial<WorkloadSpec>): WorkloadSpec {
  return {
    name,
    seed: CFG.seed,
    symbols: 1,
    accounts: 1000,
    prefill: 0,
    warmup: CFG.warmup,
    ops: CFG.ops,
    activeTargetPerSymbol: 5000,
    midTicks: 10_000,
    prefillWidthTicks: 5_000,
    mix: DEFAULT_MIX,
    restMeanLots: 50,
    ...over,
  };
}

interface ScenarioResult {
  name: string;
  w: Workload;
  opsPerSec: number;
  runs: number[];
  lat: LatencySummary;
  rejects: Record<string, number>;
  rejectCount: number;
  setupRejects: number;
  bookCheck: string;
  invariantsMs: number;
  setupMs: number;
}

function sameLevels(a: L2Level[], b: L2Level[], withCount: boolean): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]![0] !== b[i]![0] || a[i]![1] !== b[i]![1]) return false;
    if (withCount && a[i]![2] !== b[i]![2]) return false;
  }
  return true;
}

function describeWorkload(w: Workload): string {
  const c = w.measuredCounts;
  const tot = w.spec.ops || 1;
  const mix = [0, 1, 2, 3].map((k) => `${OP_KIND_NAMES[k]} ${((100 * c[k]!) / tot).toFixed(1)}%`).join(', ');
  return `${w.spec.name}: ${fmtInt(w.n)} ops generated in ${(w.genMs / 1000).toFixed(1)} s (prefill ${fmtInt(w.spec.prefill)}, warm-up ${fmtInt(
    w.spec.warmup,
  )}, measured ${fmtInt(w.spec.ops)}: ${mix}); live orders at measure start ${fmtInt(w.liveAtMeasuredStart)}, at end ${fmtInt(
    w.liveAtEnd,
  )}; STP re-draws ${fmtInt(w.stpAvoided)}, market/cross -> limit ${fmtInt(w.converted)}`;
}

function runScenario(name: string, sp: WorkloadSpec): ScenarioResult {
  log(`${name}: generating workload ...`);
  const w = generateWorkload(sp);
  log(describeWorkload(w));
  const setupOpts = { clOrdIds: CFG.clOrdIds ? buildClOrdIds(w) : null };
  const runs: number[] = [];
  let setupMs = 0;
  for (let r = 0; r < CFG.runs; r++) {
    gc();
    const t0 = performance.now();
    const run = setupSeqex(w, setupOpts);
    applyOps(run, w, 0, w.measuredFrom);
    setupMs = performance.now() - t0;
    gc();
    const ms = applyOps(run, w, w.measuredFrom, w.n);
    const ops = ((w.n - w.measuredFrom) / ms) * 1000;
    runs.push(ops);
    log(`${name}: run ${r + 1}/${CFG.runs}: ${fmtMops(ops)} (setup+prefill+warm-up ${(setupMs / 1000).toFixed(1)} s)`);
  }
  // latency pass: fresh engine, same ops, each apply timed
  gc();
  const run = setupSeqex(w, setupOpts);
  applyOps(run, w, 0, w.measuredFrom);
  const setupRejects = run.rejects.reduce((a, b) => a + b, 0);
  run.rejects.fill(0);
  const lat = new Float64Array(w.n - w.measuredFrom);
  gc();
  applyOps(run, w, w.measuredFrom, w.n, lat);
  const latSummary = summarizeLatencyMs(lat);
  log(`${name}: latency pass p50 ${fmtNs(latSummary.p50Ns)} p99 ${fmtNs(latSummary.p99Ns)} p99.9 ${fmtNs(latSummary.p999Ns)} max ${fmtNs(latSummary.maxNs)}`);
  const rejects: Record<string, number> = {};
  let rejectCount = 0;
  run.rejects.forEach((n, code) => {
    if (n > 0) {
      rejects[CODE_NAMES[code] ?? String(code)] = n;
      rejectCount += n;
    }
  });
  // sanity: the engine's book equals the generator's shadow book (top 5 levels, with order counts)
  const mismatches: string[] = [];
  for (const [s, top] of w.finalTop) {
    const l2 = run.engine.bookL2(symbolName(sp, s), 5);
    if (l2 === null || !sameLevels(l2.bids, top.bids, true) || !sameLevels(l2.asks, top.asks, true))
      mismatches.push(`${symbolName(sp, s)}: engine ${JSON.stringify(l2)} vs expected ${JSON.stringify(top)}`);
  }
  const bookCheck = mismatches.length === 0 ? 'ok' : `MISMATCH ${mismatches.join('; ')}`;
  if (mismatches.length > 0) log(`${name}: book check failed: ${bookCheck}`);
  let invariantsMs = -1;
  try {
    const t0 = performance.now();
    run.engine.checkInvariants();
    invariantsMs = performance.now() - t0;
  } catch (err) {
    log(`${name}: checkInvariants threw: ${(err as Error).message}`);
  }
  return {
    name,
    w,
    opsPerSec: median(runs),
    runs,
    lat: latSummary,
    rejects,
    rejectCount,
    setupRejects,
    bookCheck,
    invariantsMs,
    setupMs,
  };
}

interface CompResult {
  name: string;
  version: string;
  ops: number;
  opsPerSec: number;
  runs: number[];
  errors: number;
  bookCheck: string;
  seqexOpsPerSec: number;
  ratio: number;
}

function runCompetitors(): CompResult[] {
  // The competitors' op sequence is the mixed workload cut at compOps measured ops: the generator
  // draws the same random numbers whatever the length, so it is the same prefix.
  const sp = spec('mixed', { ops: CFG.compOps });
  const w = generateWorkload(sp);
  log(`competitors: ${describeWorkload(w)}`);
  const { prices, ids } = competitorInputs(w);
  // seqex on exactly the same window, for a like-for-like ratio
  const setupOpts = { clOrdIds: CFG.clOrdIds ? buildClOrdIds(w) : null };
  const seqRuns: number[] = [];
  for (let r = 0; r < CFG.runs; r++) {
    gc();
    const run = setupSeqex(w, setupOpts);
    applyOps(run, w, 0, w.measuredFrom);
    gc();
    const ms = applyOps(run, w, w.measuredFrom, w.n);
    seqRuns.push(((w.n - w.measuredFrom) / ms) * 1000);
  }
  const seqOps = median(seqRuns);
  log(`competitors: seqex on the same ${fmtInt(CFG.compOps)} ops: ${fmtMops(seqOps)}`);
  const results: CompResult[] = [];
  for (const c of COMPETITORS) {
    const runs: number[] = [];
    let errors = 0;
    let bookCheck = 'ok';
    for (let r = 0; r < CFG.compRuns; r++) {
      gc();
      const cr = c.create(w, prices, ids);
      cr.apply(0, w.measuredFrom);
      gc();
      const ms = cr.apply(w.measuredFrom, w.n);
      runs.push(((w.n - w.measuredFrom) / ms) * 1000);
      errors = cr.errors;
      if (r === 0) {
        const top = cr.top(5);
        const exp = w.finalTop.get(0)!;
        if (!sameLevels(top.bids, exp.bids, false) || !sameLevels(top.asks, exp.asks, false))
          bookCheck = `MISMATCH ${JSON.stringify(top)} vs expected ${JSON.stringify(exp)}`;
      }
      log(`competitors: ${c.name} run ${r + 1}/${CFG.compRuns}: ${fmtMops(runs[r]!)}`);
    }
    const ops = median(runs);
    results.push({ name: c.name, version: c.version, ops: CFG.compOps, opsPerSec: ops, runs, errors, bookCheck, seqexOpsPerSec: seqOps, ratio: seqOps / ops });
  }
  return results;
}

function main(): void {
  const t0 = performance.now();
  log(`node ${process.version}, ${quick ? 'quick, ' : ''}config ${JSON.stringify(CFG)}`);
  const overhead = timerOverheadNs();
  log(`timer overhead (performance.now() pair): ~${overhead} ns, included in every latency sample`);

  const scen: ScenarioResult[] = [];
  const want = (s: string) => CFG.scenarios.includes(s);
  if (want('mixed')) scen.push(runScenario('mixed', spec('mixed', {})));
  if (want('deep')) scen.push(runScenario('deep', spec('deep', { prefill: CFG.deep })));
  if (want('wide'))
    scen.push(
      runScenario(
        'wide',
        spec('wide', { symbols: CFG.wideSymbols, accounts: CFG.wideAccounts, activeTargetPerSymbol: 50, prefillWidthTicks: 200 }),
      ),
    );
  const comps = want('competitors') ? runCompetitors() : [];
  let memRes: MemoryResult | null = null;
  if (want('memory')) {
    gc();
    log(`memory: inserting ${fmtInt(CFG.memN)} resting orders with clOrdIds ...`);
    memRes = measureMemory(CFG.memN, CFG.seed);
    log(`memory: ${memRes.bytesPerRestingOrder.toFixed(1)} bytes/order (${(memRes.ms / 1000).toFixed(1)} s, ${memRes.rejected} rejected)`);
  }

  // ---------------------------------------------------------------- report
  const mixed = scen.find((s) => s.name === 'mixed');
  out('');
  out(`seqex engine benchmark (node ${process.version}, V8 ${ENGINE_V8_FLAGS.join(" ")}, ${quick ? 'quick' : 'full'}, orders ${CFG.clOrdIds ? 'with' : 'without'} clOrdIds; ops/s = median of ${CFG.runs} runs, fresh engine each; latency = one extra run, every apply timed, timer overhead ~${overhead} ns included)`);
  out('');
  const rows: string[][] = [['scenario', 'measured ops', 'book orders', 'ops/s (median)', 'runs min..max', 'p50', 'p99', 'p99.9', 'max', 'rejects', 'book check']];
  for (const s of scen) {
    rows.push([
      s.name,
      fmtInt(s.w.spec.ops),
      `${fmtInt(s.w.liveAtMeasuredStart)}→${fmtInt(s.w.liveAtEnd)}`,
      fmtInt(s.opsPerSec),
      `${fmtInt(Math.min(...s.runs))}..${fmtInt(Math.max(...s.runs))}`,
      fmtNs(s.lat.p50Ns),
      fmtNs(s.lat.p99Ns),
      fmtNs(s.lat.p999Ns),
      fmtNs(s.lat.maxNs),
      `${((100 * s.rejectCount) / Math.max(1, s.w.spec.ops)).toFixed(2)}%`,
      s.bookCheck === 'ok' ? 'ok' : 'MISMATCH',
    ]);
  }
  if (scen.length > 0) out(table(rows));
  for (const s of scen) {
    if (s.rejectCount > 0 || s.setupRejects > 0)
      out(`  ${s.name}: rejects in measured ops ${JSON.stringify(s.rejects)}; in prefill + warm-up ${s.setupRejects}`);
  }
  if (comps.length > 0) {
    out('');
    const crow: string[][] = [['competitor (mixed workload)', 'measured ops', 'ops/s (median)', 'seqex ops/s same ops', 'seqex / competitor', 'errors', 'book check']];
    for (const c of comps)
      crow.push([
        `${c.name} ${c.version}`,
        fmtInt(c.ops),
        fmtInt(c.opsPerSec),
        fmtInt(c.seqexOpsPerSec),
        `${c.ratio.toFixed(1)}×`,
        fmtInt(c.errors),
        c.bookCheck === 'ok' ? 'ok' : 'MISMATCH',
      ]);
    out(table(crow));
    out(`  (competitors: ${CFG.compRuns} runs of ${fmtInt(CFG.compOps)} ops after the same ${fmtInt(CFG.warmup)}-op warm-up; matching only, no accounts / funds / risk / events)`);
  }
  if (memRes !== null) {
    out('');
    out(
      `memory: ${memRes.bytesPerRestingOrder.toFixed(1)} bytes per resting order (heap ${memRes.heapBytesPerOrder.toFixed(1)} + ArrayBuffers ${memRes.arrayBufferBytesPerOrder.toFixed(
        1,
      )}; ${fmtInt(memRes.n)} orders with 17-char clOrdIds, after full GC; ${memRes.rejected} rejected)`,
    );
  }

  // targets (informational: never fails the run)
  out('');
  out('targets (informational):');
  const deep = scen.find((s) => s.name === 'deep');
  if (mixed) {
    out(`  [${mark(mixed.opsPerSec >= TARGET.mixedOpsPerSec)}] mixed ≥ ${fmtInt(TARGET.mixedOpsPerSec)} ops/s: ${fmtInt(mixed.opsPerSec)}`);
    out(`  [${mark(mixed.lat.p999Ns <= TARGET.p999Ns)}] mixed p99.9 ≤ ${fmtNs(TARGET.p999Ns)}: ${fmtNs(mixed.lat.p999Ns)}`);
  }
  if (mixed && deep) {
    const rel = deep.opsPerSec / mixed.opsPerSec;
    out(`  [${mark(rel >= 1 - TARGET.deepWithin)}] deep within ${TARGET.deepWithin * 100}% of mixed (≥ ${(100 * (1 - TARGET.deepWithin)).toFixed(0)}%): deep runs at ${(rel * 100).toFixed(1)}% of mixed`);
  }
  if (memRes !== null)
    out(`  [${mark(memRes.bytesPerRestingOrder <= TARGET.bytesPerOrder)}] ≤ ${TARGET.bytesPerOrder} bytes per resting order: ${memRes.bytesPerRestingOrder.toFixed(1)}`);
  for (const c of comps) {
    const t = TARGET.ratio[c.name];
    if (t !== undefined) out(`  [${mark(c.ratio >= t)}] ≥ ${t}× ${c.name}: ${c.ratio.toFixed(1)}×`);
  }
  const problems = scen.filter((s) => s.bookCheck !== 'ok' || s.invariantsMs < 0).map((s) => s.name);
  if (problems.length > 0) out(`  WARNING: engine book check / invariants failed in: ${problems.join(', ')} (see stderr)`);

  // JSON lines
  out('');
  for (const s of scen) {
    out(
      JSON.stringify({
        bench: `engine.${s.name}`,
        opsPerSec: Math.round(s.opsPerSec),
        p50Ns: s.lat.p50Ns,
        p99Ns: s.lat.p99Ns,
        p999Ns: s.lat.p999Ns,
        maxNs: s.lat.maxNs,
        meanNs: s.lat.meanNs,
        runs: s.runs.map(Math.round),
        ops: s.w.spec.ops,
        warmup: s.w.spec.warmup,
        prefill: s.w.spec.prefill,
        symbols: s.w.spec.symbols,
        accounts: s.w.spec.accounts,
        seed: s.w.spec.seed,
        clOrdIds: CFG.clOrdIds,
        mix: Object.fromEntries([0, 1, 2, 3].map((k) => [OP_KIND_NAMES[k], s.w.measuredCounts[k]])),
        bookOrdersAtStart: s.w.liveAtMeasuredStart,
        bookOrdersAtEnd: s.w.liveAtEnd,
        rejects: s.rejects,
        rejectRate: s.rejectCount / Math.max(1, s.w.spec.ops),
        bookCheck: s.bookCheck === 'ok' ? 'ok' : 'mismatch',
        invariants: s.invariantsMs >= 0 ? 'ok' : 'failed',
        timerOverheadNs: overhead,
        node: process.version,
        v8Flags: ENGINE_V8_FLAGS.join(" "),
      }),
    );
  }
  for (const c of comps)
    out(
      JSON.stringify({
        bench: `competitor.${c.name}`,
        version: c.version,
        opsPerSec: Math.round(c.opsPerSec),
        runs: c.runs.map(Math.round),
        ops: c.ops,
        seqexOpsPerSec: Math.round(c.seqexOpsPerSec),
        ratio: Number(c.ratio.toFixed(2)),
        target: TARGET.ratio[c.name],
        errors: c.errors,
        bookCheck: c.bookCheck === 'ok' ? 'ok' : 'mismatch',
      }),
    );
  if (memRes !== null)
    out(
      JSON.stringify({
        bench: 'engine.memory',
        bytesPerRestingOrder: Number(memRes.bytesPerRestingOrder.toFixed(1)),
        heapBytesPerOrder: Number(memRes.heapBytesPerOrder.toFixed(1)),
        arrayBufferBytesPerOrder: Number(memRes.arrayBufferBytesPerOrder.toFixed(1)),
        orders: memRes.n,
        rejected: memRes.rejected,
      }),
    );
  log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main();
