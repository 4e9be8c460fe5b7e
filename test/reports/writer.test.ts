/**
 * ReportWriter against a random engine session (test/reports/session.ts): every fill of an
 * execution report has its fill row (qty, price, tradeId, liquidity, fee), every BALANCE event its
 * ledger row in order, every TRADE event its trade row; per account and asset the ledger sums to
 * the engine's balances; each order's row is its last execution report; the open orders are the
 * engine's. The record path (what the worker gets from the ring) and the decoded path write the
 * same rows, whatever the batch size, and an output split into parts is one command.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BalanceCause, ExecType, OrdStatus, Side } from '../../src/domain/codes.js';
import type { DecodedEvent } from '../../src/engine/events.js';
import { EVENT_LENGTH, EventLog } from '../../src/engine/events.js';
import { SchemaVersionError } from '../../src/reports/schema.js';
import { ReportWriter } from '../../src/reports/writer.js';
import { dump, encode, expectedLedger, removeTempDirs, tempDir, writeAll } from './dump.js';
import { ASSETS, generateSession, type Session } from './session.js';

const SEED = 20240103;
const COMMANDS = 3000;

let s: Session;
let path = '';
let db: Database.Database;
const all = () => s.events.flat();
const rows = <T>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as T[];

beforeAll(() => {
  s = generateSession(SEED, COMMANDS);
  path = writeAll(join(tempDir(), 'live.sqlite'), s.events, { batchEvents: 257 });
  db = new Database(path, { readonly: true });
});
afterAll(() => {
  db?.close();
  removeTempDirs();
});

describe('report rows match the events', () => {
  it('the session is varied enough to test something', () => {
    const ev = all();
    const execs = ev.filter((e) => e.event === 'exec');
    const count = (p: (e: DecodedEvent) => boolean) => execs.filter(p).length;
    expect(count((e) => e.execType === ExecType.TRADE)).toBeGreaterThan(600);
    expect(count((e) => e.ordStatus === OrdStatus.CANCELED)).toBeGreaterThan(100);
    expect(count((e) => e.ordStatus === OrdStatus.EXPIRED)).toBeGreaterThan(20);
    expect(count((e) => e.execType === ExecType.REPLACED)).toBeGreaterThan(20);
    const causes = new Set(ev.filter((e) => e.event === 'balance').map((e) => e.cause));
    expect([...causes].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('every fill of an execution report has its fill row, and there are no others', () => {
    const fills = execFills();
    // the fill's own columns (the settlement columns are checked through the ledger view below)
    const got = rows<Record<string, number>>(
      'SELECT accountId, tsUs, fillId, tradeId, orderId, symbolIdx, side, priceTicks, qtyLots, liquidity, feeMinor, feeAssetIdx, seq FROM fills ORDER BY fillId',
    );
    expect(got.length).toBe(fills.length);
    const byId = new Map(got.map((r) => [r.fillId!, r]));
    for (const x of fills) {
      const r = byId.get((x.tradeId as number) * 2 + (x.liquidity === 2 ? 1 : 0));
      expect(r, `fill row of trade ${x.tradeId} liquidity ${x.liquidity}`).toBeDefined();
      expect({ ...r, feeMinor: 0, feeAssetIdx: 0 }).toEqual({
        accountId: x.accountId,
        tsUs: x.tsUs,
        fillId: (x.tradeId as number) * 2 + (x.liquidity === 2 ? 1 : 0),
        tradeId: x.tradeId,
        orderId: x.orderId,
        symbolIdx: x.symbolIdx,
        side: x.side,
        priceTicks: x.lastPxTicks,
        qtyLots: x.lastQtyLots,
        liquidity: x.liquidity,
        feeMinor: 0,
        feeAssetIdx: 0,
        seq: x.seq,
      });
    }
  });

  it("each fill's fee is what the fee account was credited for its trade, in the asset its side pays", () => {
    // the buyer receives the base asset less its fee, the seller the quote asset less its fee: the
    // balance events of the trade say how much each side got; the fee is what is missing
    const ev = all();
    const symbols = rows<{ symbolIdx: number; baseIdx: number; quoteIdx: number }>('SELECT symbolIdx, baseIdx, quoteIdx FROM symbols');
    const fills = rows<{ tradeId: number; accountId: number; side: number; symbolIdx: number; qtyLots: number; priceTicks: number; feeMinor: number; feeAssetIdx: number }>(
      'SELECT * FROM fills',
    );
    const feeCredits = new Map<string, number>();
    for (const e of ev) if (e.event === 'balance' && e.cause === BalanceCause.FEE) feeCredits.set(`${e.refId}:${e.assetIdx}`, (feeCredits.get(`${e.refId}:${e.assetIdx}`) ?? 0) + (e.deltaTotal as number));
    const feeSum = new Map<string, number>();
    let charged = 0;
    for (const f of fills) {
      const sym = symbols.find((x) => x.symbolIdx === f.symbolIdx)!;
      expect(f.feeAssetIdx, `fee asset of trade ${f.tradeId} side ${f.side}`).toBe(f.side === Side.BUY ? sym.baseIdx : sym.quoteIdx);
      const k = `${f.tradeId}:${f.feeAssetIdx}`;
      feeSum.set(k, (feeSum.get(k) ?? 0) + f.feeMinor);
      if (f.feeMinor > 0) charged++;
    }
    expect(charged, 'fills that paid a fee').toBeGreaterThan(200);
    for (const [k, credit] of feeCredits) expect(feeSum.get(k), `fees of trade:asset ${k}`).toBe(credit);
    for (const [k, sum] of feeSum) if (sum !== 0) expect(feeCredits.get(k), `credit for trade:asset ${k}`).toBe(sum);
  });

  it('every BALANCE event has its ledger row, in event order', () => {
    expect(rows('SELECT * FROM ledger ORDER BY id')).toEqual(expectedLedger([all()]));
  });

  it("a trade's settlement is kept in its trade row: ledger_rows has the other changes only", () => {
    const balances = all().filter((e) => e.event === 'balance');
    const settlement = balances.filter((e) => e.cause === BalanceCause.TRADE || e.cause === BalanceCause.FEE).length;
    expect(settlement).toBeGreaterThan(2000);
    expect(rows<{ n: number }>('SELECT count(*) AS n FROM ledger_rows')[0]!.n).toBe(balances.length - settlement);
    expect(rows<{ n: number }>('SELECT count(*) AS n FROM trades WHERE legs = 4')[0]!.n).toBe(all().filter((e) => e.event === 'trade').length);
  });

  it('every TRADE event has its trade row', () => {
    const trades = all().filter((e) => e.event === 'trade');
    // the trade's own columns (the fee credits are checked through the ledger view above)
    const got = rows<Record<string, unknown>>('SELECT symbolIdx, tsUs, tradeId, priceTicks, qtyLots, takerSide, makerOrderId, takerOrderId, seq FROM trades ORDER BY tradeId');
    expect(got).toEqual(
      trades.map((e) => ({
        symbolIdx: e.symbolIdx,
        tsUs: e.tsUs,
        tradeId: e.tradeId,
        priceTicks: e.priceTicks,
        qtyLots: e.qtyLots,
        takerSide: e.takerSide,
        makerOrderId: e.makerOrderId,
        takerOrderId: e.takerOrderId,
        seq: e.seq,
      })),
    );
  });

  it("per account and asset the ledger sums to the engine's balance, and its last row is that balance", () => {
    const sums = rows<{ accountId: number; assetIdx: number; total: number; reserved: number; lastTotal: number; lastReserved: number }>(
      `SELECT accountId, assetIdx, sum(deltaTotal) AS total, sum(deltaReserved) AS reserved,
         (SELECT total FROM ledger l2 WHERE l2.accountId = l.accountId AND l2.assetIdx = l.assetIdx ORDER BY id DESC LIMIT 1) AS lastTotal,
         (SELECT reserved FROM ledger l2 WHERE l2.accountId = l.accountId AND l2.assetIdx = l.assetIdx ORDER BY id DESC LIMIT 1) AS lastReserved
       FROM ledger l GROUP BY accountId, assetIdx`,
    );
    let nonZero = 0;
    for (const id of [0, 1, 2, 3, 4, 5])
      ASSETS.forEach((asset, assetIdx) => {
        const b = s.engine.balance(id, asset)!;
        const r = sums.find((x) => x.accountId === id && x.assetIdx === assetIdx) ?? { total: 0, reserved: 0, lastTotal: 0, lastReserved: 0 };
        expect([r.total, r.reserved, r.lastTotal, r.lastReserved], `account ${id} ${asset}`).toEqual([b.totalMinor, b.reservedMinor, b.totalMinor, b.reservedMinor]);
        if (b.reservedMinor > 0) nonZero++;
      });
    expect(nonZero, 'balances with something reserved at the end').toBeGreaterThan(3);
  });

  it("each order's row is its last execution report (status answers and rejects on arrival excluded)", () => {
    const last = new Map<number, DecodedEvent>();
    for (const e of all()) if (e.event === 'exec' && (e.orderId as number) > 0 && e.execType !== ExecType.ORDER_STATUS) last.set(e.orderId as number, e);
    const got = rows<Record<string, unknown>>('SELECT * FROM orders ORDER BY orderId');
    expect(got.length).toBe(last.size);
    for (const r of got) {
      const e = last.get(r.orderId as number)!;
      const status = e.ordStatus as number;
      expect(r).toEqual({
        orderId: e.orderId,
        accountId: e.accountId,
        symbolIdx: e.symbolIdx,
        clOrdId: e.clOrdId,
        side: e.side,
        ordType: e.ordType,
        tif: e.tif,
        status,
        final: status >= OrdStatus.FILLED && status <= OrdStatus.REJECTED ? 1 : 0,
        priceTicks: e.priceTicks,
        stopPriceTicks: e.stopPriceTicks,
        qtyLots: e.qtyLots,
        cumQtyLots: e.cumQtyLots,
        leavesQtyLots: e.leavesQtyLots,
        cumNotionalTickLots: e.cumNotionalTickLots,
        postOnly: e.postOnly,
        stp: e.stp,
        expireTimeUs: e.expireTimeUs,
        reason: e.reason,
        lastExecType: e.execType,
        createdAtUs: e.createdAtUs,
        updatedAtUs: e.tsUs,
        seq: e.seq,
      });
    }
  });

  it("the open orders are the engine's open orders, field by field", () => {
    const open = rows<Record<string, unknown>>('SELECT * FROM orders WHERE final = 0 ORDER BY orderId');
    const engineOpen = [1, 2, 3, 4, 5].flatMap((a) => s.engine.openOrders(a)).sort((x, y) => x.orderId - y.orderId);
    expect(engineOpen.length).toBeGreaterThan(10);
    expect(open.map((r) => [r.orderId, r.accountId, r.clOrdId, r.side, r.ordType, r.tif, r.status, r.priceTicks, r.stopPriceTicks, r.qtyLots, r.cumQtyLots, r.leavesQtyLots, r.cumNotionalTickLots, r.createdAtUs, r.updatedAtUs, r.seq])).toEqual(
      engineOpen.map((o) => [o.orderId, o.accountId, o.clOrdId, o.side, o.ordType, o.tif, o.status, o.priceTicks, o.stopPriceTicks, o.qtyLots, o.filledLots, o.leavesLots, o.cumNotionalTickLots, o.createdAtUs, o.updatedAtUs, o.seq]),
    );
  });

  it('reference data: assets, symbols with their base and quote, accounts with their enabled flag', () => {
    expect(rows('SELECT assetIdx, name FROM assets ORDER BY assetIdx')).toEqual(ASSETS.map((name, assetIdx) => ({ assetIdx, name })));
    expect(rows('SELECT symbolIdx, name, baseIdx, quoteIdx FROM symbols ORDER BY symbolIdx')).toEqual([
      { symbolIdx: 0, name: 'AAPL', baseIdx: 1, quoteIdx: 0 },
      { symbolIdx: 1, name: 'BTC-USD', baseIdx: 2, quoteIdx: 0 },
      { symbolIdx: 2, name: 'ETH-USD', baseIdx: 3, quoteIdx: 0 },
    ]);
    const accounts = rows<{ accountId: number; name: string; enabled: number }>('SELECT accountId, name, enabled FROM accounts ORDER BY accountId');
    expect(accounts.map((a) => [a.accountId, a.name, a.enabled === 1])).toEqual([0, 1, 2, 3, 4, 5].map((id) => [id, s.engine.account(id)!.name, s.engine.account(id)!.enabled]));
  });

  it('meta: the last seq, engine time and ledger id', () => {
    expect(rows('SELECT key, value FROM meta ORDER BY key')).toEqual([
      { key: 'lastSeq', value: COMMANDS },
      { key: 'lastTsUs', value: s.commands.at(-1)!.tsUs },
      { key: 'ledgerId', value: all().filter((e) => e.event === 'balance').length },
    ]);
  });
});

describe('one set of rows whatever the path', () => {
  it('records (as the ring carries them) and decoded events, in batches of 1 or 50,000, write the same rows', () => {
    const dir = tempDir();
    const expected = dump(path);
    expect(dump(writeAll(join(dir, 'one.sqlite'), s.events, { batchEvents: 1 }))).toEqual(expected);
    const w = new ReportWriter(join(dir, 'records.sqlite'));
    const log = new EventLog();
    s.events.forEach((ev, i) => {
      log.clear();
      encode(ev, log);
      expect(w.applyLog(log, i + 1)).toBe(true);
    });
    w.close();
    expect(dump(join(dir, 'records.sqlite'))).toEqual(expected);
  });

  it("a command whose output came in parts (more = true) is one command: it is not flushed half way, and its fee finds its fill", () => {
    const dir = tempDir();
    const w = new ReportWriter(join(dir, 'parts.sqlite'), { batchEvents: 1 });
    const log = new EventLog();
    s.events.forEach((ev, i) => {
      log.clear();
      encode(ev, log);
      // split every command's records after its first event (a fill's fee then comes in a later part)
      const first = ev.length > 1 ? EVENT_LENGTH[log.buf[0]!]! : log.len;
      if (first < log.len) {
        const flushed = w.flushedSeq;
        w.applyRecords(log.buf, 0, first, log.strings, i + 1, true);
        expect(w.flushedSeq, 'no flush inside a command').toBe(flushed);
        expect(w.lastSeq, 'not applied before its last part').toBe(i);
        w.applyRecords(log.buf, first, log.len, log.strings, i + 1, false);
      } else w.applyRecords(log.buf, 0, log.len, log.strings, i + 1);
    });
    w.close();
    expect(dump(join(dir, 'parts.sqlite'))).toEqual(dump(path));
    // the same through decoded events (a consumer of decoded ring frames)
    const d = new ReportWriter(join(dir, 'decoded-parts.sqlite'), { batchEvents: 1 });
    s.events.forEach((ev, i) => {
      if (ev.length > 1) {
        d.apply(ev.slice(0, 1), i + 1, true);
        d.apply(ev.slice(1), i + 1, false);
      } else d.apply(ev, i + 1);
    });
    d.close();
    expect(dump(join(dir, 'decoded-parts.sqlite'))).toEqual(dump(path));
  });

  it('refuses a part of another command while one is incomplete', () => {
    const w = new ReportWriter(join(tempDir(), 'x.sqlite'));
    const log = new EventLog();
    encode(s.events[0]!, log);
    w.applyRecords(log.buf, 0, log.len, log.strings, 1, true);
    expect(() => w.applyRecords(log.buf, 0, 0, log.strings, 2)).toThrow(/seq 1 still expects parts/);
    w.closeWithoutFlush();
  });

  it('refuses events of another seq, and a database of another schema version', () => {
    const p = join(tempDir(), 'v.sqlite');
    const w = new ReportWriter(p);
    expect(() => w.apply(s.events[0]!, 2)).toThrow(/an event of seq 1 among the events of seq 2/);
    w.close();
    const raw = new Database(p);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => new ReportWriter(p)).toThrow(SchemaVersionError);
    expect(() => new ReportWriter(p)).toThrow(/--rebuild-reports/);
  });
});

/** the execution reports that carry a fill */
function execFills(): DecodedEvent[] {
  return all().filter((e) => e.event === 'exec' && e.execType === ExecType.TRADE);
}
