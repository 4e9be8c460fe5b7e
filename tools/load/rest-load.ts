/**
 * `make loadtest`: autocannon (programmatic) against `POST /v1/order` (SPEC §5), with a realistic
 * mix per connection, each connection trading for its own funded account:
 *
 *   cycle of 8 requests: a passive buy and a passive sell deep in the book (21-100 ticks from the
 *   mid, later canceled), a passive buy and a passive sell near the mid (1-20 ticks), an IOC buy and
 *   an IOC sell crossing 20 ticks through the mid (they fill against the near orders, the rest
 *   expires, so the book stays centred), and two cancels (`DELETE /v1/order?clOrdId=`) of this
 *   connection's deep orders of an earlier cycle (never touched by the IOCs, so they are live).
 *   So 75 % new orders (half of them resting, a quarter crossing) and 25 % cancels.
 *
 * Target: `--url http://127.0.0.1:PORT` (loopback only) with `--admin-token T` (accounts are made
 * and funded for the run), `--data-dir DIR` (the admin token read from DIR/admin-token), or
 * `--key K` (every connection trades for that one account: its rate limit applies). Without
 * `--url` it starts `seqex serve` itself as a child process on a free port, in a temporary data
 * directory under journal/ (the data disk, as the journal bench), with a rate limit out of the
 * way, measures the child's CPU from /proc, stops it with SIGTERM and removes the directory.
 *
 * Prints req/s (mean and median of the per-second counts), latency percentiles over every
 * response (µs resolution; autocannon's own table counts only the 2xx, in whole ms), non-2xx by
 * status and by request kind, errors and timeouts, autocannon's own CPU and the server's, then one
 * JSON line {"bench":"rest.order", ...}. Bounded in time: a watchdog ends everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';

// ---------------------------------------------------------------- options

const HELP = `usage: node dist/tools/load/rest-load.js [options]
  --url URL            a running server (127.0.0.1 / localhost only); default: start one
  --admin-token T      with --url: make and fund accounts for the run
  --data-dir DIR       with --url: read the admin token from DIR/admin-token
  --key K              with --url: trade for this one account (its rate limit applies)
  --duration S         measured seconds (default 10)
  --warmup S           unmeasured seconds before (default 2; 0 for none)
  --connections N      (default 50)
  --pipelining N       requests in flight per connection (default 1)
  --accounts N         accounts to spread the connections over (default min(connections, 100))
  --symbols A,B        (default AAPL,META,MSFT)
  --durability D       self-started server: fsync | batch | none (default fsync)
  --gateways N         self-started server: gateway threads (default: the server's own default)
  --server-node-args=S self-started server: extra node flags, e.g. --server-node-args="--cpu-prof --cpu-prof-dir=/tmp/p"
  --timeout S          per-request timeout (default 10)
  --json-only          print only the JSON line`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        url: { type: 'string' },
        'admin-token': { type: 'string' },
        'data-dir': { type: 'string' },
        key: { type: 'string' },
        duration: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '2' },
        connections: { type: 'string', default: '50' },
        pipelining: { type: 'string', default: '1' },
        accounts: { type: 'string' },
        symbols: { type: 'string', default: 'AAPL,META,MSFT' },
        durability: { type: 'string', default: 'fsync' },
        gateways: { type: 'string' },
        'server-node-args': { type: 'string', default: '' },
        timeout: { type: 'string', default: '10' },
        'json-only': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (e) {
    process.stderr.write(`rest-load: ${(e as Error).message}\n${HELP}\n`);
    process.exit(2);
  }
}
const { values: opt } = parseOptions();
if (opt.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

function intOpt(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in ${min}..${max}, got "${text}"`);
  return n;
}
function fail(message: string): never {
  process.stderr.write(`rest-load: ${message}\n`);
  process.exit(2);
}

const DURATION_S = intOpt('duration', opt.duration!, 1, 3600);
const WARMUP_S = intOpt('warmup', opt.warmup!, 0, 600);
const CONNECTIONS = intOpt('connections', opt.connections!, 1, 10_000);
const PIPELINING = intOpt('pipelining', opt.pipelining!, 1, 64);
const ACCOUNTS = intOpt('accounts', opt.accounts ?? String(Math.min(CONNECTIONS, 100)), 1, 10_000);
const TIMEOUT_S = intOpt('timeout', opt.timeout!, 1, 120);
const SYMBOLS = opt.symbols!.split(',').filter((s) => s !== '');
if (SYMBOLS.length === 0) fail('--symbols is empty');
if (!['fsync', 'batch', 'none'].includes(opt.durability!)) fail('--durability must be fsync, batch or none');
if (PIPELINING > 1)
  process.stderr.write(
    'rest-load: warning: uWebSockets.js closes a connection on which a request arrives while an answer is still pending ' +
      '(it refuses "async pipelining" by design), and every answer here waits for the sequencer: with --pipelining > 1 expect almost no answers\n',
  );
const GATEWAYS = opt.gateways === undefined ? null : intOpt('gateways', opt.gateways, 1, 64);
const quiet = opt['json-only']!;
const say = (line = '') => {
  if (!quiet) process.stdout.write(`${line}\n`);
};

/** Everything (start, set-up, warm-up, run, stop) must end by then, or the watchdog ends it. */
const WATCHDOG_MS = (DURATION_S + WARMUP_S + 120) * 1000;

