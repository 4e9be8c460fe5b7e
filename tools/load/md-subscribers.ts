/**
 * The subscribers of tools/load/md-load.ts, run as a worker thread (one or more): raw WebSocket
 * connections to `/v1/md` (net sockets, the upgrade request and the frames written and cut here,
 * not by the `ws` package, so a thousand subscribers cost little CPU), each subscribed to the
 * given channels of one symbol (MessagePack frames).
 *
 * For every update: the delay = receive time − the update's `ts` (the engine time of its command,
 * ms), into one HdrHistogram (µs) of this thread while md-load's measuring flag is up; the
 * receive time is read once per socket read, as µs since the epoch (performance.timeOrigin +
 * performance.now(), the clock the sequencer stamps with; Date.now() at µs resolution). `ts` is
 * floored to the ms, so a delay is an upper bound: the true one is up to 1 ms less. The update's
 * head (type, channel, symbol, seq, journalSeq, ts: the order the market-data worker writes) is
 * read by a small MessagePack scanner without decoding the body; snapshots, heartbeats and
 * anything else are decoded with msgpackr (rare). Per (connection, channel): the seq must be the
 * last + 1 (the snapshot's seq first), else a gap. A socket closed by the server is a disconnect,
 * with its close code.
 *
 * Reads go into one buffer shared by the thread's connections (net's `onread`: no Buffer and no
 * 'data' event per read); a frame cut by a read is copied and completed by the next.
 *
 * Messages from md-load: {cmd: 'connect'} → {type: 'connected', ...} once every connection holds
 * its snapshots (opened `batch` at a time); {cmd: 'window-start' | 'window-end'} (the event-loop
 * utilisation of ws-load's window); {cmd: 'report'} → {type: 'report', ...}; {cmd: 'close'} →
 * {type: 'closed'}. Shared memory: `ctl[0]` is the measuring flag (read once per socket read);
 * this thread's row of `live` (Float64Array, Live.Fields a row) has running totals md-load samples
 * once a second.
 */
import { connect, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Packr, Unpackr } from 'msgpackr';
import hdr from 'hdr-histogram-js';
import { keyIs, numAt, numEnd, sLen, sStart, strAt } from './msgpack-scan.js';

export interface SubscribersData {
  host: string;
  port: number;
  /** connections of this thread */
  count: number;
  /** the index of its first connection (for messages) */
  first: number;
  symbol: string;
  channels: string[];
  /** connections opening at once */
  batch: number;
  ctlSab: SharedArrayBuffer;
  liveSab: SharedArrayBuffer;
  row: number;
}

/**
 * A live row: updates received (all), updates in the window, max delay µs since md-load last
 * zeroed it, open connections, disconnects, gaps; Fields is the row's length. A const enum, so
 * md-load's import of it (and of the types) is erased and this module runs only as the worker.
 */
export const enum Live {
  Updates = 0,
  WindowUpdates = 1,
  MaxDelayUs = 2,
  Open = 3,
  Disconnects = 4,
  Gaps = 5,
  Fields = 6,
}

export interface ConnectedMsg {
  type: 'connected';
  connected: number;
  failed: number;
  firstError: string | null;
  seconds: number;
}

export interface SubscriberStats {
  /** updates in the measuring window */
  window: number;
  /** updates of the whole phase */
  all: number;
  gaps: number;
  maxDelayUs: number;
  /** updates in the window with a delay over 20 ms */
  over20: number;
  /** the server's last heartbeat said a higher seq than this connection's last, at the end */
  behind: boolean;
  closeCode: number | null;
}

