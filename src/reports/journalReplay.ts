/**
 * The journal as the source of the report database: an engine rebuilt from it (from a snapshot at
 * or before a seq, or from seq 1) and the events of each command after a given seq. Used by
 * catch-up (a report writer that crashed or fell behind the event ring: DESIGN rule 6 lets the
 * exchange drop a slow consumer, the journal lets it come back), by `seqex replay
 * --rebuild-reports`, and by `seqex audit` (the engine state the ledger is compared with).
 *
 * Reads only: a torn tail is reported, never cut (the running sequencer owns the journal).
 */
import { Engine, type EngineOptions } from '../engine/engine.js';
import type { EventLog } from '../engine/events.js';
import { recoverJournal, type Recovery } from '../journal/journal.js';
import { decodeCommand } from '../sequencer/codec.js';
import { restoreNewestSnapshot } from '../sequencer/recovery.js';
import type { ReportWriter } from './writer.js';

export class JournalGapError extends Error {}

export interface JournalReplayOptions {
  /** start from the newest snapshot at or before this seq (0 or absent: from seq 1, no snapshot) */
  snapshotAtOrBefore?: number;
  /** stop applying after this seq (the rest of the journal is still read and checked) */
  toSeq?: number;
  engine?: EngineOptions;
  /** each applied command's events (the log is cleared before the next command) */
  onEvents?: (seq: number, events: EventLog, engine: Engine) => void;
  log?: (line: string) => void;
}

export interface JournalReplay {
  engine: Engine;
  /** the snapshot started from (0: none) */
  snapshotSeq: number;
  journal: Recovery;
  applied: number;
  /** records that did not decode (never applied: a corrupt journal) */
  undecodable: number;
}

/** Rebuilds the engine from the journal, calling `onEvents` per command. Throws JournalCorruptError / JournalGapError. */
export function replayJournal(dataDir: string, o: JournalReplayOptions = {}): JournalReplay {
  const toSeq = o.toSeq ?? Number.MAX_SAFE_INTEGER;
  const log = o.log ?? (() => {});
  const start = (o.snapshotAtOrBefore ?? 0) > 0 ? restoreNewestSnapshot(dataDir, o.snapshotAtOrBefore!, o.engine ?? {}, log) : null;
  const engine = start?.engine ?? new Engine(o.engine);
  const snapshotSeq = start?.snapshot.seq ?? 0;
  let applied = 0;
  let undecodable = 0;
  const journal = recoverJournal(
    dataDir,
    false,
    (seq, tsUs, type, bytes, from, to) => {
      if (seq <= snapshotSeq || seq > toSeq) return;
      const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
      if (cmd === null) {
        undecodable++;
        return;
      }
      engine.events.clear();
      engine.apply(cmd);
      o.onEvents?.(seq, engine.events, engine);
      applied++;
    },
    { afterSeq: snapshotSeq },
  );
  if (journal.lastSeq > snapshotSeq && journal.firstSeq > snapshotSeq + 1)
    throw new JournalGapError(`the journal starts at seq ${journal.firstSeq}, the replay needs seq ${snapshotSeq + 1} (segments missing)`);
  return { engine, snapshotSeq, journal, applied, undecodable };
}

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
