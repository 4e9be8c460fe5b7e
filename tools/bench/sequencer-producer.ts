/**
 * A producer thread of the end-to-end sequencer benchmark: a gateway stand-in that submits orders
 * through its GatewayPort and times each acknowledgement (the response the sequencer released after
 * the journal made the command durable).
 *
 * Open loop (rate > 0): command i is due at start + i / rate; latency is measured from the time it
 * was due, not from when it was sent, so a stall counts against every command it delayed
 * (no coordinated omission). Saturation (rate = 0): keeps `window` commands in flight.
 * Mix: limit orders around the mid (some cross and trade), cancels of its own resting orders.
 */
import { parentPort, workerData } from 'node:worker_threads';
import hdr from 'hdr-histogram-js';
import type { Command } from '../../src/engine/commands.js';
import { GatewayPort } from '../../src/sequencer/gatewayPort.js';
import { mulberry32 } from './workload.js';

export interface ProducerData {
  source: number;
  inboundSab: SharedArrayBuffer;
  outboundSab: SharedArrayBuffer;
  /** commands per second; 0 = saturation */
  rate: number;
  window: number;
  warmupMs: number;
  /** commands sent closed-loop (not timed) before the measured run, to warm the JIT */
  warmupCommands: number;
  durationMs: number;
  accounts: number[];
  symbols: string[];
  midTicks: number;
  seed: number;
}

const d = workerData as ProducerData;
const port = new GatewayPort(d.source, d.inboundSab, d.outboundSab);
const rnd = mulberry32(d.seed);
const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
/** from the time each command was actually sent: the exchange's own service time, without this
 * thread's lateness (reported beside `hist`, never instead of it: it hides coordinated omission) */
const sentHist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

const SLOTS = 1 << 20;
const PACING_MS = Number(process.env.BENCH_PACING_US ?? 100) / 1000;
/** due time (ms) of each in-flight correlation id */
const dueMs = new Float64Array(SLOTS);
/** send time (ms) of each in-flight correlation id */
const sentMs = new Float64Array(SLOTS);
const live: number[] = []; // resting order ids of this producer (from acks)
let inFlight = 0;
let acked = 0;
let measuredAcks = 0;
let overloaded = 0;
let nextCorr = 0;

const order: Command & { type: 'newOrder' } = { type: 'newOrder', seq: 0, tsUs: 0, accountId: 0, symbol: '', side: 1, ordType: 1, tif: 1, qtyLots: 1, priceTicks: 1 };
const cancel: Command & { type: 'cancelOrder' } = { type: 'cancelOrder', seq: 0, tsUs: 0, accountId: 0, orderId: 0 };
const owner = new Map<number, number>();

function nextCommand(): Command {
  if (live.length > 2000 || (live.length > 0 && rnd() < 0.3)) {
    const i = Math.floor(rnd() * live.length);
    const id = live[i]!;
    live[i] = live[live.length - 1]!;
    live.pop();
    cancel.orderId = id;
    cancel.accountId = owner.get(id)!;
    owner.delete(id);
    return cancel;
  }
  const side = rnd() < 0.5 ? 1 : 2;
  // 10% priced through the mid (they trade), the rest rest within 50 ticks of it
  const cross = rnd() < 0.1;
  const off = 1 + Math.floor(rnd() * 50);
  order.side = side;
  order.priceTicks = side === 1 ? d.midTicks + (cross ? 5 : -off) : d.midTicks - (cross ? 5 : -off);
  order.qtyLots = 1 + Math.floor(rnd() * 10);
  order.accountId = d.accounts[Math.floor(rnd() * d.accounts.length)]!;
  order.symbol = d.symbols[Math.floor(rnd() * d.symbols.length)]!;
  return order;
}

const f64 = port.outbound.v.f64;
let measuring = false;
/** read once per poll: the clock costs ~100 ns a read on these machines */
let pollNowMs = 0;
function pollResponses(): number {
  pollNowMs = performance.now();
  return port.poll(onResponse, 1 << 16);
}
function onResponse(corr: number, _seq: number, _code: number, more: boolean, at: number): void {
  if (more) return;
  const o = at >> 3;
  // a new order's first event is its exec report; remember resting orders to cancel later
  if (f64[o + 3]! > 0 && f64[o + 8] === 1 && f64[o + 8 + 11] === 1 /* ordStatus NEW */) {
    const id = f64[o + 8 + 4]!;
    live.push(id);
    owner.set(id, f64[o + 8 + 5]!);
  }
  const due = dueMs[corr & (SLOTS - 1)]!;
  if (timeline !== null && due > 0) {
    const b = Math.floor((pollNowMs - start) / 100);
    if (b < timeline.length) timeline[b] = Math.max(timeline[b]!, pollNowMs - due);
  }
  if (measuring && due > 0) {
    hist.recordValue(Math.max(1, Math.round((pollNowMs - due) * 1000)));
    sentHist.recordValue(Math.max(1, Math.round((pollNowMs - sentMs[corr & (SLOTS - 1)]!) * 1000)));
    measuredAcks++;
  }
  acked++;
  inFlight--;
}

