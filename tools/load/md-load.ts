/**
 * Market-data fan-out under order load (issue 5: "with the engine at 100,000 orders/s, 1,000
 * WebSocket subscribers to L2 and trades of the busiest symbol receive each update with p99 delay
 * ≤ 20 ms from the trade's sequencer timestamp, while matching throughput drops by at most 10%
 * compared with no subscribers").
 *
 * Starts `seqex serve` as a child process (a temporary data directory, removed after; its stdout
 * and stderr also go to a log file that is kept and checked) unless given `--url`; then runs
 * `--phases` (default `with,without`), each one run of tools/load/ws-load.js as a child process
 * (`--rate R` open loop, or `--saturate`, trading `--symbol` only, so it is the busiest symbol):
 *
 * - `with`: first `--subscribers` WebSocket connections to `/v1/md` (MessagePack), opened in
 *   batches of `--connect-batch`, each subscribed to `--channels` (default l2,trades) of the
 *   symbol and holding both snapshots, in `--sub-threads` worker threads (tools/load/md-subscribers.ts:
 *   raw sockets and a scanner of the update's head, so a subscriber costs little CPU and this
 *   process's main thread only coordinates). Every subscriber records every update: the delay =
 *   receive time (µs since the epoch, the clock the sequencer stamps with) − the update's `ts`
 *   (ms; so a delay is an upper bound, up to 1 ms above the true one) into an HdrHistogram while
 *   ws-load measures (its window: after its warm-up, for `--duration`), gaps (seq ≠ last + 1 per
 *   connection and channel, from the snapshot's seq), disconnects with their close codes, and at
 *   the end whether the server's last heartbeat named a seq it did not get. The subscribers are
 *   closed after the phase.
 * - `without`: the same ws-load run with no subscriber connected.
 *
 * `--no-orders`: no ws-load at all; a phase is `--warmup` s, then the `--duration` s window, of
 * the subscribers listening to a server that publishes by itself (tools/load/baseline-md.ts's
 * bare server, `baseline --md`); the server's CPU is then measured here, over the window.
 *
 * Before each phase after the first, the server must be idle again (under 25 % of a core for a
 * second, at most 60 s: the last phase's backlog); after a `with` phase the subscribers report
 * once no update came for a second (at least `--settle` s), so the last heartbeat check holds.
 *
 * Reported per phase: ws-load's ack rate and order latency, the server's CPU by thread (labelled
 * as ws-load labels them: `main` and `+N` = thread id − pid; Node cannot name its threads, so
 * which worker is which takes a look at the server, e.g. `perf record -p PID` and the dso per
 * pid) and the generator's (from ws-load's JSON), this process's CPU (the subscribers), each
 * subscriber thread's event-loop utilisation, socket reads and frames per read, the machine's CPU
 * and any other busy program seen during the window; per second the updates received and the
 * worst delay; the server's log lines during the phase. Then the delay percentiles over the
 * `with` phases, updates per subscriber, gaps, disconnects, and the ratio of the ack rates with
 * and without subscribers (with `--saturate`: the "drops by at most 10%" test; open loop: both
 * run at the offered rate when the server keeps up, so compare the server CPU per order). One
 * JSON line {"bench":"md.fanout"}. Bounded in time (a watchdog kills the server; an exit kills a
 * running ws-load); loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import hdr from 'hdr-histogram-js';
import { cpuBetween, cpuSample, describeServer, latencyMs, nofileLimit, parseCli, runMain, serverChoice, SERVER_OPTIONS, startServer, startWatchdog, stopOwnServer, URL_OPTIONS, urlTarget, waitForQuiet, type CpuReport, type Target } from './common.js';
import { Live, type ConnectedMsg, type ReportMsg, type SubscribersData, type SubscriberStats } from './md-subscribers.js';

const HELP = `usage: node dist/tools/load/md-load.js [options]
  --subscribers N      WebSocket subscribers to /v1/md (default 1000; 0: none)
  --rate N             ws-load open loop, orders/s (default 10000)
  --saturate           ws-load closed loop instead (the sustained maximum), in every phase
  --no-orders          no ws-load: each phase is --warmup then --duration s of listening, for a
                       server that publishes by itself (the bare one of baseline --md)
  --sessions N         ws-load sessions (default: ws-load's own)
  --inflight K         ws-load --saturate: messages in flight per session (default: ws-load's 32)
  --duration S         measured seconds of each ws-load run (default 10)
  --warmup S           ws-load's unmeasured seconds before (default 2)
  --drain S            ws-load's wait for the last acks (default 5)
  --phases LIST        with,without (default): a ws-load run with the subscribers connected, then
                       one without; any order and count, e.g. without,with,without
  --symbol SYM         the symbol traded and subscribed to (default AAPL)
  --channels LIST      (default l2,trades)
  --sub-threads N      worker threads holding the subscribers (default 1)
  --connect-batch N    connections opened at once per thread (default 100)
  --settle S           after ws-load ends, the subscribers report once no update came for a
                       second and at least S s passed (default 2; the server's heartbeat comes
                       every second; at most --settle-max s)
  --settle-max S       the longest that wait may be (default 120; an overloaded run's backlog is
                       then not drained: the subscribers are closed with it)
  --url URL            a running server, http://127.0.0.1:PORT (default: start one)
  --admin-token T      with --url: ws-load makes and funds its accounts
  --data-dir DIR       with --url: read the admin token from DIR/admin-token
  --key K              with --url: ws-load trades on this one account
  --server-pid PID     with --url: the server's process, for its CPU from /proc
  --durability D       self-started server: fsync | batch | none (default fsync)
  --gateways N         self-started server: gateway threads (default: the server's own)
  --server-node-args=S self-started server: extra node flags
  --wait-quiet S       first wait up to S s for a quiet machine (default 0)
  --json-only          print only the JSON line`;

const { opt, cli } = parseCli('md-load', HELP, {
  subscribers: { type: 'string', default: '1000' },
  rate: { type: 'string', default: '10000' },
  saturate: { type: 'boolean', default: false },
  'no-orders': { type: 'boolean', default: false },
  sessions: { type: 'string' },
  inflight: { type: 'string' },
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '2' },
  drain: { type: 'string', default: '5' },
  phases: { type: 'string', default: 'with,without' },
  symbol: { type: 'string', default: 'AAPL' },
  channels: { type: 'string', default: 'l2,trades' },
  'sub-threads': { type: 'string', default: '1' },
  'connect-batch': { type: 'string', default: '100' },
  settle: { type: 'string', default: '2' },
  'settle-max': { type: 'string', default: '120' },
  ...URL_OPTIONS,
  'server-pid': { type: 'string' },
  ...SERVER_OPTIONS,
  'wait-quiet': { type: 'string', default: '0' },
});
const { say, warn, fail, intOpt } = cli;

const SUBSCRIBERS = intOpt('subscribers', opt.subscribers, 0, 100_000);
const SATURATE = opt.saturate;
const NO_ORDERS = opt['no-orders'];
/** what drives the updates, for the report */
const LOAD = NO_ORDERS ? 'no orders (the server publishes by itself)' : SATURATE ? 'ws-load saturate' : `ws-load open loop ${opt.rate}/s`;
const RATE = intOpt('rate', opt.rate, 1, 10_000_000);
const SESSIONS = opt.sessions === undefined ? null : intOpt('sessions', opt.sessions, 1, 999);
const INFLIGHT = opt.inflight === undefined ? null : intOpt('inflight', opt.inflight, 1, 100_000);
const DURATION_S = intOpt('duration', opt.duration, 1, 3600);
const WARMUP_S = intOpt('warmup', opt.warmup, 0, 600);
const DRAIN_S = intOpt('drain', opt.drain, 1, 600);
const PHASES = opt.phases.split(',').filter((p) => p !== '');
if (PHASES.length === 0 || PHASES.some((p) => p !== 'with' && p !== 'without')) fail('--phases is a comma-separated list of with / without');
const SYMBOL = opt.symbol;
const CHANNELS = opt.channels.split(',').filter((c) => c !== '');
if (CHANNELS.length === 0) fail('--channels is empty');
const SUB_THREADS = Math.min(intOpt('sub-threads', opt['sub-threads'], 1, 64), Math.max(1, SUBSCRIBERS));
const CONNECT_BATCH = intOpt('connect-batch', opt['connect-batch'], 1, 10_000);
const SETTLE_S = intOpt('settle', opt.settle, 0, 60);
const SETTLE_MAX_S = intOpt('settle-max', opt['settle-max'], 1, 120);
/** before a phase, wait at most this long for the server to go idle (the last phase's backlog) */
const IDLE_MAX_S = 60;
/** the server is idle below this CPU (% of one core) */
const IDLE_CPU_PCT = 25;
const SERVER = serverChoice(cli, opt);
const SERVER_PID = opt['server-pid'] === undefined ? null : intOpt('server-pid', opt['server-pid'], 1, 1 << 30);
const WAIT_QUIET_S = intOpt('wait-quiet', opt['wait-quiet'], 0, 3600);
/** per phase: connecting (≤ 30 s a batch, generously), ws-load's set-up, warm-up, run, drain, settle */
const WATCHDOG_MS = (PHASES.length * (WARMUP_S + DURATION_S + DRAIN_S + SETTLE_S + IDLE_MAX_S + 240 + Math.ceil(SUBSCRIBERS / 50)) + 120 + WAIT_QUIET_S) * 1000;
const DELAY_TARGET_MS = 20;

