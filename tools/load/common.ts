/**
 * Shared by the load tools (rest-load.ts, ws-load.ts, ws-idle.ts): the command line (parse, --help,
 * integer options, --json-only, the server options, --url), start `seqex serve` as a child process
 * on a free loopback port in a temporary data directory (removed after), stop it with SIGTERM and
 * wait for its exit, a watchdog, read its CPU and memory from /proc, make and fund accounts through
 * the admin REST API, read the symbols' grids.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/tools/load/ → repo root
export const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
export const CLK_TCK = 100; // Linux USER_HZ

// ---------------------------------------------------------------- the command line

/** every tool has these; parseCli adds them */
const BASE_OPTIONS = {
  'json-only': { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

/** the self-started server's options (spread into parseCli's options; read with serverChoice) */
export const SERVER_OPTIONS = {
  durability: { type: 'string', default: 'fsync' },
  gateways: { type: 'string' },
  'server-node-args': { type: 'string', default: '' },
} as const;

/** a running server instead of a self-started one (spread into parseCli's options; read with urlTarget) */
export const URL_OPTIONS = {
  url: { type: 'string' },
  'admin-token': { type: 'string' },
  'data-dir': { type: 'string' },
  key: { type: 'string' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O & typeof BASE_OPTIONS; strict: true }>>['values'];

export interface Cli {
  /** the tool's name, the prefix of its messages */
  tool: string;
  /** a line to stdout, unless --json-only */
  say: (line?: string) => void;
  /** a line to stderr, prefixed with the tool's name */
  warn: (line: string) => void;
  /** a usage error: the message to stderr, exit 2 */
  fail: (message: string) => never;
  /** an integer option in min..max, or fail */
  intOpt: (name: string, text: string, min: number, max: number) => number;
}

/** Parses the command line (strict; with --json-only and --help): on an error the usage and exit 2, on --help the usage and exit 0. */
export function parseCli<O extends Options>(tool: string, help: string, options: O): { opt: Values<O>; cli: Cli } {
  const warn = (line: string) => process.stderr.write(`${tool}: ${line}\n`);
  const fail = (message: string): never => {
    warn(message);
    process.exit(2);
  };
  let opt: Values<O>;
  try {
    opt = parseArgs({ options: { ...options, ...BASE_OPTIONS }, strict: true }).values as Values<O>;
  } catch (e) {
    process.stderr.write(`${tool}: ${(e as Error).message}\n${help}\n`);
    process.exit(2);
  }
  const base = opt as { help: boolean; 'json-only': boolean };
  if (base.help) {
    process.stdout.write(`${help}\n`);
    process.exit(0);
  }
  const quiet = base['json-only'];
  const say = (line = '') => {
    if (!quiet) process.stdout.write(`${line}\n`);
  };
  const intOpt = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in ${min}..${max}, got "${text}"`);
    return n;
  };
  return { opt, cli: { tool, say, warn, fail, intOpt } };
}

/** what to start: --durability, --gateways, --server-node-args */
export interface ServerChoice {
  durability: string;
  gateways: number | null;
  /** extra node flags for the server, e.g. --cpu-prof */
  nodeArgs: string[];
}

/** Reads (and checks) SERVER_OPTIONS. */
export function serverChoice(cli: Cli, opt: { durability: string; gateways?: string | undefined; 'server-node-args': string }): ServerChoice {
  if (!['fsync', 'batch', 'none'].includes(opt.durability)) cli.fail('--durability must be fsync, batch or none');
  return {
    durability: opt.durability,
    gateways: opt.gateways === undefined ? null : cli.intOpt('gateways', opt.gateways, 1, 64),
    nodeArgs: opt['server-node-args'].split(' ').filter((a) => a !== ''),
  };
}

/** "durability fsync" or "durability fsync, 2 gateway(s)" */
export const describeServer = (s: ServerChoice): string => `durability ${s.durability}${s.gateways === null ? '' : `, ${s.gateways} gateway(s)`}`;

// ---------------------------------------------------------------- the server

export interface Target {
  /** http://127.0.0.1:PORT */
  base: string;
  /** ws://127.0.0.1:PORT/v1/ws */
  wsUrl: string;
  port: number;
  adminToken: string | null;
  key: string | null;
  child: ChildProcess | null;
  dataDir: string | null;
  log: string[];
  /** lines logged in all (log keeps the last 300) */
  logCount: number;
  /** the demo account's key of a self-started server */
  demoKey: string | null;
}

export interface ServerOptions extends ServerChoice {
  /** raise the child's open-files limit (shell `ulimit -n`; the hard limit if that is lower) first; null: leave it */
  nofile: number | null;
  /** names the data directory (journal/.TAG-*) and the admin token */
  tag: string;
  /** more environment for the server, e.g. SEQEX_RATE_LIMIT */
  env?: Record<string, string>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `seqex serve` as a child process; resolves once it prints "seqex is running". */
export async function startServer(o: ServerOptions): Promise<Target> {
  const base = join(ROOT, 'journal');
  mkdirSync(base, { recursive: true });
  const dataDir = mkdtempSync(join(base, `.${o.tag}-`));
  const adminToken = `adm_${o.tag}_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const port = await freePort();
  const args = [...o.nodeArgs, join(ROOT, 'dist/tools/cli/seqex.js'), 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--durability', o.durability];
  if (o.gateways !== null) args.push('--gateways', String(o.gateways));
  // a load tool opens many market-data connections from 127.0.0.1 (md-load: 1,000 subscribers), past
  // the server's default per-address cap (docs/market-data.md): its own server gets a larger one
  const env = { SEQEX_MD_CONNECTIONS_PER_ADDRESS: '1000000', ...process.env, ...o.env, SEQEX_ADMIN_TOKEN: adminToken };
  let child: ChildProcess;
  if (o.nofile !== null) {
    // the shell raises the limit, then exec keeps its pid for the server
    const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    child = spawn('/bin/sh', ['-c', `ulimit -n ${o.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
  } else child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  const log: string[] = [];
  const t: Target = { base: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, port, adminToken, key: null, child, dataDir, log, logCount: 0, demoKey: null };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start within 30 s')), 30_000);
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        log.push(line);
        t.logCount++;
        if (log.length > 300) log.shift();
        const m = /seqex is running: http:\/\/[^:]+:(\d+)/.exec(line);
        if (m !== null) {
          clearTimeout(timer);
          t.port = Number(m[1]);
          t.base = `http://127.0.0.1:${t.port}`;
          t.wsUrl = `ws://127.0.0.1:${t.port}/v1/ws`;
          resolve();
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`the server exited at start (${code ?? sig}): ${log.slice(-5).join(' | ')}`));
    });
  });
  try {
    t.demoKey = (JSON.parse(readFileSync(join(dataDir, 'demo-account.json'), 'utf8')) as { apiKey: string }).apiKey;
  } catch {
    t.demoKey = null;
  }
  return t;
}

/** SIGTERM, wait for the exit (SIGKILL after `graceMs`), remove the data directory. */
export async function stopServer(t: Target, say: (l: string) => void, graceMs = 30_000): Promise<number | string | null> {
  const child = t.child;
  let result: number | string | null = null;
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    const r = await Promise.race([exited, timer]);
    if (r === 'timeout') {
      say(`the server did not stop within ${graceMs / 1000} s of SIGTERM: SIGKILL`);
      child.kill('SIGKILL');
      result = await exited;
    } else result = r;
  } else if (child !== null) result = child.exitCode ?? child.signalCode;
  if (t.dataDir !== null) rmSync(t.dataDir, { recursive: true, force: true });
  return result;
}