export interface ReportMsg {
  type: 'report';
  /** the window's delays, HdrHistogram (µs) as compressed base64 */
  hist: string;
  subs: SubscriberStats[];
  /** updates by channel index (the `channels` order), whole phase */
  byChannel: number[];
  /** delays below 0 (clock skew between the processes), recorded as 0 */
  negativeDelays: number;
  updatesBeforeSnapshot: number;
  otherMessages: Record<string, number>;
  errors: string[];
  /** event-loop utilisation of this thread in the window (0..1) */
  elu: number;
  frames: number;
  /** socket reads (frames / reads: how many frames a read brings) */
  reads: number;
  /** reads and frames in the window */
  windowReads: number;
  windowFrames: number;
  bytes: number;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

const d = workerData as SubscribersData;
const ctl = new Int32Array(d.ctlSab);
const live = new Float64Array(d.liveSab);
const base = d.row * Live.Fields;
const NCH = d.channels.length;
const chIndex = new Map(d.channels.map((c, i) => [c, i]));
const TOPIC_OF = d.channels.map((c) => `${c}:${d.symbol}`);

const SUBSCRIBE = (() => {
  const payload = packr.pack({ type: 'subscribe', channels: d.channels, symbols: [d.symbol] });
  if (payload.length >= 126) throw new Error('subscribe message too long');
  // a binary frame masked with a zero key (RFC 6455 allows any key): the payload goes as it is
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
})();

interface Conn {
  idx: number;
  sock: Socket;
  upgraded: boolean;
  head: string;
  pending: Buffer | null;
  /** per channel: last seq (-1: no snapshot yet) */
  last: Float64Array;
  snapshots: number;
  hbSeqs: Record<string, number> | null;
  stats: SubscriberStats;
  connected: boolean;
  closing: boolean;
  closed: boolean;
  onReady: ((err: string | null) => void) | null;
}

let conns: Conn[] = [];
let hist = newHist();
let byChannel = new Array<number>(NCH).fill(0);
let negativeDelays = 0;
let updatesBeforeSnapshot = 0;
let otherMessages: Record<string, number> = {};
let errors: string[] = [];
let frames = 0;
let reads = 0;
let windowReads = 0;
let windowFrames = 0;
let bytes = 0;
let eluA: ReturnType<typeof performance.eventLoopUtilization> | null = null;
let eluB: ReturnType<typeof performance.eventLoopUtilization> | null = null;

function newHist() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

function note(e: string): void {
  if (errors.length < 20) errors.push(e);
}

// ---------------------------------------------------------------- the update's head (read with ./msgpack-scan.ts)

// key bytes compared by length and a distinguishing byte: type(4) channel(7) seq(3) ts(2)
const enum Key {
  Other,
  Type,
  Channel,
  Seq,
  Ts,
}
function keyOf(b: Buffer, at: number, len: number): Key {
  switch (len) {
    case 4:
      return b[at] === 0x74 && b[at + 1] === 0x79 && b[at + 2] === 0x70 && b[at + 3] === 0x65 ? Key.Type : Key.Other; // type
    case 7:
      return b[at] === 0x63 && b[at + 1] === 0x68 && b[at + 6] === 0x6c ? Key.Channel : Key.Other; // channel
    case 3:
      return b[at] === 0x73 && b[at + 1] === 0x65 && b[at + 2] === 0x71 ? Key.Seq : Key.Other; // seq
    case 2:
      return b[at] === 0x74 && b[at + 1] === 0x73 ? Key.Ts : Key.Other; // ts
    default:
      return Key.Other;
  }
}

const UPDATE = Buffer.from('update');

/** the channel index of the string at b[at..at+len), -1 if not subscribed */
function channelOf(b: Buffer, at: number, len: number): number {
  for (let i = 0; i < NCH; i++) {
    const c = d.channels[i]!;
    if (c.length !== len) continue;
    let ok = true;
    for (let j = 0; j < len; j++)
      if (b[at + j] !== c.charCodeAt(j)) {
        ok = false;
        break;
      }
    if (ok) return i;
  }
  return -1;
}

// ---------------------------------------------------------------- messages

/** One binary message b[p..end) received at recvUs. */
function onMessage(c: Conn, b: Buffer, p: number, end: number, recvUs: number, measuring: boolean): void {
  const h = b[p]!;
  let n: number;
  if ((h & 0xf0) === 0x80) {
    n = h & 0x0f;
    p += 1;
  } else if (h === 0xde) {
    n = b.readUInt16BE(p + 1);
    p += 3;
  } else return other(c, b, p, end, recvUs, measuring);
  const start = p - (h === 0xde ? 3 : 1);
  let ch = -2;
  let seq = NaN;
  let ts = NaN;
  let update = false;
  // the head: type, channel, symbol, seq, journalSeq, ts, then the body (not read)
  for (let i = 0; i < n && i < 6; i++) {
    if (!strAt(b, p)) return other(c, b, start, end, recvUs, measuring);
    const k = keyOf(b, sStart, sLen);
    p = sStart + sLen;
    if (k === Key.Type) {
      if (!strAt(b, p) || !keyIs(b, sStart, sLen, UPDATE)) return other(c, b, start, end, recvUs, measuring);
      update = true;
      p = sStart + sLen;
    } else if (k === Key.Channel) {
      if (!strAt(b, p)) return other(c, b, start, end, recvUs, measuring);
      ch = channelOf(b, sStart, sLen);
      p = sStart + sLen;
    } else if (strAt(b, p)) {
      if (k === Key.Seq || k === Key.Ts) return other(c, b, start, end, recvUs, measuring);
      p = sStart + sLen; // symbol
    } else {
      const v = numAt(b, p);
      if (numEnd === p) return other(c, b, start, end, recvUs, measuring);
      if (k === Key.Seq) seq = v;
      else if (k === Key.Ts) ts = v;
      p = numEnd; // journalSeq
    }
  }
  if (!update || ch === -2 || Number.isNaN(seq) || Number.isNaN(ts)) return other(c, b, start, end, recvUs, measuring);
  count(c, ch, seq, ts, recvUs, measuring);
}

/** One update of channel index ch (-1: not one subscribed to). */
function count(c: Conn, ch: number, seq: number, ts: number, recvUs: number, measuring: boolean): void {
  if (ch < 0) {
    otherMessages['update of another channel'] = (otherMessages['update of another channel'] ?? 0) + 1;
    return;
  }
  const st = c.stats;
  st.all++;
  byChannel[ch]!++;
  live[base + Live.Updates]!++;
  const last = c.last[ch]!;
  if (last < 0) updatesBeforeSnapshot++;
  else if (seq !== last + 1) {
    st.gaps++;
    live[base + Live.Gaps]!++;
  }
  c.last[ch] = seq;
  if (!measuring) return;
  st.window++;
  live[base + Live.WindowUpdates]!++;
  let delay = recvUs - ts * 1000;
  if (delay < 0) {
    negativeDelays++;
    delay = 0;
  }
  hist.recordValue(delay < 1 ? 1 : Math.round(delay));
  if (delay > st.maxDelayUs) st.maxDelayUs = delay;
  if (delay > 20_000) st.over20++;
  if (delay > live[base + Live.MaxDelayUs]!) live[base + Live.MaxDelayUs] = delay;
}

/** anything but an update: decoded whole (an update whose head the scanner did not read goes on from here too) */
function other(c: Conn, b: Buffer, p: number, end: number, recvUs: number, measuring: boolean): void {
  let m: Record<string, unknown>;
  try {
    m = unpackr.unpack(b.subarray(p, end)) as Record<string, unknown>;
  } catch (e) {
    note(`connection ${c.idx}: undecodable message: ${(e as Error).message}`);
    return;
  }
  const type = String(m.type);
  if (type === 'update' && typeof m.seq === 'number' && typeof m.ts === 'number') {
    otherMessages['update read by msgpackr'] = (otherMessages['update read by msgpackr'] ?? 0) + 1;
    return count(c, chIndex.get(String(m.channel)) ?? -1, m.seq, m.ts, recvUs, measuring);
  }
  if (type === 'snapshot') {
    const ch = chIndex.get(String(m.channel));
    if (ch === undefined || typeof m.seq !== 'number') return note(`connection ${c.idx}: snapshot ${JSON.stringify(m).slice(0, 200)}`);
    if (c.last[ch]! >= 0) note(`connection ${c.idx}: a second snapshot of ${String(m.channel)}`);
    c.last[ch] = m.seq;
    if (++c.snapshots === NCH && c.onReady !== null) {
      c.onReady(null);
      c.onReady = null;
    }
    return;
  }
  if (type === 'heartbeat') {
    c.hbSeqs = (m.seqs ?? {}) as Record<string, number>;
    return;
  }
  otherMessages[type] = (otherMessages[type] ?? 0) + 1;
  if (type === 'error' || type === 'reset') note(`connection ${c.idx}: ${JSON.stringify(m).slice(0, 300)}`);
}

// ---------------------------------------------------------------- WebSocket frames

function onData(c: Conn, chunk: Buffer): void {
  reads++;
  bytes += chunk.length;
  if (!c.upgraded) {
    c.head += chunk.toString('latin1');
    const e = c.head.indexOf('\r\n\r\n');
    if (e < 0) {
      if (c.head.length > 8192) fail(c, 'no end of the upgrade answer');
      return;
    }
    if (!/^HTTP\/1\.1 101 /.test(c.head)) return fail(c, `upgrade refused: ${c.head.split('\r\n')[0]}`);
    c.upgraded = true;
    const rest = Buffer.from(c.head.slice(e + 4), 'latin1');
    c.head = '';
    c.sock.write(SUBSCRIBE);
    if (rest.length === 0) return;
    chunk = rest;
  }
  const recvUs = (performance.timeOrigin + performance.now()) * 1000;
  const measuring = ctl[0] === 1;
  if (measuring) windowReads++;
  let b = chunk;
  if (c.pending !== null) {
    b = Buffer.concat([c.pending, chunk]);
    c.pending = null;
  }
  const len = b.length;
  let p = 0;
  while (len - p >= 2) {
    const b0 = b[p]!;
    const b1 = b[p + 1]!;
    let plen = b1 & 0x7f;
    let hl = 2;
    if (plen === 126) {
      if (len - p < 4) break;
      plen = b.readUInt16BE(p + 2);
      hl = 4;
    } else if (plen === 127) {
      if (len - p < 10) break;
      plen = b.readUInt32BE(p + 2) * 4294967296 + b.readUInt32BE(p + 6);
      hl = 10;
    }
    if (b1 & 0x80) hl += 4; // a masked frame from a server is wrong, but skip its key
    if (len - p < hl + plen) break;
    const s = p + hl;
    const e = s + plen;
    frames++;
    if (measuring) windowFrames++;
    const op = b0 & 0x0f;
    if (op === 2) onMessage(c, b, s, e, recvUs, measuring);
    else if (op === 8) {
      const code = plen >= 2 ? b.readUInt16BE(s) : 1005;
      if (c.stats.closeCode === null) c.stats.closeCode = code;
      if (!c.closing) note(`connection ${c.idx}: closed by the server: ${code} ${b.toString('utf8', s + 2, e)}`);
    } else if (op === 9) {
      // ping: a pong with the same payload (masked with a zero key)
      if (plen < 126) c.sock.write(Buffer.concat([Buffer.from([0x8a, 0x80 | plen, 0, 0, 0, 0]), b.subarray(s, e)]));
    } else if (op === 1) otherMessages['text frame'] = (otherMessages['text frame'] ?? 0) + 1;
    else if (op !== 10) otherMessages[`frame op ${op}`] = (otherMessages[`frame op ${op}`] ?? 0) + 1;
    p = e;
  }
  if (p < len) c.pending = Buffer.from(b.subarray(p));
}

function fail(c: Conn, why: string): void {
  note(`connection ${c.idx}: ${why}`);
  if (c.onReady !== null) {
    c.onReady(why);
    c.onReady = null;
  }
  c.sock.destroy();
}

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** a Sec-WebSocket-Key: 16 bytes in base64 (24 characters; the server refuses other lengths) */
const wsKey = (idx: number): string => Buffer.from(`md-load-${String(idx).padStart(8, '0')}`.slice(0, 16)).toString('base64');

function open(idx: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    // reads go into one buffer shared by all the connections of this thread (each read is handled
    // before the next): no Buffer and no 'data' event per read
    const sock = connect({
      host: d.host,
      port: d.port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          onData(c, Buffer.from(buf.buffer, buf.byteOffset, n));
          return true;
        },
      },
    });
    const c: Conn = {
      idx,
      sock,
      upgraded: false,
      head: '',
      pending: null,
      last: new Float64Array(NCH).fill(-1),
      snapshots: 0,
      hbSeqs: null,
      stats: { window: 0, all: 0, gaps: 0, maxDelayUs: 0, over20: 0, behind: false, closeCode: null },
      connected: false,
      closing: false,
      closed: false,
      onReady: null,
    };
    const timer = setTimeout(() => fail(c, 'no snapshots within 30 s'), 30_000);
    c.onReady = (err) => {
      clearTimeout(timer);
      if (err === null) resolve(c);
      else reject(new Error(err));
    };
    sock.on('connect', () => {
      c.connected = true;
      live[base + Live.Open]!++;
      sock.write(`GET /v1/md HTTP/1.1\r\nHost: ${d.host}:${d.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${wsKey(idx)}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on('error', (e) => {
      if (c.onReady !== null) fail(c, e.message);
      else if (!c.closing) note(`connection ${idx}: ${e.message}`);
    });
    sock.on('close', () => {
      if (c.closed) return;
      c.closed = true;
      if (c.connected) live[base + Live.Open]!--;
      if (!c.closing && c.onReady === null) {
        live[base + Live.Disconnects]!++;
        c.stats.closeCode ??= 1006;
      }
    });
  });
}

async function connectAll(): Promise<ConnectedMsg> {
  const t0 = performance.now();
  conns = [];
  hist = newHist();
  byChannel = new Array<number>(NCH).fill(0);
  negativeDelays = updatesBeforeSnapshot = frames = reads = windowReads = windowFrames = bytes = 0;
  otherMessages = {};
  errors = [];
  eluA = eluB = null;
  for (let i = 0; i < Live.Fields; i++) live[base + i] = 0;
  let failed = 0;
  let firstError: string | null = null;
  for (let i = 0; i < d.count; i += d.batch) {
    const n = Math.min(d.batch, d.count - i);
    const r = await Promise.allSettled(Array.from({ length: n }, (_, j) => open(d.first + i + j)));
    for (const x of r) {
      if (x.status === 'fulfilled') conns.push(x.value);
      else {
        failed++;
        firstError ??= (x.reason as Error).message;
      }
    }
    // let the event loop breathe between batches (the server's too)
    await new Promise((res) => setTimeout(res, 20));
  }
  return { type: 'connected', connected: conns.length, failed, firstError, seconds: (performance.now() - t0) / 1000 };
}

function report(): ReportMsg {
  for (const c of conns) {
    if (c.hbSeqs === null || c.closed) continue;
    for (let i = 0; i < NCH; i++) {
      const s = c.hbSeqs[TOPIC_OF[i]!];
      if (s !== undefined && s > c.last[i]!) c.stats.behind = true;
    }
  }
  const elu = eluA !== null ? performance.eventLoopUtilization(eluB ?? performance.eventLoopUtilization(), eluA).utilization : NaN;
  return {
    type: 'report',
    hist: hdr.encodeIntoCompressedBase64(hist),
    subs: conns.map((c) => c.stats),
    byChannel,
    negativeDelays,
    updatesBeforeSnapshot,
    otherMessages,
    errors,
    elu,
    frames,
    reads,
    windowReads,
    windowFrames,
    bytes,
  };
}

parentPort!.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'connect') void connectAll().then((r) => parentPort!.postMessage(r));
  else if (m.cmd === 'window-start') eluA = performance.eventLoopUtilization();
  else if (m.cmd === 'window-end') eluB = performance.eventLoopUtilization();
  else if (m.cmd === 'report') parentPort!.postMessage(report());
  else if (m.cmd === 'close') {
    for (const c of conns) {
      c.closing = true;
      c.sock.destroy();
    }
    conns = [];
    parentPort!.postMessage({ type: 'closed' });
  }
});
