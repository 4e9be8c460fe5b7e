/**
 * A consumer of the event ring that picks out the account-addressed messages (execution reports
 * and cancel rejects, each with its account's gap-free msgSeq). Gateway threads use it to push
 * reports to live sessions; the main thread's session store uses it to keep them for resends.
 * A consumer that falls a whole ring behind is lapped (the sequencer never waits for it): it is
 * told so and must resync its sessions from the store.
 */
import type { DecodedEvent } from '../engine/events.js';
import { BroadcastRing, type BroadcastReader, EMPTY, LAPPED } from '../ring/broadcastRing.js';
import { Ev, EVENT_FIELDS, EVENT_LENGTH } from '../engine/events.js';
import { frameStrings, OUTPUT_HEADER_FLOATS } from '../sequencer/outputCodec.js';

const EXEC_ACCOUNT = 3 + EVENT_FIELDS[Ev.EXEC]!.indexOf('accountId');
const CANCEL_REJECT_ACCOUNT = 3 + EVENT_FIELDS[Ev.CANCEL_REJECT]!.indexOf('accountId');
const EXEC_CLORDID = 3 + EVENT_FIELDS[Ev.EXEC]!.indexOf('clOrdIdStr');
const CANCEL_REJECT_CLORDID = 3 + EVENT_FIELDS[Ev.CANCEL_REJECT]!.indexOf('clOrdIdStr');
/** where an account message record keeps its account and msgSeq */
export const MESSAGE_ACCOUNT = { [Ev.EXEC]: EXEC_ACCOUNT, [Ev.CANCEL_REJECT]: CANCEL_REJECT_ACCOUNT } as Record<number, number>;
export const MESSAGE_SEQ = { [Ev.EXEC]: 3 + EVENT_FIELDS[Ev.EXEC]!.indexOf('msgSeq'), [Ev.CANCEL_REJECT]: 3 + EVENT_FIELDS[Ev.CANCEL_REJECT]!.indexOf('msgSeq') } as Record<number, number>;

/**
 * An account message record (a copy of its floats) and its clOrdId as the object consumers read
 * (the same object `decodeEvents` makes). Written out field by field so every report object has
 * one fixed shape: a loop of `e[name] = ...` made 30-key dictionaries that every later read (the
 * report builder, msgpackr) paid for. EVENT_FIELDS is the layout; a test holds the two equal.
 */
export function messageEvent(rec: Float64Array, clOrdId: string | null, o = 0): DecodedEvent {
  if (rec[o + 0] === Ev.EXEC)
    return {
      event: 'exec',
      seq: rec[o + 1]!,
      tsUs: rec[o + 2]!,
      execId: rec[o + 3]!,
      orderId: rec[o + 4]!,
      accountId: rec[o + 5]!,
      symbolIdx: rec[o + 6]!,
      side: rec[o + 7]!,
      ordType: rec[o + 8]!,
      tif: rec[o + 9]!,
      execType: rec[o + 10]!,
      ordStatus: rec[o + 11]!,
      priceTicks: rec[o + 12]!,
      stopPriceTicks: rec[o + 13]!,
      qtyLots: rec[o + 14]!,
      cumQtyLots: rec[o + 15]!,
      leavesQtyLots: rec[o + 16]!,
      cumNotionalTickLots: rec[o + 17]!,
      lastQtyLots: rec[o + 18]!,
      lastPxTicks: rec[o + 19]!,
      tradeId: rec[o + 20]!,
      liquidity: rec[o + 21]!,
      rejectCode: rec[o + 22]!,
      reason: rec[o + 23]!,
      clOrdId: rec[o + 24]! < 0 ? null : clOrdId,
      expireTimeUs: rec[o + 25]!,
      createdAtUs: rec[o + 26]!,
      postOnly: rec[o + 27]!,
      stp: rec[o + 28]!,
      msgSeq: rec[o + 29]!,
    };
  return {
    event: 'cancelReject',
    seq: rec[o + 1]!,
    tsUs: rec[o + 2]!,
    accountId: rec[o + 3]!,
    orderId: rec[o + 4]!,
    clOrdId: rec[o + 5]! < 0 ? null : clOrdId,
    responseTo: rec[o + 6]!,
    rejectCode: rec[o + 7]!,
    ordStatus: rec[o + 8]!,
    msgSeq: rec[o + 9]!,
  };
}

