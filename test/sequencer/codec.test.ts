import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { JournalWriter, recoverJournal } from '../../src/journal/journal.js';
import { decodeCommand, encodeCommand, MAX_COMMAND_BYTES } from '../../src/sequencer/codec.js';
import { decodeOutput, outputBytes, responseBytes, responseEvents, writeOutput, writeResponse } from '../../src/sequencer/outputCodec.js';
import { ALICE, BOB, CAROL, fixture, type CmdBody } from '../helpers.js';
import { BroadcastRing } from '../../src/ring/broadcastRing.js';
import { Ev, EventLog } from '../../src/engine/events.js';

const T0 = Date.UTC(2024, 0, 3, 12) * 1000;
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,36}$/);

const orderCmd = fc.record({
  accountId: fc.nat(1e6),
  symbol: fc.constantFrom('AAPL', 'BTC-USD', 'X'),
  side: fc.constantFrom(1, 2),
  ordType: fc.constantFrom(1, 2, 3, 4),
  tif: opt(fc.constantFrom(1, 2, 3, 4, 5)),
  stp: opt(fc.constantFrom(1, 2, 3, 4)),
  postOnly: opt(fc.boolean()),
  qtyLots: fc.nat(),
  priceTicks: opt(fc.nat()),
  stopPriceTicks: opt(fc.nat()),
  expireTimeUs: opt(fc.nat()),
  clOrdId: opt(id),
});

function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function roundTrip(c: Command): Command | null {
  const buf = new Uint8Array(MAX_COMMAND_BYTES);
  const [type, n] = encodeCommand(c, buf);
  return decodeCommand(type, c.seq, c.tsUs, buf, 0, n);
}

describe('command codec', () => {
  it('round-trips every order-flow command field for field', () => {
    fc.assert(
      fc.property(orderCmd, fc.nat(), (o, seq) => {
        const c = strip({ ...o, type: 'newOrder' as const, seq, tsUs: T0 + seq });
        expect(roundTrip(c)).toEqual(c);
      }),
    );
    const others: Command[] = [
      { type: 'cancelOrder', seq: 1, tsUs: T0, accountId: 3, orderId: 99 },
      { type: 'cancelOrder', seq: 2, tsUs: T0, accountId: 3, clOrdId: 'abc' },
      { type: 'replaceOrder', seq: 3, tsUs: T0, accountId: 3, orderId: 5, qtyLots: 7, priceTicks: 18925, clOrdId: 'n2' },
      { type: 'replaceOrder', seq: 4, tsUs: T0, accountId: 3, origClOrdId: 'n2', qtyLots: 6 },
      { type: 'massCancel', seq: 5, tsUs: T0, accountId: 3 },
      { type: 'massCancel', seq: 6, tsUs: T0, accountId: 3, symbol: 'AAPL' },
      { type: 'tick', seq: 7, tsUs: T0 },
      { type: 'addSymbol', seq: 8, tsUs: T0, config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '10', maxNotional: '100', session: { open: '13:30', close: '20:00' } } },
      { type: 'deposit', seq: 9, tsUs: T0, accountId: 1, asset: 'USD', amountMinor: 100, transferId: 't-1' },
      { type: 'createAccount', seq: 10, tsUs: T0, name: 'ünïcode', apiKeyHash: 'h' },
    ];
    for (const c of others) expect(roundTrip(c)).toEqual(c);
  });

  it('malformed payloads decode to null, never throw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.uint8Array({ maxLength: 120 }), (type, bytes) => {
        const c = decodeCommand(type, 1, T0, bytes, 0, bytes.length);
        if (c !== null) expect(typeof c.type).toBe('string');
      }),
    );
    const buf = new Uint8Array(MAX_COMMAND_BYTES);
    const [type, n] = encodeCommand({ type: 'newOrder', seq: 1, tsUs: T0, accountId: 1, symbol: 'AAPL', side: 1, ordType: 1, qtyLots: 1, priceTicks: 1 }, buf);
    for (let cut = 0; cut < n; cut++) expect(decodeCommand(type, 1, T0, buf, 0, cut)).toBeNull();
    expect(decodeCommand(type, 1, T0, buf, 0, n + 1)).toBeNull(); // trailing bytes
  });

  it('replay proves it: commands journaled, read back and re-applied give the same state hash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqex-codec-'));
    try {
      const live = new Engine();
      const journal = new JournalWriter({ dir, durability: 'none' });
      const buf = new Uint8Array(MAX_COMMAND_BYTES);
      let seq = 0;
      const run = (c: object) => {
        const cmd = { ...c, seq: ++seq, tsUs: T0 + seq * 1000 } as Command;
        const [type, n] = encodeCommand(cmd, buf);
        journal.append(cmd.seq, cmd.tsUs, type, buf.subarray(0, n));
        live.apply(cmd);
      };
      run({ type: 'addAsset', asset: 'USD', decimals: 2 });
      run({ type: 'addAsset', asset: 'AAPL', decimals: 0 });
      run({ type: 'addSymbol', config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1000', maxNotional: '1000000', makerFeeBps: 2, takerFeeBps: 5 } });
      for (let a = 1; a <= 4; a++) {
        run({ type: 'createAccount', name: `a${a}` });
        run({ type: 'deposit', accountId: a, asset: 'USD', amountMinor: 10_000_000, transferId: `u${a}` });
        run({ type: 'deposit', accountId: a, asset: 'AAPL', amountMinor: 1_000, transferId: `x${a}` });
      }
      let rnd = 7;
      const next = (k: number) => ((rnd = (rnd * 1103515245 + 12345) % 2147483648), rnd % k);
      for (let i = 0; i < 2000; i++) {
        const r = next(100);
        if (r < 70) run({ type: 'newOrder', accountId: 1 + next(4), symbol: 'AAPL', side: 1 + next(2), ordType: 1, qtyLots: 1 + next(20), priceTicks: 9990 + next(20), clOrdId: next(2) ? `c${i}` : undefined, stp: 1 + next(4) });
        else if (r < 90) run({ type: 'cancelOrder', accountId: 1 + next(4), orderId: 1 + next(i + 1) });
        else if (r < 97) run({ type: 'replaceOrder', accountId: 1 + next(4), orderId: 1 + next(i + 1), qtyLots: 1 + next(20) });
        else run({ type: 'newOrder', accountId: 1 + next(4), symbol: 'AAPL', side: 1 + next(2), ordType: 2, qtyLots: 1 + next(30) });
      }
      journal.close();
      const replayed = new Engine();
      const rec = recoverJournal(dir, false, (s, ts, type, bytes, from, to) => {
        const cmd = decodeCommand(type, s, ts, bytes, from, to);
        expect(cmd).not.toBeNull();
        replayed.apply(cmd!);
      });
      expect(rec.lastSeq).toBe(seq);
      expect(replayed.stateHash()).toBe(live.stateHash());
      replayed.checkInvariants();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('output frames (outputCodec)', () => {
  it('strings of any script round-trip, and a frame takes exactly the bytes outputBytes says (the next frame is intact)', () => {
    const ring = BroadcastRing.create(1 << 16);
    const logOf = (messages: string[]) => {
      const log = new EventLog(1 << 8);
      log.seq = 7;
      log.tsUs = T0;
      for (const [k, m] of messages.entries()) {
        const at = log.begin(Ev.REJECT);
        log.buf[at] = 10 + k;
        log.buf[at + 1] = log.str(m);
      }
      return log;
    };
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), id), { maxLength: 6 }), fc.array(id, { maxLength: 3 }), (first, second) => {
        const a = logOf(first);
        const b = logOf(second);
        const aBytes = outputBytes(a);
        const bBytes = outputBytes(b);
        const at = ring.claim(1, aBytes);
        writeOutput(ring.v, at, 7, T0, 0, 0, a, false);
        const bt = ring.claim(2, bBytes);
        writeOutput(ring.v, bt, 8, T0, 0, 0, b, false);
        ring.publishTo(ring.position());
        const msgs = (o: ReturnType<typeof decodeOutput>) => o.events.map((e) => e.message);
        expect(msgs(decodeOutput(ring.v, at, aBytes))).toEqual(first);
        expect(msgs(decodeOutput(ring.v, bt, bBytes))).toEqual(second);
      }),
      { numRuns: 300 },
    );
  });
});

