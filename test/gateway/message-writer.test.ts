/**
 * The session gateway's hot path writes execution reports and cancel rejects as MessagePack
 * straight from event records (messageWriter.ts). What a broker decodes must be exactly what the
 * object builders of fix.ts make (the rare paths: resends, fills from the store): same keys, same
 * order, same values, over random records.
 */
import { Unpackr } from 'msgpackr';
import { expect, it } from 'vitest';
import { CODE_NAMES } from '../../src/domain/codes.js';
import { Ev, EVENT_FIELDS, EVENT_LENGTH } from '../../src/engine/events.js';
import type { SymbolInfo } from '../../src/gateway/directory.js';
import { messageEvent } from '../../src/gateway/eventFeed.js';
import { executionReport, orderCancelReject } from '../../src/gateway/fix.js';
import { MessageWriter } from '../../src/gateway/messageWriter.js';
import { Unit } from '../../src/gateway/units.js';
import { mulberry32 } from '../../tools/bench/workload.js';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

function rng(seed: number): (n: number) => number {
  const next = mulberry32(seed);
  return (n) => Math.floor(next() * n);
}

function symbol(idx: number, name: string, tick: string, lot: string): SymbolInfo {
  const asset = (a: string, decimals: number) => ({ asset: a, decimals, unit: new Unit(decimals === 0 ? '1' : `0.${'0'.repeat(decimals - 1)}1`) });
  return { idx, symbol: name, base: asset(name, 0), quote: asset('USD', 2), tick: new Unit(tick), lot: new Unit(lot), config: {} as SymbolInfo['config'] };
}

const SYMBOLS = [symbol(0, 'AAPL', '0.01', '1'), symbol(1, 'BTC-USD', '1', '0.01'), symbol(2, 'X', '0.0001', '0.00000001'), undefined];

function record(type: number, r: (n: number) => number, o: number, into: Float64Array): void {
  const at = (name: string) => o + 3 + EVENT_FIELDS[type]!.indexOf(name);
  into.fill(0, o, o + EVENT_LENGTH[type]!);
  into[o] = type;
  into[o + 1] = 1 + r(50_000_000); // seq
  into[o + 2] = 1_764_000_000_000_000 + r(1_000_000_000) * 1000 + r(1000); // tsUs
  const big = () => [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7][r(11)]!;
  into[at('orderId')] = r(3) === 0 ? big() : 1 + r(10_000_000);
  into[at('accountId')] = 1 + r(1000);
  into[at('clOrdIdStr')] = r(4) === 0 ? -1 : 0;
  into[at('rejectCode')] = r(3) === 0 ? r(CODE_NAMES.length) : 0;
  into[at('ordStatus')] = r(8);
  into[at('msgSeq')] = 1 + r(3) === 1 ? big() + 1 : 1 + r(100_000);
  if (type === Ev.CANCEL_REJECT) {
    into[at('responseTo')] = 1 + r(2);
    return;
  }
  into[at('execId')] = 1 + r(5);
  into[at('symbolIdx')] = r(SYMBOLS.length);
  into[at('side')] = 1 + r(2);
  into[at('ordType')] = 1 + r(4);
  into[at('tif')] = 1 + r(5);
  into[at('execType')] = r(10); // 0 included: the table's '' entry
  into[at('ordStatus')] = r(8); // 0 included: the table's '' entry
  into[at('priceTicks')] = r(3) === 0 ? 0 : r(3) === 0 ? big() : 1 + r(100_000_000);
  into[at('stopPriceTicks')] = r(3) === 0 ? 1 + r(1_000_000) : 0;
  const qty = r(3) === 0 ? big() + 1 : 1 + r(1_000_000);
  const cum = r(2) === 0 ? 0 : r(qty + 1);
  into[at('qtyLots')] = qty;
  into[at('cumQtyLots')] = cum;
  into[at('leavesQtyLots')] = qty - cum;
  into[at('cumNotionalTickLots')] = cum * (1 + r(100_000));
  into[at('lastQtyLots')] = r(qty + 1);
  into[at('lastPxTicks')] = 1 + r(100_000);
  into[at('tradeId')] = r(2) === 0 ? big() : 1 + r(1_000_000);
  into[at('liquidity')] = 1 + r(2);
  into[at('expireTimeUs')] = r(4) === 0 ? 1_764_000_000_000_000 + r(1_000_000) * 1000 : 0;
  into[at('postOnly')] = r(2);
  into[at('stp')] = r(5);
}

it('writes what executionReport / orderCancelReject build, byte by byte decoded, over 20,000 random records', () => {
  const r = rng(20261129);
  const w = new MessageWriter();
  const rec = new Float64Array(200);
  const sendingTime = 1_764_430_000_123;
  const clOrdIds = ['a', 'order-000000000000000000000000000001', 'x_Y-9'];
  for (let i = 0; i < 20_000; i++) {
    if (i % 100 === 0) w.reset(); // and otherwise reports pile up in the buffer, growing it
    const type = r(4) === 0 ? Ev.CANCEL_REJECT : Ev.EXEC;
    const o = r(100); // records sit anywhere in the copy array
    record(type, r, o, rec);
    const cl = clOrdIds[r(clOrdIds.length)]!;
    const e = messageEvent(rec, cl, o);
    let expected: Record<string, unknown>;
    let start: number;
    if (type === Ev.EXEC) {
      const sym = SYMBOLS[rec[o + 3 + EVENT_FIELDS[Ev.EXEC]!.indexOf('symbolIdx')]!];
      expected = executionReport(e, sym);
      start = w.executionReport(rec, o, cl, sym, sendingTime);
    } else {
      expected = orderCancelReject(e);
      start = w.orderCancelReject(rec, o, cl, sendingTime);
    }
    expected.sendingTime = sendingTime;
    const got = unpackr.unpack(w.buf.subarray(start, w.pos)) as Record<string, unknown>;
    expect(got).toEqual(expected);
    expect(Object.keys(got)).toEqual(Object.keys(expected));
  }
});

it('grows its buffer without corrupting what it wrote before', () => {
  const r = rng(7);
  const w = new MessageWriter();
  const rec = new Float64Array(64);
  const spans: [number, number, Record<string, unknown>][] = [];
  for (let i = 0; i < 2_000; i++) {
    record(Ev.EXEC, r, 0, rec);
    const sym = SYMBOLS[r(3)]!;
    rec[3 + EVENT_FIELDS[Ev.EXEC]!.indexOf('symbolIdx')] = sym.idx;
    const start = w.executionReport(rec, 0, 'cl-1', sym, 1);
    const expected = executionReport(messageEvent(rec, 'cl-1'), sym);
    expected.sendingTime = 1;
    spans.push([start, w.pos, expected]);
  }
  expect(w.buf.length).toBeGreaterThan(64 * 1024);
  for (const [start, end, expected] of spans) expect(unpackr.unpack(w.buf.subarray(start, end))).toEqual(expected);
});