/** --url (loopback only) with --admin-token, --data-dir (the admin token from DIR/admin-token) or --key: a running server. */
export function urlTarget(cli: Cli, url: string, opt: { 'admin-token'?: string | undefined; 'data-dir'?: string | undefined; key?: string | undefined }): Target {
  const u = new URL(url);
  if (u.protocol !== 'http:' || !LOOPBACK.has(u.hostname)) cli.fail('--url must be http://127.0.0.1:PORT (loopback only)');
  let adminToken = opt['admin-token'] ?? null;
  if (adminToken === null && opt['data-dir'] !== undefined) adminToken = readFileSync(join(opt['data-dir'], 'admin-token'), 'utf8').trim();
  const key = opt.key ?? null;
  if (adminToken === null && key === null) cli.fail('with --url give --admin-token, --data-dir or --key');
  return { base: u.origin, wsUrl: `ws://${u.host}/v1/ws`, port: Number(u.port || 80), adminToken, key, child: null, dataDir: null, log: [], logCount: 0, demoKey: null };
}

/** Everything (start, set-up, run, stop) must end within `ms`, or this kills the server, removes its data directory and exits 3. */
export function startWatchdog(cli: Cli, ms: number, t: Target): NodeJS.Timeout {
  const watchdog = setTimeout(() => {
    cli.warn(`watchdog: still running after ${ms / 1000} s: stopping`);
    t.child?.kill('SIGKILL');
    if (t.dataDir !== null) rmSync(t.dataDir, { recursive: true, force: true });
    process.exit(3);
  }, ms);
  watchdog.unref();
  return watchdog;
}

