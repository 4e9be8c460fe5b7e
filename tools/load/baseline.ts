/**
 * `make loadtest-baseline`: the speed of light of this machine. The project's load targets are
 * measured with the load generator on the same (2-core) machine as the server, so part of every
 * ceiling is the machine's and the generator's, not the exchange's. This runs the very same load
 * generators, in one run, against a server that does nothing: bare uWebSockets.js (the native
 * binary, one thread), no sequencer, no journal, no engine.
 *
 * `--serve [--port N]`: the bare server. `GET /healthz`, `GET /v1/symbols` (the embedded demo
 * reference data, every symbol open), `POST /v1/order` (reads and JSON.parses the body, answers
 * 201 with an order object of the real answer's shape echoing the request: the cost of parse and
 * stringify with nothing behind it), and `/v1/ws` (MessagePack: a Logon is answered with a Logon;
 * every NewOrderSingle and every OrderCancelRequest with one ExecutionReport of the real report's
 * keys in the real order, a per-session seqNum, execType 0 for an order and 4 for a cancel, whose
 * clOrdId is then the canceled order's). Stops on SIGTERM / SIGINT (or after --max-seconds).
 *
 * Default: starts that server as a child process on a free loopback port, then one after the other
 *   (a) autocannon GET /healthz,            --connections (default 50), --duration seconds
 *   (b) autocannon POST /v1/order,          a constant realistic order body, same connections
 *   (c) ws-load --saturate                  closed loop, 50 sessions × 32 in flight
 *   (d) ws-load --rate 50000                open loop, latency from the intended send times
 * each after --warmup unmeasured seconds; REST latency per answer in µs (as rest-load records it)
 * and autocannon's own (2xx, whole ms), autocannon's CPU (this process) and the server's
 * (/proc/PID/stat); ws-load measures its own and the server's (--server-pid). One human line and
 * one JSON line {"bench":"baseline.rest.healthz" | "baseline.rest.order" | "baseline.ws.saturate"
 * | "baseline.ws.open50k", ...} per part, then the child is stopped with SIGTERM. Loopback only;
 * bounded in time: a watchdog ends everything (the child and a running ws-load included).
 *
 * `--md`: the market-data fan-out instead (issue 5; tools/load/baseline-md.ts): the bare server
 * also serves `/v1/md` (seqex's subscribe protocol and frames, uWS pub/sub topics, a publisher
 * driven by a timer in the server at a given rate of updates); md-load's 1,000 subscribers measure
 * it at each of `--md-rates` (default 20,100,1000 updates/s), and seqex itself (one `seqex serve`
 * started for the run) at the ws-load rates that give the same frames a second; delay, gaps, CPU
 * of the server and of the subscribers, deliveries a second and CPU µs a delivery, one human line
 * and one JSON line {"bench":"baseline.md.fanout"} per part, then {"bench":"baseline.md.ceiling"}:
 * the most deliveries a second the bare server and the subscribers reach on this machine.
 *   node dist/tools/load/baseline.js --md [--duration 5] [--warmup 1] [--md-rates 20,100,1000]
 *     [--md-targets bare,seqex] [--subscribers 1000] [--sub-threads 1] [--connect-batch 100]
 *     [--wait-quiet 60] (before each part, at most that long for the machine to be quiet)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';
import { Packr, Unpackr } from 'msgpackr';
import type { HttpResponse, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { DEMO_ASSETS, DEMO_SYMBOLS } from '../../src/server/config.js';
import { loadUws } from '../../src/gateway/uws.js';
import { mdPartSeconds, runMd, SEQEX_FRAMES_PER_ORDER, serveMd } from './baseline-md.js';
import { cpuBetween, cpuSample, freePort, latencyMs, parseCli, runJsonTool, runMain, startWatchdog, stopServer, type Target } from './common.js';

const HELP = `usage: node dist/tools/load/baseline.js [options]
  --duration S         measured seconds of each of the four parts (default 5)
  --warmup S           unmeasured seconds before each part (default 1; 0 for none)
  --connections N      autocannon connections (default 50)
  --json-only          print only the JSON lines
  --md                 the market-data fan-out parts instead (see tools/load/baseline-md.ts)
  --md-rates LIST      with --md: update rates a second (default 20,100,1000)
  --md-seqex-rates L   with --md: seqex's ws-load orders/s per rate (default rate × 2 / 1.13)
  --md-targets LIST    with --md: bare,seqex (default both)
  --subscribers N      with --md: md-load's subscribers (default 1000)
  --sub-threads N      with --md: md-load's subscriber threads (default 1)
  --connect-batch N    with --md: md-load's connections opened at once per thread (default 100)
  --wait-quiet S       with --md: before each part wait at most S s for the machine to be under
                       25 % busy for 3 s (default 60; 0: do not wait)
  --serve              be the bare server instead (for a run of your own)
  --port N             with --serve: the port on 127.0.0.1 (default 0: any free one, printed)
  --max-seconds S      with --serve: exit after S seconds (default 0: run until SIGTERM)`;

const { opt, cli } = parseCli('baseline', HELP, {
  duration: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '1' },
  connections: { type: 'string', default: '50' },
  serve: { type: 'boolean', default: false },
  port: { type: 'string', default: '0' },
  'max-seconds': { type: 'string', default: '0' },
  md: { type: 'boolean', default: false },
  'md-rates': { type: 'string', default: '20,100,1000' },
  'md-seqex-rates': { type: 'string' },
  'md-targets': { type: 'string', default: 'bare,seqex' },
  subscribers: { type: 'string', default: '1000' },
  'sub-threads': { type: 'string', default: '1' },
  'connect-batch': { type: 'string', default: '100' },
  'wait-quiet': { type: 'string', default: '60' },
});
const { say, warn, intOpt } = cli;

const DURATION_S = intOpt('duration', opt.duration, 1, 600);
const WARMUP_S = intOpt('warmup', opt.warmup, 0, 60);
const CONNECTIONS = intOpt('connections', opt.connections, 1, 1000);
const MD = opt.md;
const intList = (name: string, text: string, min: number, max: number): number[] => text.split(',').filter((x) => x !== '').map((x) => intOpt(name, x, min, max));
const MD_RATES = intList('md-rates', opt['md-rates'], 1, 100_000);
const MD_SEQEX_RATES = opt['md-seqex-rates'] === undefined ? MD_RATES.map((r) => Math.max(1, Math.round((r * 2) / SEQEX_FRAMES_PER_ORDER))) : intList('md-seqex-rates', opt['md-seqex-rates'], 1, 1_000_000);
if (MD_SEQEX_RATES.length !== MD_RATES.length) cli.fail('--md-seqex-rates needs one rate per --md-rates rate');
const MD_TARGETS = opt['md-targets'].split(',').filter((x) => x !== '');
if (MD_TARGETS.length === 0 || MD_TARGETS.some((x) => x !== 'bare' && x !== 'seqex')) cli.fail('--md-targets is a comma-separated list of bare / seqex');
const SUBSCRIBERS = intOpt('subscribers', opt.subscribers, 1, 100_000);
const SUB_THREADS = intOpt('sub-threads', opt['sub-threads'], 1, 64);
const CONNECT_BATCH = intOpt('connect-batch', opt['connect-batch'], 1, 10_000);
const WAIT_QUIET_S = intOpt('wait-quiet', opt['wait-quiet'], 0, 3600);
/** four parts, each with its warm-up and (ws-load) set-up and drain, plus slack; with --md its parts */
const WATCHDOG_S = MD ? MD_RATES.length * MD_TARGETS.length * mdPartSeconds({ durationS: DURATION_S, warmupS: WARMUP_S, subscribers: SUBSCRIBERS, waitQuietS: WAIT_QUIET_S }) + 120 : 4 * (DURATION_S + WARMUP_S + 20) + 60;
const API_KEY = 'sk_baseline';
const ORDER_BODY = '{"symbol":"AAPL","side":"buy","type":"limit","qty":"10","price":"189.50","clOrdId":"bl-0000000001"}';

