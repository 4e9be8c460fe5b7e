/**
 * Counters the gateway threads share with the main thread, which renders `/metrics` (Prometheus
 * text). Each gateway writes only its own slot of one SharedArrayBuffer (no locks: a single writer
 * per word, readers tolerate a value a moment old); latency is a power-of-two histogram in µs.
 */
import { FSYNC_BUCKETS, type SequencerControl } from '../sequencer/control.js';
import type { BroadcastRing } from '../ring/broadcastRing.js';
import type { InboundRing } from '../ring/inboundRing.js';
import { EVENT_CONSUMER } from './eventFeed.js';

const LATENCY_BUCKETS = 24;
const enum Slot {
  ANSWERS_2XX = 0,
  ANSWERS_4XX = 1,
  ANSWERS_429 = 2,
  ANSWERS_5XX = 3,
  LATENCY_US_SUM = 4,
  SESSIONS = 5,
  HIST = 6,
}
const SLOT_FLOATS = Slot.HIST + LATENCY_BUCKETS;

export class GatewayMetrics {
  private readonly f: Float64Array;

  static create(gateways: number): SharedArrayBuffer {
    return new SharedArrayBuffer(gateways * SLOT_FLOATS * 8);
  }

  constructor(sab: SharedArrayBuffer, index: number) {
    this.f = new Float64Array(sab, index * SLOT_FLOATS * 8, SLOT_FLOATS);
  }

  answer(status: number, ms: number): void {
    const f = this.f;
    if (status < 400) f[Slot.ANSWERS_2XX]!++;
    else if (status === 429) f[Slot.ANSWERS_429]!++;
    else if (status < 500) f[Slot.ANSWERS_4XX]!++;
    else f[Slot.ANSWERS_5XX]!++;
    const us = ms * 1000;
    f[Slot.LATENCY_US_SUM] = f[Slot.LATENCY_US_SUM]! + us;
    f[Slot.HIST + (us < 2 ? 0 : Math.min(LATENCY_BUCKETS - 1, Math.floor(Math.log2(us))))]!++;
  }

  /** binary sessions open on this gateway (a gauge) */
  setSessions(n: number): void {
    this.f[Slot.SESSIONS] = n;
  }

  read(): { answers: Record<string, number>; latencyUsSum: number; hist: number[]; sessions: number } {
    const f = this.f;
    return {
      sessions: f[Slot.SESSIONS]!,
      answers: { '2xx': f[Slot.ANSWERS_2XX]!, '4xx': f[Slot.ANSWERS_4XX]!, '429': f[Slot.ANSWERS_429]!, '5xx': f[Slot.ANSWERS_5XX]! },
      latencyUsSum: f[Slot.LATENCY_US_SUM]!,
      hist: Array.from(f.subarray(Slot.HIST, Slot.HIST + LATENCY_BUCKETS)),
    };
  }
}

/** A Prometheus histogram from power-of-two µs buckets (bucket k holds [2^k, 2^(k+1)) µs), in seconds. */
function histogram(name: string, help: string, hist: number[], sumSeconds: number): string[] {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  let cum = 0;
  for (let k = 0; k < hist.length; k++) {
    cum += hist[k]!;
    lines.push(`${name}_bucket{le="${(2 ** (k + 1) / 1e6).toPrecision(6)}"} ${cum}`);
  }
  lines.push(`${name}_bucket{le="+Inf"} ${cum}`, `${name}_sum ${sumSeconds}`, `${name}_count ${cum}`);
  return lines;
}

export interface ProcessFacts {
  role: string;
  uptimeSeconds: number;
  connections?: number;
  /** the supervised workers (src/server/supervisor.ts) */
  workers?: { name: string; up: boolean; failures: number; restarts: number; gaveUp: boolean }[];
  /** market-data connections (WebSocket and SSE) counted per remote address (addressConnections.ts) */
  mdConnections?: { connections: number; addresses: number; refused: number };
}

/** The rings, for occupancy and lag gauges. */
export interface RingFacts {
  inbound: InboundRing;
  journal: InboundRing;
  events: BroadcastRing;
}

