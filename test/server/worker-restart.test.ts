/**
 * Worker failure policy (src/server/supervisor.ts, docs/architecture.md "Worker failures"): the
 * market-data worker and the report writer are made to fail on a real exchange (the test-only
 * hook: an uncaught error in the thread, or a terminate) while two accounts trade. Orders keep
 * being acknowledged throughout; the host logs the failure in one line, counts it in /metrics and
 * restarts the worker; the SDK's market-data client (and a raw WebSocket subscriber following the
 * documented rules) ends with books equal to the engine's L2, with no silent gap; report queries
 * answer 503 while the writer is down and afterwards list every fill, including those made while it
 * was down. A worker that fails too often is given up on: subscribers are closed with 4011, market
 * data and report queries answer 503, and orders still go through.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { MarketDataClient } from '../../src/client/marketData.js';
import { newAccount, newSymbol, order, type Acct } from '../gateway/rest-helpers.js';
import { call, startTestExchange, until, type TestExchange } from '../gateway/server.js';

let ex: TestExchange;
let a: Acct;
let b: Acct;

beforeAll(async () => {
  // two gateway threads: a restarted worker hands its new ring and port to each
  ex = await startTestExchange({ gateways: 2, workerRestart: { firstDelayMs: 400, maxDelayMs: 2_000, healthyAfterMs: 60_000, maxFastFailures: 5 } });
  a = await newAccount(ex, 'wr-a', { USD: '1000000.00' });
  b = await newAccount(ex, 'wr-b', { USD: '1000000.00' });
}, 60_000);

afterAll(async () => {
  await ex?.close();
});

async function fund(sym: string): Promise<void> {
  for (const acct of [a, b]) {
    const d = await call(ex.url, 'POST', `/v1/admin/accounts/${acct.accountId}/deposit`, { key: ex.adminToken, body: { asset: sym, amount: '100000', transferId: `wr-${sym}-${acct.accountId}` } });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
  }
}

/** one round: a resting bid and ask from `a`, and `b` taking part of the ask; every order acknowledged */
async function trade(sym: string, i: number, expectFill = true): Promise<void> {
  const px = (100 + (i % 7) * 0.25).toFixed(2);
  const bid = await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: String(1 + (i % 3)), price: (90 + (i % 5) * 0.5).toFixed(2) });
  expect(bid.status, JSON.stringify(bid.body)).toBe(201);
  const ask = await order(ex, a.apiKey, { symbol: sym, side: 'sell', type: 'limit', qty: '5', price: px });
  expect(ask.status, JSON.stringify(ask.body)).toBe(201);
  const take = await order(ex, b.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '2', price: px });
  expect(take.status, JSON.stringify(take.body)).toBe(201);
  if (expectFill) expect(take.body.fills.length).toBeGreaterThan(0);
}

