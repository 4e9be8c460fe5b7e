/**
 * The binary session (SPEC §4, docs/protocol.md) against a real exchange: two brokers cross and
 * both get their reports; a broker away while it trades gets exactly what it missed, also after
 * a server restart; cancel-on-disconnect; a resent order is not entered twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionClient, type FixMessage } from '../../src/client/session.js';
import { call, startTestExchange, type TestExchange, until } from './server.js';

let ex: TestExchange;
let bobKey: string;
const wsUrl = () => `ws://127.0.0.1:${ex.port}/v1/ws`;

async function newFundedAccount(name: string): Promise<string> {
  const a = await call(ex.url, 'POST', '/v1/admin/accounts', { key: ex.adminToken, body: { name } });
  expect(a.status).toBe(201);
  for (const [asset, amount] of [['USD', '1000000.00'], ['AAPL', '5000']])
    expect((await call(ex.url, 'POST', `/v1/admin/accounts/${a.body.accountId}/deposit`, { key: ex.adminToken, body: { asset, amount, transferId: `${name}-${asset}` } })).status).toBe(200);
  return a.body.apiKey as string;
}

/** collects a session's sequenced messages */
function recorder(s: SessionClient): FixMessage[] {
  const got: FixMessage[] = [];
  s.onMessage((m) => got.push(m));
  return got;
}

beforeAll(async () => {
  ex = await startTestExchange();
  bobKey = await newFundedAccount('bob');
});
afterAll(async () => {
  await ex?.close();
});