/** Event ring consumer slots (BroadcastRing has 11). */
export const EVENT_CONSUMER = { SESSION_STORE: 0, MARKET_DATA: 1, REPORTS: 2, REPLICATION: 3, FIRST_GATEWAY: 4 } as const;
export const MAX_GATEWAYS = 11 - EVENT_CONSUMER.FIRST_GATEWAY;

export class EventFeed {
  private readonly ring: BroadcastRing;
  private readonly reader: BroadcastReader;
  laps = 0;
  /** journal seq of the last frame read (every message of a command up to it was handed over) */
  lastSeq = 0;
  /** copies of the wanted records of the frame being read (reused: no allocation per record) */
  private copies = new Float64Array(64 * 32);
  private readonly offsets: number[] = [];
  private readonly cls: (string | null)[] = [];

  /** `fromStart`: read from the ring's first frame (a consumer attached after the producer started, on a ring made for this run) */
  constructor(eventsSab: SharedArrayBuffer, consumer: number, fromStart = false) {
    this.ring = new BroadcastRing(eventsSab);
    this.reader = this.ring.reader(consumer, fromStart ? 0 : undefined);
  }

  /**
   * Hands every exec / cancelReject record released since the last call to `onRecord` (only those
   * of accounts `wants` accepts) as a copy of its floats (`rec[at]` is its type, `len` floats; the
   * copy is reused after the call returns) and its clOrdId, at most `maxFrames` frames;
   * `onLapped` when events were lost. The rest of a frame (book events, balances) is skipped by
   * record length. Returns frames read.
   */
  poll(onRecord: (rec: Float64Array, at: number, len: number, clOrdId: string | null) => void, onLapped: () => void, maxFrames = 256, wants: (accountId: number) => boolean = () => true): number {
    const r = this.reader;
    const v = this.ring.v;
    const f = v.f64;
    let n = 0;
    while (n < maxFrames) {
      const at = r.next();
      if (at === EMPTY) break;
      if (at === LAPPED) {
        this.laps++;
        r.resync();
        onLapped();
        continue;
      }
      const o = at >> 3;
      const floats = f[o + 3]!;
      if ((OUTPUT_HEADER_FLOATS + floats) * 8 > r.payloadBytes) {
        r.resync(); // a torn read: the frame is being overwritten
        this.laps++;
        onLapped();
        continue;
      }
      const offsets = this.offsets;
      const cls = this.cls;
      offsets.length = 0;
      cls.length = 0;
      let used = 0;
      const base = o + OUTPUT_HEADER_FLOATS;
      let strings: string[] | null = null;
      let torn = false;
      for (let i = 0; i < floats; ) {
        const type = f[base + i]!;
        const len = EVENT_LENGTH[type];
        if (len === undefined) break; // torn: intact() below says so
        const acctAt = type === Ev.EXEC ? EXEC_ACCOUNT : type === Ev.CANCEL_REJECT ? CANCEL_REJECT_ACCOUNT : -1;
        if (acctAt > 0 && wants(f[base + i + acctAt]!)) {
          if (used + len > this.copies.length) this.grow(used + len);
          const copies = this.copies;
          for (let k = 0; k < len; k++) copies[used + k] = f[base + i + k]!;
          const clAt = type === Ev.EXEC ? EXEC_CLORDID : CANCEL_REJECT_CLORDID;
          let cl: string | null = null;
          if (copies[used + clAt]! >= 0) {
            try {
              strings ??= frameStrings(v, at, floats, f[o + 4]!);
            } catch {
              torn = true; // string lengths read from a frame being overwritten
              break;
            }
            cl = strings[copies[used + clAt]!] ?? null;
          }
          offsets.push(used);
          cls.push(cl);
          used += len;
        }
        i += len;
      }
      if (torn || !r.intact()) {
        this.laps++;
        r.resync();
        onLapped();
        continue;
      }
      this.lastSeq = f[o]!;
      r.advance();
      n++;
      const copies = this.copies;
      for (let k = 0; k < offsets.length; k++) {
        const off = offsets[k]!;
        onRecord(copies, off, EVENT_LENGTH[copies[off]!]!, cls[k]!);
      }
    }
    return n;
  }

  private grow(atLeast: number): void {
    const next = new Float64Array(Math.max(atLeast, this.copies.length * 2));
    next.set(this.copies);
    this.copies = next;
  }

  waitAsync(timeoutMs: number): Promise<boolean> {
    return this.reader.waitForFrameAsync(timeoutMs);
  }
}
