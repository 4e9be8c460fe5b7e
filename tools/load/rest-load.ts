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
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';
import { between, CLK_TCK, cpuBetween, cpuSample, describeServer, fmt, latencyMs, makeAccounts, parseCli, rand, referenceData, runMain, rngSeed, serverChoice, SERVER_OPTIONS, startServer, startWatchdog, stopOwnServer, stopServer, URL_OPTIONS, urlTarget, type CpuReport, type Sym, type Target } from './common.js';

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

const { opt, cli } = parseCli('rest-load', HELP, {
  ...URL_OPTIONS,
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '2' },
  connections: { type: 'string', default: '50' },
  pipelining: { type: 'string', default: '1' },
  accounts: { type: 'string' },
  symbols: { type: 'string', default: 'AAPL,META,MSFT' },
  ...SERVER_OPTIONS,
  timeout: { type: 'string', default: '10' },
});
const { say, warn, fail, intOpt } = cli;

const DURATION_S = intOpt('duration', opt.duration, 1, 3600);
const WARMUP_S = intOpt('warmup', opt.warmup, 0, 600);
const CONNECTIONS = intOpt('connections', opt.connections, 1, 10_000);
const PIPELINING = intOpt('pipelining', opt.pipelining, 1, 64);
const ACCOUNTS = intOpt('accounts', opt.accounts ?? String(Math.min(CONNECTIONS, 100)), 1, 10_000);
const TIMEOUT_S = intOpt('timeout', opt.timeout, 1, 120);
const SYMBOLS = opt.symbols.split(',').filter((s) => s !== '');
if (SYMBOLS.length === 0) fail('--symbols is empty');
const SERVER = serverChoice(cli, opt);
if (PIPELINING > 1)
  warn(
    'warning: uWebSockets.js closes a connection on which a request arrives while an answer is still pending ' +
      '(it refuses "async pipelining" by design), and every answer here waits for the sequencer: with --pipelining > 1 expect almost no answers',
  );

/** Everything (start, set-up, warm-up, run, stop) must end by then, or the watchdog ends it. */
const WATCHDOG_MS = (DURATION_S + WARMUP_S + 120) * 1000;

// ---------------------------------------------------------------- the symbols

interface RestSym extends Sym {
  /** the farthest offset from the mid used (ticks), within the price band */
  maxOffset: number;
  /** the IOCs cross this many ticks through the mid; passive orders nearer than this get filled */
  crossTicks: number;
}

function withOffsets(s: Sym): RestSym {
  const maxOffset = Math.max(4, Math.min(100, Math.floor(s.bandTicks * 0.8)));
  return { ...s, maxOffset, crossTicks: Math.max(1, Math.floor(maxOffset / 5)) };
}

// ---------------------------------------------------------------- other processes' CPU (/proc)

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