/** Stops a self-started server (nothing for a --url one) and says so; its last log lines if it did not exit 0. */
export async function stopOwnServer(cli: Cli, t: Target): Promise<void> {
  if (t.child === null) return;
  const code = await stopServer(t, (l) => cli.say(`${cli.tool}: ${l}`));
  cli.say(`${cli.tool}: server stopped (${String(code)}), data directory removed`);
  if (code !== 0) process.stderr.write(`server log (last lines):\n${t.log.slice(-15).join('\n')}\n`);
}

/**
 * `node <script> <args>` (another load tool, e.g. dist/tools/load/ws-load.js) to its end: its
 * JSON line ({"bench": ...}); throws if it exits with another code than 0 or prints none. `slot`
 * holds the running child (so a caller's exit handler can kill it); its stderr goes to `onStderr`
 * (default: this process's stderr).
 */
export async function runJsonTool(script: string, args: string[], slot: (c: ChildProcess | null) => void, onStderr: (text: string) => void = (t) => process.stderr.write(t)): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  slot(child);
  child.stderr!.on('data', (b: Buffer) => onStderr(b.toString()));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | string | null>((resolve) => child.once('exit', (c, sig) => resolve(c ?? sig)));
  slot(null);
  const json = out.split('\n').find((l) => l.startsWith('{"bench":'));
  if (code !== 0 || json === undefined) throw new Error(`${script.replace(/^.*\//, '')} ${args.join(' ')} ended with ${String(code)}: ${out.slice(-500)}`);
  return JSON.parse(json) as Record<string, unknown>;
}

/** Runs the tool's main and exits with its code (1, with the stack, if it throws). */
export function runMain(cli: Cli, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      cli.warn((e as Error).stack ?? String(e));
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------- /proc

/** utime and stime (fields 14 and 15 of /proc/.../stat) in clock ticks */
export function procUserSys(path: string): { user: number; sys: number } {
  try {
    const s = readFileSync(path, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return { user: Number(f[11]), sys: Number(f[12]) };
  } catch {
    return { user: 0, sys: 0 };
  }
}

export interface ThreadTicks {
  ticks: number;
  name: string;
}

export function threadTicks(pid: number): Map<number, ThreadTicks> {
  const m = new Map<number, ThreadTicks>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const t = procUserSys(`/proc/${pid}/task/${tid}/stat`);
      let name = '';
      try {
        name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      } catch {
        // gone
      }
      m.set(Number(tid), { ticks: t.user + t.sys, name });
    }
  } catch {
    // gone
  }
  return m;
}

/** busy, steal and total jiffies of the whole machine (user nice system idle iowait irq softirq steal; guest is inside user) */
export function machineTicks(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.split(/\s+/).slice(1, 9).map((x) => Number(x) || 0);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = v as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

/** VmRSS (and VmHWM) of a process in KiB */
export function procRssKiB(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rss: get('VmRSS'), hwm: get('VmHWM') };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** the soft open-files limit of a process */
export function nofileLimit(pid: number | 'self'): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return NaN;
  }
}

export interface CpuSample {
  wallMs: number;
  self: NodeJS.CpuUsage;
  server: { user: number; sys: number; threads: Map<number, ThreadTicks> } | null;
  machine: { busy: number; steal: number; total: number };
}

export function cpuSample(pid: number | null): CpuSample {
  return {
    wallMs: performance.now(),
    self: process.cpuUsage(),
    server: pid === null ? null : { ...procUserSys(`/proc/${pid}/stat`), threads: threadTicks(pid) },
    machine: machineTicks(),
  };
}

