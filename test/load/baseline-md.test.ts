/**
 * tools/load/baseline-md.ts: the bare server's market data must be seqex's, or the ceiling it
 * measures is not the ceiling of seqex's fan-out. One trade on a real exchange gives an `l2` and a
 * `trades` update; the bare server's builder, given the same fields, makes the same bytes; the bare
 * server itself (subscribe, snapshots, published updates) sends messages with the keys, order,
 * values and about the size of the real ones, each topic's seq rising by 1 from its snapshot's.
 */
import { Unpackr } from 'msgpackr';
import type { us_listen_socket } from 'uWebSockets.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { loadUws } from '../../src/gateway/uws.js';
import { encode } from '../../src/mdworker/wire.js';
import { serveMd, tradeMessages } from '../../tools/load/baseline-md.js';
import { newAccount, order } from '../gateway/rest-helpers.js';
import { startTestExchange, until, type TestExchange } from '../gateway/server.js';

type Msg = Record<string, any>;
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

let ex: TestExchange;
let bare: { port: number; stop: () => void };

/** a MessagePack subscriber keeping every frame as it came */
async function subscriber(port: number): Promise<{ ws: WebSocket; frames: Buffer[]; msgs: () => Msg[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/md`);
  const frames: Buffer[] = [];
  ws.on('message', (data: Buffer) => frames.push(Buffer.from(data)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(encode({ type: 'subscribe', channels: ['l2', 'trades'], symbols: ['AAPL'] }, true, false).msgpack);
  return { ws, frames, msgs: () => frames.map((f) => unpackr.unpack(f) as Msg) };
}

beforeAll(async () => {
  ex = await startTestExchange();
  const { uws } = loadUws();
  const app = uws.App();
  const md = serveMd(app, () => {});
  const listening = await new Promise<us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s: us_listen_socket | false) => (s === false ? reject(new Error('cannot listen')) : resolve(s))),
  );
  bare = {
    port: uws.us_socket_local_port(listening),
    stop: () => {
      md.stop();
      uws.us_listen_socket_close(listening);
    },
  };
});

afterAll(async () => {
  bare?.stop();
  await ex?.close();
});

/** the real frames of one trade: AAPL sell 10 + 90 resting at 190.01, then an IOC buy of 7 */
async function realTrade(): Promise<{ snapshots: Msg[]; l2: Buffer; trades: Buffer }> {
  const sub = await subscriber(ex.port);
  await until(() => sub.msgs().filter((m) => m.type === 'snapshot').length === 2);
  const maker = await newAccount(ex, 'bl-maker', { AAPL: '1000' });
  const taker = await newAccount(ex, 'bl-taker', { USD: '100000.00' });
  for (const qty of ['10', '90']) expect((await order(ex, maker.apiKey, { symbol: 'AAPL', side: 'sell', type: 'limit', qty, price: '190.01' })).status).toBe(201);
  expect((await order(ex, taker.apiKey, { symbol: 'AAPL', side: 'buy', type: 'limit', tif: 'IOC', qty: '7', price: '190.01' })).status).toBe(201);
  await until(() => sub.msgs().some((m) => m.type === 'update' && m.channel === 'trades'));
  await until(() => sub.msgs().filter((m) => m.type === 'update' && m.channel === 'l2').length === 3);
  sub.ws.close();
  const msgs = sub.msgs();
  const at = (pred: (m: Msg) => boolean) => {
    let i = msgs.length - 1;
    while (i >= 0 && !pred(msgs[i]!)) i--;
    return sub.frames[i]!;
  };
  return { snapshots: msgs.filter((m) => m.type === 'snapshot'), l2: at((m) => m.type === 'update' && m.channel === 'l2'), trades: at((m) => m.type === 'update' && m.channel === 'trades') };
}

const keys = (m: Msg): string => Object.keys(m).join(',');

test("the bare server's frames are seqex's frames", async () => {
  const real = await realTrade();
  const l2 = unpackr.unpack(real.l2) as Msg;
  const tr = unpackr.unpack(real.trades) as Msg;
  expect(l2.asks).toEqual([['190.01', '93', 2]]);
  expect(tr.trades).toHaveLength(1);
  const t = tr.trades[0] as Msg;
  // the builder, given the real trade's fields, makes the real bytes
  const built = tradeMessages({
    symbol: 'AAPL',
    l2Seq: l2.seq,
    tradesSeq: tr.seq,
    journalSeq: l2.journalSeq,
    tsUs: l2.ts * 1000,
    tradeId: t.tradeId,
    priceTicks: 19_001,
    qtyLots: 7,
    takerSide: 1,
    level: [19_001, 93, 2],
  });
  expect(tr.journalSeq).toBe(l2.journalSeq);
  expect(Buffer.from(encode(built.l2, true, false).msgpack).equals(real.l2)).toBe(true);
  expect(Buffer.from(encode(built.trades, true, false).msgpack).equals(real.trades)).toBe(true);

  // the bare server: subscribed, two snapshots of seqex's shape, then updates of seqex's shape, seqs + 1
  const sub = await subscriber(bare.port);
  await until(() => sub.msgs().filter((m) => m.type === 'snapshot').length === 2);
  const r = await fetch(`http://127.0.0.1:${bare.port}/baseline/md?rate=50&after=1&seconds=1`);
  expect(((await r.json()) as Msg).publishing).toBe(true);
  await until(() => sub.msgs().filter((m) => m.type === 'update').length >= 20);
  sub.ws.close();
  const msgs = sub.msgs();
  expect(msgs[0]).toEqual({ type: 'subscribed', channels: ['l2', 'trades'], symbols: ['AAPL'] });
  for (const s of msgs.filter((m) => m.type === 'snapshot')) {
    const twin = real.snapshots.find((x) => x.channel === s.channel)!;
    expect(keys(s)).toBe(keys(twin));
  }
  const last = new Map(msgs.filter((m) => m.type === 'snapshot').map((m) => [m.channel as string, m.seq as number]));
  for (const [i, m] of msgs.entries()) {
    if (m.type !== 'update') continue;
    expect(m.seq).toBe(last.get(m.channel)! + 1);
    last.set(m.channel, m.seq);
    const twin = m.channel === 'l2' ? l2 : tr;
    expect(keys(m)).toBe(keys(twin));
    expect(m.symbol).toBe('AAPL');
    if (m.channel === 'l2') expect([m.bids, m.asks]).toEqual([l2.bids, l2.asks]);
    else {
      expect(m.trades.map(keys)).toEqual(tr.trades.map(keys));
      expect(m.trades.map((x: Msg) => [x.px, x.qty, x.side])).toEqual(tr.trades.map((x: Msg) => [x.px, x.qty, x.side]));
    }
    // about the size of the real frame (seqs, ids and times of other magnitudes take a few bytes more or less)
    expect(Math.abs(sub.frames[i]!.length - (m.channel === 'l2' ? real.l2 : real.trades).length)).toBeLessThanOrEqual(8);
  }
});
