/**
 * Review of report schema 2 (a trade's settlement kept as columns of its trade row, `ledger` a view
 * over ledger_rows + trades): the view must be, row for row, the BALANCE events the engine emitted
 * (id = the event's ordinal, seq, time, account, asset, deltas, balances after, cause, refs),
 * whatever way the events reach the writer:
 * - several random sessions of a real engine (fees on two symbols, off on the third; STP
 *   'decrement' and the others; partial fills; market orders releasing what the protection price
 *   reserved; stops; buys filled better than reserved; many trades in one command);
 * - tiny random batch sizes (a flush after any command), every command split into random parts
 *   (`more`) at random event boundaries, the writer closed and reopened between commands, and
 *   crashes (closeWithoutFlush, also in the middle of a command) resumed from the committed seq as
 *   the journal catch-up does;
 * - event shapes the engine does not emit today (balance changes of a trade reordered, a leg with
 *   another deltaReserved, a fee credit to another account): still the events as they were.
 * The audit passes on the real sessions, and catches ids that are no longer the events' ordinals.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { BalanceCause, OrdType, Stp } from '../../src/domain/codes.js';
import { type DecodedEvent, EVENT_LENGTH, EventLog } from '../../src/engine/events.js';
import { auditReports } from '../../src/reports/audit.js';
import { ReportWriter } from '../../src/reports/writer.js';
import { rng } from '../crash/verify.js';
import { dump, encode, expectedLedger, removeTempDirs, tempDir, writeAll } from './dump.js';
import { generateSession, type Session } from './session.js';

afterAll(() => removeTempDirs());

type Rng = ReturnType<typeof rng>;


function ledgerOf(path: string): Record<string, unknown>[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT * FROM ledger ORDER BY id').all() as Record<string, unknown>[];
    const ids = db.prepare('SELECT count(*) AS n, count(DISTINCT id) AS d FROM ledger').get() as { n: number; d: number };
    expect(ids.d, 'ledger ids are unique').toBe(ids.n);
    return rows;
  } finally {
    db.close();
  }
}

/**
 * Feeds `events` (commands seq 1..) to a writer the hostile way: random tiny batches, each command
 * in random parts, reopened now and then, crashed now and then (resumed from what was committed).
 */
function feedHostile(path: string, events: DecodedEvent[][], r: Rng): { crashes: number; reopens: number; splits: number } {
  const stats = { crashes: 0, reopens: 0, splits: 0 };
  const open = () => new ReportWriter(path, { batchEvents: r.int(1, 9) });
  let w = open();
  const log = new EventLog();
  let i = 0;
  while (i < events.length) {
    const seq = i + 1;
    const ev = events[i]!;
    log.clear();
    encode(ev, log);
    // event boundaries of this command's records
    const bounds = [0];
    for (let at = 0; at < log.len; at += EVENT_LENGTH[log.buf[at]!]!) bounds.push(at + EVENT_LENGTH[log.buf[at]!]!);
    const cuts = new Set<number>([log.len]);
    if (bounds.length > 2 && r.next() < 0.5) {
      const n = r.int(1, Math.min(6, bounds.length - 2));
      for (let k = 0; k < n; k++) cuts.add(bounds[r.int(1, bounds.length - 2)]!);
      stats.splits++;
    }
    const parts = [...cuts].sort((a, b) => a - b);
    let from = 0;
    let crashed = false;
    for (let p = 0; p < parts.length; p++) {
      const more = p < parts.length - 1;
      w.applyRecords(log.buf, from, parts[p]!, log.strings, seq, more);
      from = parts[p]!;
      if (more && r.next() < 0.01) {
        // a crash (or a lap) with a command half read: nothing of it was written
        w.closeWithoutFlush();
        crashed = true;
        break;
      }
    }
    if (!crashed && r.next() < 0.004) {
      w.closeWithoutFlush();
      crashed = true;
    }
    if (crashed) {
      stats.crashes++;
      w = open();
      // the catch-up resumes after the seq the database committed
      i = w.lastSeq;
      continue;
    }
    if (r.next() < 0.01) {
      w.close();
      stats.reopens++;
      w = open();
      expect(w.lastSeq).toBe(seq);
    }
    i++;
  }
  w.close();
  return stats;
}

const SEEDS = [11, 4242, 909090, 20240103 ^ 0x5a5a];