export interface CpuReport {
  seconds: number;
  /** % of one core */
  selfPct: number;
  selfSysPct: number;
  serverPct: number | null;
  serverSysPct: number | null;
  serverThreads: { tid: number; name: string; pct: number }[] | null;
  /** CPU of everything else on the machine (other processes, softirqs), % of one core */
  otherPct: number;
  machineBusyPct: number;
  stealPct: number;
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuReport {
  const secs = (b.wallMs - a.wallMs) / 1000;
  const selfPct = ((b.self.user - a.self.user + b.self.system - a.self.system) / 1e6 / secs) * 100;
  const selfSysPct = ((b.self.system - a.self.system) / 1e6 / secs) * 100;
  let serverPct: number | null = null;
  let serverSysPct: number | null = null;
  let serverThreads: CpuReport['serverThreads'] = null;
  if (a.server !== null && b.server !== null) {
    serverPct = ((b.server.user + b.server.sys - a.server.user - a.server.sys) / CLK_TCK / secs) * 100;
    serverSysPct = ((b.server.sys - a.server.sys) / CLK_TCK / secs) * 100;
    serverThreads = [...b.server.threads]
      .map(([tid, t]) => ({ tid, name: t.name, pct: Math.round(((t.ticks - (a.server!.threads.get(tid)?.ticks ?? 0)) / CLK_TCK / secs) * 1000) / 10 }))
      .filter((x) => x.pct >= 1)
      .sort((x, y) => y.pct - x.pct);
  }
  const dm = { busy: b.machine.busy - a.machine.busy, steal: b.machine.steal - a.machine.steal, total: b.machine.total - a.machine.total };
  const otherPct = Math.max(0, (dm.busy / CLK_TCK / secs) * 100 - selfPct - (serverPct ?? 0));
  return {
    seconds: secs,
    selfPct,
    selfSysPct,
    serverPct,
    serverSysPct,
    serverThreads,
    otherPct,
    machineBusyPct: dm.total > 0 ? (dm.busy / dm.total) * 100 : 0,
    stealPct: dm.total > 0 ? (dm.steal / dm.total) * 100 : 0,
  };
}

// ---------------------------------------------------------------- admin REST

export async function call(t: Target, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${t.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  const text = await r.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: r.status, json };
}

export interface Grid {
  digits: bigint;
  scale: number;
}
export const grid = (text: string): Grid => {
  const [i, f = ''] = text.split('.');
  return { digits: BigInt(`${i}${f}`), scale: f.length };
};
/** count × unit as decimal text */
export const fmt = (count: number, g: Grid): string => {
  const v = (BigInt(count) * g.digits).toString().padStart(g.scale + 1, '0');
  return g.scale === 0 ? v : `${v.slice(0, v.length - g.scale)}.${v.slice(v.length - g.scale)}`;
};
/** decimal text → count of unit (rounded) */
export const count = (text: string, g: Grid): number => Math.round(Number(text) / (Number(g.digits) / 10 ** g.scale));

export interface Sym {
  symbol: string;
  base: string;
  quote: string;
  tick: Grid;
  lot: Grid;
  midTicks: number;
  minLots: number;
  /** the price band around the reference, in ticks */
  bandTicks: number;
}

export async function referenceData(t: Target, names: string[]): Promise<{ syms: Sym[]; decimals: Map<string, number> }> {
  const r = await call(t, 'GET', '/v1/symbols', null);
  if (r.status !== 200) throw new Error(`GET /v1/symbols: ${r.status} ${JSON.stringify(r.json)}`);
  const all = r.json.symbols as Record<string, string>[];
  const decimals = new Map((r.json.assets as { asset: string; decimals: number }[]).map((a) => [a.asset, a.decimals]));
  const syms: Sym[] = [];
  for (const name of names) {
    const s = all.find((x) => x.symbol === name);
    if (s === undefined) throw new Error(`unknown symbol ${name} (the server has ${all.map((x) => x.symbol).join(', ')})`);
    if (s.state !== 'open') throw new Error(`symbol ${name} is ${s.state}`);
    const tick = grid(s.tickSize!);
    const lot = grid(s.lotSize!);
    const midTicks = count(s.referencePrice ?? '0', tick);
    if (!(midTicks > 0)) throw new Error(`symbol ${name} has no reference price`);
    const bandTicks = Math.floor((midTicks * Number(s.priceBandPct ?? '10')) / 100);
    syms.push({ symbol: name, base: s.base!, quote: s.quote!, tick, lot, midTicks, minLots: Math.max(1, count(s.minQty ?? '0', lot)), bandTicks });
  }
  return { syms, decimals };
}

/**
 * `n` new accounts, each funded far beyond what a run can reserve; returns their API keys. A --url
 * target with --key and no admin token: just that key.
 */
export async function makeAccounts(t: Target, n: number, syms: Sym[], decimals: Map<string, number>, tag: string): Promise<string[]> {
  if (t.adminToken === null) {
    if (t.key === null) throw new Error('making accounts needs the admin token');
    return [t.key];
  }
  const assets = new Map<string, string>();
  for (const s of syms) {
    assets.set(s.quote, '1000000000'); // 1e9 quote units
    assets.set(s.base, '1000000'); // 1e6 base units
  }
  const keys: string[] = new Array<string>(n);
  const one = async (i: number) => {
    const a = await call(t, 'POST', '/v1/admin/accounts', t.adminToken, { name: `${tag}-${i}` });
    if (a.status !== 201) throw new Error(`create account: ${a.status} ${JSON.stringify(a.json)}`);
    for (const [asset, amount] of assets) {
      const d = decimals.get(asset) ?? 0;
      const r = await call(t, 'POST', `/v1/admin/accounts/${String(a.json.accountId)}/deposit`, t.adminToken, {
        asset,
        amount: d === 0 ? amount : `${amount}.${'0'.repeat(d)}`,
        transferId: `${tag}-${i}-${asset}`,
      });
      if (r.status !== 200) throw new Error(`deposit ${asset}: ${r.status} ${JSON.stringify(r.json)}`);
    }
    keys[i] = a.json.apiKey as string;
  };
  for (let i = 0; i < n; i += 16) await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, j) => one(i + j)));
  return keys;
}