async function metric(name: string, worker: string): Promise<number> {
  const m = await call(ex.url, 'GET', '/metrics');
  const line = String(m.body)
    .split('\n')
    .find((l) => l.startsWith(`${name}{worker="${worker}"} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/** A raw `/v1/md` subscriber (JSON) keeping an L2 book by the documented rules: resets, snapshots, gaps. */
class RawSubscriber {
  readonly ws: WebSocket;
  readonly types: string[] = [];
  readonly gaps: string[] = [];
  seq = -1;
  bids = new Map<string, string>();
  asks = new Map<string, string>();
  readonly opened: Promise<void>;

  constructor(private readonly sym: string) {
    this.ws = new WebSocket(`${ex.url.replace('http', 'ws')}/v1/md?format=json`);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data: Buffer) => this.onMessage(JSON.parse(data.toString('utf8')) as Record<string, any>));
  }

  subscribe(): void {
    this.ws.send(JSON.stringify({ type: 'subscribe', channels: ['l2'], symbols: [this.sym] }));
  }

  private onMessage(m: Record<string, any>): void {
    this.types.push(m.type);
    if (m.type === 'reset') {
      this.seq = -1; // step 5: start again
      this.subscribe();
    } else if (m.type === 'snapshot') {
      this.seq = m.seq;
      this.bids = new Map(m.bids.map((l: string[]) => [l[0], l[1]]));
      this.asks = new Map(m.asks.map((l: string[]) => [l[0], l[1]]));
    } else if (m.type === 'update' && this.seq >= 0) {
      if (m.seq <= this.seq) return;
      if (m.seq !== this.seq + 1) this.gaps.push(`${this.seq} -> ${m.seq}`);
      this.seq = m.seq;
      for (const [side, book] of [
        [m.bids, this.bids],
        [m.asks, this.asks],
      ] as const)
        for (const [px, qty] of side as string[][]) qty === '0' ? book.delete(px) : book.set(px, qty);
    } else if (m.type === 'heartbeat' && this.seq >= 0) {
      const s = m.seqs[`l2:${this.sym}`];
      if (s !== undefined && s > this.seq) this.gaps.push(`heartbeat ${s} > ${this.seq}`);
    }
  }
}

const levels = (m: Map<string, string>, desc: boolean) => [...m].sort((x, y) => (desc ? Number(y[0]) - Number(x[0]) : Number(x[0]) - Number(y[0])));

test('a failed market-data worker is restarted; orders go on; subscribers resync to the engine\'s book with no silent gap', async () => {
  const sym = await newSymbol(ex, 'MD');
  await fund(sym);
  const sdk = new MarketDataClient({ url: ex.url, reconnectBaseMs: 50 });
  await sdk.connect();
  sdk.subscribe(['l2', 'trades'], [sym]);
  await sdk.whenSynced(['l2', 'trades'], [sym]);
  const raw = new RawSubscriber(sym);
  await raw.opened;
  raw.subscribe();
  await until(() => raw.seq >= 0);
  for (let i = 0; i < 5; i++) await trade(sym, i);
  const sup = ex.running.testHooks.supervisors.md;
  const restartsBefore = await metric('seqex_worker_restarts_total', 'md');
  expect(restartsBefore).toBe(0);
  let seenDown = 0;

  for (const [k, how] of (['throw', 'terminate'] as const).entries()) {
    // the failure comes while orders are in flight (in parallel: a take may come before its ask and rest)
    const burst = Promise.all(Array.from({ length: 8 }, (_, i) => trade(sym, 100 * (k + 1) + i, false)));
    expect(ex.running.testHooks.crashWorker('md', how)).toBe(true);
    await burst;
    await until(() => sup.state === 'down', 5_000);
    // REST market data says so at once (503), not after a timeout
    const down = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`);
    if (sup.state === 'down') {
      expect([down.status, down.body.error?.code]).toEqual([503, 'OVERLOADED']);
      seenDown++;
    }
    // the order path does not notice: orders are acknowledged while the worker is down
    for (let i = 0; i < 3; i++) await trade(sym, 10 * (k + 1) + i);
    expect(sup.restarts, 'the orders were made while the worker was down').toBe(k);
    await until(() => sup.state === 'running' && sup.restarts === k + 1, 10_000);
    for (let i = 0; i < 3; i++) await trade(sym, 10 * (k + 1) + 5 + i);
    // the restarted worker answers REST, and both subscribers end equal to it
    let l2: Record<string, any> = {};
    for (const end = Date.now() + 10_000; ; ) {
      const r = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}&depth=9999`);
      if (r.status === 200) {
        l2 = r.body;
        break;
      }
      if (Date.now() > end) throw new Error(`L2 after the restart: ${r.status} ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    await until(() => sdk.inSync(sym, 'l2') && sdk.seqOf(sym, 'l2') === l2.channelSeq && raw.seq === l2.channelSeq, 10_000);
    expect(sdk.l2(sym)).toMatchObject({ bids: l2.bids, asks: l2.asks });
    expect(levels(raw.bids, true)).toEqual(l2.bids.map((l: string[]) => [l[0], l[1]]));
    expect(levels(raw.asks, false)).toEqual(l2.asks.map((l: string[]) => [l[0], l[1]]));
    expect(sdk.resets, 'the SDK was told to take new snapshots').toBe(k + 1);
  }
  expect(seenDown, 'a REST call while the worker was down').toBeGreaterThan(0);
  expect(raw.types.filter((t) => t === 'reset').length).toBe(2);
  expect(raw.gaps).toEqual([]);
  expect(sdk.gaps).toBe(0);
  // the engine's own book (the sequencer's query) agrees too: nothing was lost on the order path
  const trades = sdk.trades(sym);
  expect(trades.length).toBeGreaterThan(0);

  const lines = ex.logs.filter((l) => l.startsWith('market data: the worker failed (worker md'));
  expect(lines.length).toBe(2);
  expect(lines[0]).toMatch(/exit code 1.*crash requested by a test.*restarting it in 400 ms/);
  expect(lines[1]).toMatch(/exit code 1.*terminated/);
  expect(await metric('seqex_worker_restarts_total', 'md')).toBe(2);
  expect(await metric('seqex_worker_failures_total', 'md')).toBe(2);
  expect(await metric('seqex_worker_up', 'md')).toBe(1);
  raw.ws.close();
  await sdk.close();
}, 90_000);