// ---------------------------------------------------------------- the bare server

interface Order {
  symbol: string;
  side: string;
  ordType: string;
  timeInForce?: string;
  orderQty: string;
  price: string;
}
interface Inbound extends Partial<Order> {
  msgType?: string;
  clOrdId?: string;
  origClOrdId?: string;
}
interface Session {
  seqNum: number;
  /** the session's last order: a cancel's report carries its fields (nothing is tracked) */
  last: Order;
}

function serve(port: number, maxSeconds: number): void {
  const { uws, binary } = loadUws();
  const packr = new Packr({ useRecords: false });
  const unpackr = new Unpackr({ useRecords: false });
  const symbolsJson = JSON.stringify({ assets: DEMO_ASSETS, symbols: DEMO_SYMBOLS.map((s) => ({ ...s, state: 'open' })), seq: 0 });
  const firstOrder: Order = { symbol: 'AAPL', side: '1', ordType: '2', orderQty: '10', price: '189.50' };
  let seq = 0;
  const sockets = new Set<WebSocket<Session>>();
  const app = uws.App();
  const reply = (res: HttpResponse, status: string, body: string): void => void res.writeStatus(status).writeHeader('content-type', 'application/json').end(body);

  app.get('/healthz', (res) => reply(res, '200 OK', '{"status":"ok"}'));
  app.get('/v1/symbols', (res) => reply(res, '200 OK', symbolsJson));
  app.post('/v1/order', (res) => {
    let aborted = false;
    let body: Buffer | null = null;
    res.onAborted(() => (aborted = true));
    res.onData((chunk, isLast) => {
      body = body === null ? Buffer.from(chunk.slice(0)) : Buffer.concat([body, Buffer.from(chunk)]);
      if (!isLast || aborted) return;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(body.toString()) as Record<string, unknown>;
      } catch {
        res.cork(() => reply(res, '400 Bad Request', '{"error":"INVALID_REQUEST","message":"the body is not JSON"}'));
        return;
      }
      const now = new Date().toISOString();
      const id = ++seq;
      const answer = JSON.stringify({
        orderId: id, clOrdId: o.clOrdId ?? null, accountId: 1, symbol: o.symbol, side: o.side, type: o.type, tif: o.tif ?? 'GTC', price: o.price ?? null, stopPrice: null, qty: o.qty, filledQty: '0',
        leavesQty: o.qty, avgPx: '0', status: 'new', postOnly: false, stp: 'cancel_newest', expireTime: null, rejectReason: null, reason: null, createdAt: now, updatedAt: now, seq: id, fills: [],
      });
      res.cork(() => reply(res, '201 Created', answer));
    });
  });
  app.ws<Session>('/v1/ws', {
    maxPayloadLength: 16 * 1024,
    idleTimeout: 0,
    maxBackpressure: 8 * 1024 * 1024,
    open: (ws) => {
      const s = ws.getUserData();
      s.seqNum = 1;
      s.last = firstOrder;
      sockets.add(ws);
    },
    close: (ws) => void sockets.delete(ws),
    message: (ws, data) => {
      const m = unpackr.unpack(Buffer.from(data)) as Inbound;
      const s = ws.getUserData();
      if (m.msgType === 'A') {
        ws.send(packr.pack({ msgType: 'A', accountId: 1, heartBtInt: 30, nextSeqNum: 1, cancelOnDisconnect: false }), true);
        return;
      }
      if (m.msgType !== 'D' && m.msgType !== 'F') return;
      const cancel = m.msgType === 'F';
      if (!cancel) s.last = m as Order;
      const o = s.last;
      const now = Date.now();
      const id = ++seq;
      const report = {
        msgType: '8', seqNum: s.seqNum++, sendingTime: now, transactTime: now, execId: `${id}.1`, orderId: id, clOrdId: cancel ? m.origClOrdId : m.clOrdId, symbol: o.symbol, side: o.side, ordType: o.ordType,
        timeInForce: o.timeInForce ?? '1', execType: cancel ? '4' : '0', ordStatus: cancel ? '4' : '0', orderQty: o.orderQty, price: o.price, cumQty: '0', leavesQty: cancel ? '0' : o.orderQty, avgPx: '0', seq: id,
      };
      ws.send(packr.pack(report), true);
    },
  });

  const md = serveMd(app, (l) => process.stdout.write(`${l}\n`));

  let listenSocket: us_listen_socket | null = null;
  const stop = () => {
    if (listenSocket !== null) uws.us_listen_socket_close(listenSocket);
    for (const ws of sockets) ws.end(1001, 'server stopping');
    md.stop();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (maxSeconds > 0) setTimeout(stop, maxSeconds * 1000);
  app.listen('127.0.0.1', port, (s) => {
    if (s === false) {
      warn(`cannot listen on 127.0.0.1:${port}`);
      process.exit(1);
    }
    listenSocket = s;
    process.stdout.write(`baseline: bare uWebSockets.js (native ${binary}, one thread, no exchange) listening on http://127.0.0.1:${uws.us_socket_local_port(s)}\n`);
  });
}

