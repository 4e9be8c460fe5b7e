/**
 * The per-address cap on market-data connections (config `mdConnectionsPerAddress`,
 * docs/market-data.md): WebSocket `/v1/md` and SSE `/v1/stream` together, counted over every
 * gateway thread in one shared table (src/gateway/addressConnections.ts). Over the cap an upgrade
 * is refused with 429 RATE_LIMITED (no WebSocket is made) and a stream with 429; closing one lets
 * a new one in; after many hostile open / close cycles (abrupt terminations, aborted streams,
 * refused upgrades) nothing is left counted. The table itself is checked against a plain model.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { AddressConnections, addressKey } from '../../src/gateway/addressConnections.js';
import { mulberry32 } from '../../tools/bench/workload.js';
import { call, startTestExchange, type TestExchange } from './server.js';

const CAP = 6;
let ex: TestExchange;

beforeAll(async () => {
  // two gateway threads on one port: the kernel spreads the connections over both
  ex = await startTestExchange({ gateways: 2, mdConnectionsPerAddress: CAP });
}, 60_000);

afterAll(async () => {
  await ex?.close();
});

type Outcome = { ws: WebSocket; status: 101 } | { status: number; body: any };

function openWs(): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${ex.url.replace('http', 'ws')}/v1/md?format=json`);
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req: ClientRequest, res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', (e) => reject(e));
  });
}

interface Stream {
  status: number;
  body: any;
  req: ClientRequest;
  /** the SSE text so far */
  text: () => string;
}

function openSse(symbols = 'AAPL'): Promise<Stream> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = httpRequest(`${ex.url}/v1/stream?symbols=${symbols}&channels=l1`, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), req, text: () => text }));
        return;
      }
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('error', () => {});
      resolve({ status: 200, body: null, req, text: () => text });
    });
    req.on('error', (e) => (text === '' ? reject(e) : undefined));
    req.end();
  });
}

