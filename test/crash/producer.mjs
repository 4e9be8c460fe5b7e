// A worker-thread producer of the crash suite: its own GatewayPort (source index) on the shared
// inbound ring, a stream of new orders with unique clOrdIds (limit GTC / IOC and market, crossing
// each other) and cancels of its own earlier accepted orders (each at most once, by orderId or by
// clOrdId), at `ratePerSecond` on average. Up to MAX_INFLIGHT commands are outstanding; a full ring
// (OVERLOADED) is retried.
//
// For every response the port releases (only once the command's journal record is durable) it
// posts one JSON line to the parent: what was sent (t: 'N' new order / 'C' cancel, a: account,
// k: clOrdId of the new order or of the cancel's target, tk: the cancel's target orderId or -1),
// and what came back (seq, code, ts: the sequencer's time, ev: number of the sender's own reports,
// i.e. exec reports and cancel rejects of its account, oid: orderId of a new order, 0 if
// rejected). The parent prints them; the test compares each with the journal.
import { parentPort, workerData } from 'node:worker_threads';
import { GatewayPort } from '../../dist/src/sequencer/gatewayPort.js';

const MAX_INFLIGHT = 128;
const { source, inboundSab, outboundSab, round, seed, accounts, ratePerSecond } = workerData;
const port = new GatewayPort(source, inboundSab, outboundSab);

let s = seed >>> 0 || 1;
const rand = () => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>> 0) / 4294967296;
};
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

let n = 0;
/** accepted orders of this producer not yet asked to cancel: { a, k, oid } */
const cancelable = [];

function nextCommand() {
  if (cancelable.length > 0 && rand() < 0.25) {
    const o = cancelable.splice(randInt(0, cancelable.length - 1), 1)[0];
    const byId = rand() < 0.5;
    const cmd = byId ? { type: 'cancelOrder', accountId: o.a, orderId: o.oid } : { type: 'cancelOrder', accountId: o.a, clOrdId: o.k };
    return { cmd, info: { t: 'C', a: o.a, k: byId ? null : o.k, tk: byId ? o.oid : -1 } };
  }
  const a = accounts[randInt(0, accounts.length - 1)];
  const clOrdId = `r${round}s${source}n${++n}`;
  const side = randInt(1, 2);
  const qtyLots = randInt(1, 5);
  const kind = rand();
  let cmd;
  if (kind < 0.1) cmd = { type: 'newOrder', accountId: a, symbol: 'AAPL', side, ordType: 2, tif: 3, qtyLots, clOrdId };
  else cmd = { type: 'newOrder', accountId: a, symbol: 'AAPL', side, ordType: 1, tif: kind < 0.25 ? 3 : 1, qtyLots, priceTicks: 10_000 + randInt(-5, 5), clOrdId };
  return { cmd, info: { t: 'N', a, k: clOrdId, tk: -1 } };
}

/** The sender's own reports in a response (exec reports and cancel rejects of its account). */
const ownReports = (events, account) => events.filter((e) => (e.event === 'exec' || e.event === 'cancelReject') && e.accountId === account).length;

const pending = new Map();
let corr = 0;
let next = null;
let partial = 0; // events of a multi-frame response so far

const t0 = performance.now();
let sent = 0;
for (;;) {
  // paced, in bursts: the journal must stay short enough for the snapshot thread of a child that
  // lives a second to catch up (a snapshot replays everything since the previous one)
  const allowed = Math.floor(((performance.now() - t0) / 1000) * ratePerSecond) + 16;
  while (pending.size < MAX_INFLIGHT && sent < allowed) {
    next ??= nextCommand();
    if (!port.submit(next.cmd, corr + 1)) break; // OVERLOADED: keep it and retry after polling
    pending.set(++corr, next.info);
    next = null;
    sent++;
  }
  const acks = [];
  const got = port.poll((c, seq, code, more, at) => {
    const outp = port.decode(at);
    if (more) {
      partial += ownReports(outp.events, pending.get(c).a);
      return;
    }
    const info = pending.get(c);
    if (info === undefined) throw new Error(`response for unknown correlation ${c}`);
    pending.delete(c);
    let oid = 0;
    if (info.t === 'N') {
      const x = outp.events.find((e) => e.event === 'exec' && e.clOrdId === info.k);
      if (x === undefined) throw new Error(`no exec event for new order ${info.k}`);
      oid = x.orderId;
      if (code === 0 && oid > 0) cancelable.push({ a: info.a, k: info.k, oid });
      if (cancelable.length > 512) cancelable.shift();
    }
    acks.push(JSON.stringify({ seq, code, ts: outp.tsUs, ev: partial + ownReports(outp.events, info.a), oid, ...info }));
    partial = 0;
  });
  if (port.laps > 0) throw new Error(`producer ${source}: outbound ring lapped (${port.laps})`);
  if (acks.length > 0) parentPort.postMessage(acks);
  if (got === 0) port.waitForResponse(2);
}