describe('binary session', () => {
  it('two brokers cross: both get reports with CumQty, LeavesQty, AvgPx, numbered 1, 2, 3 ...', async () => {
    const alice = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey });
    const bob = await SessionClient.connect({ url: wsUrl(), apiKey: bobKey });
    const aMsgs = recorder(alice);
    const bMsgs = recorder(bob);
    const ack = await alice.newOrder({ clOrdId: 'a-sell-1', symbol: 'AAPL', side: '2', ordType: '2', orderQty: '10', price: '189.50' });
    expect(ack).toMatchObject({ msgType: '8', execType: '0', ordStatus: '0', cumQty: '0', leavesQty: '10', price: '189.50' });
    const fill = await bob.newOrder({ clOrdId: 'b-buy-1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '4', price: '190.00' });
    expect(fill.execType === '0' || fill.execType === 'F').toBe(true);
    await until(() => aMsgs.length >= 2 && bMsgs.some((m) => m.execType === 'F'));
    const makerFill = aMsgs.find((m) => m.execType === 'F')!;
    expect(makerFill).toMatchObject({ clOrdId: 'a-sell-1', ordStatus: '1', lastQty: '4', lastPx: '189.50', cumQty: '4', leavesQty: '6', avgPx: '189.5', lastLiquidityInd: '1' });
    const takerFill = bMsgs.find((m) => m.execType === 'F')!;
    expect(takerFill).toMatchObject({ clOrdId: 'b-buy-1', ordStatus: '2', lastQty: '4', lastPx: '189.50', cumQty: '4', leavesQty: '0', lastLiquidityInd: '2' });
    expect(takerFill.tradeId).toBe(makerFill.tradeId);
    // the metrics see both sessions (a gauge refreshed each second)
    let sessions = 0;
    for (let i = 0; i < 40 && sessions < 2; i++) {
      const m = /^seqex_ws_sessions (\d+)$/m.exec((await call(ex.url, 'GET', '/metrics')).body as string);
      sessions = Number(m?.[1]);
      if (sessions < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sessions).toBe(2);
    // no field is sent empty (MessagePack nil / undefined)
    for (const m of [...aMsgs, ...bMsgs]) expect(Object.entries(m).filter(([, v]) => v === null || v === undefined)).toEqual([]);
    for (const msgs of [aMsgs, bMsgs]) {
      const seqs = msgs.map((m) => m.seqNum as number);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    }
    await alice.close();
    await bob.close();
  });

  it('a broker away while its orders trade gets exactly the missed messages on logon with nextExpectedSeq', async () => {
    const alice = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey });
    const aMsgs = recorder(alice);
    await alice.newOrder({ clOrdId: 'a-sell-2', symbol: 'META', side: '2', ordType: '2', orderQty: '20', price: '480.00' });
    const seen = alice.lastSeqNum;
    await alice.close();
    // while alice is away, bob trades against her twice and she gets no message
    const bob = await SessionClient.connect({ url: wsUrl(), apiKey: bobKey });
    await bob.newOrder({ clOrdId: 'b-buy-2', symbol: 'META', side: '1', ordType: '2', orderQty: '3', price: '480.00' });
    await bob.newOrder({ clOrdId: 'b-buy-3', symbol: 'META', side: '1', ordType: '2', orderQty: '5', price: '480.00' });
    await bob.close();
    const back = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey, nextExpectedSeq: seen + 1 });
    const missed = recorder(back);
    await until(() => missed.filter((m) => m.execType === 'F').length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(missed.map((m) => m.seqNum)).toEqual(missed.map((_, i) => seen + 1 + i));
    const fills = missed.filter((m) => m.clOrdId === 'a-sell-2' && m.execType === 'F');
    expect(fills.map((m) => [m.lastQty, m.cumQty, m.leavesQty])).toEqual([
      ['3', '3', '17'],
      ['5', '8', '12'],
    ]);
    expect(aMsgs.length).toBeGreaterThan(0);
    await back.close();
  });

  it('a resend of an order after a reconnect does not enter a second order', async () => {
    const s = await SessionClient.connect({ url: wsUrl(), apiKey: bobKey });
    const first = await s.newOrder({ clOrdId: 'b-rest-1', symbol: 'MSFT', side: '1', ordType: '2', orderQty: '2', price: '400.00' });
    expect(first.execType).toBe('0');
    s.dropConnection();
    await s.reconnect();
    const again = await s.newOrder({ clOrdId: 'b-rest-1', symbol: 'MSFT', side: '1', ordType: '2', orderQty: '2', price: '400.00' });
    expect(again).toMatchObject({ execType: 'I', orderId: first.orderId });
    const open = await call(ex.url, 'GET', '/v1/orders?symbol=MSFT', { key: bobKey });
    expect(open.body.orders.filter((o: { clOrdId: string }) => o.clOrdId === 'b-rest-1')).toHaveLength(1);
    await s.close();
  });

  it('cancel-on-disconnect cancels the orders the session entered when its connection drops', async () => {
    const s = await SessionClient.connect({ url: wsUrl(), apiKey: bobKey, cancelOnDisconnect: true, reconnect: false });
    const o = await s.newOrder({ clOrdId: 'b-cod-1', symbol: 'META', side: '1', ordType: '2', orderQty: '1', price: '470.00' });
    expect(o.ordStatus).toBe('0');
    s.dropConnection();
    await until(() => false, 0).catch(() => {});
    let status = '';
    for (let i = 0; i < 100 && status !== 'canceled'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await call(ex.url, 'GET', `/v1/order/${o.orderId as number}`, { key: bobKey })).body.status;
    }
    expect(status).toBe('canceled');
  });

  it('order status, cancel and replace helpers answer with the right reports', async () => {
    const s = await SessionClient.connect({ url: wsUrl(), apiKey: bobKey });
    const o = await s.newOrder({ clOrdId: 'b-h-1', symbol: 'MSFT', side: '1', ordType: '2', orderQty: '5', price: '401.00' });
    const status = await s.status({ orderId: o.orderId as number });
    expect(status).toMatchObject({ execType: 'I', ordStatus: '0', leavesQty: '5' });
    expect(Object.entries(status).filter(([, v]) => v === null || v === undefined)).toEqual([]);
    // an order entered over REST without a clOrdId: its status carries no empty clOrdId field
    const viaRest = await call(ex.url, 'POST', '/v1/order', { key: bobKey, body: { symbol: 'MSFT', side: 'buy', type: 'limit', qty: '1', price: '399.00' } });
    expect(viaRest.status).toBe(201);
    const restStatus = await s.status({ orderId: viaRest.body.orderId as number });
    expect(restStatus).toMatchObject({ execType: 'I', ordStatus: '0', price: '399.00' });
    expect(Object.entries(restStatus).filter(([, v]) => v === null || v === undefined)).toEqual([]);
    expect(await s.replace({ orderId: o.orderId as number, orderQty: '3' })).toMatchObject({ execType: '5', orderQty: '3', leavesQty: '3' });
    expect(await s.cancel({ origClOrdId: 'b-h-1' })).toMatchObject({ execType: '4', ordStatus: '4' });
    const again = await s.cancel({ orderId: o.orderId as number });
    expect(again).toMatchObject({ msgType: '9', cxlRejResponseTo: '1', rejectCode: 'TOO_LATE_TO_CANCEL' });
    await expect(s.newOrder({ clOrdId: 'b-bad-1', symbol: 'NOPE', side: '1', ordType: '2', orderQty: '1', price: '1' })).rejects.toThrow(/UNKNOWN_SYMBOL/);
    const rej = await s.newOrder({ clOrdId: 'b-poor-1', symbol: 'MSFT', side: '1', ordType: '2', orderQty: '20000', price: '419.00' });
    expect(rej).toMatchObject({ execType: '8', ordStatus: '8', rejectCode: 'INSUFFICIENT_FUNDS' });
    await s.close();
  });

  it('after a server restart a broker still gets what it missed (reports made before the restart)', async () => {
    const alice = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey });
    await alice.newOrder({ clOrdId: 'a-sell-r', symbol: 'MSFT', side: '2', ordType: '2', orderQty: '6', price: '421.00' });
    const seen = alice.lastSeqNum;
    await alice.close();
    const bob = await SessionClient.connect({ url: wsUrl(), apiKey: bobKey });
    await bob.newOrder({ clOrdId: 'b-buy-r', symbol: 'MSFT', side: '1', ordType: '2', orderQty: '6', price: '421.00' });
    await bob.close();
    await ex.stop();
    ex = await startTestExchange({}, ex.dataDir);
    const back = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey, nextExpectedSeq: seen + 1 });
    const missed = recorder(back);
    await until(() => missed.some((m) => m.clOrdId === 'a-sell-r' && m.ordStatus === '2'));
    expect(missed.map((m) => m.seqNum)).toEqual(missed.map((_, i) => seen + 1 + i));
    expect(missed.find((m) => m.clOrdId === 'a-sell-r' && m.execType === 'F')).toMatchObject({ lastQty: '6', cumQty: '6', leavesQty: '0', possDup: true });
    await back.close();
  });
});
