/**
 * Binary WebSocket load generator (SPEC §4, `/v1/ws`, MessagePack): order-to-ack latency and
 * throughput of the session gateway.
 *
 * Open loop (default): orders go out on a fixed schedule at `--rate` orders/s in total, spread
 * round-robin over `--sessions` sessions (order i is due at t0 + i/rate, on session i mod N),
 * whatever the server does. Latency is ack receive time − *intended* send time (not the actual
 * send time), so a server (or a generator) that falls behind shows in the latency instead of
 * silently lowering the offered rate: no coordinated omission. The ack of an order is the first
 * ExecutionReport (8) for its clOrdId (New, Trade or Rejected), or a BusinessMessageReject (j)
 * naming it; the ack of a cancel is the Canceled report (8, execType 4) of the order it cancels
 * or an OrderCancelReject (9). Latencies go into an HdrHistogram (µs, 3 significant digits);
 * a message still unanswered when the drain time ends is recorded at (drain end − intended), a
 * lower bound, and counted as `unacked`. The generator's own delay (actual − intended send time)
 * has its own histogram, so what the generator adds can be told apart.
 *
 * `--saturate`: closed loop instead, every session keeps `--inflight` messages outstanding (a new
 * one goes out on each ack); the measured ack rate is the sustained maximum, latency is from the
 * actual send time (closed loop: it is not coordinated-omission free, and says so).
 *
 * The mix, per session (one funded account per session, so each session receives only its own
 * reports), in cycles of 8 messages, the symbol rotating per cycle:
 *   deep buy, deep sell (resting 21..100 ticks from the reference price, canceled 16 cycles later),
 *   near buy, near sell (resting 1..20 ticks from it), IOC buy, IOC sell (crossing 20 ticks through
 *   it: they fill against the near orders of all accounts, the rest is canceled, so the book stays
 *   centred), and two OrderCancelRequests (F, by origClOrdId) for the deep orders of 16 cycles ago
 *   (in the first 16 cycles: two more deep orders instead, never canceled).
 *   So 75 % NewOrderSingle (half resting, a quarter crossing) and 25 % cancels.
 *
 * The hot path does not go through the SDK's promises: NewOrderSingle bodies are pre-encoded
 * MessagePack templates (only the clOrdId is appended), WebSocket frames are built here (masked
 * with a zero key, as RFC 6455 allows) and written in one socket write per session per tick;
 * after the logon, inbound frames are cut from the socket's chunks here (not by ws's Receiver) and
 * scanned for the few keys needed (msgType, clOrdId, execType, refClOrdId, rejectCode) without
 * decoding the whole map. Node timers are whole milliseconds, so in the open loop a small clock
 * thread wakes the event loop every `--tick-us` (default 200 µs) to send what is due.
 *
 * Reported: offered and achieved ack rates, latency percentiles, rejects by kind and code, the
 * generator's CPU (process.cpuUsage) and the server's (/proc/PID/stat of the child, or of
 * `--server-pid`, with its threads), the whole machine's, and one JSON line {"bench":"ws.order"}
 * (or "ws.order.saturate").
 *
 * The server sessions allow 5,000 messages/s each (burst 10,000: SESSION_LIMITS in
 * src/gateway/sessions.ts): `--sessions` defaults to enough sessions to stay under that
 * (max(8, ceil(rate / 4000))), and the saturate mode defaults to 50 sessions (a 250,000/s ceiling).
 *
 * Target: `--url http://127.0.0.1:PORT` (loopback only) with `--admin-token T` or `--data-dir DIR`
 * (accounts are made and funded for the run) or `--key K` (every session on that account: each
 * session then receives every report of the account, which costs the server and the generator).
 * Without `--url` it starts `seqex serve` as a child process on a free port, in a temporary data
 * directory under journal/, and stops it with SIGTERM (waiting for its exit) and removes the
 * directory at the end. Bounded in time: a watchdog ends everything.
 */
import { Worker } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { Packr, Unpackr } from 'msgpackr';
import hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { between, call, cpuBetween, cpuSample, describeServer, fmt, latencyMs, makeAccounts, parseCli, referenceData, runMain, rngSeed, serverChoice, SERVER_OPTIONS, startServer, startWatchdog, stopOwnServer, URL_OPTIONS, urlTarget, waitForQuiet, type CpuReport, type Sym, type Target } from './common.js';
import { keyIs, skip, sLen, sStart, strAt } from './msgpack-scan.js';

// ---------------------------------------------------------------- options

const HELP = `usage: node dist/tools/load/ws-load.js [options]
  --rate N             open loop: orders/s offered in total (default 50000)
  --sessions N         sessions (default: open loop max(8, ceil(rate/4000)); saturate 50)
  --saturate           closed loop: each session keeps --inflight messages outstanding
  --inflight K         saturate: messages in flight per session (default 32)
  --duration S         measured seconds (default 10)
  --warmup S           unmeasured seconds before, same load (default 2)
  --drain S            seconds to wait for the last acks (default 5)
  --tick-us N          open loop: send tick in µs (a clock thread wakes the loop; default 200;
                       0: 1 ms timers only)
  --symbols A,B        (default AAPL,META,MSFT)
  --url URL            a running server, http://127.0.0.1:PORT (default: start one)
  --admin-token T      with --url: make and fund one account per session
  --data-dir DIR       with --url: read the admin token from DIR/admin-token
  --key K              with --url: every session on this one account
  --server-pid PID     with --url: the server's process, for its CPU from /proc
  --durability D       self-started server: fsync | batch | none (default fsync)
  --gateways N         self-started server: gateway threads (default: the server's own)
  --server-node-args=S self-started server: extra node flags, e.g. --server-node-args="--cpu-prof --cpu-prof-dir=/tmp/p"
  --wait-quiet S       first wait up to S s until no other exchange / load tool / test run is
                       running and the machine is idle (default 0: do not wait)
  --json-only          print only the JSON line`;