// ---------------------------------------------------------------- the subscribers

interface SubThread {
  w: Worker;
  count: number;
  /** resolves the next answer of this worker */
  next: ((m: unknown) => void)[];
}

const ctl = new Int32Array(new SharedArrayBuffer(4));
let liveSab: SharedArrayBuffer;
let live: Float64Array;
const subThreads: SubThread[] = [];

function startSubThreads(t: Target): void {
  liveSab = new SharedArrayBuffer(8 * Live.Fields * SUB_THREADS);
  live = new Float64Array(liveSab);
  const u = new URL(t.base);
  let first = 0;
  for (let i = 0; i < SUB_THREADS; i++) {
    const count = Math.floor(SUBSCRIBERS / SUB_THREADS) + (i < SUBSCRIBERS % SUB_THREADS ? 1 : 0);
    const data: SubscribersData = { host: u.hostname, port: Number(u.port), count, first, symbol: SYMBOL, channels: CHANNELS, batch: CONNECT_BATCH, ctlSab: ctl.buffer as SharedArrayBuffer, liveSab, row: i };
    first += count;
    const w = new Worker(fileURLToPath(new URL('./md-subscribers.js', import.meta.url)), { workerData: data, name: `md-load-subscribers-${i}` });
    const st: SubThread = { w, count, next: [] };
    w.on('message', (m: unknown) => st.next.shift()?.(m));
    w.on('error', (e) => warn(`subscriber thread ${i}: ${e.stack ?? e.message}`));
    subThreads.push(st);
  }
}