function mix(syms: RestSym[], keys: string[], runTag: string): Mix {
  // a deep order is canceled this many cycles later: enough for its answer to be in under pipelining
  const lagCycles = 1 + Math.ceil(PIPELINING / CYCLE.length);
  const order = (c: Conn, sym: RestSym, side: 'buy' | 'sell', offsetTicks: number, lots: number, ioc: boolean): string => {
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
      c.rng = rngSeed(c.id);
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
  /** autocannon's (self), the server's and the machine's CPU over the run */
  cpu: CpuReport;
  /** other processes that used CPU during the run: [name (pid), ticks] */
  others: [string, number][];
}

async function runOnce(t: Target, m: Mix, seconds: number, measure: boolean): Promise<RunResult> {
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const pid = t.child?.pid ?? null;
  const procs0 = allProcesses();
  const cpu0 = cpuSample(pid);
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
  const cpu1 = cpuSample(pid);
  const others: [string, number][] = [];
  for (const [p, [ticks, name]] of allProcesses()) {
    if (p === process.pid || p === pid) continue;
    const d = ticks - (procs0.get(p)?.[0] ?? 0); // a process started meanwhile: all its ticks
    if (d > 0) others.push([`${commandLine(p) ?? name} (${p})`, d]);
  }
  others.sort((a, b) => b[1] - a[1]);
  return { ac, hist, cpu: cpuBetween(cpu0, cpu1), others };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const runTag = Math.random().toString(36).slice(2, 6);
  let target: Target;
  if (opt.url !== undefined) target = urlTarget(cli, opt.url, opt);
  else {
    say(`rest-load: starting seqex serve (${describeServer(SERVER)}) ...`);
    target = await startServer({ ...SERVER, nofile: null, tag: 'loadtest', env: { SEQEX_RATE_LIMIT: '100000000' } });
    say(`rest-load: server pid ${target.child!.pid} on ${target.base}, data in ${target.dataDir}`);
  }
  const watchdog = startWatchdog(cli, WATCHDOG_MS, target);
  // interrupted: the self-started server gets the signal too (same process group); wait for it, clean up
  const onSignal = (sig: NodeJS.Signals) => {
    warn(`${sig}: stopping`);
    void stopServer(target, (l) => say(`rest-load: ${l}`)).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let ok = false;
  try {
    const { syms: plain, decimals } = await referenceData(target, SYMBOLS);
    const syms = plain.map(withOffsets);
    const keys = await makeAccounts(target, ACCOUNTS, plain, decimals, `load-${runTag}`);
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
    warn((e as Error).stack ?? String(e));
    if (target.log.length > 0) process.stderr.write(`server log (last lines):\n${target.log.slice(-30).join('\n')}\n`);
  } finally {
    await stopOwnServer(cli, target);
    clearTimeout(watchdog);
  }
  return ok ? 0 : 1;
}

function report(t: Target, r: RunResult): void {
  const { ac, hist, cpu: c } = r;
  const secs = c.seconds;
  const total = hist.totalCount;
  const lat = latencyMs(hist);
  const statuses: Record<string, number> = {};
  for (const [code, v] of Object.entries(ac.statusCodeStats ?? {})) statuses[code] = v.count ?? 0;
  const non2xx: Record<string, number> = {};
  for (const [code, n] of Object.entries(statuses)) if (!code.startsWith('2')) non2xx[code] = n;
  const kinds: Record<string, Record<string, number>> = {};
  for (const [k, m] of byKind) kinds[k] = Object.fromEntries([...m].sort((a, b) => a[0] - b[0]));
  const loadCpuPct = c.selfPct;
  const loadSysPct = c.selfSysPct;
  const serverCpuPct = c.serverPct;
  const serverSysPct = c.serverSysPct;
  const threads = c.serverThreads;
  const cores = availableParallelism();
  const machinePct = c.machineBusyPct;
  const stealPct = c.stealPct;
  /** CPU (% of one core) used by anything but autocannon and the server: other work on the machine, the kernel's softirqs */
  const otherPct = c.otherPct;
  say('');
  say(`REST POST /v1/order mix, ${ac.connections} connections × pipelining ${ac.pipelining}, ${ac.duration} s${t.child === null ? ` against ${t.base}` : `, self-started server (${describeServer(SERVER)})`}`);
  say(`  requests      ${ac.requests.total} answered in ${secs.toFixed(1)} s (${(total / secs).toFixed(0)}/s overall), ${ac.requests.sent} sent`);
  say(`  req/s         mean ${ac.requests.mean.toFixed(0)}, median ${ac.requests.p50}, min ${ac.requests.min}, max ${ac.requests.max} (per-second samples)`);
  say(`  latency (ms)  p50 ${lat.p50}  p90 ${lat.p90}  p99 ${lat.p99}  p99.9 ${lat.p99_9}  max ${lat.max}  mean ${lat.mean}  (every answer; autocannon's 2xx-only, whole ms: p50 ${ac.latency.p50} p99 ${ac.latency.p99})`);
  say(`  status        ${Object.entries(statuses).map(([c, n]) => `${c}: ${n}`).join(', ') || 'none'}`);
  say(`  non-2xx       ${ac.non2xx}${ac.non2xx > 0 ? ` (${Object.entries(non2xx).map(([c, n]) => `${c}: ${n}`).join(', ')})` : ''}`);
  for (const [k, m] of Object.entries(kinds)) say(`    ${k.padEnd(11)} ${Object.entries(m).map(([c, n]) => `${c}: ${n}`).join(', ')}`);
  say(`  errors        ${ac.errors} (timeouts ${ac.timeouts}), mismatches ${ac.mismatches}, resets ${ac.resets}`);
  say(`  CPU (% of one core)  autocannon ${loadCpuPct.toFixed(0)} (${loadSysPct.toFixed(0)} in the kernel)${serverCpuPct === null ? '' : `; server ${serverCpuPct.toFixed(0)} (${serverSysPct!.toFixed(0)} in the kernel; by thread: ${threads!.map((x) => `${x.pct}${x.tid === t.child!.pid ? ' main' : ''}`).join(', ')})`}; everything else${t.child === null ? ' (the server included)' : ''} ${otherPct.toFixed(0)}`);
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
    durability: t.child === null ? null : SERVER.durability,
    gateways: t.child === null ? null : SERVER.gateways,
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

runMain(cli, main);