const { opt, cli } = parseCli('ws-load', HELP, {
  rate: { type: 'string', default: '50000' },
  sessions: { type: 'string' },
  saturate: { type: 'boolean', default: false },
  inflight: { type: 'string', default: '32' },
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '2' },
  drain: { type: 'string', default: '5' },
  'tick-us': { type: 'string', default: '200' },
  symbols: { type: 'string', default: 'AAPL,META,MSFT' },
  ...URL_OPTIONS,
  'server-pid': { type: 'string' },
  ...SERVER_OPTIONS,
  'wait-quiet': { type: 'string', default: '0' },
});
const { say, warn, fail, intOpt } = cli;

const SATURATE = opt.saturate;
const RATE = intOpt('rate', opt.rate, 1, 10_000_000);
const SESSIONS = intOpt('sessions', opt.sessions ?? String(SATURATE ? 50 : Math.max(8, Math.ceil(RATE / 4000))), 1, 999);
const INFLIGHT = intOpt('inflight', opt.inflight, 1, 100_000);
const DURATION_S = intOpt('duration', opt.duration, 1, 3600);
const WARMUP_S = intOpt('warmup', opt.warmup, 0, 600);
const DRAIN_S = intOpt('drain', opt.drain, 1, 600);
const TICK_US = intOpt('tick-us', opt['tick-us'], 0, 100_000);
const SYMBOLS = opt.symbols.split(',').filter((s) => s !== '');
if (SYMBOLS.length === 0) fail('--symbols is empty');
const SERVER = serverChoice(cli, opt);
const SERVER_PID = opt['server-pid'] === undefined ? null : intOpt('server-pid', opt['server-pid'], 1, 1 << 30);
/** the server's pid: the child, or --server-pid */
const serverPid = (t: Target): number | null => t.child?.pid ?? SERVER_PID;
const WAIT_QUIET_S = intOpt('wait-quiet', opt['wait-quiet'], 0, 3600);

/** the server's per-session limit (SESSION_LIMITS.messagesPerSecond in src/gateway/sessions.ts) */
const SERVER_SESSION_MSGS_PER_S = 5000;
if (!SATURATE && RATE / SESSIONS > SERVER_SESSION_MSGS_PER_S)
  warn(`warning: ${(RATE / SESSIONS).toFixed(0)} msgs/s per session is above the server's ${SERVER_SESSION_MSGS_PER_S}/s per session: expect RATE_LIMITED rejects (use --sessions ${Math.ceil(RATE / 4000)} or more)`);

const WATCHDOG_MS = (DURATION_S + WARMUP_S + DRAIN_S + 180 + WAIT_QUIET_S) * 1000;

// ---------------------------------------------------------------- the mix

const CYCLE = 8;
/** a deep order is canceled this many cycles after it was sent */
const LAG = 16;
const CROSS = 20;
const DEEP_MAX = 100;

const enum Kind {
  DeepBuy,
  DeepSell,
  NearBuy,
  NearSell,
  IocBuy,
  IocSell,
  Cancel,
  ExtraDeepBuy,
  ExtraDeepSell,
}

function kindOf(k: number): Kind {
  const p = k % CYCLE;
  if (p < 6) return p as Kind;
  if (k < CYCLE * LAG) return p === 6 ? Kind.ExtraDeepBuy : Kind.ExtraDeepSell;
  return Kind.Cancel;
}
/** the message (deep order) a cancel at k cancels */
const cancelTarget = (k: number): number => k - 6 - CYCLE * LAG;
/** the cancel of the deep order at k (when k is one that gets canceled) */
const cancelOf = (k: number): number => k + 6 + CYCLE * LAG;
const isCanceledLater = (k: number): boolean => k % CYCLE < 2;

// ---------------------------------------------------------------- MessagePack: encode (templates) and scan

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const CLORDID_KEY = packr.pack('clOrdId');

/** NewOrderSingle without its clOrdId: a map header one larger than the fields, the fields, the key `clOrdId` */
function nosTemplate(sym: string, side: '1' | '2', qty: string, price: string, ioc: boolean): Buffer {
  const m: Record<string, string> = { msgType: 'D', symbol: sym, side, ordType: '2', orderQty: qty, price };
  if (ioc) m.timeInForce = '3';
  const body = packr.pack(m);
  const n = Object.keys(m).length;
  if (body[0] !== (0x80 | n)) throw new Error('unexpected MessagePack map header');
  const t = Buffer.concat([body, CLORDID_KEY]);
  t[0] = 0x80 | (n + 1);
  return t;
}

function writeStr(b: Buffer, p: number, s: string): number {
  if (s.length > 31) throw new Error('string too long for a fixstr');
  b[p++] = 0xa0 | s.length;
  return p + b.write(s, p, 'latin1');
}

// the scanner's results (no allocation per message)
let fMsgType = 0;
let fExecType = 0;
let fClOrd = -1;
let fClOrdLen = 0;
let fRef = -1;
let fRefLen = 0;
let fRej = -1;
let fRejLen = 0;
const K_MSGTYPE = Buffer.from('msgType');
const K_CLORDID = Buffer.from('clOrdId');
const K_EXECTYPE = Buffer.from('execType');
const K_REFCLORDID = Buffer.from('refClOrdId');
const K_REJECTCODE = Buffer.from('rejectCode');