/** one command to every subscriber thread, their answers */
function ask<T>(cmd: string, timeoutMs: number): Promise<T[]> {
  return Promise.all(
    subThreads.map(
      (st, i) =>
        new Promise<T>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`subscriber thread ${i}: no answer to ${cmd} within ${timeoutMs / 1000} s`)), timeoutMs);
          st.next.push((m) => {
            clearTimeout(timer);
            resolve(m as T);
          });
          st.w.postMessage({ cmd });
        }),
    ),
  );
}

const tell = (cmd: string) => subThreads.forEach((st) => st.w.postMessage({ cmd }));

function liveSum(f: Live): number {
  let s = 0;
  for (let i = 0; i < subThreads.length; i++) s += live[i * Live.Fields + f]!;
  return s;
}
function liveMaxAndZero(f: Live): number {
  let m = 0;
  for (let i = 0; i < subThreads.length; i++) {
    m = Math.max(m, live[i * Live.Fields + f]!);
    live[i * Live.Fields + f] = 0;
  }
  return m;
}

// ---------------------------------------------------------------- ws-load

type WsLine = Record<string, unknown> & {
  ackPerSec: number;
  latencyMs: ReturnType<typeof latencyMs>;
  serverCpuPct: number | null;
  serverThreadsCpuPct: Record<string, number> | null;
  generatorCpuPct: number;
  otherCpuPct: number;
  machineBusyPct: number;
  unacked: number;
  sessions: number;
};

let wsLoadChild: ChildProcess | null = null;

function wsLoadArgs(t: Target, pid: number | null): string[] {
  const a = [fileURLToPath(new URL('./ws-load.js', import.meta.url)), '--url', t.base, '--symbols', SYMBOL, '--duration', String(DURATION_S), '--warmup', String(WARMUP_S), '--drain', String(DRAIN_S)];
  if (t.adminToken !== null) a.push('--admin-token', t.adminToken);
  else if (t.key !== null) a.push('--key', t.key);
  if (pid !== null) a.push('--server-pid', String(pid));
  if (SATURATE) a.push('--saturate');
  else a.push('--rate', String(RATE));
  if (SESSIONS !== null) a.push('--sessions', String(SESSIONS));
  if (INFLIGHT !== null) a.push('--inflight', String(INFLIGHT));
  return a;
}

interface Window {
  /** performance.now() at the start and the end of ws-load's measured window (as seen from here) */
  fromMs: number;
  toMs: number;
  selfCpu: CpuReport | null;
  /** --no-orders: the server's CPU over the window (else ws-load measures it) */
  serverCpu: CpuReport | null;
  /** per second of the window: updates received by all subscribers, the worst delay (ms), connections open */
  perSecond: { updates: number; maxDelayMs: number; open: number; disconnects: number; gaps: number }[];
  /** other busy programs seen at the window's start or end */
  neighbours: string[];
}

/**
 * The measuring window from `fromMs` (performance.now()) for DURATION_S: raises the subscribers'
 * measuring flag, samples them once a second, this process's CPU (the subscribers) over it, and
 * the server's when given `serverPid`. Returns the timers (to clear at an early end).
 */
function scheduleWindow(win: Window, fromMs: number, serverPid: number | null, look: () => void): NodeJS.Timeout[] {
  win.fromMs = fromMs;
  win.toMs = fromMs + DURATION_S * 1000;
  const timers: NodeJS.Timeout[] = [];
  let selfA: ReturnType<typeof cpuSample> | null = null;
  let serverA: ReturnType<typeof cpuSample> | null = null;
  let lastUpdates = 0;
  let lastDisc = 0;
  let lastGaps = 0;
  let sampler: NodeJS.Timeout | null = null;
  let sample: (() => void) | null = null;
  timers.push(
    setTimeout(() => {
      Atomics.store(ctl, 0, 1);
      tell('window-start');
      selfA = cpuSample(process.pid);
      if (serverPid !== null) serverA = cpuSample(serverPid);
      look();
      lastUpdates = liveSum(Live.Updates);
      lastDisc = liveSum(Live.Disconnects);
      lastGaps = liveSum(Live.Gaps);
      liveMaxAndZero(Live.MaxDelayUs);
      sample = () => {
        look();
        const u = liveSum(Live.Updates);
        const dsc = liveSum(Live.Disconnects);
        const g = liveSum(Live.Gaps);
        win.perSecond.push({ updates: u - lastUpdates, maxDelayMs: Number((liveMaxAndZero(Live.MaxDelayUs) / 1000).toFixed(1)), open: liveSum(Live.Open), disconnects: dsc - lastDisc, gaps: g - lastGaps });
        lastUpdates = u;
        lastDisc = dsc;
        lastGaps = g;
      };
      sampler = setInterval(sample, 1000);
      timers.push(sampler);
    }, Math.max(0, win.fromMs - performance.now())),
    setTimeout(() => {
      Atomics.store(ctl, 0, 0);
      tell('window-end');
      if (sampler !== null) clearInterval(sampler);
      // the last second, when its tick did not come before this timer
      if (sample !== null && win.perSecond.length < DURATION_S) sample();
      if (selfA !== null) win.selfCpu = cpuBetween(selfA, cpuSample(process.pid));
      if (serverA !== null && serverPid !== null) win.serverCpu = cpuBetween(serverA, cpuSample(serverPid));
      look();
    }, Math.max(0, win.toMs - performance.now())),
  );
  return timers;
}

