/**
 * The market-data part of tools/load/baseline.ts (`baseline --md`): the machine's ceiling for the
 * fan-out of issue 5, measured with the very same subscribers (tools/load/md-load.ts and its
 * worker tools/load/md-subscribers.ts) against bare uWebSockets.js and against seqex, in one run.
 *
 * The bare server (`serveMd`, part of `baseline --serve`): `/v1/md` speaks the subscribe protocol
 * of docs/market-data.md for MessagePack (`subscribed`, then per (channel, symbol) a snapshot and
 * a uWS pub/sub subscription to the topic `b|channel:symbol`, as src/gateway/marketData.ts does;
 * `unsubscribe`; a heartbeat with the last seqs every second; a subscriber over 4 MiB unsent closed
 * with 4008 at the heartbeat, the same limits as seqex's MD_LIMITS) for `l2` and `trades` of any
 * symbol of the demo reference data. Every frame is built by seqex's own encoder
 * (src/mdworker/wire.ts: `Grid.update` / `Grid.snapshot`, then `encode`), so its keys, order,
 * types and size are those of seqex's frames (test/load/baseline-md.test.ts compares them with
 * frames captured from a real exchange). Nothing is published until `GET /baseline/md?...` starts
 * the publisher: `rate=N` updates a second (an update = what one trade at seqex gives: one `l2`
 * update, the maker's level shrinking, and one `trades` update with that trade, each with its
 * topic's seq rising by 1, `ts` = Date.now() at the publish, floored to the ms as seqex's engine
 * time is), to `symbol` (default AAPL), driven by a timer on the server's one thread; it starts
 * once `after=K` connections hold both subscriptions (0: now) and stops after `seconds=S`;
 * `rate=0` stops it.
 *
 * The runner (`runMd`): for each update rate of `--md-rates` (default 20,100,1000 a second):
 *   (a) bare: the bare server's publisher at that rate; md-load --no-orders against it (the same
 *       --subscribers, --sub-threads and --connect-batch as md-load's own defaults: 1,000, 1, 100);
 *   (b) seqex: one `seqex serve` started for the run (a temporary data directory, removed after),
 *       md-load --phases with at the ws-load open-loop rate that gives the same frames a second
 *       (`--md-seqex-rates`, default rate × 2 / 1.13: ws-load's mix gives 0.94 l2 and 0.18 trades
 *       updates an order, measured), on AAPL;
 * each after --warmup s (md-load's window: --duration s). From md-load's JSON: deliveries a second
 * (updates received by all subscribers in the window), the delay p50 / p99 / max (receive time −
 * the update's `ts`), gaps, disconnects, the server's CPU, the subscribers' (md-load's process),
 * the rest of the machine (other programs, interrupts), and the CPU µs per delivery of the server,
 * of the subscribers and of both (`total`; the rest is apart: on a shared machine it is mostly
 * other programs). A part is `saturated` when fewer than 95 % of the frames offered arrived in the window.
 * One human line and one JSON line {"bench":"baseline.md.fanout", target: "bare" | "seqex", ...}
 * per part; then {"bench":"baseline.md.ceiling"}: the most deliveries a second each reached (a
 * saturated part's number is the ceiling of server + subscribers on this machine), against what
 * issue 5 asks: 100,000 orders/s × 1.13 frames an order × 1,000 subscribers. An overloaded part's
 * backlog is not drained (md-load --settle-max): its subscribers are closed after the window.
 */
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Unpackr } from 'msgpackr';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { MD_LIMITS } from '../../src/gateway/marketData.js';
import type { L2Level, Trade } from '../../src/marketdata/types.js';
import { encode, Grid, type Message } from '../../src/mdworker/wire.js';
import { DEMO_SYMBOLS } from '../../src/server/config.js';
import { runJsonTool, startServer, stopServer, waitForQuiet, type Cli, type Target } from './common.js';

// ---------------------------------------------------------------- the frames