/** Reads the few keys the generator needs from a top-level map; false if it is not one. */
function scan(b: Buffer): boolean {
  fMsgType = fExecType = 0;
  fClOrd = fRef = fRej = -1;
  fClOrdLen = fRefLen = fRejLen = 0;
  const h = b[0]!;
  let n: number;
  let p: number;
  if ((h & 0xf0) === 0x80) {
    n = h & 0x0f;
    p = 1;
  } else if (h === 0xde) {
    n = b.readUInt16BE(1);
    p = 3;
  } else return false;
  for (let i = 0; i < n; i++) {
    if (!strAt(b, p)) {
      p = skip(b, skip(b, p));
      continue;
    }
    const ks = sStart;
    const kl = sLen;
    p = ks + kl;
    if (kl >= 7 && kl <= 10 && strAt(b, p)) {
      if (keyIs(b, ks, kl, K_MSGTYPE)) fMsgType = sLen > 0 ? b[sStart]! : 0;
      else if (keyIs(b, ks, kl, K_CLORDID)) {
        fClOrd = sStart;
        fClOrdLen = sLen;
      } else if (keyIs(b, ks, kl, K_EXECTYPE)) fExecType = sLen > 0 ? b[sStart]! : 0;
      else if (keyIs(b, ks, kl, K_REFCLORDID)) {
        fRef = sStart;
        fRefLen = sLen;
      } else if (keyIs(b, ks, kl, K_REJECTCODE)) {
        fRej = sStart;
        fRejLen = sLen;
      }
    }
    p = skip(b, p);
  }
  return p <= b.length;
}

// ---------------------------------------------------------------- clOrdIds: TAG(3) + session(3 digits) + k (decimal)

const TAG = Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 26)]).join('');
const TAG0 = TAG.charCodeAt(0);
const TAG1 = TAG.charCodeAt(1);
const TAG2 = TAG.charCodeAt(2);
const clOrdIdOf = (s: number, k: number): string => `${TAG}${String(s).padStart(3, '0')}${k}`;
let pSession = 0;
let pK = 0;
/** parses a clOrdId at b[at..at+len) into pSession / pK; false if not one of this run's */
function parseClOrdId(b: Buffer, at: number, len: number): boolean {
  if (len < 7 || len > 20 || b[at] !== TAG0 || b[at + 1] !== TAG1 || b[at + 2] !== TAG2) return false;
  let s = 0;
  for (let i = 3; i < 6; i++) {
    const d = b[at + i]! - 48;
    if (d < 0 || d > 9) return false;
    s = s * 10 + d;
  }
  let k = 0;
  for (let i = 6; i < len; i++) {
    const d = b[at + i]! - 48;
    if (d < 0 || d > 9) return false;
    k = k * 10 + d;
  }
  pSession = s;
  pK = k;
  return true;
}

// ---------------------------------------------------------------- sessions

const enum St {
  Unsent = 0,
  Pending = 1,
  Done = 2,
}

interface Session {
  idx: number;
  ws: WebSocket;
  sock: Socket;
  rng: number;
  /** messages sent (the next k) */
  sent: number;
  /** per k: send time (open loop: the intended one) in ms, and the state */
  at: Float64Array;
  state: Uint8Array;
  /** outgoing frames of this tick */
  out: Buffer;
  outLen: number;
  queued: boolean;
  /** saturate: messages outstanding */
  inflight: number;
  closed: boolean;
}

const sessions: Session[] = [];
const dirty: Session[] = [];

function grow(s: Session, need: number): void {
  if (need <= s.at.length) return;
  let n = s.at.length;
  while (n < need) n *= 2;
  const at = new Float64Array(n);
  at.set(s.at);
  const state = new Uint8Array(n);
  state.set(s.state);
  s.at = at;
  s.state = state;
}

/** Appends one binary frame (masked with a zero key: the payload goes as it is) to the session's tick buffer. */
function frame(s: Session, payloadLen: number, write: (b: Buffer, at: number) => void): void {
  const hdrLen = payloadLen < 126 ? 6 : 8;
  if (s.outLen + hdrLen + payloadLen > s.out.length) {
    const bigger = Buffer.allocUnsafe(Math.max(s.out.length * 2, s.outLen + hdrLen + payloadLen));
    s.out.copy(bigger, 0, 0, s.outLen);
    s.out = bigger;
  }
  const b = s.out;
  let p = s.outLen;
  b[p++] = 0x82;
  if (payloadLen < 126) b[p++] = 0x80 | payloadLen;
  else {
    b[p++] = 0x80 | 126;
    b[p++] = payloadLen >> 8;
    b[p++] = payloadLen & 0xff;
  }
  b[p++] = 0;
  b[p++] = 0;
  b[p++] = 0;
  b[p++] = 0;
  write(b, p);
  s.outLen = p + payloadLen;
  if (!s.queued) {
    s.queued = true;
    dirty.push(s);
  }
}

let maxSocketBuffered = 0;
/** one socket write per session with frames this tick */
function flush(): void {
  for (const s of dirty) {
    s.queued = false;
    if (s.outLen === 0 || s.closed) continue;
    const chunk = Buffer.allocUnsafe(s.outLen);
    s.out.copy(chunk, 0, 0, s.outLen);
    s.outLen = 0;
    s.sock.write(chunk);
    if (s.sock.writableLength > maxSocketBuffered) maxSocketBuffered = s.sock.writableLength;
  }
  dirty.length = 0;
}
let flushQueued = false;
function flushSoon(): void {
  if (flushQueued) return;
  flushQueued = true;
  process.nextTick(() => {
    flushQueued = false;
    flush();
  });
}

// ---------------------------------------------------------------- orders