const newWindow = (): Window => ({ fromMs: NaN, toMs: NaN, selfCpu: null, serverCpu: null, perSecond: [], neighbours: [] });
const lookFor = (win: Window, own: Set<number>) => () => {
  for (const n of neighbours(own)) if (!win.neighbours.includes(n)) win.neighbours.push(n);
};

/**
 * Runs ws-load to its end; raises the subscribers' measuring flag for its measured window (from
 * its "open loop" / "saturate" line: warm-up, then the duration) and samples them once a second.
 */
async function runWsLoad(t: Target, pid: number | null, label: string): Promise<{ line: WsLine; window: Window }> {
  const child = spawn(process.execPath, wsLoadArgs(t, pid), { stdio: ['ignore', 'pipe', 'pipe'] });
  wsLoadChild = child;
  const win = newWindow();
  const look = lookFor(win, new Set([t.child?.pid ?? -1, pid ?? -1, child.pid ?? -1]));
  const timers: NodeJS.Timeout[] = [];
  let out = '';
  let pending = '';
  let errText = '';
  child.stderr!.on('data', (b: Buffer) => {
    errText += b.toString();
    for (const l of b.toString().split('\n')) if (l !== '') process.stderr.write(`  [ws-load ${label}] ${l}\n`);
  });
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    pending += b.toString();
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.startsWith('{"bench":')) say(`  | ${line}`);
      // the open loop starts 50 ms after it says so
      if (/^ws-load: (open loop|saturate:)/.test(line) && Number.isNaN(win.fromMs)) timers.push(...scheduleWindow(win, performance.now() + WARMUP_S * 1000 + (SATURATE ? 0 : 50), null, look));
    }
  });
  const code = await new Promise<number | string | null>((resolve) => child.once('exit', (c, sig) => resolve(c ?? sig)));
  wsLoadChild = null;
  for (const x of timers) clearTimeout(x);
  Atomics.store(ctl, 0, 0);
  const json = out.split('\n').find((l) => l.startsWith('{"bench":'));
  if (code !== 0 || json === undefined) throw new Error(`ws-load (${label}) ended with ${String(code)}: ${(errText + out).slice(-800)}`);
  return { line: JSON.parse(json) as WsLine, window: win };
}

/**
 * --no-orders: no ws-load; the window is --warmup s from now, for --duration s (a server that
 * publishes by itself, as baseline --md's bare one). The server's CPU is measured here, over the
 * same window, and put in a line of ws-load's shape (no orders: no acks, no latency).
 */
async function runQuiet(t: Target, pid: number | null): Promise<{ line: WsLine; window: Window }> {
  const win = newWindow();
  const timers = scheduleWindow(win, performance.now() + WARMUP_S * 1000, pid, lookFor(win, new Set([t.child?.pid ?? -1, pid ?? -1])));
  await new Promise((r) => setTimeout(r, win.toMs - performance.now() + 50));
  for (const x of timers) clearTimeout(x);
  const c = win.serverCpu;
  const zero = latencyMs({ getValueAtPercentile: () => 0, maxValue: 0, mean: 0 });
  const line: WsLine = {
    bench: 'none',
    ackPerSec: 0,
    latencyMs: zero,
    serverCpuPct: c?.serverPct == null ? null : Math.round(c.serverPct),
    serverThreadsCpuPct: c?.serverThreads == null || pid === null ? null : Object.fromEntries(c.serverThreads.map((x) => [x.tid === pid ? 'main' : `+${x.tid - pid}`, x.pct])),
    generatorCpuPct: 0,
    // as ws-load counts it: everything but the generator (none) and the server (the subscribers included)
    otherCpuPct: c === null ? 0 : Math.round(c.otherPct + c.selfPct),
    machineBusyPct: c === null ? 0 : Math.round(c.machineBusyPct),
    unacked: 0,
    sessions: 0,
  };
  return { line, window: win };
}

// ---------------------------------------------------------------- the machine and the server's log

/**
 * Other exchanges, load tools, benchmarks, test runs and compilers on the machine (not this run's
 * server and ws-load): they take CPU from the run, so the report names them (as waitForQuiet does
 * before a run).
 */
function neighbours(own: Set<number>): string[] {
  const found: string[] = [];
  for (const dir of readdirSync('/proc')) {
    if (!/^\d+$/.test(dir)) continue;
    const pid = Number(dir);
    if (own.has(pid) || pid === process.pid || pid === process.ppid) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${dir}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (/seqex\.js serve|tools\/load\/|tools\/bench\/|vitest|\btsc\b|cc1|npm (ci|install)/.test(cmd)) found.push(`${pid} ${cmd.slice(0, 80)}`);
  }
  return found;
}

const NOTABLE = /error|warn|fell|behind|closed|drop|fail|lapped|4008|4009|exception|uncaught|reset/i;

