/**
 * The session logic without a network: a broker that stops reading is dropped (close 4008) rather
 * than buffered without bound, and its messages stay in the stream for the resume.
 */
import { Packr, Unpackr } from 'msgpackr';
import { expect, it } from 'vitest';
import { BroadcastRing } from '../../src/ring/broadcastRing.js';
import { SESSION_LIMITS, SessionGateway } from '../../src/gateway/sessions.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

function fakeWs(behavior: () => any) {
  const ws = {
    data: {} as Record<string, unknown>,
    sent: [] as Record<string, unknown>[],
    buffered: 0,
    ended: 0,
    getUserData: () => ws.data,
    send: (b: Uint8Array) => {
      ws.sent.push(unpackr.unpack(b) as Record<string, unknown>);
      return 1;
    },
    cork: (f: () => void) => f(),
    getBufferedAmount: () => ws.buffered,
    end: (code: number) => {
      ws.ended = code;
      behavior().close(ws, code, new ArrayBuffer(0));
    },
  };
  return ws;
}

it('a session whose unread output passes the bound is disconnected with 4008, not buffered further', async () => {
  let behavior: any;
  const app = { ws: (_p: string, b: unknown) => (behavior = b) } as never;
  const events = BroadcastRing.create(1 << 16);
  const gw = new SessionGateway(
    app,
    events.sab,
    4,
    { command: async () => ({ kind: 'reply', seq: 1, tsUs: 0, code: 0, events: [] }), query: async () => ({ kind: 'answer', seq: 1, code: 8, json: '{}' }) } as never,
    { findSymbol: async () => undefined, symbolAt: () => undefined } as never,
    { account: async () => 7 } as never,
    { range: async () => ({ firstAvailable: 1, last: 0, events: [] }) },
    () => {},
  );
  const ws = fakeWs(() => behavior);
  behavior.open(ws);
  behavior.message(ws, packr.pack({ msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa', heartBtInt: 30 }), true);
  await new Promise((r) => setTimeout(r, 20));
  expect(ws.sent[0]).toMatchObject({ msgType: 'A', accountId: 7, nextSeqNum: 1 });
  expect(gw.sessions).toBe(1);
  // the broker stops reading: uWS holds more than the bound for it
  ws.buffered = SESSION_LIMITS.maxBufferedBytes + 1;
  behavior.message(ws, packr.pack({ msgType: '1', testReqId: 'still there?' }), true);
  await new Promise((r) => setTimeout(r, 20));
  expect(ws.ended).toBe(4008);
  expect(gw.sessions).toBe(0);
  gw.stop();
});

// ---------------------------------------------------------------- review: a harness around a fake uWS app

import { EventLog } from '../../src/engine/events.js';
import { EVENT_FIELDS } from '../../src/engine/events.js';
import { outputBytes, writeOutput } from '../../src/sequencer/outputCodec.js';
import { Unit } from '../../src/gateway/units.js';
import type { StoredRange } from '../../src/gateway/sessions.js';
import { messageEvent } from '../../src/gateway/eventFeed.js';

const EXEC = 1;
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const AAPL = { idx: 0, symbol: 'AAPL', base: { asset: 'AAPL', decimals: 0 }, quote: { asset: 'USD', decimals: 2 }, tick: new Unit('0.01'), lot: new Unit('1'), config: {} };

/** an exec record as the engine writes it (fields by name; the rest 0) */
function execRecord(seq: number, f: Record<string, number>, clOrdId: string | null = null): { log: EventLog } {
  const log = new EventLog(256);
  log.seq = seq;
  log.tsUs = seq * 1000;
  const at = log.begin(EXEC as never);
  EVENT_FIELDS[EXEC]!.forEach((name, k) => {
    log.buf[at + k] = name.endsWith('Str') ? log.str(clOrdId) : (f[name] ?? 0);
  });
  return { log };
}

/** publishes one command's output holding one exec record, as the sequencer releases it */
function publishExec(events: BroadcastRing, seq: number, f: Record<string, number>, clOrdId: string | null = null): void {
  const { log } = execRecord(seq, f, clOrdId);
  writeOutput(events.v, events.claim(0, outputBytes(log)), seq, log.tsUs, 0, -1, log, false);
  events.publishTo(events.position());
}

function harness(o: {
  command?: (cmd: Record<string, unknown>) => Promise<unknown>;
  query?: (q: Record<string, unknown>) => Promise<unknown>;
  account?: (key: string) => Promise<number | null>;
  range?: (accountId: number, from: number) => Promise<StoredRange>;
  findSymbol?: (name: string) => Promise<unknown>;
  /** the thread's cache (what findSymbol has loaded) */
  symbol?: (name: string) => unknown;
  symbolAt?: (idx: number) => unknown;
}) {
  let behavior: any;
  const app = { ws: (_p: string, b: unknown) => (behavior = b) } as never;
  const events = BroadcastRing.create(1 << 16);
  const commands: Record<string, unknown>[] = [];
  const queries: Record<string, unknown>[] = [];
  const command = async (cmd: Record<string, unknown>) => {
    commands.push(cmd);
    return o.command ? o.command(cmd) : { kind: 'reply', seq: 1, tsUs: 0, code: 0, events: [] };
  };
  const gw = new SessionGateway(
    app,
    events.sab,
    4,
    {
      command: async (cmd: Record<string, unknown>) => command(cmd),
      commandThen: (cmd: Record<string, unknown>, _wantsEvents: unknown, done: (r: unknown) => void) => void command(cmd).then(done),
      query: async (q: Record<string, unknown>) => {
        queries.push(q);
        return o.query ? o.query(q) : { kind: 'answer', seq: 1, code: 8, json: '{}' };
      },
    } as never,
    { findSymbol: o.findSymbol ?? (async () => AAPL), symbol: o.symbol ?? (() => AAPL), symbolAt: o.symbolAt ?? ((i: number) => (i === 0 ? AAPL : undefined)), symbolAtIdx: async (i: number) => (o.symbolAt ?? ((j: number) => (j === 0 ? AAPL : undefined)))(i) } as never,
    { account: o.account ?? (async () => 7) } as never,
    { range: o.range ?? (async () => ({ firstAvailable: 1, last: 0, events: [] })) },
    () => {},
  );
  const connect = () => {
    const ws = fakeWs(() => behavior);
    behavior.open(ws);
    return ws;
  };
  const send = (ws: ReturnType<typeof fakeWs>, m: Record<string, unknown>) => behavior.message(ws, packr.pack(m), true);
  const publish = (seq: number, f: Record<string, number>, clOrdId: string | null = null) => publishExec(events, seq, f, clOrdId);
  return { gw, connect, send, publish, commands, queries };
}

it('review: a second Logon while the first is still being checked is rejected, not a second logon (to another account)', async () => {
  const h = harness({ account: async (key) => (await tick(10), key.startsWith('sk_a') ? 7 : 8) });
  const ws = h.connect();
  h.send(ws, { msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa' });
  h.send(ws, { msgType: 'A', apiKey: 'sk_bbbbbbbbbbbbbbbbbbbb' });
  await tick(60);
  expect(ws.sent.filter((m) => m.msgType === 'A')).toEqual([expect.objectContaining({ accountId: 7 })]);
  expect(ws.sent.some((m) => m.msgType === '3')).toBe(true);
  // the session gets account 7's stream only, never account 8's
  h.publish(100, { accountId: 8, orderId: 5, execType: 1, ordStatus: 1, msgSeq: 1, execId: 1 });
  await tick(150);
  expect(ws.sent.filter((m) => m.msgType === '8')).toEqual([]);
  h.gw.stop();
});

it('review: a cancel sent right behind its order reaches the exchange after the order', async () => {
  // the first order of a symbol the thread has not loaded: the symbol is fetched first
  let loaded = false;
  const h = harness({ findSymbol: async () => (loaded ? AAPL : (await tick(5), (loaded = true), AAPL)), symbol: () => (loaded ? AAPL : undefined) });
  const ws = h.connect();
  h.send(ws, { msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa' });
  await tick();
  h.send(ws, { msgType: 'D', clOrdId: 'o1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185.00' });
  h.send(ws, { msgType: 'F', origClOrdId: 'o1' });
  await tick(50);
  expect(h.commands.map((c) => c.type)).toEqual(['newOrder', 'cancelOrder']);
  h.gw.stop();
});

it('review: cancel-on-disconnect also cancels an order whose acknowledgement came after the connection dropped', async () => {
  let answer!: (r: unknown) => void;
  const h = harness({
    command: (cmd) =>
      cmd.type === 'newOrder'
        ? new Promise((r) => (answer = r))
        : Promise.resolve({ kind: 'reply', seq: 3, tsUs: 0, code: 0, events: [] }),
  });
  const ws = h.connect();
  h.send(ws, { msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa', cancelOnDisconnect: true });
  await tick();
  h.send(ws, { msgType: 'D', clOrdId: 'cod-1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185.00' });
  await tick();
  ws.end(1006); // the line drops while the order is on its way
  answer({ kind: 'reply', seq: 2, tsUs: 0, code: 0, events: [{ event: 'exec', accountId: 7, orderId: 42, clOrdId: 'cod-1', ordStatus: 1, execType: 1, msgSeq: 1 }] });
  await tick();
  expect(h.commands.filter((c) => c.type === 'cancelOrder').map((c) => c.orderId)).toEqual([42]);
  h.gw.stop();
});

it('review: a message the feed passed while the session was logging on (the store a moment behind) is still delivered', async () => {
  let calls = 0;
  let h!: ReturnType<typeof harness>;
  const rec = (n: number) => messageEvent(execRecord(100 + n, { accountId: 7, orderId: 5, execType: 1, ordStatus: 1, msgSeq: n, execId: 1 }).log.buf.slice(0, 30), null);
  h = harness({
    range: async () => {
      calls++;
      if (calls === 1) {
        // while the store answers, the engine releases message 6 and this thread's feed passes it
        h.publish(106, { accountId: 7, orderId: 5, execType: 1, ordStatus: 1, msgSeq: 6, execId: 1 });
        await tick(250);
        return { firstAvailable: 1, last: 5, events: [], seenSeq: 105 } as never; // the store had not read it yet
      }
      return { firstAvailable: 1, last: 6, events: [rec(6)], seenSeq: 106 } as never;
    },
  });
  const ws = h.connect();
  h.send(ws, { msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa' });
  await tick(400);
  expect(ws.sent[0]).toMatchObject({ msgType: 'A', nextSeqNum: 6 });
  expect(ws.sent.filter((m) => m.msgType === '8').map((m) => m.seqNum)).toEqual([6]);
  h.gw.stop();
});

it('review: the OrderCancelReject for a replace of an unknown order names the order asked for', async () => {
  const h = harness({ query: async () => ({ kind: 'answer', seq: 1, code: 8, json: '{}' }) });
  const ws = h.connect();
  h.send(ws, { msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa' });
  await tick();
  h.send(ws, { msgType: 'G', orderId: 999, price: '185.00' });
  await tick();
  expect(ws.sent.find((m) => m.msgType === '9')).toMatchObject({ orderId: 999, cxlRejResponseTo: '2', rejectCode: 'NOT_FOUND' });
  h.gw.stop();
});

// ---------------------------------------------------------------- review: the session store's files

import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionStore } from '../../src/server/sessionStore.js';
import type { DecodedEvent } from '../../src/engine/events.js';

const stored = (accountId: number, msgSeq: number, seq: number, clOrdId: string | null = `c${msgSeq}`) =>
  ({ event: 'exec', seq, tsUs: 0, accountId, msgSeq, clOrdId, symbolIdx: 0 }) as unknown as DecodedEvent;

/** one run of the exchange as the store sees it: read the files back, take `add`, stop */
async function storeRun(dir: string, add: DecodedEvent[] = []): Promise<SessionStore> {
  const store = new SessionStore(dir, { maxMessages: 1000 });
  store.addRecovered([]);
  store.start(BroadcastRing.create(1 << 16).sab);
  store.addRecovered(add);
  await store.stop();
  return store;
}

it('review: restarts do not push kept messages out of the store files (a restart is not a file full)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqex-store-'));
  try {
    await storeRun(dir, [stored(1, 1, 10), stored(1, 2, 11), stored(1, 3, 12)]);
    for (let i = 0; i < 3; i++) await storeRun(dir); // three restarts, nothing new
    const back = new SessionStore(dir, { maxMessages: 1000 });
    expect(back.range(1, 1).events.map((e) => [e.msgSeq, e.clOrdId])).toEqual([
      [1, 'c1'],
      [2, 'c2'],
      [3, 'c3'],
    ]);
    expect(readdirSync(join(dir, 'sessions')).length).toBeLessThanOrEqual(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('review: after a torn record (a crash mid-write) the messages written by the next run are read back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqex-store-'));
  try {
    await storeRun(dir, [stored(1, 1, 10), stored(1, 2, 11)]);
    const [file] = readdirSync(join(dir, 'sessions'));
    appendFileSync(join(dir, 'sessions', file!), Buffer.from([30, 0, 3, 0, 1, 2, 3])); // half a record
    await storeRun(dir, [stored(1, 3, 12), stored(1, 4, 13)]);
    const back = new SessionStore(dir, { maxMessages: 1000 });
    expect(back.range(1, 1).events.map((e) => e.msgSeq)).toEqual([1, 2, 3, 4]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('review: one answer of the store is bounded (a resend from 1 of a busy account is not a million objects at once)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqex-store-'));
  try {
    const store = new SessionStore(dir, { maxMessages: 30_000 });
    store.addRecovered(Array.from({ length: 25_000 }, (_, i) => stored(1, i + 1, 10 + i, null)));
    const got = store.range(1, 1);
    expect(got).toMatchObject({ firstAvailable: 1, last: 25_000 });
    expect(got.events.length).toBeGreaterThan(0);
    expect(got.events.length).toBeLessThanOrEqual(10_000);
    expect(got.events[0]!.msgSeq).toBe(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('review: a resume and a ResendRequest get everything when the store answers in bounded parts', async () => {
  const rec = (n: number) => messageEvent(execRecord(100 + n, { accountId: 7, orderId: 5, execType: 1, ordStatus: 1, msgSeq: n, execId: 1 }).log.buf.slice(0, 30), null);
  const h = harness({
    range: async (_a, from) => {
      const events = [];
      for (let n = Math.max(from, 1); n <= 10 && events.length < 3; n++) events.push(rec(n));
      return { firstAvailable: 1, last: 10, events, seenSeq: 110 };
    },
  });
  const ws = h.connect();
  h.send(ws, { msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa', nextExpectedSeq: 1 });
  await tick(100);
  expect(ws.sent.filter((m) => m.msgType === '8').map((m) => m.seqNum)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  ws.sent.length = 0;
  h.send(ws, { msgType: '2', beginSeqNo: 2, endSeqNo: 0 });
  await tick(100);
  expect(ws.sent.filter((m) => m.msgType === '8').map((m) => m.seqNum)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  h.gw.stop();
});

it('review: an order sent right behind the Logon (before its answer) is taken, not a reason to log out', async () => {
  const h = harness({ account: async () => (await tick(10), 7) });
  const ws = h.connect();
  h.send(ws, { msgType: 'A', apiKey: 'sk_aaaaaaaaaaaaaaaaaaaa' });
  h.send(ws, { msgType: 'D', clOrdId: 'p1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185.00' });
  await tick(60);
  expect(ws.sent.map((m) => m.msgType)).toEqual(['A']);
  expect(h.commands.map((c) => c.type)).toEqual(['newOrder']);
  h.gw.stop();
});

it('review: the store reads what the sequencer released before the store attached (the first clock tick after a restart)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqex-store-'));
  try {
    const events = BroadcastRing.create(1 << 16);
    const store = new SessionStore(dir, { maxMessages: 1000 });
    store.addRecovered([]);
    // exchange.ts starts the sequencer, then the store: a tick due at start-up (a GTD expiry) is released in between
    publishExec(events, 50, { accountId: 3, orderId: 9, execType: 6, ordStatus: 5, msgSeq: 4, execId: 1 }, 'gtd');
    store.start(events.sab);
    await tick(50);
    expect(store.range(3, 1).events.map((e) => [e.msgSeq, e.clOrdId])).toEqual([[4, 'gtd']]);
    await store.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