// ---------------------------------------------------------------- the runs

type Line = Record<string, unknown> & { bench: string };

function emit(human: string, line: Line): Line {
  say(human);
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}

/** one autocannon run against the child; the latency of every answer in µs (as rest-load records it) */
async function autocannonRun(t: Target, name: string, req: Pick<autocannon.Options, 'url' | 'method' | 'headers' | 'body'>): Promise<Line> {
  const pid = t.child!.pid!;
  const once = (seconds: number, hist: hdr.Histogram | null) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      const inst = autocannon({ ...req, connections: CONNECTIONS, duration: seconds, timeout: 10 }, (err: unknown, r: autocannon.Result) => (err ? reject(err) : resolve(r)));
      if (hist !== null) inst.on('response', (_client, _status, _bytes, responseTime) => hist.recordValue(Math.max(1, Math.round(responseTime * 1000))));
    });
  if (WARMUP_S > 0) await once(WARMUP_S, null);
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const c0 = cpuSample(pid);
  const ac = await once(DURATION_S, hist);
  const c = cpuBetween(c0, cpuSample(pid));
  const lat = latencyMs(hist);
  const line: Line = {
    bench: `baseline.rest.${name}`,
    request: `${req.method ?? 'GET'} ${new URL(req.url).pathname}`,
    connections: CONNECTIONS,
    durationS: Number(c.seconds.toFixed(2)),
    requests: hist.totalCount,
    reqPerSecMean: Math.round(ac.requests.mean),
    latencyMs: lat,
    autocannonLatencyMs: { p50: ac.latency.p50, p99: ac.latency.p99 },
    non2xx: ac.non2xx,
    errors: ac.errors,
    timeouts: ac.timeouts,
    autocannonCpuPct: Math.round(c.selfPct),
    serverCpuPct: c.serverPct === null ? null : Math.round(c.serverPct),
    otherCpuPct: Math.round(c.otherPct),
    machineBusyPct: Math.round(c.machineBusyPct),
  };
  const human = `REST ${String(line.request).padEnd(17)} ${String(line.reqPerSecMean).padStart(7)} req/s   p50 ${lat.p50} ms  p99 ${lat.p99} ms   CPU (% of a core): autocannon ${line.autocannonCpuPct}, server ${line.serverCpuPct}; non-2xx ${ac.non2xx}, errors ${ac.errors}`;
  return emit(human, line);
}