/** Waits until the server used under IDLE_CPU_PCT of a core for a second (at most IDLE_MAX_S); the seconds waited. */
async function serverIdle(pid: number | null): Promise<number> {
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  if (pid === null) return 1;
  for (;;) {
    const a = cpuSample(pid);
    await new Promise((r) => setTimeout(r, 1000));
    const c = cpuBetween(a, cpuSample(pid));
    const waited = (performance.now() - t0) / 1000;
    if ((c.serverPct ?? 0) < IDLE_CPU_PCT) return waited;
    if (waited >= IDLE_MAX_S) {
      warn(`the server still uses ${c.serverPct?.toFixed(0)} % of a core after ${IDLE_MAX_S} s: going on`);
      return waited;
    }
  }
}

/** After ws-load: at least SETTLE_S, then until no update arrived for a second (at most SETTLE_MAX_S); the seconds waited. */
async function subscribersQuiet(): Promise<number> {
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
  let last = liveSum(Live.Updates);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = liveSum(Live.Updates);
    const waited = (performance.now() - t0) / 1000;
    if (now === last || waited >= SETTLE_MAX_S) return waited;
    last = now;
  }
}

// ---------------------------------------------------------------- main

interface PhaseResult {
  phase: 'with' | 'without';
  subscribers: number;
  connect: { connected: number; failed: number; firstError: string | null; seconds: number } | null;
  ws: WsLine;
  window: Window;
  reports: ReportMsg[] | null;
  serverLogDuring: string[];
}

async function main(): Promise<number> {
  if (SUBSCRIBERS > 0 && nofileLimit('self') < SUBSCRIBERS + 200) fail(`this process may open ${nofileLimit('self')} files, ${SUBSCRIBERS} subscribers need more: raise it (ulimit -n)`);
  let target: Target;
  let logPath: string | null = null;
  if (opt.url !== undefined) target = urlTarget(cli, opt.url, opt);
  else {
    const waited = await waitForQuiet(WAIT_QUIET_S, (l) => say(`md-load: ${l}`));
    if (waited > 0) say(`md-load: waited ${waited.toFixed(0)} s for a quiet machine`);
    say(`md-load: starting seqex serve (${describeServer(SERVER)}) ...`);
    target = await startServer({ ...SERVER, nofile: SUBSCRIBERS + 1000 > 16_000 ? 65_536 : null, tag: 'mdload', env: {} });
    logPath = join(mkdtempSync(join(tmpdir(), 'md-load-')), 'server.log');
    writeFileSync(logPath, `${target.log.join('\n')}\n`);
    const toFile = (b: Buffer) => appendFileSync(logPath!, b);
    target.child!.stdout!.on('data', toFile);
    target.child!.stderr!.on('data', toFile);
    say(`md-load: server pid ${target.child!.pid} on ${target.base}; its stdout and stderr in ${logPath}`);
    await new Promise((r) => setTimeout(r, 500)); // the rest of its start-up banner, before the first phase's log mark
  }
  const pid = target.child?.pid ?? SERVER_PID;
  const watchdog = startWatchdog(cli, WATCHDOG_MS, target);
  // any exit (the watchdog's included) leaves no ws-load behind
  process.on('exit', () => wsLoadChild?.kill('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      target.child?.kill('SIGKILL');
      if (target.dataDir !== null) rmSync(target.dataDir, { recursive: true, force: true });
      process.exit(130);
    });
  const results: PhaseResult[] = [];
  let ok = false;
  try {
    if (SUBSCRIBERS > 0 && PHASES.includes('with')) startSubThreads(target);
    for (const [i, phase] of PHASES.entries()) {
      const label = `${i + 1}/${PHASES.length} ${phase}`;
      if (i > 0) {
        // the last phase's backlog (orders queued, updates unsent) must not run into this one
        const s = await serverIdle(pid);
        if (s > 1) say(`md-load: waited ${s.toFixed(0)} s for the server to go idle`);
      }
      let connect: PhaseResult['connect'] = null;
      const subs = phase === 'with' ? SUBSCRIBERS : 0;
      if (subs > 0) {
        say(`md-load: phase ${label}: opening ${subs} subscribers to ${CHANNELS.join(', ')} of ${SYMBOL} (${SUB_THREADS} thread(s), ${CONNECT_BATCH} at a time each) ...`);
        const r = await ask<ConnectedMsg>('connect', 60_000 + SUBSCRIBERS * 200);
        connect = { connected: r.reduce((s, x) => s + x.connected, 0), failed: r.reduce((s, x) => s + x.failed, 0), firstError: r.find((x) => x.firstError !== null)?.firstError ?? null, seconds: Math.max(...r.map((x) => x.seconds)) };
        say(`md-load: ${connect.connected} subscribed (both snapshots in hand) in ${connect.seconds.toFixed(1)} s, ${connect.failed} failed${connect.firstError === null ? '' : ` (first: ${connect.firstError})`}`);
        await new Promise((r2) => setTimeout(r2, 1000));
      } else say(`md-load: phase ${label}: no subscribers`);
      const logMark = target.logCount;
      say(`md-load: phase ${label}: ${LOAD} on ${SYMBOL} ...`);
      const { line, window } = NO_ORDERS ? await runQuiet(target, pid) : await runWsLoad(target, pid, label);
      let reports: ReportMsg[] | null = null;
      if (subs > 0) {
        const s = await subscribersQuiet();
        if (s > SETTLE_S + 1) say(`md-load: the subscribers were still receiving: their report came ${s.toFixed(0)} s after ws-load ended`);
        reports = await ask<ReportMsg>('report', 30_000);
        await ask('close', 30_000);
      }
      const during = target.logCount > logMark ? target.log.slice(-Math.min(target.log.length, target.logCount - logMark)) : [];
      results.push({ phase: phase as 'with' | 'without', subscribers: subs, connect, ws: line, window, reports, serverLogDuring: during });
      sayPhase(results[results.length - 1]!);
    }
    report(target, results, logPath);
    ok = true;
  } catch (e) {
    warn((e as Error).stack ?? String(e));
    if (target.log.length > 0) process.stderr.write(`server log (last lines):\n${target.log.slice(-30).join('\n')}\n`);
  } finally {
    wsLoadChild?.kill('SIGKILL');
    for (const st of subThreads) await st.w.terminate();
    await stopOwnServer(cli, target);
    clearTimeout(watchdog);
  }
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------- reporting

function merged(reports: ReportMsg[]) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  for (const r of reports) h.add(hdr.decodeFromCompressedBase64(r.hist));
  const subs: SubscriberStats[] = reports.flatMap((r) => r.subs);
  const closeCodes: Record<string, number> = {};
  for (const s of subs) if (s.closeCode !== null) closeCodes[String(s.closeCode)] = (closeCodes[String(s.closeCode)] ?? 0) + 1;
  const other: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.otherMessages)) other[k] = (other[k] ?? 0) + v;
  const byChannel = CHANNELS.map((_, i) => reports.reduce((s, r) => s + r.byChannel[i]!, 0));
  const stat = (f: (s: SubscriberStats) => number) => {
    const v = subs.map(f);
    return v.length === 0 ? { min: 0, mean: 0, max: 0 } : { min: Math.min(...v), mean: Math.round(v.reduce((a, b) => a + b, 0) / v.length), max: Math.max(...v) };
  };
  return {
    h,
    subs,
    delay: latencyMs(h),
    over20Pct: h.totalCount > 0 ? (subs.reduce((a, s) => a + s.over20, 0) / h.totalCount) * 100 : 0,
    worstSubOver20Pct: Math.max(0, ...subs.map((s) => (s.window > 0 ? (s.over20 / s.window) * 100 : 0))),
    window: stat((s) => s.window),
    all: stat((s) => s.all),
    totalWindow: subs.reduce((a, s) => a + s.window, 0),
    totalAll: subs.reduce((a, s) => a + s.all, 0),
    byChannel: Object.fromEntries(CHANNELS.map((c, i) => [c, byChannel[i]])),
    gaps: subs.reduce((a, s) => a + s.gaps, 0),
    subsWithGaps: subs.filter((s) => s.gaps > 0).length,
    disconnects: subs.filter((s) => s.closeCode !== null).length,
    closeCodes,
    behindAtEnd: subs.filter((s) => s.behind).length,
    negativeDelays: reports.reduce((a, r) => a + r.negativeDelays, 0),
    updatesBeforeSnapshot: reports.reduce((a, r) => a + r.updatesBeforeSnapshot, 0),
    otherMessages: other,
    errors: reports.flatMap((r) => r.errors).slice(0, 10),
    elu: reports.map((r) => Number(r.elu.toFixed(2))),
    bytes: reports.reduce((a, r) => a + r.bytes, 0),
    frames: reports.reduce((a, r) => a + r.frames, 0),
    reads: reports.reduce((a, r) => a + r.reads, 0),
    windowReads: reports.reduce((a, r) => a + r.windowReads, 0),
    windowFrames: reports.reduce((a, r) => a + r.windowFrames, 0),
  };
}