export function renderMetrics(control: SequencerControl, gateways: GatewayMetrics[], facts: ProcessFacts, rings: RingFacts): string {
  const s = control.stats();
  const out: string[] = [];
  const gauge = (name: string, help: string, v: number, type = 'gauge') => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${v}`);
  gauge('seqex_up', 'the sequencer is running', control.stopRequested || control.journalFailed ? 0 : 1);
  gauge('seqex_is_primary', 'this process is the primary', facts.role === 'primary' ? 1 : 0);
  gauge('seqex_uptime_seconds', 'seconds since start', facts.uptimeSeconds);
  gauge('seqex_sequenced_seq', 'last seq given to a command', s.sequencedSeq);
  gauge('seqex_durable_seq', 'last seq on disk (fdatasync done)', s.durableSeq);
  gauge('seqex_released_seq', 'last seq whose outputs were released', s.releasedSeq);
  gauge('seqex_snapshot_seq', 'seq of the newest snapshot', s.snapshotSeq);
  gauge('seqex_commands_total', 'commands sequenced since start', s.commands, 'counter');
  gauge('seqex_batches_total', 'sequencer batches since start', s.batches, 'counter');
  gauge('seqex_malformed_total', 'inbound frames refused as malformed', s.malformed, 'counter');
  gauge('seqex_journal_bytes_total', 'bytes appended to the journal since start', s.journalBytes, 'counter');
  gauge('seqex_inbound_ring_used_bytes', 'bytes waiting in the inbound ring (gateways to sequencer)', rings.inbound.usedBytes());
  gauge('seqex_inbound_ring_capacity_bytes', 'inbound ring size', rings.inbound.capacity);
  gauge('seqex_inbound_ring_full_total', 'commands refused OVERLOADED because the inbound ring was full', rings.inbound.overloadedCount(), 'counter');
  gauge('seqex_journal_ring_used_bytes', 'bytes waiting for the journal thread', rings.journal.usedBytes());
  gauge('seqex_event_ring_laps_total', 'times a consumer fell a whole event ring behind', rings.events.lapCount(), 'counter');
  gauge('seqex_session_store_lag_bytes', 'event ring bytes the session store has not read yet', rings.events.lagBytes(EVENT_CONSUMER.SESSION_STORE));
  // a worker that stops reading (hung, or slower than the load) shows here before it is lapped
  out.push(
    '# HELP seqex_event_ring_lag_bytes event ring bytes a worker has not read yet (a ring behind: lapped, it rebuilds)',
    '# TYPE seqex_event_ring_lag_bytes gauge',
    `seqex_event_ring_lag_bytes{consumer="market_data"} ${rings.events.lagBytes(EVENT_CONSUMER.MARKET_DATA)}`,
    `seqex_event_ring_lag_bytes{consumer="reports"} ${rings.events.lagBytes(EVENT_CONSUMER.REPORTS)}`,
  );
  gauge('seqex_event_ring_capacity_bytes', 'event ring size', rings.events.capacity);
  gauge('seqex_ws_sessions', 'binary sessions connected', gateways.reduce((n, g) => n + g.read().sessions, 0));
  if (facts.mdConnections !== undefined) {
    gauge('seqex_md_connections', 'market-data connections open (WebSocket /v1/md and SSE /v1/stream)', facts.mdConnections.connections);
    gauge('seqex_md_connection_addresses', 'remote addresses with market-data connections open', facts.mdConnections.addresses);
    gauge('seqex_md_connections_refused_total', 'market-data connections refused: the address was at mdConnectionsPerAddress (429), or too many addresses (503)', facts.mdConnections.refused, 'counter');
  }
  const workers = facts.workers ?? [];
  if (workers.length > 0) {
    const labelled = (name: string, help: string, type: string, v: (w: (typeof workers)[number]) => number) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...workers.map((w) => `${name}{worker="${w.name}"} ${v(w)}`));
    labelled('seqex_worker_up', 'the worker is running (0: failed and waiting for its restart, or given up)', 'gauge', (w) => (w.up ? 1 : 0));
    labelled('seqex_worker_failures_total', 'times the worker ended unexpectedly', 'counter', (w) => w.failures);
    labelled('seqex_worker_restarts_total', 'times the worker was started again after a failure', 'counter', (w) => w.restarts);
    labelled('seqex_worker_gave_up', 'the worker failed too often in a row and is no longer restarted', 'gauge', (w) => (w.gaveUp ? 1 : 0));
  }
  const fsync = control.fsyncHistogram();
  out.push(...histogram('seqex_fsync_seconds', 'journal fdatasync latency', fsync.slice(0, FSYNC_BUCKETS), (s.fsyncUsMean * s.fsyncs) / 1e6));
  out.push('# HELP seqex_http_answers_total REST answers by status class', '# TYPE seqex_http_answers_total counter');
  const hist = new Array<number>(LATENCY_BUCKETS).fill(0);
  let sum = 0;
  const totals: Record<string, number> = {};
  for (const g of gateways) {
    const r = g.read();
    for (const [k, v] of Object.entries(r.answers)) totals[k] = (totals[k] ?? 0) + v;
    r.hist.forEach((v, k) => (hist[k]! += v));
    sum += r.latencyUsSum;
  }
  for (const [k, v] of Object.entries(totals)) out.push(`seqex_http_answers_total{class="${k}"} ${v}`);
  out.push(...histogram('seqex_http_request_seconds', 'REST request latency, received to answered (ack latency of orders)', hist, sum / 1e6));
  return out.join('\n') + '\n';
}
