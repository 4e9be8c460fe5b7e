/**
 * A consumer of the event ring that picks out the account-addressed messages (execution reports
 * and cancel rejects, each with its account's gap-free msgSeq). Gateway threads use it to push
 * reports to live sessions; the main thread's session store uses it to keep them for resends.
 * A consumer that falls a whole ring behind is lapped (the sequencer never waits for it): it is
 * told so and must resync its sessions from the store.
 */
import type { DecodedEvent } from '../engine/events.js';
import { BroadcastRing, type BroadcastReader, EMPTY, LAPPED } from '../ring/broadcastRing.js';
import { decodeOutput } from '../sequencer/outputCodec.js';

/** Event ring consumer slots (BroadcastRing has 11). */
export const EVENT_CONSUMER = { SESSION_STORE: 0, MARKET_DATA: 1, REPORTS: 2, REPLICATION: 3, FIRST_GATEWAY: 4 } as const;
export const MAX_GATEWAYS = 11 - EVENT_CONSUMER.FIRST_GATEWAY;

export class EventFeed {
  private readonly ring: BroadcastRing;
  private readonly reader: BroadcastReader;
  laps = 0;

  constructor(eventsSab: SharedArrayBuffer, consumer: number) {
    this.ring = new BroadcastRing(eventsSab);
    this.reader = this.ring.reader(consumer);
  }

  /**
   * Hands every exec / cancelReject event released since the last call to `onMessage`, at most
   * `maxFrames` frames; `onLapped` when events were lost. Returns frames read.
   */
  poll(onMessage: (e: DecodedEvent) => void, onLapped: () => void, maxFrames = 256): number {
    const r = this.reader;
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
      const out = decodeOutput(this.ring.v, at, r.payloadBytes);
      if (!r.intact()) {
        this.laps++;
        r.resync();
        onLapped();
        continue;
      }
      r.advance();
      n++;
      for (const e of out.events) if (e.event === 'exec' || e.event === 'cancelReject') onMessage(e);
    }
    return n;
  }

  waitAsync(timeoutMs: number): Promise<boolean> {
    return this.reader.waitForFrameAsync(timeoutMs);
  }
}
