/**
 * Worker entry of one gateway thread: its own uWS App on the shared port (the kernel spreads
 * connections over the threads with SO_REUSEPORT), the REST routes and the binary sessions, its
 * pair of rings to the sequencer and a reader of the event ring (reports for its sessions). No business state lives here: only caches of immutable reference data and of API
 * key → account. The main thread owns status, snapshots and metrics (asked by message).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { us_listen_socket } from 'uWebSockets.js';
import { KeyCache, RateLimiter } from './auth.js';
import { Directory } from './directory.js';
import { Dispatcher } from './dispatcher.js';
import { Router } from './http.js';
import { GatewayMetrics } from './metrics.js';
import { registerRest, type HostLink } from './rest.js';
import { loadUws } from './uws.js';
import { SequencerControl } from '../sequencer/control.js';
import { EVENT_CONSUMER } from './eventFeed.js';
import { SessionGateway, type StoredRange } from './sessions.js';
import { MarketDataGateway } from './marketData.js';
import { AddressConnections } from './addressConnections.js';
import { ApiError } from './errors.js';
import type { ReportQuery } from '../reportworker/queryTask.js';

export interface GatewayThreadData {
  index: number;
  /** source id on the inbound ring (= index of its outbound ring) */
  source: number;
  host: string;
  port: number;
  inboundSab: SharedArrayBuffer;
  outboundSab: SharedArrayBuffer;
  eventsSab: SharedArrayBuffer;
  /** the market-data ring (this thread reads it as consumer `index`) and its port to the market-data worker */
  mdSab: SharedArrayBuffer;
  mdPort: MessagePort;
  /** whether the market-data worker is running when this thread starts (src/server/marketData.ts) */
  mdAvailability: 'up' | 'down' | 'gaveUp';
  /** market-data connections per remote address, shared by every gateway thread (addressConnections.ts), and the limit */
  mdConnectionsSab: SharedArrayBuffer;
  mdConnectionsPerAddress: number;
  controlSab: SharedArrayBuffer;
  metricsSab: SharedArrayBuffer;
  adminTokenHashHex: string;
  rateLimitPerSec: number;
  rateLimitBurst: number;
  maxBodyBytes: number;
  requestTimeoutMs: number;
}

/** Messages between a gateway thread and the main thread. */
export type ToGateway =
  | { type: 'stop' }
  | { type: 'reply'; id: number; value: unknown }
  // the market-data worker failed / was restarted (a new ring and port) / is no longer restarted
  | { type: 'mdDown' }
  | { type: 'mdUp'; mdSab: SharedArrayBuffer; mdPort: MessagePort }
  | { type: 'mdGaveUp' };
export type FromGateway =
  | { type: 'listening'; port: number; binary: string }
  | { type: 'listenFailed'; message: string }
  | { type: 'ask'; id: number; what: 'status' | 'snapshot' | 'metrics' }
  | { type: 'ask'; id: number; what: 'range'; accountId: number; from: number }
  | { type: 'ask'; id: number; what: 'report'; query: ReportQuery; minSeq: number }
  | { type: 'log'; line: string }
  | { type: 'stopped' };

const data = workerData as GatewayThreadData;
const port = parentPort!;
const send = (m: FromGateway) => port.postMessage(m);
const log = (line: string) => send({ type: 'log', line });

const { uws, binary } = loadUws();
const control = new SequencerControl(data.controlSab);
const metrics = new GatewayMetrics(data.metricsSab, data.index);
const dispatcher = new Dispatcher(data.source, data.inboundSab, data.outboundSab, data.requestTimeoutMs);
const directory = new Directory(dispatcher);

let asks = 0;
/** set by stop(): a question asked from now on could outlive the port, it is refused */
let stopping = false;
const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
/** the main thread answers in microseconds; a snapshot can take seconds: past this the caller gets an error */
const ASK_TIMEOUT_MS = 60_000;
const ask = <T>(what: 'status' | 'snapshot' | 'metrics' | 'range' | 'report', args: { accountId?: number; from?: number; query?: ReportQuery; minSeq?: number } = {}): Promise<T> =>
  new Promise((resolve, reject) => {
    if (stopping) return reject(new ApiError('OVERLOADED', 'the exchange is stopping'));
    const id = ++asks;
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`the main thread did not answer '${what}' in time`));
    }, ASK_TIMEOUT_MS);
    timer.unref();
    waiting.set(id, {
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v as T);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    send({ type: 'ask', id, what, ...args } as FromGateway);
  });

const host: HostLink = {
  status: () => ask('status'),
  snapshot: () => ask('snapshot'),
  metrics: () => ask('metrics'),
  // everything this thread's clients were answered is released: the database must reach it
  report: (query) => ask('report', { query, minSeq: control.releasedSeq }),
  healthy: () => !control.stopRequested && !control.journalFailed,
};

const app = uws.App();
const router = new Router(app, {
  maxBodyBytes: data.maxBodyBytes,
  log,
  onAnswer: (status, startedMs) => metrics.answer(status, performance.now() - startedMs),
});
const keys = new KeyCache(dispatcher);
const sessions = new SessionGateway(app, data.eventsSab, EVENT_CONSUMER.FIRST_GATEWAY + data.index, dispatcher, directory, keys, { range: (accountId, from) => ask<StoredRange>('range', { accountId, from }) }, log, (n) => metrics.setSessions(n));
const marketData = new MarketDataGateway(app, data.mdSab, data.index, data.index, data.mdPort, log, data.mdAvailability, new AddressConnections(data.mdConnectionsSab, data.mdConnectionsPerAddress));
registerRest(router, {
  marketData,
  dispatcher,
  directory,
  keys,
  limiter: new RateLimiter(data.rateLimitPerSec, data.rateLimitBurst),
  adminTokenHash: Buffer.from(data.adminTokenHashHex, 'hex'),
  host,
});

let listenSocket: us_listen_socket | null = null;
app.listen(data.host, data.port, (s) => {
  if (s === false) {
    send({ type: 'listenFailed', message: `cannot listen on ${data.host}:${data.port}` });
    return;
  }
  listenSocket = s;
  send({ type: 'listening', port: uws.us_socket_local_port(s), binary });
});

port.on('message', (m: ToGateway) => {
  if (m.type === 'reply') {
    waiting.get(m.id)?.resolve(m.value);
    waiting.delete(m.id);
    return;
  }
  if (m.type === 'stop') void stop();
  else if (m.type === 'mdDown') marketData.workerDown();
  else if (m.type === 'mdUp') marketData.workerUp(m.mdSab, m.mdPort);
  else if (m.type === 'mdGaveUp') marketData.workerGaveUp();
});

/**
 * Stop accepting, let requests in flight get their (durable) answers, then let this thread end by
 * itself. uWS v20.30 has no App.close() and aborts the process if a worker is terminated with
 * sockets open, so: answers from now on close their connection, idle keep-alive connections end
 * by uWS's 10 s idle timeout, and the main thread waits for this thread's exit.
 */
async function stop(): Promise<void> {
  if (listenSocket !== null) uws.us_listen_socket_close(listenSocket);
  listenSocket = null;
  router.closing = true;
  stopping = true;
  sessions.stop();
  marketData.stop();
  const deadline = performance.now() + 5_000;
  // the sequencer's answers, and the main thread's (history queries): a reply after port.close() is lost, and its request never answered
  while ((dispatcher.inFlight > 0 || waiting.size > 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  for (const w of waiting.values()) w.reject(new ApiError('OVERLOADED', 'the exchange is stopping'));
  waiting.clear();
  dispatcher.stop();
  send({ type: 'stopped' });
  port.close();
}