function submit(due: number, now: number): boolean {
  const corr = nextCorr & (SLOTS - 1);
  if (!port.submit(nextCommand(), corr)) {
    overloaded++;
    return false;
  }
  dueMs[corr] = due;
  sentMs[corr] = now;
  nextCorr++;
  inFlight++;
  return true;
}

/** BENCH_TIMELINE=1: the worst ack latency (ms) of every 100 ms, to find stalls */
const timeline = process.env.BENCH_TIMELINE === '1' ? new Float64Array(1000) : null;
const sendLate = timeline === null ? null : new Float64Array(1000);
const oversleep = timeline === null ? null : new Float64Array(1000);
let start = performance.now();
// JIT warm-up of the whole pipeline (engine, sequencer, journal, this thread) before any clock
// starts: a cold pipeline runs ~10x slower for its first ~100k commands, and an open-loop backlog
// built then would drain into the measurement
{
  const warmEnd = performance.now() + 5_000;
  let warmSent = 0;
  while (warmSent < d.warmupCommands && performance.now() < warmEnd) {
    while (inFlight < 1024 && warmSent < d.warmupCommands && submit(0, 0)) warmSent++;
    if (pollResponses() === 0) port.waitForResponse(1, 0);
  }
  while (inFlight > 0 && performance.now() < warmEnd) if (pollResponses() === 0) port.waitForResponse(1, 0);
  acked = 0;
}
start = performance.now();
const measureFrom = start + d.warmupMs;
const end = measureFrom + d.durationMs;
let sent = 0;
let ackedAtMeasure = 0;
while (performance.now() < end) {
  const now = performance.now();
  if (!measuring && now >= measureFrom) {
    measuring = true;
    ackedAtMeasure = acked;
  }
  if (d.rate > 0) {
    // open loop: send everything that is due; a refused command stays due (retried)
    let due = start + (sent * 1000) / d.rate;
    if (sendLate !== null && due <= now) {
      const b = Math.floor((now - start) / 100);
      if (b < sendLate.length) sendLate[b] = Math.max(sendLate[b]!, now - due);
    }
    while (due <= now && inFlight < SLOTS / 2) {
      if (!submit(measuring || due >= measureFrom ? due : 0, now)) break;
      sent++;
      due = start + (sent * 1000) / d.rate;
    }
    pollResponses();
    // sleep until the next command is due, but at least PACING_MS: a futex sleep per command
    // (10 µs apart at 100k/s) cost more CPU than the exchange itself; commands sent late by it
    // count their lateness in their latency (measured from when they were due)
    const waitMs = Math.max(due - performance.now(), PACING_MS);
    const sleepFrom = performance.now();
    port.waitForResponse(Math.min(waitMs, 5), 0);
    if (oversleep !== null) {
      const b = Math.floor((sleepFrom - start) / 100);
      if (b < oversleep.length) oversleep[b] = Math.max(oversleep[b]!, performance.now() - sleepFrom - Math.min(waitMs, 5));
    }
  } else {
    const now = performance.now();
    while (inFlight < d.window) {
      if (!submit(now, now)) break;
      sent++;
    }
    if (pollResponses() === 0) port.waitForResponse(1, 0);
  }
}
const measuredAcked = acked - ackedAtMeasure;
// drain what is still in flight (bounded)
const drainEnd = performance.now() + 2000;
measuring = false;
while (inFlight > 0 && performance.now() < drainEnd) if (pollResponses() === 0) port.waitForResponse(5);
if (timeline !== null && sendLate !== null) {
  const buckets = (xs: Float64Array) => Array.from(xs.subarray(0, Math.ceil((end - start) / 100)), (x) => Math.round(x)).join(' ');
  console.error(`producer ${d.source} per 100 ms, worst ack ms: ${buckets(timeline)}\n  worst send lateness ms: ${buckets(sendLate)}\n  worst oversleep ms: ${buckets(oversleep!)}`);
}
parentPort!.postMessage({
  source: d.source,
  sent,
  acked: measuredAcked,
  overloaded,
  laps: port.laps,
  histogram: hdr.encodeIntoCompressedBase64(hist),
  sentHistogram: hdr.encodeIntoCompressedBase64(sentHist),
  measuredAcks,
});
