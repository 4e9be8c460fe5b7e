/**
 * The gateway's dispatcher against a real sequencer host: a reply carries the sender's events,
 * and with `wantsEvents` answering false (the session gateway, whose reports come from the event
 * feed) only a refusal is decoded, with its code and message; asked true at answer time, the
 * events are all there (a session whose line dropped needs its order ids).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Code } from '../../src/domain/codes.js';
import type { Command } from '../../src/engine/commands.js';
import { Dispatcher, type CommandReply } from '../../src/gateway/dispatcher.js';
import { SequencerHost } from '../../src/sequencer/host.js';
import { type Body, twoTraderSetup } from '../sequencer/setup.js';

let dir = '';
let host: SequencerHost;
let dispatcher: Dispatcher;

const cmd = (b: Body): Command => ({ ...b, seq: 0, tsUs: 0 }) as Command;
const order = (clOrdId: string, side: 1 | 2, priceTicks: number): Command =>
  cmd({ type: 'newOrder', accountId: side === 1 ? 1 : 2, symbol: 'AAPL', side, ordType: 1, qtyLots: 10, priceTicks, clOrdId });

async function reply(p: Promise<unknown>): Promise<CommandReply> {
  const r = (await p) as CommandReply;
  expect(r.kind).toBe('reply');
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqex-dispatcher-'));
  host = await SequencerHost.start({ dataDir: dir, gateways: 1, segmentBytes: 8 << 20, snapshotEveryRecords: 0, snapshotEverySeconds: 0 });
  dispatcher = new Dispatcher(0, host.inbound.sab, host.outbound[0]!.sab);
  for (const b of twoTraderSetup(100_000_000, 1_000)) expect((await reply(dispatcher.command(cmd(b)))).code).toBe(Code.OK);
});

afterAll(async () => {
  dispatcher.stop();
  await host.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('decodes every event of a reply by default', async () => {
  const r = await reply(dispatcher.command(order('full-1', 1, 18_000)));
  expect(r.code).toBe(Code.OK);
  expect(r.seq).toBeGreaterThan(0);
  expect(r.events.filter((e) => e.event === 'exec').map((e) => e.clOrdId)).toEqual(['full-1']);
});

it('with wantsEvents false: an accepted order (and its fills) comes back without events, a refusal with its reject', async () => {
  const resting = await reply(dispatcher.command(order('light-1', 1, 18_100), () => false));
  expect(resting.code).toBe(Code.OK);
  expect(resting.events).toEqual([]);
  const crossing = await reply(dispatcher.command(order('light-2', 2, 18_100), () => false));
  expect(crossing.code).toBe(Code.OK);
  expect(crossing.seq).toBe(resting.seq + 1);
  expect(crossing.events).toEqual([]);
  // refused with a Rejected report to the account (it reaches sessions through the feed): the code only
  const tooBig = { ...order('light-3', 2, 18_100), qtyLots: 5_000_000 } as Command; // the symbol's maxQty is 1,000,000
  const refused = await reply(dispatcher.command(tooBig, () => false));
  expect(refused.code).toBe(Code.MAX_QTY_EXCEEDED);
  expect(refused.events).toEqual([]);
  // refused with no account report (a mass cancel for no such account): the reject record and its message
  const nobody = cmd({ type: 'massCancel', accountId: 999 });
  const alone = await reply(dispatcher.command(nobody, () => false));
  expect(alone.code).not.toBe(Code.OK);
  const rej = alone.events.find((e) => e.event === 'reject');
  expect(rej?.rejectCode).toBe(alone.code);
  expect(String(rej?.message)).toMatch(/account/i);
});

it('with wantsEvents true when the answer comes: every event, as without it', async () => {
  let asked = 0;
  const r = await reply(
    dispatcher.command(order('wanted-1', 2, 18_000), () => {
      asked++;
      return true;
    }),
  );
  expect(asked).toBe(1);
  // the sell crosses the resting buy full-1: the taker's own reports (new, trade) are in the reply
  const execs = r.events.filter((e) => e.event === 'exec');
  expect(execs.map((e) => e.clOrdId)).toEqual(['wanted-1', 'wanted-1']);
  expect(execs.at(-1)!.cumQtyLots).toBe(10);
});