interface Market {
  syms: Sym[];
  /** template cache: key → NOS template */
  templates: Map<number, Buffer>;
}
let market: Market;

function template(symIdx: number, buy: boolean, offset: number, lots: number, ioc: boolean): Buffer {
  const key = ((((symIdx * 2 + (buy ? 1 : 0)) * 4096 + (offset + 2048)) * 64 + lots) * 2 + (ioc ? 1 : 0)) | 0;
  let t = market.templates.get(key);
  if (t === undefined) {
    const sym = market.syms[symIdx]!;
    const px = buy ? sym.midTicks - offset : sym.midTicks + offset;
    t = nosTemplate(sym.symbol, buy ? '1' : '2', fmt(lots * sym.minLots, sym.lot), fmt(px, sym.tick), ioc);
    market.templates.set(key, t);
  }
  return t;
}

const counts = {
  sent: 0,
  sentOrders: 0,
  sentCancels: 0,
  acks: 0,
  execReports: 0,
  byExecType: new Map<string, number>(),
  byMsgType: new Map<string, number>(),
  rejected: 0, // ExecutionReport execType 8
  businessRejects: 0, // j
  sessionRejects: 0, // 3
  cancelRejects: 0, // 9
  rejectCodes: new Map<string, number>(),
  logouts: 0,
  unknown: 0,
};
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** Sends message k of session s (its kind follows from k), stamped `atMs`. */
function sendNext(s: Session, atMs: number): void {
  const k = s.sent++;
  grow(s, k + 1);
  s.at[k] = atMs;
  s.state[k] = St.Pending;
  counts.sent++;
  tick(timeline.sent, atMs);
  const kind = kindOf(k);
  const id = clOrdIdOf(s.idx, k);
  if (kind === Kind.Cancel) {
    counts.sentCancels++;
    const orig = clOrdIdOf(s.idx, cancelTarget(k));
    // {msgType: 'F', origClOrdId, clOrdId}
    const len = 1 + 8 + 2 + 12 + 1 + orig.length + 8 + 1 + id.length;
    frame(s, len, (b, p) => {
      b[p++] = 0x83;
      p = writeStr(b, p, 'msgType');
      p = writeStr(b, p, 'F');
      p = writeStr(b, p, 'origClOrdId');
      p = writeStr(b, p, orig);
      p = writeStr(b, p, 'clOrdId');
      writeStr(b, p, id);
    });
    return;
  }
  counts.sentOrders++;
  const cycle = Math.floor(k / CYCLE);
  const symIdx = (s.idx + cycle) % market.syms.length;
  let t: Buffer;
  switch (kind) {
    case Kind.DeepBuy:
    case Kind.DeepSell:
    case Kind.ExtraDeepBuy:
    case Kind.ExtraDeepSell:
      t = template(symIdx, kind === Kind.DeepBuy || kind === Kind.ExtraDeepBuy, between(s, CROSS + 1, maxOffset(symIdx)), between(s, 1, 5), false);
      break;
    case Kind.NearBuy:
    case Kind.NearSell:
      t = template(symIdx, kind === Kind.NearBuy, between(s, 1, CROSS), between(s, 1, 5), false);
      break;
    default:
      t = template(symIdx, kind === Kind.IocBuy, -CROSS, between(s, 2, 8), true);
  }
  frame(s, t.length + 1 + id.length, (b, p) => {
    t.copy(b, p);
    writeStr(b, p + t.length, id);
  });
}

const maxOffset = (symIdx: number) => Math.max(CROSS + 2, Math.min(DEEP_MAX, Math.floor(market.syms[symIdx]!.bandTicks * 0.8)));

// ---------------------------------------------------------------- measuring

const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
/** open loop: actual − intended send time of the measured messages (µs) */
const sendLag = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
let measureFromMs = Infinity;
let measureToMs = Infinity;
/** acks received (and accepted: not business rejects) within the measured window */
let windowAcks = 0;
let windowAccepted = 0;
let measuredAcked = 0;
let measuredSent = 0;
let outstanding = 0;
let onQuiet: (() => void) | null = null;
/** per second since the start of sending: messages sent, acks received */
const timeline = { startMs: 0, sent: [] as number[], acked: [] as number[] };
const tick = (a: number[], now: number) => {
  const i = Math.floor((now - timeline.startMs) / 1000);
  if (i >= 0) a[i] = (a[i] ?? 0) + 1;
};

/** set when the drain ends: later answers change nothing (the unanswered were recorded then) */
let finished = false;

function ack(s: Session, k: number, now: number, accepted: boolean): void {
  if (finished || k >= s.sent || s.state[k] !== St.Pending) return;
  s.state[k] = St.Done;
  counts.acks++;
  outstanding--;
  tick(timeline.acked, now);
  const t = s.at[k]!;
  if (now >= measureFromMs && now < measureToMs) {
    windowAcks++;
    if (accepted) windowAccepted++;
  }
  if (t >= measureFromMs && t < measureToMs) {
    measuredAcked++;
    hist.recordValue(Math.max(1, Math.round((now - t) * 1000)));
  }
  if (SATURATE) {
    s.inflight--;
    if (running && !s.closed) {
      sendNext(s, performance.now());
      s.inflight++;
      outstanding++;
      flushSoon();
    }
  }
  if (outstanding === 0 && onQuiet !== null) onQuiet();
}

let firstLogoutText: string | null = null;
let firstSessionReject: string | null = null;

