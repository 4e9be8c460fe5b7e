/**
 * The journal thread's loop: drains stamped records from the journal ring, appends them as one
 * group, writes and (in `fsync` mode) fdatasyncs, then publishes the durable seq and wakes the
 * sequencer. While it syncs, the sequencer keeps matching and filling the ring: the next group is
 * whatever arrived meanwhile, so the group size adapts to the load.
 *
 * Durability (DESIGN.md rule 1): `fsync` releases after fdatasync; `batch` releases after the write
 * (in the page cache: survives a process crash) and fdatasyncs every `syncIntervalMs` (a machine
 * crash can lose that window); `none` never syncs (tests and benchmarks only).
 */
import type { JournalWriter } from '../journal/journal.js';
import type { InboundRing } from '../ring/inboundRing.js';
import type { SequencerControl } from './control.js';
import { JOURNAL_HEADER_BYTES } from './sequencer.js';
import { RECORD_HEADER_BYTES } from '../journal/record.js';

const MAX_GROUP = 65_536;

export class JournalStage {
  private groupBytes = 0;
  private readonly onFrame: (type: number, at: number, bytes: number) => void;
  private lastSyncMs = performance.now();
  private unsynced = false;

  constructor(
    private readonly writer: JournalWriter,
    private readonly ring: InboundRing,
    private readonly control: SequencerControl,
    private readonly sequencerRing: InboundRing,
    private readonly syncIntervalMs = 10,
  ) {
    this.onFrame = (type, at, bytes) => {
      const v = this.ring.v;
      this.writer.appendFrom(v.f64[at >> 3]!, v.f64[(at >> 3) + 1]!, type, v.bytes, at + JOURNAL_HEADER_BYTES, at + bytes);
      this.groupBytes += RECORD_HEADER_BYTES + bytes - JOURNAL_HEADER_BYTES;
    };
  }

  /** One group commit; returns the records it covered (0 if the ring was empty). */
  commitGroup(): number {
    this.groupBytes = 0;
    const n = this.ring.drain(MAX_GROUP, this.onFrame);
    const mode = this.writer.durability;
    if (n > 0) {
      const t0 = performance.now();
      let durable: number;
      if (mode === 'fsync') durable = this.writer.commit();
      else {
        durable = this.writer.write();
        this.unsynced = mode === 'batch';
      }
      this.control.recordFsync(Math.round((performance.now() - t0) * 1000), this.groupBytes);
      this.publish(durable);
    }
    if (this.unsynced && performance.now() - this.lastSyncMs >= this.syncIntervalMs) {
      this.writer.sync();
      this.unsynced = false;
      this.lastSyncMs = performance.now();
    }
    return n;
  }

  private publish(durable: number): void {
    this.control.setDurable(durable);
    this.sequencerRing.wake();
  }

  /** Runs until a stop is requested and the ring is empty; closes the journal synced. */
  run(): void {
    for (;;) {
      if (this.commitGroup() > 0) continue;
      if (this.control.stopRequested && this.control.sequencerDone && !this.ring.hasFrame()) break;
      this.ring.waitForFrame(this.unsynced ? this.syncIntervalMs : 50);
    }
    this.writer.close();
    this.publish(this.writer.lastSeq);
  }
}
