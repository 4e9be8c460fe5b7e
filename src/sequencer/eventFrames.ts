/**
 * A consumer of the event ring that wants every event of every command: the market-data and report
 * workers. (Gateways and the session store want only account messages: gateway/eventFeed.ts picks
 * those without decoding the rest.) Frames are read in journal order and are durable already; a
 * consumer that falls a whole ring behind is lapped (the sequencer never waits for it) and is told
 * so, with the seq it had reached, to rebuild what it derives.
 */
import { BroadcastRing, type BroadcastReader, EMPTY, LAPPED } from '../ring/broadcastRing.js';
import { EventLog } from '../engine/events.js';
import { copyOutput } from './outputCodec.js';

export interface RecordFrame {
  seq: number;
  tsUs: number;
  more: boolean;
  /** the frame's event records and strings (reused: read them during the call) */
  log: EventLog;
}

export class EventFrames {
  private readonly records = new EventLog(1 << 10);
  private readonly reader: BroadcastReader;
  private readonly v: BroadcastRing['v'];
  laps = 0;
  /** seq of the last frame handed over */
  lastSeq = 0;

  /** `fromStart`: read from the ring's first frame (a consumer attached after the producer started, on a ring made for this run) */
  constructor(eventsSab: SharedArrayBuffer, consumer: number, fromStart = false) {
    const ring = new BroadcastRing(eventsSab);
    this.reader = ring.reader(consumer, fromStart ? 0 : undefined);
    this.v = ring.v;
  }

  /**
   * Hands each released frame to `onFrame` (at most `maxFrames`), its event records copied into one
   * reused EventLog (no object per event: decodeEvents(f.log) makes them, for a consumer that wants
   * them); valid during the call only. `onLapped(lastSeq)` when frames were lost after `lastSeq`
   * (the reader has skipped to the producer's position). Returns frames read.
   */
  pollRecords(onFrame: (f: RecordFrame) => void, onLapped: (lastSeq: number) => void, maxFrames = 1024): number {
    const log = this.records;
    return this.pollWith((at, bytes) => ({ ...copyOutput(this.v, at, bytes, log), log }), onFrame, onLapped, maxFrames);
  }

  private pollWith<F extends { seq: number }>(read: (at: number, bytes: number) => F, onFrame: (f: F) => void, onLapped: (lastSeq: number) => void, maxFrames: number): number {
    const r = this.reader;
    let n = 0;
    while (n < maxFrames) {
      const at = r.next();
      if (at === EMPTY) break;
      let frame: F | null = null;
      if (at !== LAPPED) {
        try {
          frame = read(at, r.payloadBytes);
        } catch {
          frame = null; // lengths read from a frame being overwritten: a lap, told below
        }
      }
      if (frame === null || !r.intact()) {
        this.laps++;
        r.resync();
        onLapped(this.lastSeq);
        continue;
      }
      r.advance();
      n++;
      this.lastSeq = frame.seq;
      onFrame(frame);
    }
    return n;
  }

  waitAsync(timeoutMs: number): Promise<boolean> {
    return this.reader.waitForFrameAsync(timeoutMs);
  }

  waitSync(timeoutMs: number): boolean {
    return this.reader.waitForFrame(timeoutMs);
  }
}