async function gauge(name: string): Promise<number> {
  const m = String((await call(ex.url, 'GET', '/metrics')).body);
  const line = m.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

async function settled(connections: number): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const n = await gauge('seqex_md_connections');
    if (n === connections) return;
    if (Date.now() > end) throw new Error(`seqex_md_connections is ${n}, expected ${connections}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const closeWs = (ws: WebSocket) =>
  new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
  });

test('cap + 1: the last WebSocket upgrade and the last SSE stream are refused with 429 RATE_LIMITED; closing one lets one in', async () => {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < CAP - 2; i++) {
    const o = await openWs();
    expect(o.status).toBe(101);
    sockets.push((o as { ws: WebSocket }).ws);
  }
  const streams = [await openSse(), await openSse()];
  expect(streams.map((s) => s.status)).toEqual([200, 200]);
  await settled(CAP);
  expect(await gauge('seqex_md_connection_addresses')).toBe(1);
  // the cap holds over both gateway threads: every further one is refused, WebSocket or SSE
  for (let i = 0; i < 4; i++) {
    const over = await openWs();
    expect(over.status).toBe(429);
    expect((over as { body: any }).body.error.code).toBe('RATE_LIMITED');
    expect((over as { body: any }).body.error.message).toMatch(new RegExp(`at most ${CAP} market-data connections`));
    const sse = await openSse();
    expect([sse.status, sse.body.error.code]).toEqual([429, 'RATE_LIMITED']);
  }
  expect(await gauge('seqex_md_connections_refused_total')).toBe(8);
  // the connections in place still work
  const sub = sockets[0]!;
  const got = new Promise<any>((resolve) => sub.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()))));
  sub.send(JSON.stringify({ type: 'subscribe', channels: ['l1'], symbols: ['AAPL'] }));
  expect((await got).type).toBe('subscribed');
  // a WebSocket closed: a new one (or a stream) gets in
  await closeWs(sockets.pop()!);
  await settled(CAP - 1);
  const again = await openWs();
  expect(again.status).toBe(101);
  sockets.push((again as { ws: WebSocket }).ws);
  expect((await openWs()).status).toBe(429);
  // a stream ended by its client: the same
  streams.pop()!.req.destroy();
  await settled(CAP - 1);
  const s2 = await openSse();
  expect(s2.status).toBe(200);
  streams.push(s2);
  expect((await openSse()).status).toBe(429);
  await Promise.all(sockets.map(closeWs));
  for (const s of streams) s.req.destroy();
  await settled(0);
  expect(await gauge('seqex_md_connection_addresses')).toBe(0);
}, 60_000);

test('hostile: many open / close cycles (abrupt terminations, aborted streams, refused upgrades, bad streams) leave nothing counted', async () => {
  const rnd = mulberry32(7);
  for (let round = 0; round < 25; round++) {
    const open: (WebSocket | Stream)[] = [];
    // more than the cap, in random order: some are refused
    const tries = CAP + 1 + Math.floor(rnd() * 4);
    const outcomes = await Promise.all(
      Array.from({ length: tries }, async () => {
        if (rnd() < 0.6) {
          const o = await openWs();
          if (o.status === 101) open.push((o as { ws: WebSocket }).ws);
          return o.status;
        }
        const s = await openSse();
        if (s.status === 200) open.push(s);
        return s.status;
      }),
    );
    expect(outcomes.filter((s) => s !== 101 && s !== 200).every((s) => s === 429)).toBe(true);
    expect(open.length).toBe(CAP);
    // a bad stream request is a 400 and takes no place
    expect((await call(ex.url, 'GET', '/v1/stream?symbols=')).status).toBe(400);
    for (const c of open) {
      const r = rnd();
      if (c instanceof WebSocket) {
        if (r < 0.4) c.terminate(); // no close frame: the TCP connection just ends
        else if (r < 0.7) c.close();
        else {
          c.send(JSON.stringify({ type: 'subscribe', channels: ['l2', 'trades'], symbols: ['AAPL', 'MSFT'] }));
          c.close(1000);
        }
      } else if (r < 0.5) c.req.destroy();
      else c.req.socket?.destroy();
    }
    await settled(0);
  }
  expect(await gauge('seqex_md_connection_addresses')).toBe(0);
  // and the full cap is still there for this address
  const again = await Promise.all(Array.from({ length: CAP }, () => openWs()));
  expect(again.map((o) => o.status)).toEqual(Array.from({ length: CAP }, () => 101));
  expect((await openWs()).status).toBe(429);
  await Promise.all(again.map((o) => closeWs((o as { ws: WebSocket }).ws)));
  await settled(0);
}, 120_000);

describe('AddressConnections (the shared table)', () => {
  const v4 = (a: number, b: number, c: number, d: number) => addressKey(Uint8Array.of(a, b, c, d).buffer)!;

  test('IPv4 is counted as its IPv4-mapped IPv6 form; other lengths are not addresses', () => {
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff, 127, 0, 0, 1], 10);
    expect(v4(127, 0, 0, 1)).toEqual(mapped);
    expect(addressKey(new ArrayBuffer(16))).toEqual(new Uint8Array(16));
    expect(addressKey(new ArrayBuffer(0))).toBeNull();
    expect(addressKey(new ArrayBuffer(7))).toBeNull();
  });

  test('random acquires and releases on a small table equal a plain map; removal keeps every probe run reachable', () => {
    const slots = 64;
    const t = new AddressConnections(AddressConnections.create(slots), 3);
    const model = new Map<string, number>();
    const rnd = mulberry32(11);
    // few distinct addresses whose homes collide often in 64 slots
    const keys = Array.from({ length: 60 }, (_, i) => v4(10, 0, i >> 4, i & 15));
    for (let step = 0; step < 50_000; step++) {
      const k = keys[Math.floor(rnd() * keys.length)]!;
      const id = k.join('.');
      const n = model.get(id) ?? 0;
      if (rnd() < 0.55) {
        const r = t.acquire(k);
        const expected = n >= 3 ? 'limit' : n === 0 && model.size >= (slots * 3) / 4 ? 'full' : 'ok';
        expect(r).toBe(expected);
        if (r === 'ok') model.set(id, n + 1);
      } else if (n > 0) {
        expect(t.release(k)).toBe(true);
        if (n === 1) model.delete(id);
        else model.set(id, n - 1);
      } else expect(t.release(k)).toBe(false); // never acquired: nothing changes
      if (step % 997 === 0) for (const key of keys) expect(t.count(key)).toBe(model.get(key.join('.')) ?? 0);
    }
    const total = [...model.values()].reduce((a, b) => a + b, 0);
    expect(t.totals()).toMatchObject({ connections: total, addresses: model.size });
    for (const key of keys) while (t.count(key) > 0) t.release(key);
    expect(t.totals()).toMatchObject({ connections: 0, addresses: 0 });
  });

  test('threads sharing the table count exactly (no lost update under contention)', async () => {
    const { Worker } = await import('node:worker_threads');
    const sab = AddressConnections.create(1024);
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { sab, url, seed } = workerData;
      import(url).then(({ AddressConnections, addressKey }) => {
        const t = new AddressConnections(sab, 1000000);
        const keys = Array.from({ length: 8 }, (_, i) => addressKey(Uint8Array.of(10, 1, seed, i).buffer));
        const shared = addressKey(Uint8Array.of(127, 0, 0, 1).buffer);
        for (let r = 0; r < 2000; r++) {
          t.acquire(shared);
          for (const k of keys) t.acquire(k);
          for (const k of keys) t.release(k);
        }
        parentPort.postMessage('done');
      });`;
    const url = new URL('../../dist/src/gateway/addressConnections.js', import.meta.url).href;
    await Promise.all(
      [1, 2, 3].map(
        (seed) =>
          new Promise<void>((resolve, reject) => {
            const w = new Worker(src, { eval: true, workerData: { sab, url, seed } });
            w.once('message', () => resolve());
            w.once('error', reject);
          }),
      ),
    );
    const t = new AddressConnections(sab, 1);
    expect(t.count(v4(127, 0, 0, 1))).toBe(3 * 2000);
    expect(t.totals()).toMatchObject({ connections: 6000, addresses: 1 });
  });
});
