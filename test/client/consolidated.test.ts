/**
 * ConsolidatedL1 (src/client/consolidated.ts) over two fake venues (test/client/fakeMdServer.ts),
 * in both wire formats: best bid / ask / mid and their venues, the tie rules, exact decimals, and
 * stale or disconnected venues left out.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsolidatedL1, type ConsolidatedQuote } from '../../src/client/consolidated.js';
import { MarketDataClient } from '../../src/client/marketData.js';
import { FakeMdServer, waitFor } from './fakeMdServer.js';

const l1 = (bidPx: string | null, bidQty: string | null, askPx: string | null, askQty: string | null) => ({ bidPx, bidQty, askPx, askQty });

describe.each(['msgpack', 'json'] as const)('ConsolidatedL1 (%s)', (format) => {
  let a: FakeMdServer;
  let b: FakeMdServer;
  let clients: MarketDataClient[] = [];
  let c: ConsolidatedL1 | null = null;

  beforeEach(async () => {
    a = await new FakeMdServer().start();
    b = await new FakeMdServer().start();
    clients = [];
  });

  afterEach(async () => {
    await c?.close();
    c = null;
    for (const m of clients) await m.close();
    await a.close();
    await b.close();
  });

  /** a consolidated view over clients of a and b (named A and B) */
  async function over(symbols: string[], staleMs?: number): Promise<{ c: ConsolidatedL1; updates: ConsolidatedQuote[] }> {
    const ma = new MarketDataClient({ url: a.url, format });
    const mb = new MarketDataClient({ url: b.url, format });
    clients.push(ma, mb);
    await Promise.all([ma.connect(), mb.connect()]);
    c = new ConsolidatedL1({ venues: [{ name: 'A', client: ma }, { name: 'B', client: mb }], symbols, staleMs });
    const updates: ConsolidatedQuote[] = [];
    c.on('update', (_s, q) => updates.push(q));
    await c.start();
    await ma.whenSynced(['l1'], symbols);
    await mb.whenSynced(['l1'], symbols);
    return { c, updates };
  }

  it('gives the best bid and ask across venues, their venues and sizes, and the exact mid', async () => {
    a.setL1('AAPL', l1('189.50', '300', '189.53', '100'));
    b.setL1('AAPL', l1('189.51', '10', '189.52', '50'));
    const { c, updates } = await over(['AAPL']);
    expect(c.quote('AAPL')).toEqual({
      symbol: 'AAPL',
      bidPx: '189.51',
      bidQty: '10',
      bidVenue: 'B',
      askPx: '189.52',
      askQty: '50',
      askVenue: 'B',
      mid: '189.515',
      crossed: false,
      venues: ['A', 'B'],
    });
    expect(c.perVenue('AAPL').map((v) => [v.venue, v.live, v.l1?.bidPx])).toEqual([
      ['A', true, '189.50'],
      ['B', true, '189.51'],
    ]);
    // every venue L1 change is an update event
    const n = updates.length;
    a.setL1('AAPL', l1('189.53', '1', '189.54', '100'));
    await waitFor(() => updates.length === n + 1);
    expect(updates.at(-1)).toMatchObject({ bidPx: '189.53', bidVenue: 'A', askPx: '189.52', askVenue: 'B', mid: '189.525', crossed: true });
    b.setL1('AAPL', l1(null, null, '189.6', '5'));
    await waitFor(() => updates.length === n + 2);
    expect(updates.at(-1)).toMatchObject({ bidPx: '189.53', bidQty: '1', bidVenue: 'A', askPx: '189.54', askQty: '100', askVenue: 'A', mid: '189.535', crossed: false });
    // a venue change that moves nothing is still an event
    b.setL1('AAPL', l1(null, null, '189.7', '5'));
    await waitFor(() => updates.length === n + 3);
    expect(updates.at(-1)).toEqual(updates.at(-2));
  });

  it('breaks price ties by size, then by venue order', async () => {
    a.setL1('X', l1('1.1', '5', '2', '3'));
    b.setL1('X', l1('1.10', '7', '2.00', '3'));
    const { c, updates } = await over(['X']);
    expect(c.quote('X')).toMatchObject({ bidPx: '1.10', bidQty: '7', bidVenue: 'B', askPx: '2', askQty: '3', askVenue: 'A', mid: '1.55' });
    b.setL1('X', l1('1.10', '5.0', '2.00', '3.5'));
    await waitFor(() => updates.at(-1)?.bidQty === '5');
    expect(c.quote('X')).toMatchObject({ bidPx: '1.1', bidQty: '5', bidVenue: 'A', askPx: '2.00', askQty: '3.5', askVenue: 'B' });
  });

  it('compares and averages as exact decimals', async () => {
    a.setL1('X', l1('0.1', '1', null, null));
    b.setL1('X', l1(null, null, '0.2', '1'));
    const { c, updates } = await over(['X']);
    expect(c.quote('X')).toMatchObject({ bidPx: '0.1', bidVenue: 'A', askPx: '0.2', askVenue: 'B', mid: '0.15' });
    // as floats these two are equal, and B's larger size would win: exactly, A's price is higher
    a.setL1('X', l1('0.1000000000000000001', '1', null, null));
    b.setL1('X', l1('0.1', '2', '0.30000000000000004', '1'));
    await waitFor(() => updates.at(-1)?.askPx === '0.30000000000000004');
    expect(c.quote('X')).toMatchObject({ bidPx: '0.1000000000000000001', bidVenue: 'A', askPx: '0.30000000000000004', mid: '0.20000000000000002005' });
    a.setL1('X', l1('0.1', '1', '0.3', '1'));
    await waitFor(() => updates.at(-1)?.askPx === '0.3');
    expect(c.quote('X')).toMatchObject({ bidPx: '0.1', bidQty: '2', bidVenue: 'B', askPx: '0.3', askVenue: 'A', mid: '0.2' });
  });

  it('ignores a venue whose L1 went stale, and takes it back when it speaks again', async () => {
    a.setL1('AAPL', l1('10', '1', '12', '1'));
    b.setL1('AAPL', l1('11', '1', '11.5', '1'));
    a.heartbeatEvery(40);
    const { c, updates } = await over(['AAPL'], 300);
    expect(c.quote('AAPL')).toMatchObject({ bidVenue: 'B', askVenue: 'B', mid: '11.25', venues: ['A', 'B'] });
    const n = updates.length;
    // B sends nothing (no heartbeat, no update): after 300 ms it no longer counts, and an event says so
    await waitFor(() => updates.length > n, 3000, 'B going stale');
    expect(updates.length).toBe(n + 1);
    expect(updates.at(-1)).toMatchObject({ bidPx: '10', bidVenue: 'A', askPx: '12', askVenue: 'A', mid: '11', venues: ['A'] });
    // A stays live on heartbeats alone
    expect(c.perVenue('AAPL').map((v) => v.live)).toEqual([true, false]);
    b.heartbeat();
    await waitFor(() => updates.at(-1)?.venues.length === 2, 3000, 'B back');
    expect(c.quote('AAPL')).toMatchObject({ bidVenue: 'B', askVenue: 'B', mid: '11.25' });
  });

  it('ignores a disconnected venue (venues given as URLs), and takes it back after it reconnects', async () => {
    a.setL1('AAPL', l1('10', '1', '12', '1'));
    b.setL1('AAPL', l1('11', '1', '11.5', '1'));
    c = new ConsolidatedL1({ venues: [a.url, b.url], symbols: ['AAPL'], format });
    const updates: ConsolidatedQuote[] = [];
    c.on('update', (_s, q) => updates.push(q));
    await c.start();
    await waitFor(() => c!.quote('AAPL').venues.length === 2);
    expect(c.venueNames()).toEqual([a.url, b.url]);
    expect(c.quote('AAPL')).toMatchObject({ bidVenue: b.url, askVenue: b.url });
    const n = updates.length;
    expect(updates[n - 1]!.venues.length).toBe(2);
    const port = b.port;
    await b.close();
    await waitFor(() => updates.length > n, 3000, 'B gone');
    expect(updates[n]!.venues).toEqual([a.url]);
    expect(c.quote('AAPL')).toMatchObject({ bidPx: '10', bidVenue: a.url, askPx: '12', askVenue: a.url, mid: '11', venues: [a.url] });
    // B comes back on the same address; the client reconnects and resubscribes by itself
    b = await new FakeMdServer().start(port);
    b.setL1('AAPL', l1('10.5', '2', '11.9', '2'));
    await waitFor(() => updates.at(-1)?.venues.length === 2, 5000, 'B back');
    expect(c.quote('AAPL')).toMatchObject({ bidPx: '10.5', bidVenue: b.url, askPx: '11.9', askVenue: b.url, mid: '11.2' });
  });
});