/** ws-load's mix gives this many l2 + trades updates an order (0.94 + 0.18, measured with md-load at 100 orders/s) */
export const SEQEX_FRAMES_PER_ORDER = 1.13;
/** the publisher's trade: a taker buying LOT_QTY at the best ask, whose level keeps LEFT_QTY in LEFT_COUNT orders */
const PX_TICKS = 19_001;
const TRADE_LOTS = 7;
const LEFT_LOTS = 93;
const LEFT_COUNT = 2;
/** snapshot depth (levels a side) and trades in the trades snapshot */
const SNAPSHOT_LEVELS = 40;
const SNAPSHOT_TRADES = 100;

const symbolIdx = new Map(DEMO_SYMBOLS.map((s, i) => [s.symbol, i]));
const grid = new Grid();
DEMO_SYMBOLS.forEach((s, i) => grid.set(i, s));

export interface TradeFields {
  symbol: string;
  /** the topic seqs of the two updates */
  l2Seq: number;
  tradesSeq: number;
  journalSeq: number;
  /** engine time, µs */
  tsUs: number;
  tradeId: number;
  priceTicks: number;
  qtyLots: number;
  /** 1 buy, 2 sell: the taker's */
  takerSide: number;
  /** the maker's level after the trade: [priceTicks, qtyLots, count] (qty 0: gone) */
  level: L2Level;
}

/**
 * The two messages one trade at seqex gives (the maker's level in `l2`, the trade in `trades`),
 * as seqex's market-data worker builds them: exactly seqex's frames for the same fields.
 */
export function tradeMessages(f: TradeFields): { l2: Message; trades: Message } {
  const idx = symbolIdx.get(f.symbol);
  if (idx === undefined) throw new Error(`unknown symbol ${f.symbol}`);
  const head = { symbolIdx: idx, symbol: f.symbol, journalSeq: f.journalSeq, tsUs: f.tsUs };
  const makerSide = f.takerSide === 1 ? 'asks' : 'bids';
  const l2 = grid.update({ ...head, channel: 'l2', seq: f.l2Seq, bids: makerSide === 'bids' ? [f.level] : [], asks: makerSide === 'asks' ? [f.level] : [] });
  const trade: Trade = { tradeId: f.tradeId, priceTicks: f.priceTicks, qtyLots: f.qtyLots, takerSide: f.takerSide, tsUs: f.tsUs };
  const trades = grid.update({ ...head, channel: 'trades', seq: f.tradesSeq, trades: [trade] });
  return { l2, trades };
}

/** the snapshots the bare server sends: a book of SNAPSHOT_LEVELS a side, the last SNAPSHOT_TRADES trades */
export function snapshotMessage(channel: 'l2' | 'trades', symbol: string, seq: number, journalSeq: number, tsUs: number): Message {
  const idx = symbolIdx.get(symbol)!;
  const head = { symbolIdx: idx, symbol, seq, journalSeq };
  if (channel === 'l2') {
    const side = (dir: number): L2Level[] => Array.from({ length: SNAPSHOT_LEVELS }, (_, i) => [PX_TICKS + dir * i - (dir < 0 ? 2 : 0), 100 + i, 1 + (i % 3)]);
    return grid.snapshot('l2', { ...head, bids: side(-1), asks: side(1) });
  }
  const trades: Trade[] = Array.from({ length: SNAPSHOT_TRADES }, (_, i) => ({ tradeId: journalSeq + i, priceTicks: PX_TICKS, qtyLots: TRADE_LOTS, takerSide: 1, tsUs: tsUs - (SNAPSHOT_TRADES - i) * 1000 }));
  return grid.snapshot('trades', { ...head, trades });
}

// ---------------------------------------------------------------- the bare server's /v1/md

interface MdConn {
  /** topics (`channel:symbol`) subscribed */
  subs: Set<string>;
  closed: boolean;
}

const CHANNELS = ['l2', 'trades'] as const;
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const pack = (m: Message): Uint8Array => encode(m, true, false).msgpack;