const usPerOrder = (cpuPct: number | null, ackPerSec: number) => (cpuPct === null || ackPerSec <= 0 ? null : Math.round((cpuPct / 100) * 1e6 / ackPerSec));

function phaseLine(r: PhaseResult) {
  const w = r.ws;
  const m = r.reports === null ? null : merged(r.reports);
  return {
    phase: r.phase,
    subscribers: r.subscribers,
    subscribersConnected: r.connect?.connected ?? 0,
    connectFailed: r.connect?.failed ?? 0,
    connectSeconds: r.connect === null ? null : Number(r.connect.seconds.toFixed(1)),
    ackPerSec: w.ackPerSec,
    unacked: w.unacked,
    wsSessions: w.sessions,
    orderLatencyMs: w.latencyMs,
    serverCpuPct: w.serverCpuPct,
    serverCpuUsPerOrder: usPerOrder(w.serverCpuPct, w.ackPerSec),
    serverThreadsCpuPct: w.serverThreadsCpuPct,
    generatorCpuPct: w.generatorCpuPct,
    subscribersCpuPct: r.window.selfCpu === null || r.window.selfCpu.serverPct === null ? null : Math.round(r.window.selfCpu.serverPct),
    subscribersSysCpuPct: r.window.selfCpu === null || r.window.selfCpu.serverSysPct === null ? null : Math.round(r.window.selfCpu.serverSysPct),
    subscriberThreadsElu: m?.elu ?? null,
    otherCpuPct: w.otherCpuPct,
    /** the machine's CPU outside the server, ws-load and the subscribers: the kernel's softirqs (loopback TCP) and any other program */
    restCpuPct: r.window.selfCpu === null || r.window.selfCpu.serverPct === null ? null : Math.max(0, Math.round(w.otherCpuPct - r.window.selfCpu.serverPct)),
    machineBusyPct: w.machineBusyPct,
    updates:
      m === null
        ? null
        : {
            inWindowTotal: m.totalWindow,
            inWindowPerSubscriber: m.window,
            perSubscriberPerSec: Math.round(m.window.mean / DURATION_S),
            wholePhaseTotal: m.totalAll,
            wholePhasePerSubscriber: m.all,
            wholePhaseByChannel: m.byChannel,
          },
    delayMs: m?.delay ?? null,
    delayOver20msPct: m === null ? null : Number(m.over20Pct.toFixed(3)),
    worstSubscriberOver20msPct: m === null ? null : Number(m.worstSubOver20Pct.toFixed(3)),
    gaps: m?.gaps ?? null,
    subscribersWithGaps: m?.subsWithGaps ?? null,
    disconnects: m?.disconnects ?? null,
    closeCodes: m?.closeCodes ?? null,
    behindHeartbeatAtEnd: m?.behindAtEnd ?? null,
    negativeDelays: m?.negativeDelays ?? null,
    updatesBeforeSnapshot: m?.updatesBeforeSnapshot ?? null,
    otherMessages: m?.otherMessages ?? null,
    subscriberErrors: m?.errors ?? null,
    receivedMB: m === null ? null : Number((m.bytes / 1e6).toFixed(1)),
    bytesPerFrame: m === null || m.frames === 0 ? null : Math.round(m.bytes / m.frames),
    framesPerRead: m === null || m.windowReads === 0 ? null : Number((m.windowFrames / m.windowReads).toFixed(2)),
    /** socket reads a second by all subscribers in the window, and the subscribers' CPU per read */
    readsPerSec: m === null ? null : Math.round(m.windowReads / DURATION_S),
    subscriberCpuUsPerRead: m === null || m.windowReads === 0 || r.window.selfCpu?.serverPct == null ? null : Number(((r.window.selfCpu.serverPct / 100) * 1e6 * DURATION_S / m.windowReads).toFixed(1)),
    perSecond: r.subscribers > 0 ? r.window.perSecond : [],
    neighbours: r.window.neighbours,
    serverLogLinesDuring: r.serverLogDuring.length,
    serverLogNotable: r.serverLogDuring.filter((l) => NOTABLE.test(l)).slice(-5),
  };
}

