/**
 * Review of the report wiring (src/reportworker, src/server/reports.ts, the history routes): each
 * test shows a bug found in review, on a real exchange or on the writer thread fed frames by hand.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { EVENT_CONSUMER } from '../../src/gateway/eventFeed.js';
import { closedOrders, openReportsReadonly } from '../../src/reports/queries.js';
import { SequencerControl } from '../../src/sequencer/control.js';
import { Feed, makeJournal, SMALL_RING, type Frame, type Journal } from './review-frames.js';
import { newAccount, newSymbol, order, type Acct } from './rest-helpers.js';
import { call, startTestExchange, until, type TestExchange } from './server.js';

let ex: TestExchange;
let sym = '';
let a: Acct;

beforeAll(async () => {
  ex = await startTestExchange();
  sym = await newSymbol(ex, 'Q');
  a = await newAccount(ex, 'rr-a', { USD: '1000000.00', [sym]: '100000' });
});

afterAll(async () => {
  await ex?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a clock tick with no events (at a canceled GTD order's expiry time) does not make history queries wait for the database", async () => {
  const o = await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '1', price: '10.00', tif: 'GTD', expireTime: Date.now() + 800 });
  expect(o.status).toBe(201);
  expect((await call(ex.url, 'DELETE', `/v1/order/${o.body.orderId}`, { key: a.apiKey })).status).toBe(200);
  const status = async () => (await call(ex.url, 'GET', '/v1/admin/status', { key: ex.adminToken })).body as { lastSeq: number; releasedSeq: number };
  const before = await status();
  // the sequencer ticks at the expiry time: the order is gone, the tick changes nothing and has no events
  const end = Date.now() + 5_000;
  let after = before;
  while (after.releasedSeq === before.releasedSeq && Date.now() < end) {
    await sleep(50);
    after = await status();
  }
  expect(after.releasedSeq).toBe(before.releasedSeq + 1);
  const t0 = performance.now();
  const r = await call(ex.url, 'GET', '/v1/execution', { key: a.apiKey });
  const ms = performance.now() - t0;
  expect(r.status).toBe(200);
  expect(ms, 'GET /v1/execution waited for a seq that has no rows').toBeLessThan(1_000);
  expect(r.body.seq).toBe(after.releasedSeq);
});

// ---------------------------------------------------------------- the writer thread, fed by hand

let J: Journal;
let jdir = '';
const tmp: string[] = [];

beforeAll(async () => {
  jdir = mkdtempSync(join(tmpdir(), 'seqex-rr-journal-'));
  tmp.push(jdir);
  J = await makeJournal(jdir);
  expect(J.frames.filter((f) => f.seq === J.massCancelSeq).length, 'the mass cancel is written in parts').toBeGreaterThan(3);
}, 60_000);

afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

/** The report writer thread (dist) on `feed`, starting after `fromSeq`, writing a fresh database. */
function startWriter(feed: Feed, fromSeq: number) {
  const dir = mkdtempSync(join(tmpdir(), 'seqex-rr-db-'));
  tmp.push(dir);
  const path = join(dir, 'reports.sqlite');
  const progressSab = new SharedArrayBuffer(8);
  const progress = new BigInt64Array(progressSab);
  const w = new Worker(new URL('../../dist/src/reportworker/thread.js', import.meta.url), {
    workerData: { dataDir: jdir, reportsPath: path, eventsSab: feed.ring.sab, fromSeq, progressSab, controlSab: SequencerControl.create().sab },
  });
  const msgs: { type: string; message?: string; line?: string }[] = [];
  w.on('message', (m) => msgs.push(m));
  w.on('error', (e) => msgs.push({ type: 'failed', message: String(e) }));
  const exited = new Promise<void>((r) => w.once('exit', () => r()));
  return {
    path,
    msgs,
    failures: () => msgs.filter((m) => m.type === 'failed').map((m) => m.message),
    seq: () => Number(Atomics.load(progress, 0)),
    ready: () => until(() => msgs.some((m) => m.type !== 'log'), 20_000),
    stop: async () => {
      w.postMessage({ type: 'stop' });
      const t = setTimeout(() => void w.terminate(), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** the frames after the setup, cut after the first part of the mass cancel */
function cut(): { head: Frame[]; tail: Frame[] } {
  const frames = J.frames.filter((f) => f.seq > J.setupSeq);
  const at = frames.findIndex((f) => f.seq === J.massCancelSeq) + 1;
  return { head: frames.slice(0, at), tail: frames.slice(at) };
}

/** writes one frame at a time, each once the consumer has read the one before (no lap) */
async function writeInStep(feed: Feed, frames: Frame[], consumer: number): Promise<void> {
  for (const f of frames) {
    feed.write([f]);
    await until(() => feed.ring.lagBytes(consumer) === 0, 10_000);
  }
}

function closedCount(path: string): number {
  const db = openReportsReadonly(path);
  try {
    return closedOrders(db, 1, { limit: 1000 }).rows.length;
  } finally {
    db.close();
  }
}

test('the writer thread survives a command whose parts are not all in the ring yet (no flush in the middle of a command)', async () => {
  const feed = new Feed(1 << 22); // no lap here
  const { head, tail } = cut();
  feed.write(head);
  const w = startWriter(feed, J.setupSeq);
  await w.ready();
  await sleep(300); // the writer has read the first part and gone idle (where it flushes)
  feed.write(tail);
  await until(() => w.seq() >= J.lastSeq || w.failures().length > 0, 10_000).catch(() => {});
  await w.stop();
  expect(w.failures()).toEqual([]);
  expect(w.seq()).toBe(J.lastSeq);
  expect(closedCount(w.path), 'every order of the mass cancel closed').toBe(300);
}, 30_000);

test('a lap that resumes in the middle of a command: the database still gets the whole command', async () => {
  const feed = new Feed(SMALL_RING);
  const { head, tail } = cut();
  expect(head.reduce((n, f) => n + f.payload.length, 0)).toBeGreaterThan(SMALL_RING);
  feed.write(head); // more than a ring before the writer reads: it is lapped, and resumes after the first part
  const w = startWriter(feed, J.setupSeq);
  await w.ready();
  await until(() => feed.laps > 0, 5_000);
  await writeInStep(feed, tail, EVENT_CONSUMER.REPORTS);
  await until(() => w.seq() >= J.lastSeq || w.failures().length > 0, 10_000).catch(() => {});
  await w.stop();
  expect(w.failures()).toEqual([]);
  expect(w.seq()).toBe(J.lastSeq);
  expect(closedCount(w.path), 'every order of the mass cancel closed').toBe(300);
}, 30_000);

/** GET `path` on its own connection: its status, 0 if refused, -1 if no answer in `ms` */
function getWithin(url: string, path: string, key: string, ms: number): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}${path}`, { agent: false, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(ms, () => {
      req.destroy();
      resolve(-1);
    });
    req.end();
  });
}

test('stop: history queries in flight when the gateway stops are answered, and the gateway ends (no reply lost with its port)', async () => {
  const ex3 = await startTestExchange();
  try {
    const s3 = await newSymbol(ex3, 'P');
    const b = await newAccount(ex3, 'rr-stop', { USD: '1000.00', [s3]: '10' });
    const first = await getWithin(ex3.url, '/v1/execution', b.apiKey, 5_000);
    expect(first).toBe(200);
    const pending = Array.from({ length: 200 }, () => getWithin(ex3.url, '/v1/execution?limit=1000', b.apiKey, 12_000));
    await sleep(15); // being answered (or about to be asked) when the gateway is told to stop
    const t0 = performance.now();
    await ex3.stop();
    const ms = performance.now() - t0;
    const statuses = await Promise.all(pending);
    expect(statuses.filter((s) => s === -1).length, 'requests left without an answer').toBe(0);
    expect(ex3.logs.filter((l) => l.includes('still has connections'))).toEqual([]);
    expect(ms).toBeLessThan(8_000);
  } finally {
    await ex3.close();
  }
}, 40_000);

test('a failed report writer neither hangs the stop nor makes history queries a client error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqex-rr-fail-'));
  tmp.push(dir);
  mkdirSync(join(dir, 'reports.sqlite')); // the database cannot be opened: the writer fails at start
  const ex4 = await startTestExchange({}, dir);
  try {
    await until(() => ex4.logs.some((l) => l.includes('reports: the writer failed')), 10_000);
    const r = await call(ex4.url, 'GET', '/v1/execution', { key: ex4.demo.apiKey });
    expect([r.status, r.body.error?.code]).toEqual([503, 'OVERLOADED']);
    const t0 = performance.now();
    await ex4.stop();
    expect(performance.now() - t0).toBeLessThan(8_000);
  } finally {
    await ex4.close();
  }
}, 60_000);

test('a history query the database cannot run (its file gone) is a 503, not a client error', async () => {
  const ex5 = await startTestExchange();
  try {
    await until(() => ex5.logs.some((l) => /reports: .* ready/.test(l)), 10_000);
    for (const f of ['reports.sqlite', 'reports.sqlite-wal', 'reports.sqlite-shm']) rmSync(join(ex5.dataDir, f), { force: true });
    const r = await call(ex5.url, 'GET', '/v1/execution', { key: ex5.demo.apiKey });
    expect([r.status, r.body.error?.code]).toEqual([503, 'OVERLOADED']);
  } finally {
    await ex5.close();
  }
}, 30_000);
