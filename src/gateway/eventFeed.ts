/**
 * A consumer of the event ring that picks out the account-addressed messages (execution reports
 * and cancel rejects, each with its account's gap-free msgSeq). Gateway threads use it to push
 * reports to live sessions; the main thread's session store uses it to keep them for resends.
 * A consumer that falls a whole ring behind is lapped (the sequencer never waits for it): it is
 * told so and must resync its sessions from the store.
 */
import type { DecodedEvent } from '../engine/events.js';
import { BroadcastRing, type BroadcastReader, EMPTY, LAPPED } from '../ring/broadcastRing.js';
import { Ev, EVENT_FIELDS, EVENT_LENGTH, EVENT_NAMES } from '../engine/events.js';
import { frameStrings, OUTPUT_HEADER_FLOATS } from '../sequencer/outputCodec.js';

const EXEC_ACCOUNT = 3 + EVENT_FIELDS[Ev.EXEC]!.indexOf('accountId');
const CANCEL_REJECT_ACCOUNT = 3 + EVENT_FIELDS[Ev.CANCEL_REJECT]!.indexOf('accountId');

/** Event ring consumer slots (BroadcastRing has 11). */
export const EVENT_CONSUMER = { SESSION_STORE: 0, MARKET_DATA: 1, REPORTS: 2, REPLICATION: 3, FIRST_GATEWAY: 4 } as const;
export const MAX_GATEWAYS = 11 - EVENT_CONSUMER.FIRST_GATEWAY;

export class EventFeed {
  private readonly ring: BroadcastRing;
  private readonly reader: BroadcastReader;
  laps = 0;
  private readonly picked: number[] = [];

  constructor(eventsSab: SharedArrayBuffer, consumer: number) {
    this.ring = new BroadcastRing(eventsSab);
    this.reader = this.ring.reader(consumer);
  }

  /**
   * Hands every exec / cancelReject event released since the last call to `onMessage` (only those
   * of accounts `wants` accepts), at most `maxFrames` frames; `onLapped` when events were lost.
   * Only the wanted records become objects: the rest of a frame (book events, balances) is
   * skipped by its record length. Returns frames read.
   */
  poll(onMessage: (e: DecodedEvent) => void, onLapped: () => void, maxFrames = 256, wants: (accountId: number) => boolean = () => true): number {
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
      this.picked.length = 0;
      const base = o + OUTPUT_HEADER_FLOATS;
      for (let i = 0; i < floats; ) {
        const type = f[base + i]!;
        const len = EVENT_LENGTH[type];
        if (len === undefined) break; // torn: intact() below says so
        if ((type === Ev.EXEC && wants(f[base + i + EXEC_ACCOUNT]!)) || (type === Ev.CANCEL_REJECT && wants(f[base + i + CANCEL_REJECT_ACCOUNT]!))) this.picked.push(i);
        i += len;
      }
      let events: DecodedEvent[] | null = null;
      let torn = false;
      try {
        if (this.picked.length > 0) events = this.decodePicked(at, base, floats);
      } catch {
        torn = true; // string lengths read from a frame being overwritten
      }
      if (torn || !r.intact()) {
        this.laps++;
        r.resync();
        onLapped();
        continue;
      }
      r.advance();
      n++;
      if (events !== null) for (const e of events) onMessage(e);
    }
    return n;
  }

  /** the picked records of the frame at `at` as objects (strings from the frame's table) */
  private decodePicked(at: number, base: number, floats: number): DecodedEvent[] {
    const f = this.ring.v.f64;
    const strings = frameStrings(this.ring.v, at, floats, f[(at >> 3) + 4]!);
    const out: DecodedEvent[] = [];
    for (const i of this.picked) {
      const type = f[base + i]!;
      const fields = EVENT_FIELDS[type]!;
      const e = { event: EVENT_NAMES[type]!, seq: f[base + i + 1]!, tsUs: f[base + i + 2]! } as DecodedEvent;
      for (let k = 0; k < fields.length; k++) {
        const name = fields[k]!;
        const x = f[base + i + 3 + k]!;
        if (name.endsWith('Str')) e[name.slice(0, -3)] = x < 0 ? null : (strings[x] ?? null);
        else e[name] = x;
      }
      out.push(e);
    }
    return out;
  }

  waitAsync(timeoutMs: number): Promise<boolean> {
    return this.reader.waitForFrameAsync(timeoutMs);
  }
}