test('a failed report writer is restarted and catches up; queries answer 503 meanwhile, then list every fill', async () => {
  const sym = await newSymbol(ex, 'RP');
  await fund(sym);
  const fillsOf = async (): Promise<{ status: number; body: any; n: number }> => {
    let n = 0;
    let cursor: string | null = null;
    for (;;) {
      const r = await call(ex.url, 'GET', `/v1/execution?symbol=${sym}&limit=1000${cursor === null ? '' : `&cursor=${cursor}`}`, { key: b.apiKey });
      if (r.status !== 200) return { status: r.status, body: r.body, n };
      n += r.body.fills.length;
      cursor = r.body.nextCursor;
      if (cursor === null || cursor === undefined) return { status: 200, body: r.body, n };
    }
  };
  let fills = 0;
  const tradeCounting = async (i: number) => {
    const px = (100 + (i % 7) * 0.25).toFixed(2);
    expect((await order(ex, a.apiKey, { symbol: sym, side: 'sell', type: 'limit', qty: '3', price: px })).status).toBe(201);
    const take = await order(ex, b.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '3', price: px });
    expect(take.status, JSON.stringify(take.body)).toBe(201);
    fills += take.body.fills.length;
  };
  for (let i = 0; i < 5; i++) await tradeCounting(i);
  expect((await fillsOf()).n).toBe(fills);
  const sup = ex.running.testHooks.supervisors.reports;
  let seenDown = 0;

  for (const [k, how] of (['throw', 'terminate'] as const).entries()) {
    expect(ex.running.testHooks.crashWorker('reports', how)).toBe(true);
    await until(() => sup.state === 'down', 5_000);
    for (let i = 0; i < 5; i++) await tradeCounting(100 * (k + 1) + i);
    const during = await fillsOf();
    if (sup.state === 'down') {
      expect(during.status).toBe(503);
      expect(during.body.error.code).toBe('OVERLOADED');
      expect(during.body.error.message).toMatch(/restarting/);
      seenDown++;
    }
    expect(sup.restarts, 'the orders were made while the writer was down').toBe(k);
    await until(() => sup.state === 'running' && sup.restarts === k + 1, 10_000);
    for (let i = 0; i < 3; i++) await tradeCounting(100 * (k + 1) + 50 + i);
    // the restarted writer caught up from the journal: every fill, those made while it was down too
    let after = await fillsOf();
    for (const end = Date.now() + 10_000; after.status !== 200 && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 50));
      after = await fillsOf();
    }
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.n).toBe(fills);
  }
  expect(seenDown, 'a query while the writer was down').toBeGreaterThan(0);
  const lines = ex.logs.filter((l) => l.startsWith('reports: the writer failed (worker reports'));
  expect(lines.length).toBe(2);
  expect(lines[0]).toMatch(/crash requested by a test/);
  expect(await metric('seqex_worker_restarts_total', 'reports')).toBe(2);
  expect(await metric('seqex_worker_up', 'reports')).toBe(1);
}, 90_000);

test('a worker that keeps failing is given up on: md subscribers closed with 4011, 503s, orders still acknowledged', async () => {
  const ex2 = await startTestExchange({ workerRestart: { firstDelayMs: 50, maxDelayMs: 100, healthyAfterMs: 60_000, maxFastFailures: 1 } });
  try {
    const c = await newAccount(ex2, 'gu', { USD: '100000.00', AAPL: '1000' });
    const sdkLike = new WebSocket(`${ex2.url.replace('http', 'ws')}/v1/md?format=json`);
    await new Promise((r) => sdkLike.once('open', r));
    const closed = new Promise<number>((r) => sdkLike.once('close', (code) => r(code)));
    const md = ex2.running.testHooks.supervisors.md;
    const rp = ex2.running.testHooks.supervisors.reports;
    for (const [name, sup] of [
      ['md', md],
      ['reports', rp],
    ] as const) {
      expect(ex2.running.testHooks.crashWorker(name, 'terminate')).toBe(true);
      await until(() => sup.state === 'running' && sup.restarts === 1, 10_000);
      // the restarted one must be ready before it fails again (a crash message needs a listener)
      await until(() => ex2.logs.some((l) => new RegExp(`${name === 'md' ? 'market data' : 'reports'}: .*ready at seq.*restart 1`).test(l)), 10_000);
      expect(ex2.running.testHooks.crashWorker(name, 'throw')).toBe(true);
      await until(() => sup.state === 'gaveUp', 10_000);
    }
    expect(await closed).toBe(4011);
    expect(ex2.logs.some((l) => /market data: the worker failed .*not restarting it again/.test(l))).toBe(true);
    const o = await order(ex2, c.apiKey, { symbol: 'AAPL', side: 'sell', type: 'limit', qty: '1', price: '190.00' });
    expect(o.status, JSON.stringify(o.body)).toBe(201);
    const l2 = await call(ex2.url, 'GET', '/v1/marketdata/orderBook/L2?symbol=AAPL');
    expect([l2.status, l2.body.error?.code]).toEqual([503, 'OVERLOADED']);
    const ex1 = await call(ex2.url, 'GET', '/v1/execution', { key: c.apiKey });
    expect([ex1.status, ex1.body.error?.code]).toEqual([503, 'OVERLOADED']);
    const up = await new Promise<number>((resolve) => {
      const w = new WebSocket(`${ex2.url.replace('http', 'ws')}/v1/md`);
      w.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      w.once('open', () => resolve(101));
      w.once('error', () => {});
    });
    expect(up).toBe(503);
    const m = String((await call(ex2.url, 'GET', '/metrics')).body);
    expect(m).toMatch(/seqex_worker_gave_up\{worker="md"\} 1/);
    expect(m).toMatch(/seqex_worker_gave_up\{worker="reports"\} 1/);
    expect(m).toMatch(/seqex_worker_failures_total\{worker="reports"\} 2/);
  } finally {
    await ex2.close();
  }
}, 90_000);