// ---------------------------------------------------------------- the server

interface Target {
  base: string;
  host: string;
  port: number;
  adminToken: string | null;
  key: string | null;
  child: ChildProcess | null;
  dataDir: string | null;
  log: string[];
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/tools/load/ → repo root
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

async function freePort(): Promise<number> {
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

async function startServer(): Promise<Target> {
  const base = join(ROOT, 'journal');
  mkdirSync(base, { recursive: true });
  const dataDir = mkdtempSync(join(base, '.loadtest-'));
  const adminToken = `adm_loadtest_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const port = await freePort();
  const nodeArgs = opt['server-node-args']!.split(' ').filter((a) => a !== '');
  const args = [...nodeArgs, join(ROOT, 'dist/tools/cli/seqex.js'), 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--durability', opt.durability!];
  if (GATEWAYS !== null) args.push('--gateways', String(GATEWAYS));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SEQEX_RATE_LIMIT: '100000000', SEQEX_ADMIN_TOKEN: adminToken },
  });
  const log: string[] = [];
  const t: Target = { base: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, adminToken, key: null, child, dataDir, log };
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
        if (log.length > 200) log.shift();
        const m = /seqex is running: http:\/\/[^:]+:(\d+)/.exec(line);
        if (m !== null) {
          clearTimeout(timer);
          t.port = Number(m[1]);
          t.base = `http://127.0.0.1:${t.port}`;
          resolve();
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`the server exited at start (${code ?? sig})`));
    });
  });
  return t;
}

async function stopServer(t: Target): Promise<number | string | null> {
  const child = t.child;
  let result: number | string | null = null;
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref());
    const r = await Promise.race([exited, timer]);
    if (r === 'timeout') {
      say('rest-load: the server did not stop within 30 s of SIGTERM: SIGKILL');
      child.kill('SIGKILL');
      result = await exited;
    } else result = r;
  } else if (child !== null) result = child.exitCode ?? child.signalCode;
  if (t.dataDir !== null) rmSync(t.dataDir, { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------- CPU accounting from /proc

const CLK_TCK = 100; // Linux USER_HZ

/** utime and stime (fields 14 and 15 of /proc/.../stat) in clock ticks */
function procUserSys(path: string): { user: number; sys: number } {
  try {
    const s = readFileSync(path, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return { user: Number(f[11]), sys: Number(f[12]) };
  } catch {
    return { user: 0, sys: 0 };
  }
}

function procTicks(path: string): number {
  const t = procUserSys(path);
  return t.user + t.sys;
}

function threadTicks(pid: number): Map<number, number> {
  const m = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) m.set(Number(tid), procTicks(`/proc/${pid}/task/${tid}/stat`));
  } catch {
    // gone
  }
  return m;
}

/** CPU ticks of every process now (pid → [ticks, name]) */
function allProcesses(): Map<number, [number, string]> {
  const m = new Map<number, [number, string]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      m.set(Number(name), [Number(f[11]) + Number(f[12]), s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'))]);
    } catch {
      // ended meanwhile
    }
  }
  return m;
}

/** a short form of a process's command line: "node vitest run", "tsc -p tsconfig.json" */
function commandLine(pid: number): string | null {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    if (argv.length === 0) return null;
    return argv
      .slice(0, 3)
      .map((a) => (a.includes('/') ? a.slice(a.lastIndexOf('/') + 1) : a))
      .join(' ')
      .slice(0, 40);
  } catch {
    return null;
  }
}

