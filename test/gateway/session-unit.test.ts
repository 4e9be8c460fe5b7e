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