describe('output frame string bound', () => {
  it('a string longer than a frame can carry (Uint16 length) is refused, not wrapped', () => {
    const ring = BroadcastRing.create(1 << 20);
    const log = new EventLog(1 << 8);
    const at0 = log.begin(Ev.REJECT);
    log.buf[at0] = 1;
    log.buf[at0 + 1] = log.str('x'.repeat(70_000));
    const bytes = outputBytes(log);
    expect(() => writeOutput(ring.v, ring.claim(1, bytes), 1, T0, 0, 0, log, false)).toThrow(/longer than a frame string/);
  });
});

describe('response frames (writeResponse)', () => {
  it('are byte for byte the frame of responseEvents + writeOutput, for every account, over random order flow', () => {
    const f = fixture();
    const a = BroadcastRing.create(1 << 16);
    const b = BroadcastRing.create(1 << 16);
    const scratch = new EventLog(1 << 8);
    let x = 7;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const accounts = [ALICE, BOB, CAROL];
    let compared = 0;
    for (let i = 0; i < 600; i++) {
      const acct = accounts[rnd(3)]!;
      const r = rnd(10);
      if (r < 2) f.run({ type: 'cancelOrder', accountId: acct, clOrdId: `c${rnd(i + 1)}` } as CmdBody);
      else if (r < 3) f.run({ type: 'newOrder', accountId: acct, symbol: 'AAPL', side: 1 + rnd(2), ordType: 2, qtyLots: 1 + rnd(30), clOrdId: `c${i}` } as CmdBody);
      else if (r < 4) f.run({ type: 'newOrder', accountId: acct, symbol: 'AAPL', side: 1, ordType: 1, qtyLots: 0, priceTicks: 10_000 } as CmdBody); // rejected
      else f.run({ type: 'newOrder', accountId: acct, symbol: 'AAPL', side: 1 + rnd(2), ordType: 1, qtyLots: 1 + rnd(20), priceTicks: 9_990 + rnd(20), ...(rnd(2) ? { clOrdId: `c${i}` } : {}) } as CmdBody);
      const log = f.e.events;
      for (const who of accounts) {
        const bytes = responseBytes(log, who);
        responseEvents(log, who, scratch);
        expect(bytes).toBe(outputBytes(scratch));
        const at = a.claim(1, bytes);
        writeResponse(a.v, at, i, T0, 0, 0, log, who);
        const bt = b.claim(1, bytes);
        writeOutput(b.v, bt, i, T0, 0, 0, scratch, false);
        expect(Buffer.from(a.v.bytes.subarray(at, at + bytes)).equals(Buffer.from(b.v.bytes.subarray(bt, bt + bytes)))).toBe(true);
        if (scratch.len > 0) compared++;
      }
    }
    expect(compared).toBeGreaterThan(500);
  });
});