function sayPhase(r: PhaseResult): void {
  const p = phaseLine(r);
  const thr = p.serverThreadsCpuPct === null ? '' : Object.entries(p.serverThreadsCpuPct).map(([k, v]) => `${k} ${v}`).join(', ');
  say('');
  say(`phase ${r.phase}: ${p.subscribersConnected} subscriber(s), ${LOAD} on ${SYMBOL}, ${DURATION_S} s measured`);
  say(`  orders        ${p.ackPerSec} acks/s; order-to-ack p50 ${p.orderLatencyMs.p50} p99 ${p.orderLatencyMs.p99} p99.9 ${p.orderLatencyMs.p99_9} max ${p.orderLatencyMs.max} ms; unacked ${p.unacked}`);
  say(`  server CPU    ${p.serverCpuPct} % of a core (${p.serverCpuUsPerOrder} µs an order; threads: ${thr})`);
  say(`  other CPU     generator ${p.generatorCpuPct} %, subscribers (this process) ${p.subscribersCpuPct ?? '-'} % (${p.subscribersSysCpuPct ?? '-'} kernel)${p.subscriberThreadsElu === null ? '' : ` (event-loop utilisation ${p.subscriberThreadsElu.join(', ')})`}, the rest (kernel softirqs, other programs) ${p.restCpuPct ?? '-'} %; machine ${p.machineBusyPct} % busy of ${availableParallelism()} cores`);
  if (p.updates !== null && p.delayMs !== null) {
    const u = p.updates;
    say(`  updates       ${u.inWindowTotal} in the window (per subscriber min ${u.inWindowPerSubscriber.min} mean ${u.inWindowPerSubscriber.mean} max ${u.inWindowPerSubscriber.max}, ${u.perSubscriberPerSec}/s each); whole phase ${u.wholePhaseTotal} (${Object.entries(u.wholePhaseByChannel).map(([k, v]) => `${k} ${v}`).join(', ')}); ${p.receivedMB} MB received, ${p.bytesPerFrame} B a frame, ${p.framesPerRead} frames a socket read (${p.readsPerSec} reads/s, ${p.subscriberCpuUsPerRead} µs of subscriber CPU a read)`);
    say(`  delay (ms)    p50 ${p.delayMs.p50} p90 ${p.delayMs.p90} p99 ${p.delayMs.p99} p99.9 ${p.delayMs.p99_9} max ${p.delayMs.max} mean ${p.delayMs.mean}; over ${DELAY_TARGET_MS} ms: ${p.delayOver20msPct} % (worst subscriber ${p.worstSubscriberOver20msPct} %)`);
    say(`  integrity     gaps ${p.gaps} (${p.subscribersWithGaps} subscribers), disconnects ${p.disconnects} ${JSON.stringify(p.closeCodes)}, behind the last heartbeat ${p.behindHeartbeatAtEnd}, negative delays ${p.negativeDelays}, other messages ${JSON.stringify(p.otherMessages)}`);
    if (p.subscriberErrors !== null && p.subscriberErrors.length > 0) say(`  errors        ${p.subscriberErrors.slice(0, 3).join(' | ')}`);
  }
  if (p.perSecond.length > 0) {
    say(`  per second    updates ${p.perSecond.map((s) => s.updates).join(' ')}`);
    say(`                worst delay ms ${p.perSecond.map((s) => s.maxDelayMs).join(' ')}`);
  }
  if (p.neighbours.length > 0) say(`  WARNING       other programs ran during the window (the numbers are not this run's alone): ${p.neighbours.slice(0, 3).join('; ')}`);
  say(`  server log    ${p.serverLogLinesDuring} line(s) during the phase${p.serverLogNotable.length > 0 ? `: ${p.serverLogNotable.join(' | ').slice(0, 600)}` : ''}`);
}