/** busy, steal and total jiffies of the whole machine (user nice system idle iowait irq softirq steal; guest is inside user) */
function machineTicks(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.split(/\s+/).slice(1, 9).map((x) => Number(x) || 0);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = v as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

// ---------------------------------------------------------------- HTTP set-up calls (fetch)

async function call(t: Target, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
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

interface Grid {
  digits: bigint;
  scale: number;
}
const grid = (text: string): Grid => {
  const [i, f = ''] = text.split('.');
  return { digits: BigInt(`${i}${f}`), scale: f.length };
};
/** count × unit as decimal text */
const fmt = (count: number, g: Grid): string => {
  const v = (BigInt(count) * g.digits).toString().padStart(g.scale + 1, '0');
  return g.scale === 0 ? v : `${v.slice(0, v.length - g.scale)}.${v.slice(v.length - g.scale)}`;
};
/** decimal text → count of unit (rounded) */
const count = (text: string, g: Grid): number => Math.round(Number(text) / (Number(g.digits) / 10 ** g.scale));

interface Sym {
  symbol: string;
  base: string;
  quote: string;
  tick: Grid;
  lot: Grid;
  midTicks: number;
  minLots: number;
  /** the farthest offset from the mid used (ticks), within the price band */
  maxOffset: number;
  /** the IOCs cross this many ticks through the mid; passive orders nearer than this get filled */
  crossTicks: number;
}

async function referenceData(t: Target): Promise<{ syms: Sym[]; decimals: Map<string, number> }> {
  const r = await call(t, 'GET', '/v1/symbols', null);
  if (r.status !== 200) throw new Error(`GET /v1/symbols: ${r.status} ${JSON.stringify(r.json)}`);
  const all = r.json.symbols as Record<string, string>[];
  const decimals = new Map((r.json.assets as { asset: string; decimals: number }[]).map((a) => [a.asset, a.decimals]));
  const syms: Sym[] = [];
  for (const name of SYMBOLS) {
    const s = all.find((x) => x.symbol === name);
    if (s === undefined) throw new Error(`unknown symbol ${name} (the server has ${all.map((x) => x.symbol).join(', ')})`);
    if (s.state !== 'open') throw new Error(`symbol ${name} is ${s.state}`);
    const tick = grid(s.tickSize!);
    const lot = grid(s.lotSize!);
    const midTicks = count(s.referencePrice ?? '0', tick);
    if (!(midTicks > 0)) throw new Error(`symbol ${name} has no reference price`);
    const bandTicks = Math.floor((midTicks * Number(s.priceBandPct ?? '10')) / 100);
    const maxOffset = Math.max(4, Math.min(100, Math.floor(bandTicks * 0.8)));
    syms.push({ symbol: name, base: s.base!, quote: s.quote!, tick, lot, midTicks, minLots: Math.max(1, count(s.minQty ?? '0', lot)), maxOffset, crossTicks: Math.max(1, Math.floor(maxOffset / 5)) });
  }
  return { syms, decimals };
}

/** Accounts for the run, each funded well beyond what the run can reserve. */
async function makeAccounts(t: Target, syms: Sym[], decimals: Map<string, number>, runTag: string): Promise<string[]> {
  if (t.adminToken === null) {
    if (t.key === null) throw new Error('give --admin-token, --data-dir or --key with --url');
    return [t.key];
  }
  const assets = new Map<string, string>();
  for (const s of syms) {
    assets.set(s.quote, '1000000000'); // 1e9 quote units
    assets.set(s.base, '1000000'); // 1e6 base units
  }
  const keys: string[] = new Array<string>(ACCOUNTS);
  const one = async (i: number) => {
    const a = await call(t, 'POST', '/v1/admin/accounts', t.adminToken, { name: `load-${runTag}-${i}` });
    if (a.status !== 201) throw new Error(`create account: ${a.status} ${JSON.stringify(a.json)}`);
    for (const [asset, amount] of assets) {
      const d = decimals.get(asset) ?? 0;
      const r = await call(t, 'POST', `/v1/admin/accounts/${String(a.json.accountId)}/deposit`, t.adminToken, {
        asset,
        amount: d === 0 ? amount : `${amount}.${'0'.repeat(d)}`,
        transferId: `load-${runTag}-${i}-${asset}`,
      });
      if (r.status !== 200) throw new Error(`deposit ${asset}: ${r.status} ${JSON.stringify(r.json)}`);
    }
    keys[i] = a.json.apiKey as string;
  };
  for (let i = 0; i < ACCOUNTS; i += 16) await Promise.all(Array.from({ length: Math.min(16, ACCOUNTS - i) }, (_, j) => one(i + j)));
  return keys;
}

// ---------------------------------------------------------------- the request mix

type Kind = 'deepBuy' | 'deepSell' | 'nearBuy' | 'nearSell' | 'iocBuy' | 'iocSell' | 'cancel' | 'cancel2';
const CYCLE: Kind[] = ['deepBuy', 'deepSell', 'nearBuy', 'nearSell', 'iocBuy', 'iocSell', 'cancel', 'cancel2'];
const KIND_GROUP: Record<Kind, string> = {
  deepBuy: 'order.rest',
  deepSell: 'order.rest',
  nearBuy: 'order.rest',
  nearSell: 'order.rest',
  iocBuy: 'order.ioc',
  iocSell: 'order.ioc',
  cancel: 'cancel',
  cancel2: 'cancel',
};

/** per-kind counts of answers by status, filled by onResponse */
const byKind = new Map<string, Map<number, number>>();
const countAnswer = (group: string, status: number) => {
  let m = byKind.get(group);
  if (m === undefined) byKind.set(group, (m = new Map()));
  m.set(status, (m.get(status) ?? 0) + 1);
};

/** State of one connection, kept on its own (deep-cloned) request object, so it lives across cycles. */
interface Conn {
  ready: boolean;
  id: number;
  auth: string;
  /** clOrdIds made */
  n: number;
  /** requests made (the position in the cycle) */
  k: number;
  lastClOrdId: string;
  /** deep orders sent, oldest first: [clOrdId], canceled LAG cycles later */
  deep: string[];
  /** kinds sent and not yet answered, in order (answers come in order on one connection) */
  sent: string[];
  rng: number;
}

interface Mix {
  requests: autocannon.Request[];
  setupClient: (client: autocannon.Client) => void;
}

let nextConn = 0;

function mix(syms: Sym[], keys: string[], runTag: string): Mix {
  // a deep order is canceled this many cycles later: enough for its answer to be in under pipelining
  const lagCycles = 1 + Math.ceil(PIPELINING / CYCLE.length);
  const rand = (c: Conn): number => {
    // xorshift32: cheap, so the generator spends its CPU on HTTP
    let x = c.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    c.rng = x >>> 0;
    return c.rng / 4294967296;
  };
  const between = (c: Conn, lo: number, hi: number) => lo + Math.floor(rand(c) * (hi - lo + 1));
  const order = (c: Conn, sym: Sym, side: 'buy' | 'sell', offsetTicks: number, lots: number, ioc: boolean): string => {
    const px = side === 'buy' ? sym.midTicks - offsetTicks : sym.midTicks + offsetTicks;
    const clOrdId = `${runTag}${c.id.toString(36)}-${(c.n++).toString(36)}`;
    c.lastClOrdId = clOrdId;
    return (
      `{"symbol":"${sym.symbol}","side":"${side}","type":"limit","qty":"${fmt(lots, sym.lot)}","price":"${fmt(px, sym.tick)}"` +
      (ioc ? `,"tif":"IOC"` : '') +
      `,"clOrdId":"${clOrdId}"}`
    );
  };
  const setupRequest = (req: autocannon.Request & { conn?: Conn }): autocannon.Request => {
    const c = req.conn!;
    if (!c.ready) {
      c.ready = true;
      c.id = nextConn++;
      c.auth = `Bearer ${keys[c.id % keys.length]}`;
      c.rng = (0x9e3779b9 * (c.id + 1)) >>> 0 || 1;
    }
    const kind = CYCLE[c.k % CYCLE.length]!;
    const sym = syms[(c.id + Math.floor(c.k / CYCLE.length)) % syms.length]!;
    c.k++;
    const headers = { authorization: c.auth, 'content-type': 'application/json' };
    let out: autocannon.Request;
    const lots = () => between(c, sym.minLots, sym.minLots * 10);
    switch (kind) {
      case 'deepBuy':
      case 'deepSell': {
        const body = order(c, sym, kind === 'deepBuy' ? 'buy' : 'sell', between(c, sym.crossTicks + 1, sym.maxOffset), lots(), false);
        c.deep.push(c.lastClOrdId);
        out = { method: 'POST', path: '/v1/order', headers, body };
        break;
      }
      case 'nearBuy':
      case 'nearSell':
        out = { method: 'POST', path: '/v1/order', headers, body: order(c, sym, kind === 'nearBuy' ? 'buy' : 'sell', between(c, 1, sym.crossTicks), lots(), false) };
        break;
      case 'iocBuy':
      case 'iocSell':
        out = { method: 'POST', path: '/v1/order', headers, body: order(c, sym, kind === 'iocBuy' ? 'buy' : 'sell', -sym.crossTicks, between(c, sym.minLots * 5, sym.minLots * 20), true) };
        break;
      default: {
        const target = c.deep.length > 2 * lagCycles ? c.deep.shift()! : null;
        // too early in the run to cancel: one more deep order instead (canceled later like the others)
        if (target === null) {
          const body = order(c, sym, rand(c) < 0.5 ? 'buy' : 'sell', between(c, sym.crossTicks + 1, sym.maxOffset), lots(), false);
          c.deep.push(c.lastClOrdId);
          c.sent.push('order.rest');
          return { method: 'POST', path: '/v1/order', headers, body };
        }
        out = { method: 'DELETE', path: `/v1/order?clOrdId=${target}`, headers };
      }
    }
    c.sent.push(KIND_GROUP[kind]);
    return out;
  };
  const onResponse = (status: number, _body: string, context: { conn?: Conn }) => {
    const c = context.conn;
    if (c === undefined) return;
    countAnswer(c.sent.shift() ?? 'unknown', status);
  };
  const conn: Conn = { ready: false, id: 0, auth: '', n: 0, k: 0, lastClOrdId: '', deep: [], sent: [], rng: 1 };
  // autocannon deep-clones each connection's options, so every connection gets its own `conn`;
  // setupRequest copies the reference into the (per-cycle) context for onResponse
  const request = {
    method: 'POST',
    path: '/v1/order',
    conn,
    setupRequest: (req: autocannon.Request & { conn?: Conn }, context: { conn?: Conn }) => {
      context.conn = req.conn;
      return setupRequest(req);
    },
    onResponse,
  } as unknown as autocannon.Request;
  // a timed-out connection is reconnected with fresh requests: the answers it waited for are lost
  const setupClient = (client: autocannon.Client) => {
    const c = (client as unknown as { opts: { requests: { conn: Conn }[] } }).opts.requests[0]!.conn;
    client.on('timeout' as 'body', () => {
      if (c.sent.length > PIPELINING) c.sent.splice(0, c.sent.length - PIPELINING);
    });
  };
  return { requests: [request], setupClient };
}

// ---------------------------------------------------------------- one autocannon run

interface RunResult {
  ac: autocannon.Result;
  hist: hdr.Histogram;
  wallMs: number;
  cpuUs: number;
  cpuSysUs: number;
  server: { ticks: number; sysTicks: number; threads: Map<number, number> } | null;
  /** other processes that used CPU during the run: [name (pid), ticks] */
  others: [string, number][];
  machine: { busy: number; steal: number; total: number };
}

async function runOnce(t: Target, m: Mix, seconds: number, measure: boolean): Promise<RunResult> {
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const pid = t.child?.pid ?? null;
  const s0 = pid === null ? null : { ...procUserSys(`/proc/${pid}/stat`), threads: threadTicks(pid) };
  const procs0 = allProcesses();
  const mach0 = machineTicks();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  let settle: (r: autocannon.Result) => void = () => {};
  let failRun: (e: unknown) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    settle = resolve;
    failRun = reject;
  });
  const inst = autocannon(
    {
      url: `${t.base}/v1/order`,
      connections: CONNECTIONS,
      pipelining: PIPELINING,
      duration: seconds,
      timeout: TIMEOUT_S,
      requests: m.requests,
      setupClient: m.setupClient,
    },
    (err: unknown, result: autocannon.Result) => (err ? failRun(err) : settle(result)),
  );
  if (measure) inst.on('response', (_client, _status, _bytes, responseTime) => hist.recordValue(Math.max(1, Math.round(responseTime * 1000))));
  const ac = await done;
  const wallMs = performance.now() - w0;
  const cpu = process.cpuUsage(cpu0);
  const mach1 = machineTicks();
  const others: [string, number][] = [];
  for (const [p, [ticks, name]] of allProcesses()) {
    if (p === process.pid || p === pid) continue;
    const d = ticks - (procs0.get(p)?.[0] ?? 0); // a process started meanwhile: all its ticks
    if (d > 0) others.push([`${commandLine(p) ?? name} (${p})`, d]);
  }
  others.sort((a, b) => b[1] - a[1]);
  let server: RunResult['server'] = null;
  if (pid !== null && s0 !== null) {
    const t1 = threadTicks(pid);
    const threads = new Map<number, number>();
    for (const [tid, v] of t1) threads.set(tid, v - (s0.threads.get(tid) ?? 0));
    const p1 = procUserSys(`/proc/${pid}/stat`);
    server = { ticks: p1.user + p1.sys - s0.user - s0.sys, sysTicks: p1.sys - s0.sys, threads };
  }
  return {
    ac,
    hist,
    wallMs,
    cpuUs: cpu.user + cpu.system,
    cpuSysUs: cpu.system,
    server,
    others,
    machine: { busy: mach1.busy - mach0.busy, steal: mach1.steal - mach0.steal, total: mach1.total - mach0.total },
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const runTag = Math.random().toString(36).slice(2, 6);
  let target: Target;
  if (opt.url !== undefined) {
    const u = new URL(opt.url);
    if (u.protocol !== 'http:' || !LOOPBACK.has(u.hostname)) fail('--url must be http://127.0.0.1:PORT (loopback only)');
    let adminToken = opt['admin-token'] ?? null;
    if (adminToken === null && opt['data-dir'] !== undefined) adminToken = readFileSync(join(opt['data-dir'], 'admin-token'), 'utf8').trim();
    target = { base: u.origin, host: u.hostname, port: Number(u.port || 80), adminToken, key: opt.key ?? null, child: null, dataDir: null, log: [] };
    if (adminToken === null && target.key === null) fail('with --url give --admin-token, --data-dir or --key');
  } else {
    say(`rest-load: starting seqex serve (durability ${opt.durability}${GATEWAYS === null ? '' : `, ${GATEWAYS} gateway(s)`}) ...`);
    target = await startServer();
    say(`rest-load: server pid ${target.child!.pid} on ${target.base}, data in ${target.dataDir}`);
  }
  const watchdog = setTimeout(() => {
    process.stderr.write(`rest-load: watchdog: still running after ${WATCHDOG_MS / 1000} s: stopping\n`);
    target.child?.kill('SIGKILL');
    if (target.dataDir !== null) rmSync(target.dataDir, { recursive: true, force: true });
    process.exit(3);
  }, WATCHDOG_MS);
  watchdog.unref();
  // interrupted: the self-started server gets the signal too (same process group); wait for it, clean up
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`rest-load: ${sig}: stopping\n`);
    void stopServer(target).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let ok = false;
  try {
    const { syms, decimals } = await referenceData(target);
    const keys = await makeAccounts(target, syms, decimals, runTag);
    say(`rest-load: ${keys.length} account(s), ${CONNECTIONS} connections, pipelining ${PIPELINING}, symbols ${SYMBOLS.join(',')}`);
    if (WARMUP_S > 0) {
      say(`rest-load: warm-up ${WARMUP_S} s ...`);
      await runOnce(target, mix(syms, keys, `${runTag}w`), WARMUP_S, false);
    }
    byKind.clear();
    nextConn = 0;
    say(`rest-load: measuring ${DURATION_S} s ...`);
    const r = await runOnce(target, mix(syms, keys, `${runTag}m`), DURATION_S, true);
    report(target, r);
    ok = true;
  } catch (e) {
    process.stderr.write(`rest-load: ${(e as Error).stack ?? String(e)}\n`);
    if (target.log.length > 0) process.stderr.write(`server log (last lines):\n${target.log.slice(-30).join('\n')}\n`);
  } finally {
    if (target.child !== null) {
      const code = await stopServer(target);
      say(`rest-load: server stopped (${String(code)}), data directory removed`);
      if (code !== 0) process.stderr.write(`server log (last lines):\n${target.log.slice(-15).join('\n')}\n`);
    }
    clearTimeout(watchdog);
  }
  return ok ? 0 : 1;
}