/** the slot for a running ws-load or md-load, so the watchdog and an early exit kill it too */
let toolChild: ChildProcess | null = null;

/** dist/tools/load/ws-load.js against the child; its JSON line */
async function wsLoadRun(t: Target, name: string, args: string[]): Promise<Line> {
  const script = fileURLToPath(new URL('./ws-load.js', import.meta.url));
  const argv = [...args, '--duration', String(DURATION_S), '--warmup', String(WARMUP_S), '--url', t.base, '--key', API_KEY, '--server-pid', String(t.child!.pid), '--json-only'];
  // its warning about one account does not apply here: the bare server sends each session only its own reports
  const w = (await runJsonTool(script, argv, (c) => (toolChild = c), (text) => process.stderr.write(text.replace(/^ws-load: every session on one account.*\n/m, '')))) as Record<string, unknown> & {
    latencyMs: { p50: number; p99: number };
  };
  const line: Line = {
    bench: `baseline.ws.${name}`,
    sessions: w.sessions,
    offeredPerSec: w.offeredPerSec,
    durationS: w.durationS,
    ackPerSec: w.ackPerSec,
    unacked: w.unacked,
    latencyMs: w.latencyMs,
    latencyFrom: w.latencyFrom,
    generatorCpuPct: w.generatorCpuPct,
    serverCpuPct: w.serverCpuPct,
    otherCpuPct: w.otherCpuPct,
    machineBusyPct: w.machineBusyPct,
  };
  const mode = w.offeredPerSec === null ? 'saturate' : `open ${String(w.offeredPerSec)}/s`;
  const human = `WS   ${mode.padEnd(17)} ${String(w.ackPerSec).padStart(7)} acks/s  p50 ${w.latencyMs.p50} ms  p99 ${w.latencyMs.p99} ms   CPU (% of a core): generator ${String(w.generatorCpuPct)}, server ${String(w.serverCpuPct)}; unacked ${String(w.unacked)}`;
  return emit(human, line);
}

