/**
 * The session store: what a resume is served from. Its files are derived data; when they lack
 * messages (a crash between release and write, or the files removed), recovery regenerates the
 * messages from the journal, so a resume still gets every message with no gap.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SessionClient, type FixMessage } from '../../src/client/session.js';
import { SessionStore } from '../../src/server/sessionStore.js';
import type { DecodedEvent } from '../../src/engine/events.js';
import { startTestExchange, type TestExchange, until } from './server.js';

let ex: TestExchange | null = null;
afterAll(async () => {
  await ex?.close();
});

it('messages missing from the store files are regenerated from the journal at start-up', async () => {
  ex = await startTestExchange();
  const s = await SessionClient.connect({ url: `ws://127.0.0.1:${ex.port}/v1/ws`, apiKey: ex.demo.apiKey });
  const live: FixMessage[] = [];
  s.onMessage((m) => live.push(m));
  for (let i = 0; i < 5; i++) await s.newOrder({ clOrdId: `st-${i}`, symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: `18${i}.00` });
  await s.cancel({ origClOrdId: 'st-0' });
  await until(() => live.length >= 6);
  await s.close();
  await ex.stop();
  rmSync(join(ex.dataDir, 'sessions'), { recursive: true, force: true }); // as if nothing had been written
  ex = await startTestExchange({}, ex.dataDir);
  expect(ex.logs.join('\n')).toMatch(/recovered to seq/);
  const back = await SessionClient.connect({ url: `ws://127.0.0.1:${ex.port}/v1/ws`, apiKey: ex.demo.apiKey, nextExpectedSeq: 1 });
  const replayed: FixMessage[] = [];
  back.onMessage((m) => replayed.push(m));
  await until(() => replayed.length >= live.length);
  const strip = (m: FixMessage) => ({ seqNum: m.seqNum, execId: m.execId, execType: m.execType, clOrdId: m.clOrdId, leavesQty: m.leavesQty });
  expect(replayed.map(strip)).toEqual(live.map(strip));
  await back.close();
});

it('keeps the newest messages up to its bound and says where an account stream now starts', () => {
  const dir = join(process.cwd(), 'journal', `.test-store-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  try {
    const store = new SessionStore(dir, { maxMessages: 5 });
    const ev = (accountId: number, msgSeq: number, seq: number) => ({ event: 'exec', seq, tsUs: 0, accountId, msgSeq }) as unknown as DecodedEvent;
    store.addRecovered([ev(1, 1, 10), ev(2, 1, 11), ev(1, 2, 12), ev(1, 3, 13), ev(2, 2, 14), ev(1, 4, 15), ev(1, 5, 16)]);
    // 7 added, 5 kept: the two oldest (account 1 #1, account 2 #1) dropped
    expect(store.range(1, 1)).toMatchObject({ firstAvailable: 2, last: 5 });
    expect(store.range(1, 1).events.map((e) => e.msgSeq)).toEqual([2, 3, 4, 5]);
    expect(store.range(2, 1)).toMatchObject({ firstAvailable: 2, last: 2 });
    expect(store.range(1, 4).events.map((e) => e.msgSeq)).toEqual([4, 5]);
    expect(store.range(1, 6).events).toEqual([]);
    expect(store.range(3, 1)).toEqual({ firstAvailable: 1, last: 0, events: [], seenSeq: 16 });
    expect(store.lastSeq).toBe(16);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