function onMessage(s: Session, data: Buffer): void {
  const now = performance.now();
  if (!scan(data)) {
    counts.unknown++;
    return;
  }
  switch (fMsgType) {
    case 0x38: {
      // '8' ExecutionReport
      counts.execReports++;
      if (fExecType !== 0) bump(counts.byExecType, String.fromCharCode(fExecType));
      if (fClOrd < 0 || !parseClOrdId(data, fClOrd, fClOrdLen)) return;
      const owner = sessions[pSession];
      if (owner === undefined) return;
      const k = pK;
      if (fExecType === 0x38) {
        // Rejected
        if (k < owner.sent && owner.state[k] === St.Pending) {
          counts.rejected++;
          if (fRej >= 0) bump(counts.rejectCodes, data.toString('latin1', fRej, fRej + fRejLen));
        }
        ack(owner, k, now, false);
        return;
      }
      if (fExecType === 0x34 && isCanceledLater(k)) {
        const c = cancelOf(k);
        if (c < owner.sent && owner.state[c] === St.Pending && kindOf(c) === Kind.Cancel) ack(owner, c, now, true);
      }
      ack(owner, k, now, true);
      return;
    }
    case 0x39: {
      // '9' OrderCancelReject: the clOrdId is the order's
      counts.cancelRejects++;
      if (fRej >= 0) bump(counts.rejectCodes, `cancel:${data.toString('latin1', fRej, fRej + fRejLen)}`);
      if (fClOrd < 0 || !parseClOrdId(data, fClOrd, fClOrdLen)) return;
      const owner = sessions[pSession];
      if (owner === undefined) return;
      const c = cancelOf(pK);
      if (c < owner.sent && kindOf(c) === Kind.Cancel) ack(owner, c, now, false);
      return;
    }
    case 0x6a: {
      // 'j' BusinessMessageReject
      counts.businessRejects++;
      if (fRej >= 0) bump(counts.rejectCodes, data.toString('latin1', fRej, fRej + fRejLen));
      if (fRef < 0 || !parseClOrdId(data, fRef, fRefLen)) return;
      const owner = sessions[pSession];
      if (owner !== undefined) ack(owner, pK, now, false);
      return;
    }
    case 0x33: // '3' Reject
      counts.sessionRejects++;
      firstSessionReject ??= String((unpackr.unpack(data) as { text?: string }).text);
      return;
    case 0x35: // '5' Logout
      counts.logouts++;
      firstLogoutText ??= String((unpackr.unpack(data) as { text?: string }).text);
      return;
    case 0x31: {
      // '1' TestRequest: answer with a Heartbeat
      const m = unpackr.unpack(data) as { testReqId?: string };
      const body = packr.pack({ msgType: '0', testReqId: m.testReqId });
      frame(s, body.length, (b, p) => body.copy(b, p));
      flushSoon();
      return;
    }
    default:
      bump(counts.byMsgType, String.fromCharCode(fMsgType));
  }
}

/**
 * From the logon on, this session's inbound frames are parsed here rather than by ws's Receiver
 * (a server's frames are not masked; uWS neither fragments nor pings with idleTimeout 0): one
 * pass over each socket chunk, each message handed on as a view of the chunk.
 */
function takeOver(s: Session): void {
  const receiver = (s.ws as unknown as { _receiver: { _bufferedBytes: number } })._receiver;
  if (receiver._bufferedBytes !== 0) throw new Error(`session ${s.idx}: bytes after the logon answer still in ws's receiver`);
  s.sock.removeAllListeners('data');
  let rest: Buffer | null = null;
  s.sock.on('data', (chunk: Buffer) => {
    let b = chunk;
    if (rest !== null) {
      b = Buffer.concat([rest, chunk]);
      rest = null;
    }
    let p = 0;
    const n = b.length;
    while (p + 2 <= n) {
      const op = b[p]! & 0x0f;
      let len = b[p + 1]! & 0x7f;
      let at = p + 2;
      if (len === 126) {
        if (at + 2 > n) break;
        len = b.readUInt16BE(at);
        at += 2;
      } else if (len === 127) {
        if (at + 8 > n) break;
        len = Number(b.readBigUInt64BE(at));
        at += 8;
      }
      if (at + len > n) break;
      if (op === 2) onMessage(s, b.subarray(at, at + len));
      else if (op === 8) {
        s.closed = true;
        if (running) warn(`session ${s.idx}: the server closed it: ${len > 2 ? b.toString('utf8', at + 2, at + len) : ''}`);
      }
      p = at + len;
    }
    if (p < n) rest = Buffer.from(b.subarray(p));
  });
}

async function openSession(t: Target, idx: number, apiKey: string): Promise<Session> {
  const ws = new WebSocket(t.wsUrl, { perMessageDeflate: false, maxPayload: 1 << 20 });
  ws.binaryType = 'nodebuffer';
  const s: Session = {
    idx,
    ws,
    sock: null as unknown as Socket,
    rng: rngSeed(idx),
    sent: 0,
    at: new Float64Array(SATURATE ? 1 << 12 : Math.max(1024, Math.ceil(((RATE / SESSIONS) * (WARMUP_S + DURATION_S) + 64) * 1.05))),
    state: new Uint8Array(0),
    out: Buffer.allocUnsafe(64 * 1024),
    outLen: 0,
    queued: false,
    inflight: 0,
    closed: false,
  };
  s.state = new Uint8Array(s.at.length);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`session ${idx}: no logon answer within 15 s`)), 15_000);
    let loggedOn = false;
    ws.on('open', () => {
      s.sock = (ws as unknown as { _socket: Socket })._socket;
      s.sock.setNoDelay(true);
      ws.send(packr.pack({ msgType: 'A', apiKey, heartBtInt: 30 }));
    });
    ws.on('message', (data: Buffer) => {
      if (loggedOn) return onMessage(s, data);
      const m = unpackr.unpack(data) as { msgType: string; text?: string };
      if (m.msgType === 'A') {
        loggedOn = true;
        clearTimeout(timer);
        takeOver(s);
        resolve();
      } else if (m.msgType === '5') {
        clearTimeout(timer);
        reject(new Error(`session ${idx}: logon refused: ${m.text}`));
      }
    });
    ws.on('error', (e) => {
      if (!loggedOn) {
        clearTimeout(timer);
        reject(e);
      } else warn(`session ${idx}: ${e.message}`);
    });
    ws.on('close', (code, reason) => {
      s.closed = true;
      if (running) warn(`session ${idx} closed by the server during the run: ${code} ${reason.toString()}`);
    });
  });
  return s;
}