function report(t: Target, r: RunResult): void {
  const { ac, hist } = r;
  const secs = r.wallMs / 1000;
  const total = hist.totalCount;
  const ms = (p: number) => Number((hist.getValueAtPercentile(p) / 1000).toFixed(3));
  const lat = { p50: ms(50), p90: ms(90), p99: ms(99), p99_9: ms(99.9), max: Number((hist.maxValue / 1000).toFixed(3)), mean: Number((hist.mean / 1000).toFixed(3)) };
  const statuses: Record<string, number> = {};
  for (const [code, v] of Object.entries(ac.statusCodeStats ?? {})) statuses[code] = v.count ?? 0;
  const non2xx: Record<string, number> = {};
  for (const [code, n] of Object.entries(statuses)) if (!code.startsWith('2')) non2xx[code] = n;
  const kinds: Record<string, Record<string, number>> = {};
  for (const [k, m] of byKind) kinds[k] = Object.fromEntries([...m].sort((a, b) => a[0] - b[0]));
  const loadCpuPct = (r.cpuUs / 1e6 / secs) * 100;
  const serverCpuPct = r.server === null ? null : (r.server.ticks / CLK_TCK / secs) * 100;
  const threads =
    r.server === null
      ? null
      : [...r.server.threads]
          .map(([tid, ticks]) => ({ tid, main: tid === t.child!.pid, pct: Math.round((ticks / CLK_TCK / secs) * 1000) / 10 }))
          .filter((x) => x.pct >= 1)
          .sort((a, b) => b.pct - a.pct);
  const cores = availableParallelism();
  const machinePct = r.machine.total > 0 ? (r.machine.busy / r.machine.total) * 100 : 0;
  const stealPct = r.machine.total > 0 ? (r.machine.steal / r.machine.total) * 100 : 0;
  /** CPU (% of one core) used by anything but autocannon and the server: other work on the machine, the kernel's softirqs */
  const otherPct = Math.max(0, (r.machine.busy / CLK_TCK / secs) * 100 - loadCpuPct - (serverCpuPct ?? 0));
  const loadSysPct = (r.cpuSysUs / 1e6 / secs) * 100;
  const serverSysPct = r.server === null ? null : (r.server.sysTicks / CLK_TCK / secs) * 100;
  say('');
  say(`REST POST /v1/order mix, ${ac.connections} connections × pipelining ${ac.pipelining}, ${ac.duration} s${t.child === null ? ` against ${t.base}` : `, self-started server (durability ${opt.durability}${GATEWAYS === null ? '' : `, ${GATEWAYS} gateway(s)`})`}`);
  say(`  requests      ${ac.requests.total} answered in ${secs.toFixed(1)} s (${(total / secs).toFixed(0)}/s overall), ${ac.requests.sent} sent`);
  say(`  req/s         mean ${ac.requests.mean.toFixed(0)}, median ${ac.requests.p50}, min ${ac.requests.min}, max ${ac.requests.max} (per-second samples)`);
  say(`  latency (ms)  p50 ${lat.p50}  p90 ${lat.p90}  p99 ${lat.p99}  p99.9 ${lat.p99_9}  max ${lat.max}  mean ${lat.mean}  (every answer; autocannon's 2xx-only, whole ms: p50 ${ac.latency.p50} p99 ${ac.latency.p99})`);
  say(`  status        ${Object.entries(statuses).map(([c, n]) => `${c}: ${n}`).join(', ') || 'none'}`);
  say(`  non-2xx       ${ac.non2xx}${ac.non2xx > 0 ? ` (${Object.entries(non2xx).map(([c, n]) => `${c}: ${n}`).join(', ')})` : ''}`);
  for (const [k, m] of Object.entries(kinds)) say(`    ${k.padEnd(11)} ${Object.entries(m).map(([c, n]) => `${c}: ${n}`).join(', ')}`);
  say(`  errors        ${ac.errors} (timeouts ${ac.timeouts}), mismatches ${ac.mismatches}, resets ${ac.resets}`);
  say(`  CPU (% of one core)  autocannon ${loadCpuPct.toFixed(0)} (${loadSysPct.toFixed(0)} in the kernel)${serverCpuPct === null ? '' : `; server ${serverCpuPct.toFixed(0)} (${serverSysPct!.toFixed(0)} in the kernel; by thread: ${threads!.map((x) => `${x.pct}${x.main ? ' main' : ''}`).join(', ')})`}; everything else${t.child === null ? ' (the server included)' : ''} ${otherPct.toFixed(0)}`);
  const othersText = r.others
    .filter(([, ticks]) => ticks / CLK_TCK / secs >= 0.02)
    .slice(0, 4)
    .map(([n, ticks]) => `${n} ${((ticks / CLK_TCK / secs) * 100).toFixed(0)}`)
    .join(', ');
  say(`  machine       ${machinePct.toFixed(0)} % busy of ${cores} cores, steal ${stealPct.toFixed(1)} %${othersText === '' ? '' : `; other processes (% of a core): ${othersText}`}`);
  if (otherPct > 15 && t.child !== null) say(`  NOTE          ${otherPct.toFixed(0)} % of a core went to other work during the run: the numbers above are lower than on a quiet machine`);
  const line = {
    bench: 'rest.order',
    url: t.child === null ? t.base : 'self-started',
    durability: t.child === null ? null : opt.durability,
    gateways: t.child === null ? null : GATEWAYS,
    connections: ac.connections,
    pipelining: ac.pipelining,
    durationS: Number(secs.toFixed(2)),
    requests: total,
    reqPerSecMean: Math.round(ac.requests.mean),
    reqPerSecMedian: ac.requests.p50,
    latencyMs: lat,
    statuses,
    non2xx: ac.non2xx,
    byKind: kinds,
    errors: ac.errors,
    timeouts: ac.timeouts,
    autocannonCpuPct: Math.round(loadCpuPct),
    autocannonSysCpuPct: Math.round(loadSysPct),
    serverCpuPct: serverCpuPct === null ? null : Math.round(serverCpuPct),
    serverSysCpuPct: serverSysPct === null ? null : Math.round(serverSysPct),
    serverThreadsCpuPct: threads?.map((x) => x.pct) ?? null,
    otherCpuPct: Math.round(otherPct),
    otherProcesses: Object.fromEntries(r.others.slice(0, 4).map(([n, ticks]) => [n, Math.round((ticks / CLK_TCK / secs) * 100)])),
    machineBusyPct: Math.round(machinePct),
    stealPct: Number(stealPct.toFixed(1)),
    cores,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`rest-load: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