/** the bare server as a child process; resolves once it listens */
async function startChild(): Promise<Target> {
  const port = await freePort();
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, '--serve', '--port', String(port), '--max-seconds', String(WATCHDOG_S + 30)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const t: Target = { base: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, port, adminToken: null, key: API_KEY, child, dataDir: null, log: [], logCount: 0, demoKey: null };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bare server did not start within 15 s')), 15_000);
    child.stdout!.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n').filter((l) => l !== '')) {
        t.log.push(line);
        say(line);
        if (line.includes(' listening on ')) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`the bare server exited at start (${String(code ?? sig)})`));
    });
  });
  return t;
}

async function main(): Promise<number> {
  const t = await startChild();
  startWatchdog(cli, WATCHDOG_S * 1000, t);
  // an exit for any reason (the watchdog, a signal, an error) leaves no child behind
  process.on('exit', () => {
    toolChild?.kill('SIGKILL');
    if (t.child!.exitCode === null && t.child!.signalCode === null) t.child!.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const what = MD ? `market-data fan-out, ${SUBSCRIBERS} subscribers, bare and seqex at ${MD_RATES.join(', ')} updates/s` : 'the load generators';
  say(`baseline: ${what} against the bare server (pid ${t.child!.pid}), ${DURATION_S} s each after ${WARMUP_S} s warm-up`);
  let ok = false;
  try {
    if (MD) {
      const targets = MD_TARGETS as ('bare' | 'seqex')[];
      await runMd({ cli, bare: t, rates: MD_RATES, seqexRates: MD_SEQEX_RATES, targets, subscribers: SUBSCRIBERS, subThreads: SUB_THREADS, connectBatch: CONNECT_BATCH, durationS: DURATION_S, warmupS: WARMUP_S, waitQuietS: WAIT_QUIET_S, emit, setChild: (c) => (toolChild = c) });
    } else {
      const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
      await autocannonRun(t, 'healthz', { url: `${t.base}/healthz` });
      await autocannonRun(t, 'order', { url: `${t.base}/v1/order`, method: 'POST', headers, body: ORDER_BODY });
      await wsLoadRun(t, 'saturate', ['--saturate']);
      await wsLoadRun(t, 'open50k', ['--rate', '50000']);
    }
    ok = true;
  } catch (e) {
    warn((e as Error).stack ?? String(e));
  } finally {
    const code = await stopServer(t, (l) => say(`baseline: ${l}`), 10_000);
    say(`baseline: bare server stopped (${String(code)})`);
  }
  return ok ? 0 : 1;
}

if (opt.serve) serve(intOpt('port', opt.port, 0, 65535), intOpt('max-seconds', opt['max-seconds'], 0, 86_400));
else runMain(cli, main);