function report(t: Target, results: PhaseResult[], logPath: string | null): void {
  const phases = results.map((r) => phaseLine(r));
  const withs = phases.filter((p) => p.phase === 'with');
  const withouts = phases.filter((p) => p.phase === 'without');
  const mean = (v: number[]) => (v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length);
  const ackWith = mean(withs.map((p) => p.ackPerSec));
  const ackWithout = mean(withouts.map((p) => p.ackPerSec));
  const ratio = ackWith !== null && ackWithout !== null && ackWithout > 0 ? Number((ackWith / ackWithout).toFixed(3)) : null;
  const cpuWith = mean(withs.map((p) => p.serverCpuUsPerOrder ?? NaN));
  const cpuWithout = mean(withouts.map((p) => p.serverCpuUsPerOrder ?? NaN));
  const allReports = results.flatMap((r) => r.reports ?? []);
  const m = allReports.length > 0 ? merged(allReports) : null;
  const first = withs[0];
  say('');
  say(`market-data fan-out: ${SUBSCRIBERS} subscribers to ${CHANNELS.join(' + ')} of ${SYMBOL}, ${LOAD}, phases ${PHASES.join(', ')}`);
  if (m !== null) say(`  delay (ms, all with-phases)  p50 ${m.delay.p50} p90 ${m.delay.p90} p99 ${m.delay.p99} p99.9 ${m.delay.p99_9} max ${m.delay.max}: p99 ≤ ${DELAY_TARGET_MS} ms ${m.delay.p99 <= DELAY_TARGET_MS ? 'met' : 'NOT met'} at ${ackWith?.toFixed(0)} orders/s (the target is at 100,000/s)`);
  if (ratio !== null) say(`  throughput    ${ackWith?.toFixed(0)} acks/s with subscribers, ${ackWithout?.toFixed(0)} without: ratio ${ratio}${SATURATE ? ` (drop ≤ 10 %: ${ratio >= 0.9 ? 'met' : 'NOT met'})` : ' (open loop: both at the offered rate; compare the server CPU per order instead)'}; server CPU per order ${cpuWith?.toFixed(0)} µs with, ${cpuWithout?.toFixed(0)} µs without`);
  if (logPath !== null) say(`  server log    ${logPath}`);
  const line = {
    bench: 'md.fanout',
    url: t.child === null ? t.base : 'self-started',
    durability: t.child === null ? null : SERVER.durability,
    gateways: t.child === null ? null : SERVER.gateways,
    mode: NO_ORDERS ? 'none' : SATURATE ? 'saturate' : 'open',
    offeredPerSec: SATURATE || NO_ORDERS ? null : RATE,
    symbol: SYMBOL,
    channels: CHANNELS,
    subscribers: SUBSCRIBERS,
    subscribersConnected: first?.subscribersConnected ?? 0,
    subThreads: SUB_THREADS,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    phases: PHASES,
    ackPerSecWith: ackWith === null ? null : Math.round(ackWith),
    ackPerSecWithout: ackWithout === null ? null : Math.round(ackWithout),
    throughputRatio: ratio,
    serverCpuUsPerOrderWith: cpuWith === null || Number.isNaN(cpuWith) ? null : Math.round(cpuWith),
    serverCpuUsPerOrderWithout: cpuWithout === null || Number.isNaN(cpuWithout) ? null : Math.round(cpuWithout),
    delayMs: m?.delay ?? null,
    delayNote: 'receive time (µs) − update ts (engine time floored to the ms): an upper bound, up to 1 ms above the true delay',
    /** Date.now() − (performance.timeOrigin + performance.now()) here at the end: how far the clock the delays use is from the wall clock */
    clockOffsetMs: Number((Date.now() - (performance.timeOrigin + performance.now())).toFixed(2)),
    delayOver20msPct: m === null ? null : Number(m.over20Pct.toFixed(3)),
    updatesInWindow: m?.totalWindow ?? null,
    updatesPerSubscriber: m?.window ?? null,
    gaps: m?.gaps ?? null,
    disconnects: m?.disconnects ?? null,
    behindHeartbeatAtEnd: m?.behindAtEnd ?? null,
    delayP99Le20ms: m === null ? null : m.delay.p99 <= DELAY_TARGET_MS,
    throughputDropLe10pct: ratio === null ? null : ratio >= 0.9,
    serverLog: logPath,
    phaseResults: phases,
    cores: availableParallelism(),
    loadavg1: Number(loadavg()[0]!.toFixed(2)),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

runMain(cli, main);
