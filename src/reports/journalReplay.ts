/**
 * The journal as the source of the report database: `catchUpFromJournal` brings a writer that
 * crashed or fell behind the event ring up to the journal's end (DESIGN rule 6 lets the exchange
 * drop a slow consumer, the journal lets it come back). The replay itself (snapshot + journal,
 * read-only) is the sequencer's `replayJournal`.
 */
import { JournalGapError, replayJournal, type JournalReplay, type JournalReplayOptions } from '../sequencer/recovery.js';
import type { ReportWriter } from './writer.js';

/**
 * Brings `writer` up to the end of the journal (or `toSeq`): the engine from the newest snapshot
 * at or before the writer's lastSeq, then the events of every command after it. Flushes at the end.
 */
export function catchUpFromJournal(
  dataDir: string,
  writer: ReportWriter,
  o: Omit<JournalReplayOptions, 'snapshotAtOrBefore' | 'onEvents'> = {},
): JournalReplay & { fromSeq: number } {
  const fromSeq = writer.lastSeq;
  const r = replayJournal(dataDir, {
    ...o,
    snapshotAtOrBefore: fromSeq,
    onEvents: (seq, events) => {
      if (seq > fromSeq) writer.applyLog(events, seq);
    },
  });
  if (r.undecodable > 0) throw new JournalGapError(`${r.undecodable} journal records do not decode: the reports would miss them`);
  writer.flush();
  return { ...r, fromSeq };
}