// ---------------------------------------------------------------- random numbers

/** xorshift32 on `o.rng` (cheap, so a generator spends its CPU on the load): a number in [0, 1) */
export function rand(o: { rng: number }): number {
  let x = o.rng;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  o.rng = x >>> 0;
  return o.rng / 4294967296;
}

/** an integer in lo..hi */
export const between = (o: { rng: number }, lo: number, hi: number): number => lo + Math.floor(rand(o) * (hi - lo + 1));

/** a non-zero xorshift32 state for the i-th connection or session */
export const rngSeed = (i: number): number => (0x9e3779b9 * (i + 1)) >>> 0 || 1;

// ---------------------------------------------------------------- reporting

/** p50 … p99.9, max and mean of an HdrHistogram of µs, in ms (3 decimals) */
export function latencyMs(h: { getValueAtPercentile(p: number): number; maxValue: number; mean: number }) {
  const ms = (v: number) => Number((v / 1000).toFixed(3));
  return { p50: ms(h.getValueAtPercentile(50)), p90: ms(h.getValueAtPercentile(90)), p99: ms(h.getValueAtPercentile(99)), p99_9: ms(h.getValueAtPercentile(99.9)), max: ms(h.maxValue), mean: ms(h.mean) };
}

// ---------------------------------------------------------------- a quiet machine

/** other processes that load the machine: exchanges, load tools, test runners, compilers */
function busyNeighbours(): string[] {
  const found: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid || pid === process.ppid) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (/seqex\.js serve|tools\/load\/|tools\/bench\/|vitest|\btsc\b|cc1|npm (ci|install)/.test(cmd)) found.push(`${pid} ${cmd.slice(0, 80)}`);
  }
  return found;
}

/**
 * Waits (at most `maxS` seconds) until no other exchange, load tool, test run or compiler has run
 * for 3 s and the machine was under 25 % busy for the last second: numbers from a shared machine
 * are noisy, and this makes the run at least start quiet. Returns the seconds waited. `cpuOnly`:
 * only the machine's CPU counts (on a machine where others wait for a shared benchmark lock, their
 * waiting commands look like load tools).
 */
export async function waitForQuiet(maxS: number, say: (l: string) => void, cpuOnly = false): Promise<number> {
  if (maxS <= 0) return 0;
  const t0 = performance.now();
  let quietSince = -1;
  let told = false;
  for (;;) {
    const waited = (performance.now() - t0) / 1000;
    const a = machineTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineTicks();
    const busyPct = ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100;
    const n = cpuOnly ? [] : busyNeighbours();
    const now = (performance.now() - t0) / 1000;
    if (n.length === 0 && busyPct < 25) {
      if (quietSince < 0) quietSince = now;
      if (now - quietSince >= 3) return now;
    } else {
      quietSince = -1;
      if (!told) {
        say(`waiting (at most ${maxS} s) for a quiet machine: ${busyPct.toFixed(0)} % busy; ${n.length > 0 ? n.slice(0, 3).join('; ') : 'no known neighbour'}`);
        told = true;
      }
    }
    if (waited >= maxS) {
      say(`the machine did not get quiet within ${maxS} s: running anyway (${busyPct.toFixed(0)} % busy; ${n.slice(0, 3).join('; ')})`);
      return now;
    }
  }
}