describe('the ledger view is the BALANCE events, row for row, however they were written', () => {
  const sessions = new Map<number, Session>();
  const session = (seed: number) => {
    let s = sessions.get(seed);
    if (s === undefined) sessions.set(seed, (s = generateSession(seed, 2500)));
    return s;
  };

  for (const seed of SEEDS) {
    it(`seed ${seed}: tiny batches, commands in parts, reopened and crashed writers; the audit passes`, () => {
      const s = session(seed);
      const ev = s.events.flat();
      // the session holds what the brief asks about
      const balances = ev.filter((e) => e.event === 'balance');
      expect(balances.filter((e) => e.cause === BalanceCause.FEE).length).toBeGreaterThan(50);
      expect(s.commands.filter((c) => c.type === 'newOrder' && c.stp === Stp.DECREMENT).length).toBeGreaterThan(50);
      expect(s.commands.filter((c) => c.type === 'newOrder' && (c.ordType === OrdType.STOP || c.ordType === OrdType.MARKET)).length).toBeGreaterThan(100);
      const tradesPerCommand = s.events.map((c) => c.filter((e) => e.event === 'trade').length);
      expect(Math.max(...tradesPerCommand)).toBeGreaterThan(1);

      const expected = expectedLedger(s.events);
      const dir = tempDir();
      const plain = writeAll(join(dir, 'plain.sqlite'), s.events);
      expect(ledgerOf(plain)).toEqual(expected);

      const hostile = join(dir, 'hostile.sqlite');
      const stats = feedHostile(hostile, s.events, rng(seed * 7 + 1));
      expect(stats.splits).toBeGreaterThan(100);
      expect(stats.crashes).toBeGreaterThan(0);
      expect(ledgerOf(hostile)).toEqual(expected);
      expect(dump(hostile)).toEqual(dump(plain));

      // settlement is actually folded (else this tests nothing of schema 2)
      const db = new Database(hostile, { readonly: true });
      try {
        const trades = ev.filter((e) => e.event === 'trade').length;
        expect((db.prepare('SELECT count(*) AS n FROM trades WHERE legs = 4').get() as { n: number }).n).toBe(trades);
        const a = auditReports(db, s.engine, s.commands.length);
        expect(a.differences).toEqual([]);
        expect(a.ok).toBe(true);
      } finally {
        db.close();
      }
    });
  }

  it('event shapes the engine does not emit (reordered settlement, another deltaReserved, a fee credit elsewhere) are still the events', () => {
    const s = session(SEEDS[0]!);
    const r = rng(77);
    let mutated = 0;
    const events = s.events.map((cmd) => {
      if (!cmd.some((e) => e.event === 'trade') || r.next() < 0.3) return cmd;
      const out = cmd.map((e) => ({ ...e }));
      const bal = out.map((e, i) => [e, i] as const).filter(([e]) => e.event === 'balance');
      const k = r.int(0, 3);
      // after the command's last fill (a fee credit needs its fill before it)
      let lastExec = -1;
      out.forEach((e, at) => {
        if (e.event === 'exec') lastExec = at;
      });
      const tail = bal.filter(([, at]) => at > lastExec);
      if (k === 0 && tail.length > 1) {
        // the last balance events of the command in another order (positions kept, contents shuffled)
        const contents = tail.map(([e]) => e);
        for (let i = contents.length - 1; i > 0; i--) {
          const j = r.int(0, i);
          [contents[i], contents[j]] = [contents[j]!, contents[i]!];
        }
        tail.forEach(([, at], n) => (out[at] = contents[n]!));
      } else if (k === 1) {
        const legs = bal.filter(([e]) => e.cause === BalanceCause.TRADE);
        const [e] = r.pick(legs);
        e.deltaReserved = (e.deltaReserved as number) + (r.next() < 0.5 ? 1 : -(e.deltaReserved as number) - 3);
      } else if (k === 2) {
        const fees = bal.filter(([e]) => e.cause === BalanceCause.FEE);
        if (fees.length === 0) return cmd;
        const [e] = r.pick(fees);
        if (r.next() < 0.5) e.accountId = 1;
        else e.reserved = 5;
      } else {
        // a trade entry whose trade row is not in this command's output: another trade id
        const legs = bal.filter(([e]) => e.cause === BalanceCause.TRADE);
        const [e] = r.pick(legs);
        e.refId = (e.refId as number) + 1_000_000;
      }
      mutated++;
      return out;
    });
    expect(mutated).toBeGreaterThan(200);
    const dir = tempDir();
    const hostile = join(dir, 'mutated.sqlite');
    feedHostile(hostile, events, rng(5));
    expect(ledgerOf(hostile)).toEqual(expectedLedger(events));
  });
});

describe('seqex audit on schema 2', () => {
  it('fails when the ledger ids are no longer the events\' ordinals (an id moved onto another entry\'s)', () => {
    const s = generateSession(SEEDS[1]!, 1500);
    const dir = tempDir();
    const path = writeAll(join(dir, 'clean.sqlite'), s.events, { batchEvents: 100 });
    const db = new Database(path);
    try {
      expect(auditReports(db, s.engine, s.commands.length).ok).toBe(true);
      // a fee credit's id set to its trade's first settlement id: every sum and every running
      // balance is unchanged (the fee account has no entry in between), but two entries share an
      // id and one event's ordinal is gone
      const t = db.prepare('SELECT tradeId, settleId, feeBaseId FROM trades WHERE feeBaseId > 0 ORDER BY tradeId LIMIT 1 OFFSET 20').get() as { tradeId: number; settleId: number; feeBaseId: number };
      expect(db.prepare('UPDATE trades SET feeBaseId = ? WHERE tradeId = ?').run(t.settleId, t.tradeId).changes).toBe(1);
      const a = auditReports(db, s.engine, s.commands.length);
      expect(a.ok).toBe(false);
      expect(a.differences.join('\n')).toMatch(new RegExp(`ledger id ${t.settleId}`));
    } finally {
      db.close();
    }
  });
});
