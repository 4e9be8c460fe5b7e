/** Small statistics and formatting helpers for the benchmark. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile of an ascending-sorted array (p in [0, 1]). */
export function percentileSorted(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(p * n)));
  return sorted[rank - 1]!;
}

export interface LatencySummary {
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  meanNs: number;
  count: number;
}

/** Latencies in milliseconds (performance.now() deltas) -> summary in nanoseconds. Sorts in place. */
export function summarizeLatencyMs(latMs: Float64Array): LatencySummary {
  latMs.sort();
  let sum = 0;
  for (let i = 0; i < latMs.length; i++) sum += latMs[i]!;
  const ns = (x: number) => Math.round(x * 1e6);
  return {
    p50Ns: ns(percentileSorted(latMs, 0.5)),
    p99Ns: ns(percentileSorted(latMs, 0.99)),
    p999Ns: ns(percentileSorted(latMs, 0.999)),
    maxNs: ns(latMs[latMs.length - 1] ?? NaN),
    meanNs: ns(sum / Math.max(1, latMs.length)),
    count: latMs.length,
  };
}

/** Median cost of one `performance.now()` pair, in ns (what every latency sample includes). */
export function timerOverheadNs(samples = 200_000): number {
  const d = new Float64Array(samples);
  const now = performance.now.bind(performance);
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    d[i] = now() - t0;
  }
  d.sort();
  return Math.round(percentileSorted(d, 0.5) * 1e6);
}

export function fmtInt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.round(x).toLocaleString('en-US');
}

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 1_000) return `${Math.round(ns)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

export function fmtMops(opsPerSec: number): string {
  return `${(opsPerSec / 1e6).toFixed(3)} M/s`;
}

/** Renders rows as a fixed-width text table; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows.slice(1)) out.push(line(r));
  return out.join('\n');
}

export const mark = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

/** A bench's command line: `--quick` (or BENCH_QUICK=1), flags, and positive integer options. */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): { quick: boolean; has: (flag: string) => boolean; int: (name: string, dflt: number) => number } {
  return {
    quick: argv.includes('--quick') || process.env.BENCH_QUICK === '1',
    has: (flag) => argv.includes(flag),
    int: (name, dflt) => {
      const i = argv.indexOf(name);
      if (i < 0) return dflt;
      const v = Number(argv[i + 1]);
      if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} needs a positive integer`);
      return v;
    },
  };
}