/** `/v1/md` and `GET /baseline/md` on the bare server's app; stop() closes the subscribers. */
export function serveMd(app: TemplatedApp, log: (line: string) => void): { stop: () => void } {
  const conns = new Set<WebSocket<MdConn>>();
  /** last seq per topic */
  const seqs = new Map<string, number>();
  let journalSeq = 0;
  let tradeId = 0;
  let pub: { symbol: string; rate: number; after: number; seconds: number; t0: number; done: number; timer: NodeJS.Timeout | null } | null = null;
  const send = (ws: WebSocket<MdConn>, m: Message) => void ws.send(pack(m), true);
  const holding = (symbol: string) => {
    let n = 0;
    for (const ws of conns) if (ws.getUserData().subs.has(`l2:${symbol}`) && ws.getUserData().subs.has(`trades:${symbol}`)) n++;
    return n;
  };

  const publishOne = (symbol: string) => {
    const l2Seq = (seqs.get(`l2:${symbol}`) ?? 0) + 1;
    const tradesSeq = (seqs.get(`trades:${symbol}`) ?? 0) + 1;
    seqs.set(`l2:${symbol}`, l2Seq);
    seqs.set(`trades:${symbol}`, tradesSeq);
    const m = tradeMessages({ symbol, l2Seq, tradesSeq, journalSeq: ++journalSeq, tsUs: Date.now() * 1000, tradeId: ++tradeId, priceTicks: PX_TICKS, qtyLots: TRADE_LOTS, takerSide: 1, level: [PX_TICKS, LEFT_LOTS, LEFT_COUNT] });
    app.publish(`b|l2:${symbol}`, pack(m.l2), true);
    app.publish(`b|trades:${symbol}`, pack(m.trades), true);
  };
  /** publishes what is due (update i is due at t0 + i / rate), then sleeps until the next one */
  const tick = () => {
    const p = pub;
    if (p === null) return;
    p.timer = null;
    const elapsed = performance.now() - p.t0;
    if (elapsed >= p.seconds * 1000) {
      log(`baseline md: published ${p.done} updates (${p.rate}/s) to ${p.symbol}`);
      pub = null;
      return;
    }
    const due = Math.floor((elapsed * p.rate) / 1000) + 1;
    while (p.done < due) {
      publishOne(p.symbol);
      p.done++;
    }
    p.timer = setTimeout(tick, Math.max(0, p.t0 + (p.done * 1000) / p.rate - performance.now()));
  };
  const maybeStart = () => {
    if (pub === null || pub.t0 >= 0 || holding(pub.symbol) < pub.after) return;
    pub.t0 = performance.now();
    log(`baseline md: publishing ${pub.rate} updates/s to ${pub.symbol} for ${pub.seconds} s (${holding(pub.symbol)} subscriber(s))`);
    tick();
  };

  app.get('/baseline/md', (res, req) => {
    const q = new URLSearchParams(req.getQuery() ?? '');
    const rate = Number(q.get('rate') ?? '0');
    const symbol = q.get('symbol') ?? 'AAPL';
    if (pub?.timer != null) clearTimeout(pub.timer);
    pub = null;
    if (!(rate > 0) || !symbolIdx.has(symbol)) {
      res.end(JSON.stringify({ publishing: false }));
      return;
    }
    pub = { symbol, rate, after: Number(q.get('after') ?? '0'), seconds: Number(q.get('seconds') ?? '60'), t0: -1, done: 0, timer: null };
    res.end(JSON.stringify({ publishing: true, rate, symbol, after: pub.after, seconds: pub.seconds }));
    maybeStart();
  });

  app.ws<MdConn>('/v1/md', {
    maxPayloadLength: MD_LIMITS.maxFrameBytes,
    idleTimeout: 0,
    maxBackpressure: 4 * MD_LIMITS.maxBufferedBytes,
    closeOnBackpressureLimit: 1,
    upgrade: (res, req, context) => {
      res.upgrade<MdConn>({ subs: new Set(), closed: false }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => void conns.add(ws),
    close: (ws) => {
      ws.getUserData().closed = true;
      conns.delete(ws);
    },
    message: (ws, data, isBinary) => {
      let m: Record<string, unknown> | null = null;
      try {
        const v: unknown = isBinary ? unpackr.unpack(Buffer.from(data)) : null;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) m = v as Record<string, unknown>;
      } catch {
        m = null;
      }
      const chs = Array.isArray(m?.channels) ? (m.channels as unknown[]).map(String) : [];
      const syms = Array.isArray(m?.symbols) ? (m.symbols as unknown[]).map(String) : [];
      if (m === null || (m.type !== 'subscribe' && m.type !== 'unsubscribe') || chs.length === 0 || syms.length === 0) {
        send(ws, { type: 'error', code: 'INVALID_REQUEST', message: 'send MessagePack maps {type: subscribe | unsubscribe, channels, symbols}' });
        return;
      }
      const c = ws.getUserData();
      if (m.type === 'unsubscribe') {
        for (const ch of chs) for (const sym of syms) if (c.subs.delete(`${ch}:${sym}`)) ws.unsubscribe(`b|${ch}:${sym}`);
        send(ws, { type: 'unsubscribed', channels: chs, symbols: syms });
        return;
      }
      send(ws, { type: 'subscribed', channels: chs, symbols: syms });
      for (const ch of chs)
        for (const sym of syms) {
          const topic = `${ch}:${sym}`;
          if (c.subs.has(topic)) continue;
          if (!(CHANNELS as readonly string[]).includes(ch) || !symbolIdx.has(sym)) {
            send(ws, { type: 'error', code: symbolIdx.has(sym) ? 'INVALID_REQUEST' : 'UNKNOWN_SYMBOL', channel: ch, symbol: sym, message: 'the bare server has l2 and trades of the demo symbols' });
            continue;
          }
          // the snapshot has the topic's last seq and the subscription starts at once: the next publish is seq + 1
          send(ws, snapshotMessage(ch as 'l2' | 'trades', sym, seqs.get(topic) ?? 0, journalSeq, Date.now() * 1000));
          c.subs.add(topic);
          ws.subscribe(`b|${topic}`);
        }
      maybeStart();
    },
  });

  const heartbeat = setInterval(() => {
    const ts = Date.now();
    for (const ws of [...conns]) {
      const c = ws.getUserData();
      if (ws.getBufferedAmount() > MD_LIMITS.maxBufferedBytes) {
        ws.end(4008, 'slow consumer: reconnect and subscribe again');
        continue;
      }
      if (c.subs.size === 0) continue;
      const last: Record<string, number> = {};
      for (const t of c.subs) last[t] = seqs.get(t) ?? 0;
      send(ws, { type: 'heartbeat', ts, seqs: last });
    }
  }, 1000);

  return {
    stop: () => {
      clearInterval(heartbeat);
      if (pub?.timer != null) clearTimeout(pub.timer);
      for (const ws of [...conns]) ws.end(1001, 'server stopping');
    },
  };
}

// ---------------------------------------------------------------- the runner

export interface MdRunOptions {
  cli: Cli;
  /** the bare server (a child process) */
  bare: Target;
  /** update rates a second */
  rates: number[];
  /** ws-load order rates for seqex, one per update rate */
  seqexRates: number[];
  targets: ('bare' | 'seqex')[];
  subscribers: number;
  subThreads: number;
  connectBatch: number;
  durationS: number;
  warmupS: number;
  /** before each part, wait at most this many seconds for the machine to be quiet (under 25 % busy for 3 s) */
  waitQuietS: number;
  /** one human line and one JSON line */
  emit: (human: string, line: Record<string, unknown> & { bench: string }) => void;
  /** the slot for a running child tool (killed by the caller's exit handler) */
  setChild: (c: ChildProcess | null) => void;
}

/** the seconds one part may take (connect, warm-up, window, settle, slack) */
export const mdPartSeconds = (o: { durationS: number; warmupS: number; subscribers: number; waitQuietS: number }): number => o.durationS + o.warmupS + o.waitQuietS + 60 + Math.ceil(o.subscribers / 20);

type MdJson = Record<string, unknown> & { phaseResults: Record<string, unknown>[] };

/** node dist/tools/load/md-load.js with these arguments; its JSON line */
async function mdLoad(o: MdRunOptions, args: string[]): Promise<MdJson> {
  const waited = await waitForQuiet(o.waitQuietS, (l) => o.cli.say(`baseline: ${l}`), true);
  if (waited > 4) o.cli.say(`baseline: waited ${waited.toFixed(0)} s for a quiet machine`);
  const script = fileURLToPath(new URL('./md-load.js', import.meta.url));
  const common = ['--subscribers', String(o.subscribers), '--sub-threads', String(o.subThreads), '--connect-batch', String(o.connectBatch), '--duration', String(o.durationS), '--warmup', String(o.warmupS), '--phases', 'with', '--settle', '1', '--settle-max', '5', '--json-only'];
  return (await runJsonTool(script, [...common, ...args], o.setChild)) as MdJson;
}

interface PartResult {
  target: 'bare' | 'seqex';
  deliveriesPerSec: number;
  saturated: boolean;
}

const us = (pct: number | null, perSec: number) => (pct === null || perSec <= 0 ? null : Number(((pct / 100) * 1e6 / perSec).toFixed(1)));

/** one part's lines from md-load's JSON */
function part(o: MdRunOptions, target: 'bare' | 'seqex', rate: number, ordersPerSec: number | null, j: MdJson): PartResult {
  const p = j.phaseResults[0] as Record<string, unknown> & {
    updates: { inWindowTotal: number; wholePhaseByChannel: Record<string, number> } | null;
    delayMs: { p50: number; p90: number; p99: number; p99_9: number; max: number } | null;
    serverCpuPct: number | null;
    subscribersCpuPct: number | null;
    restCpuPct: number | null;
    generatorCpuPct: number;
    machineBusyPct: number;
    ackPerSec: number;
    subscribersConnected: number;
  };
  const delivered = p.updates?.inWindowTotal ?? 0;
  const perSec = Math.round(delivered / o.durationS);
  const offered = rate * 2 * p.subscribersConnected;
  const saturated = perSec < 0.95 * offered;
  const server = p.serverCpuPct;
  const subs = p.subscribersCpuPct;
  const rest = p.restCpuPct;
  // the rest of the machine is not in the total: it is mostly other programs (loopback TCP's softirqs run in the sender's and receiver's system time)
  const total = server === null || subs === null ? null : server + subs;
  const d = p.delayMs;
  const line = {
    bench: 'baseline.md.fanout',
    target,
    updatesPerSecOffered: rate,
    ordersPerSec: ordersPerSec,
    ackPerSec: target === 'seqex' ? p.ackPerSec : null,
    subscribers: o.subscribers,
    subscribersConnected: p.subscribersConnected,
    subThreads: o.subThreads,
    durationS: o.durationS,
    framesPerSubscriberPerSec: p.subscribersConnected > 0 ? Math.round(perSec / p.subscribersConnected) : 0,
    deliveriesPerSec: perSec,
    deliveriesOfferedPerSec: target === 'bare' ? offered : null,
    saturated: target === 'bare' ? saturated : null,
    byChannel: p.updates?.wholePhaseByChannel ?? null,
    delayMs: d === null ? null : { p50: d.p50, p90: d.p90, p99: d.p99, p99_9: d.p99_9, max: d.max },
    gaps: p.gaps,
    disconnects: p.disconnects,
    closeCodes: p.closeCodes,
    serverCpuPct: server,
    subscribersCpuPct: subs,
    restCpuPct: rest,
    generatorCpuPct: target === 'seqex' ? p.generatorCpuPct : null,
    machineBusyPct: p.machineBusyPct,
    cpuUsPerDelivery: { server: us(server, perSec), subscribers: us(subs, perSec), rest: us(rest, perSec), total: us(total, perSec) },
    bytesPerFrame: p.bytesPerFrame,
    framesPerRead: p.framesPerRead,
    neighbours: p.neighbours,
  };
  const name = target === 'bare' ? `bare ${rate}/s` : `seqex ${ordersPerSec} orders/s`;
  const dl = d === null ? '-' : `p50 ${d.p50} p99 ${d.p99} max ${d.max} ms`;
  o.emit(
    `MD   ${name.padEnd(22)} ${String(perSec).padStart(8)} deliveries/s${target === 'bare' && saturated ? ' (saturated)' : ''}  delay ${dl}  gaps ${String(p.gaps)}  CPU (% of a core): server ${String(server)}, subscribers ${String(subs)}, rest ${String(rest)}; µs a delivery ${String(line.cpuUsPerDelivery.total)} (server ${String(line.cpuUsPerDelivery.server)}, subscribers ${String(line.cpuUsPerDelivery.subscribers)})`,
    line,
  );
  return { target, deliveriesPerSec: perSec, saturated };
}

/** Runs the parts (bare and seqex at each rate) and the ceiling line; throws on a failed part. */
export async function runMd(o: MdRunOptions): Promise<void> {
  const { cli } = o;
  let seqex: Target | null = null;
  process.on('exit', () => seqex?.child?.kill('SIGKILL'));
  const results: PartResult[] = [];
  try {
    for (const [i, rate] of o.rates.entries()) {
      if (o.targets.includes('bare')) {
        const pid = o.bare.child!.pid!;
        const seconds = 1 + o.warmupS + o.durationS + 1;
        const r = await fetch(`${o.bare.base}/baseline/md?rate=${rate}&after=${o.subscribers}&seconds=${seconds}`);
        if (!r.ok) throw new Error(`the bare server's publisher: ${r.status}`);
        cli.say(`baseline: md bare ${rate} updates/s, ${o.subscribers} subscribers ...`);
        results.push(part(o, 'bare', rate, null, await mdLoad(o, ['--no-orders', '--url', o.bare.base, '--key', 'sk_baseline', '--server-pid', String(pid)])));
        await fetch(`${o.bare.base}/baseline/md?rate=0`);
      }
      if (o.targets.includes('seqex')) {
        if (seqex === null) {
          cli.say('baseline: starting seqex serve (durability fsync) ...');
          seqex = await startServer({ durability: 'fsync', gateways: null, nodeArgs: [], nofile: null, tag: 'baselinemd' });
          cli.say(`baseline: seqex pid ${seqex.child!.pid} on ${seqex.base}`);
        }
        const orders = o.seqexRates[i]!;
        cli.say(`baseline: md seqex at ${orders} orders/s (~${rate} updates/s), ${o.subscribers} subscribers ...`);
        results.push(part(o, 'seqex', rate, orders, await mdLoad(o, ['--url', seqex.base, '--admin-token', seqex.adminToken!, '--server-pid', String(seqex.child!.pid), '--rate', String(orders), '--symbol', 'AAPL'])));
      }
    }
  } finally {
    if (seqex !== null) {
      const code = await stopServer(seqex, (l) => cli.say(`baseline: ${l}`));
      cli.say(`baseline: seqex stopped (${String(code)}), data directory removed`);
    }
  }
  const max = (t: 'bare' | 'seqex') => Math.max(0, ...results.filter((r) => r.target === t).map((r) => r.deliveriesPerSec));
  const needed = Math.round(100_000 * SEQEX_FRAMES_PER_ORDER * o.subscribers);
  const bareMax = max('bare');
  const seqexMax = max('seqex');
  o.emit(
    `MD   ceiling: bare uWS + subscribers ${bareMax} deliveries/s${results.some((r) => r.target === 'bare' && r.saturated) ? ' (saturated)' : ' (not saturated: raise --md-rates)'}, seqex ${seqexMax}; 100,000 orders/s to ${o.subscribers} subscribers needs ${needed} (${bareMax > 0 ? Math.round(needed / bareMax) : '-'}× the bare ceiling)`,
    {
      bench: 'baseline.md.ceiling',
      subscribers: o.subscribers,
      bareMaxDeliveriesPerSec: bareMax,
      bareSaturated: results.some((r) => r.target === 'bare' && r.saturated),
      seqexMaxDeliveriesPerSec: seqexMax,
      framesPerOrder: SEQEX_FRAMES_PER_ORDER,
      neededDeliveriesPerSecAt100kOrders: needed,
      neededOverBareCeiling: bareMax > 0 ? Number((needed / bareMax).toFixed(0)) : null,
      cores: availableParallelism(),
    },
  );
}