// ---------------------------------------------------------------- the open-loop clock

let running = false;

/** a worker that wakes the main loop every TICK_US (Node timers are whole milliseconds) */
function startClock(): Worker | null {
  if (TICK_US === 0) return null;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const sab = new Int32Array(new SharedArrayBuffer(4));
    const ms = workerData / 1000;
    let stop = false;
    parentPort.on('message', () => { stop = true; });
    function loop() {
      for (let i = 0; i < 50 && !stop; i++) { Atomics.wait(sab, 0, 0, ms); parentPort.postMessage(0); }
      if (!stop) setImmediate(loop);
    }
    loop();`;
  const w = new Worker(code, { eval: true, workerData: TICK_US });
  w.unref();
  return w;
}

/** Waits for the answers to all messages sent, at most DRAIN_S s. */
async function drain(): Promise<void> {
  await new Promise<void>((resolve) => {
    const end = setTimeout(resolve, DRAIN_S * 1000);
    onQuiet = () => {
      clearTimeout(end);
      resolve();
    };
    if (outstanding === 0) onQuiet();
  });
  onQuiet = null;
}

interface RunResult {
  cpu: CpuReport;
  offeredPerS: number;
  windowS: number;
  startedMs: number;
}

async function runOpenLoop(t: Target): Promise<RunResult> {
  const intervalMs = 1000 / RATE;
  const total = Math.round(RATE * (WARMUP_S + DURATION_S));
  const t0 = performance.now() + 50;
  timeline.startMs = t0;
  measureFromMs = t0 + WARMUP_S * 1000;
  measureToMs = measureFromMs + DURATION_S * 1000;
  let i = 0;
  let cpuA: ReturnType<typeof cpuSample> | null = null;
  let cpuB: ReturnType<typeof cpuSample> | null = null;
  const pid = serverPid(t);
  running = true;
  const pump = () => {
    const now = performance.now();
    if (cpuA === null && now >= measureFromMs) cpuA = cpuSample(pid);
    if (cpuB === null && now >= measureToMs) cpuB = cpuSample(pid);
    while (i < total) {
      const due = t0 + i * intervalMs;
      if (due > now) break;
      const s = sessions[i % SESSIONS]!;
      if (!s.closed) {
        sendNext(s, due);
        outstanding++;
        if (due >= measureFromMs && due < measureToMs) {
          measuredSent++;
          sendLag.recordValue(Math.max(1, Math.round((now - due) * 1000)));
        }
      }
      i++;
    }
    flush();
  };
  const clock = startClock();
  clock?.on('message', pump);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      pump();
      if (i >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  clock?.postMessage('stop');
  await clock?.terminate();
  await drain();
  running = false;
  finished = true;
  cpuB ??= cpuSample(pid);
  cpuA ??= cpuSample(pid);
  const drainEnd = performance.now();
  // unanswered measured messages: recorded at a lower bound of their latency
  for (const s of sessions)
    for (let k = 0; k < s.sent; k++)
      if (s.state[k] === St.Pending && s.at[k]! >= measureFromMs && s.at[k]! < measureToMs) hist.recordValue(Math.max(1, Math.round((drainEnd - s.at[k]!) * 1000)));
  return { cpu: cpuBetween(cpuA, cpuB), offeredPerS: RATE, windowS: (measureToMs - measureFromMs) / 1000, startedMs: t0 };
}

async function runSaturate(t: Target): Promise<RunResult> {
  const pid = serverPid(t);
  const start = performance.now();
  timeline.startMs = start;
  measureFromMs = start + WARMUP_S * 1000;
  measureToMs = measureFromMs + DURATION_S * 1000;
  running = true;
  for (const s of sessions) {
    for (let j = 0; j < INFLIGHT; j++) {
      sendNext(s, performance.now());
      s.inflight++;
      outstanding++;
    }
  }
  flush();
  await new Promise((r) => setTimeout(r, Math.max(0, measureFromMs - performance.now())));
  const a = cpuSample(pid);
  const sent0 = counts.sent;
  await new Promise((r) => setTimeout(r, Math.max(0, measureToMs - performance.now())));
  const b = cpuSample(pid);
  measuredSent = counts.sent - sent0;
  running = false;
  await drain();
  finished = true;
  return { cpu: cpuBetween(a, b), offeredPerS: NaN, windowS: (b.wallMs - a.wallMs) / 1000, startedMs: start };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  let target: Target;
  if (opt.url !== undefined) target = urlTarget(cli, opt.url, opt);
  else {
    const waited = await waitForQuiet(WAIT_QUIET_S, (l) => say(`ws-load: ${l}`));
    if (waited > 0) say(`ws-load: waited ${waited.toFixed(0)} s for a quiet machine`);
    say(`ws-load: starting seqex serve (${describeServer(SERVER)}) ...`);
    target = await startServer({ ...SERVER, nofile: null, tag: 'wsload' });
    say(`ws-load: server pid ${target.child!.pid} on ${target.base}, data in ${target.dataDir}`);
  }
  const watchdog = startWatchdog(cli, WATCHDOG_MS, target);
  let ok = false;
  try {
    const { syms, decimals } = await referenceData(target, SYMBOLS);
    market = { syms, templates: new Map() };
    selfTest();
    const keys = await makeAccounts(target, SESSIONS, syms, decimals, `wsload-${TAG}`);
    if (keys.length === 1 && SESSIONS > 1) warn('every session on one account: each receives every report of the account');
    for (let i = 0; i < SESSIONS; i += 32) {
      const batch = await Promise.all(Array.from({ length: Math.min(32, SESSIONS - i) }, (_, j) => openSession(target, i + j, keys[(i + j) % keys.length]!)));
      sessions.push(...batch);
    }
    const la = loadavg();
    say(`ws-load: ${SESSIONS} sessions logged on (${keys.length} account(s)), symbols ${SYMBOLS.join(',')}; load average before ${la.map((x) => x.toFixed(2)).join(' ')}`);
    say(
      SATURATE
        ? `ws-load: saturate: ${INFLIGHT} in flight per session (${INFLIGHT * SESSIONS} in all), warm-up ${WARMUP_S} s, measuring ${DURATION_S} s ...`
        : `ws-load: open loop ${RATE}/s (${(RATE / SESSIONS).toFixed(0)}/s per session), warm-up ${WARMUP_S} s, measuring ${DURATION_S} s, tick ${TICK_US === 0 ? '1 ms timers' : `${TICK_US} µs`} ...`,
    );
    const logMark = target.logCount;
    const r = SATURATE ? await runSaturate(target) : await runOpenLoop(target);
    const during = target.logCount > logMark ? target.log.slice(-Math.min(target.log.length, target.logCount - logMark)) : [];
    if (during.length > 0) say(`ws-load: the server logged ${during.length} line(s) during the run, the last: ${during.slice(-5).join(' | ').slice(0, 1200)}`);
    const status = target.adminToken !== null ? await call(target, 'GET', '/v1/admin/status', target.adminToken).catch(() => null) : null;
    report(target, r, status?.status === 200 ? status.json : null);
    ok = true;
  } catch (e) {
    warn((e as Error).stack ?? String(e));
    if (target.log.length > 0) process.stderr.write(`server log (last lines):\n${target.log.slice(-30).join('\n')}\n`);
  } finally {
    running = false;
    for (const s of sessions) s.ws.terminate();
    await stopOwnServer(cli, target);
    clearTimeout(watchdog);
  }
  return ok ? 0 : 1;
}

/** The templates and the scanner agree with msgpackr. */
function selfTest(): void {
  const fake: Session = { idx: 7, ws: null as unknown as WebSocket, sock: null as unknown as Socket, rng: 1, sent: 0, at: new Float64Array(1024), state: new Uint8Array(1024), out: Buffer.allocUnsafe(256), outLen: 0, queued: false, inflight: 0, closed: true };
  const saved = { ...counts };
  for (let k = 0; k < CYCLE * (LAG + 1); k++) {
    fake.outLen = 0;
    sendNext(fake, 0);
    const b = fake.out;
    const len = b[1]! & 0x7f;
    const payload = len < 126 ? b.subarray(6, 6 + len) : b.subarray(8, 8 + ((b[2]! << 8) | b[3]!));
    const m = unpackr.unpack(payload) as Record<string, string>;
    if (m.clOrdId !== clOrdIdOf(7, k) || (kindOf(k) === Kind.Cancel ? m.msgType !== 'F' || m.origClOrdId !== clOrdIdOf(7, cancelTarget(k)) : m.msgType !== 'D' || typeof m.price !== 'string'))
      throw new Error(`self-test: message ${k} encodes as ${JSON.stringify(m)}`);
    if (!scan(payload) || !parseClOrdId(payload, fClOrd, fClOrdLen) || pSession !== 7 || pK !== k) throw new Error(`self-test: scanner disagrees on ${JSON.stringify(m)}`);
  }
  const er = packr.pack({ msgType: '8', seqNum: 12, sendingTime: Date.now(), execId: '1.2', orderId: 99, clOrdId: clOrdIdOf(3, 12345), x: { a: [1, 2.5, null] }, execType: 'F', rejectCode: 'X', avgPx: '1.5' });
  if (!scan(er) || fMsgType !== 0x38 || fExecType !== 0x46 || !parseClOrdId(er, fClOrd, fClOrdLen) || pSession !== 3 || pK !== 12345) throw new Error('self-test: scanner fails on an execution report');
  Object.assign(counts, saved);
  dirty.length = 0;
  timeline.sent.length = 0;
}

function report(t: Target, r: RunResult, status: Record<string, unknown> | null): void {
  const ms = (v: number) => Number((v / 1000).toFixed(3));
  const lat = latencyMs(hist);
  const lag = { p50: ms(sendLag.getValueAtPercentile(50)), p99: ms(sendLag.getValueAtPercentile(99)), max: ms(sendLag.maxValue) };
  const ackRate = windowAcks / r.windowS;
  const acceptedRate = windowAccepted / r.windowS;
  let unacked = 0;
  measuredSent = 0;
  for (const s of sessions)
    for (let k = 0; k < s.sent; k++) {
      if (s.state[k] === St.Pending) unacked++;
      if (s.at[k]! >= measureFromMs && s.at[k]! < measureToMs) measuredSent++;
    }
  const measuredUnacked = measuredSent - measuredAcked;
  const c = r.cpu;
  // by thread id offset from the server's pid (+0 = main; the worker threads are the last ids, in
  // creation order: sequencer, journal, [preparer with fsync], gateways; the ones in between are
  // V8's platform threads (GC helpers) and libuv's pool)
  const pid = serverPid(t) ?? 0;
  const threads = c.serverThreads?.map((x) => `${x.tid === pid ? 'main' : `+${x.tid - pid}`} ${x.pct}`).join(', ') ?? '';
  const mode = SATURATE ? `saturate, ${INFLIGHT} in flight × ${SESSIONS} sessions` : `open loop ${RATE}/s over ${SESSIONS} sessions`;
  const where = t.child === null ? `against ${t.base}` : `self-started server (${describeServer(SERVER)})`;
  const tally = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));
  say('');
  say(`binary WebSocket NewOrderSingle / OrderCancelRequest mix, ${mode}, ${DURATION_S} s measured, ${where}`);
  if (!SATURATE) say(`  offered       ${RATE}/s (${measuredSent} messages due in the measured window)`);
  say(`  acks          ${ackRate.toFixed(0)}/s in the measured window (${acceptedRate.toFixed(0)}/s accepted, i.e. not rejected); ${measuredAcked} of the ${measuredSent} measured messages acked, ${measuredUnacked} not within the ${DRAIN_S} s drain`);
  say(
    `  latency (ms)  p50 ${lat.p50}  p90 ${lat.p90}  p99 ${lat.p99}  p99.9 ${lat.p99_9}  max ${lat.max}  mean ${lat.mean}  (${SATURATE ? 'from the actual send: closed loop' : 'from the intended send time'}${measuredUnacked > 0 ? `; ${measuredUnacked} unacked counted at the drain end` : ''})`,
  );
  if (!SATURATE) say(`  send lag (ms) p50 ${lag.p50}  p99 ${lag.p99}  max ${lag.max}  (generator: actual − intended send time)`);
  say(`  sent          ${counts.sentOrders} orders, ${counts.sentCancels} cancels (whole run); reports ${counts.execReports} (${Object.entries(tally(counts.byExecType)).map(([k, v]) => `${k}:${v}`).join(' ')})`);
  say(
    `  rejects       order rejected (8/8) ${counts.rejected}, BusinessMessageReject ${counts.businessRejects}, OrderCancelReject ${counts.cancelRejects}, session Reject ${counts.sessionRejects}${firstSessionReject === null ? '' : ` ("${firstSessionReject}")`}, Logout ${counts.logouts}${firstLogoutText === null ? '' : ` ("${firstLogoutText}")`}`,
  );
  if (counts.rejectCodes.size > 0) say(`  reject codes  ${Object.entries(tally(counts.rejectCodes)).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  say(`  CPU (% of one core, measured window)  generator ${c.selfPct.toFixed(0)} (${c.selfSysPct.toFixed(0)} kernel)${c.serverPct === null ? '' : `; server ${c.serverPct.toFixed(0)} (${c.serverSysPct!.toFixed(0)} kernel; threads: ${threads})`}; everything else ${c.otherPct.toFixed(0)}`);
  say(`  machine       ${c.machineBusyPct.toFixed(0)} % busy of ${availableParallelism()} cores, steal ${c.stealPct.toFixed(1)} %; load average now ${loadavg().map((x) => x.toFixed(2)).join(' ')}; max socket backlog ${maxSocketBuffered} B`);
  const secs = Math.max(timeline.sent.length, timeline.acked.length);
  say(`  per second    sent ${Array.from({ length: secs }, (_, i) => timeline.sent[i] ?? 0).join(' ')}`);
  say(`                acked ${Array.from({ length: secs }, (_, i) => timeline.acked[i] ?? 0).join(' ')}`);
  if (status !== null) say(`  server status ${JSON.stringify(status).slice(0, 300)}`);
  const line = {
    bench: SATURATE ? 'ws.order.saturate' : 'ws.order',
    url: t.child === null ? t.base : 'self-started',
    durability: t.child === null ? null : SERVER.durability,
    gateways: t.child === null ? null : SERVER.gateways,
    sessions: SESSIONS,
    inflightPerSession: SATURATE ? INFLIGHT : null,
    offeredPerSec: SATURATE ? null : RATE,
    durationS: DURATION_S,
    ackPerSec: Math.round(ackRate),
    acceptedPerSec: Math.round(acceptedRate),
    measured: measuredSent,
    measuredAcked,
    unacked,
    latencyMs: lat,
    latencyFrom: SATURATE ? 'actual send (closed loop)' : 'intended send (open loop)',
    sendLagMs: SATURATE ? null : lag,
    sentOrders: counts.sentOrders,
    sentCancels: counts.sentCancels,
    execReports: counts.execReports,
    execTypes: tally(counts.byExecType),
    rejected: counts.rejected,
    businessRejects: counts.businessRejects,
    cancelRejects: counts.cancelRejects,
    sessionRejects: counts.sessionRejects,
    logouts: counts.logouts,
    rejectCodes: tally(counts.rejectCodes),
    generatorCpuPct: Math.round(c.selfPct),
    serverCpuPct: c.serverPct === null ? null : Math.round(c.serverPct),
    serverThreadsCpuPct: c.serverThreads === null ? null : Object.fromEntries(c.serverThreads.map((x) => [x.tid === pid ? 'main' : `+${x.tid - pid}`, x.pct])),
    otherCpuPct: Math.round(c.otherPct),
    machineBusyPct: Math.round(c.machineBusyPct),
    stealPct: Number(c.stealPct.toFixed(1)),
    cores: availableParallelism(),
    loadavg1: Number(loadavg()[0]!.toFixed(2)),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

runMain(cli, main);
