/**
 * Start-up recovery (DESIGN.md, Journal): the newest valid snapshot, then the journal after it.
 * Only the segments holding records after the snapshot are read; a torn tail is cut (it was never
 * acknowledged); damage anywhere else throws JournalCorruptError naming the file and offset.
 */
import type { PrebuiltClOrdTable } from '../engine/clOrdIndex.js';
import { Engine, type EngineOptions } from '../engine/engine.js';
import { recoverJournal, type Recovery } from '../journal/journal.js';
import { newestSnapshot, type SnapshotFile } from '../journal/snapshotFile.js';
import { decodeCommand } from './codec.js';
import type { EventLog } from '../engine/events.js';

export interface Recovered {
  engine: Engine;
  /** seq of the snapshot started from (0: none) */
  snapshotSeq: number;
  journal: Recovery;
  /** journal records applied after the snapshot */
  replayed: number;
  ms: number;
}

export class RecoveryError extends Error {}

export interface RecoverOptions {
  /**
   * Recompute the restored state's hash and compare it with the snapshot's (default). The file's
   * CRC already covers its bytes; this proves restore itself. The sequencer skips it to start
   * sooner and has the snapshot thread check the same snapshot in the background.
   */
  checkSnapshotHash?: boolean;
  /**
   * The newest usable snapshot, already read and checked (the host reads it while the sequencer
   * thread boots); null: there is none. Undefined: recovery looks for it itself.
   */
  newestSnapshot?: SnapshotFile | null;
  /** the clOrdId index of `newestSnapshot`, built on another thread (waits for it; null: build here) */
  prebuiltClOrdTable?: () => PrebuiltClOrdTable | null;
  /** sees the events of each replayed record (the session store's crash gap is refilled from them) */
  onEvents?: (events: EventLog, seq: number) => void;
}

/**
 * The newest snapshot at or before `maxSeq` that this build can restore, restored. One it cannot
 * (an older format) is skipped for the next older, down to none: a longer replay gives the same
 * state. Damaged files are skipped by `newestSnapshot`.
 */
export function restoreNewestSnapshot(
  dataDir: string,
  maxSeq: number,
  options: EngineOptions,
  log: (line: string) => void,
  /** the newest usable snapshot at or below maxSeq, already read and checked by the caller (null: none) */
  newest?: SnapshotFile | null,
  /** the clOrdId index of `newest` built elsewhere (used for that snapshot only) */
  prebuilt?: () => PrebuiltClOrdTable | null,
): { engine: Engine; snapshot: SnapshotFile } | null {
  for (let below = maxSeq, first = true; ; first = false) {
    const offered = first && newest !== undefined;
    const snap = offered ? newest : newestSnapshot(dataDir, below, (path, why) => log(`skipping snapshot ${path}: ${why}`));
    if (snap === null) return null;
    try {
      return { engine: Engine.restore(snap.body, options, offered ? prebuilt : undefined), snapshot: snap };
    } catch (e) {
      log(`skipping snapshot ${snap.path}: ${e instanceof Error ? e.message : String(e)}`);
      below = snap.seq - 1;
    }
  }
}

export function recoverEngine(dataDir: string, options: EngineOptions, log: (line: string) => void = () => {}, how: RecoverOptions = {}): Recovered {
  const t0 = performance.now();
  const start = restoreNewestSnapshot(dataDir, Number.MAX_SAFE_INTEGER, options, log, how.newestSnapshot, how.prebuiltClOrdTable);
  const engine = start?.engine ?? new Engine(options);
  const snapshotSeq = start?.snapshot.seq ?? 0;
  if (start !== null && (how.checkSnapshotHash ?? true) && engine.stateHash() !== start.snapshot.stateHash)
    throw new RecoveryError(`snapshot ${start.snapshot.path}: restored state hash differs from the recorded one`);
  let replayed = 0;
  const journal = recoverJournal(
    dataDir,
    true,
    (seq, tsUs, type, bytes, from, to) => {
      if (seq <= snapshotSeq) return;
      const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
      if (cmd === null) throw new RecoveryError(`journal record seq ${seq} (type ${type}) does not decode: refusing to start`);
      engine.apply(cmd);
      how.onEvents?.(engine.events, seq);
      engine.events.clear();
      replayed++;
    },
    { afterSeq: snapshotSeq },
  );
  if (journal.firstSeq > snapshotSeq + 1)
    throw new RecoveryError(`the journal starts at seq ${journal.firstSeq} but the state (snapshot ${snapshotSeq}) needs seq ${snapshotSeq + 1}: segments are missing`);
  if (journal.lastSeq > snapshotSeq && engine.lastSeq !== journal.lastSeq)
    throw new RecoveryError(`replay stopped at seq ${engine.lastSeq}, the journal ends at ${journal.lastSeq}: refusing to start`);
  if (journal.lastSeq < snapshotSeq)
    throw new RecoveryError(`snapshot at seq ${snapshotSeq} is ahead of the journal (last seq ${journal.lastSeq}): journal segments are missing`);
  if (journal.tornBytes > 0) log(`journal: cut a torn tail of ${journal.tornBytes} bytes (never acknowledged)`);
  return { engine, snapshotSeq, journal, replayed, ms: performance.now() - t0 };
}

/*
 * Read-only replay (the running sequencer owns the journal: a torn tail is reported, never cut),
 * for what is derived from the journal while the exchange runs or after: the report database's
 * catch-up and rebuild, `seqex audit`, the market-data worker's seed.
 */

export class JournalGapError extends Error {}

export interface JournalReplayOptions {
  /** start from the newest snapshot at or before this seq (0 or absent: from seq 1, no snapshot) */
  snapshotAtOrBefore?: number;
  /** stop applying after this seq (the rest of the journal is still read and checked) */
  toSeq?: number;
  engine?: EngineOptions;
  /** the engine as restored (from the snapshot, or empty), before the first command is applied */
  onStart?: (engine: Engine, snapshotSeq: number) => void;
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
  o.onStart?.(engine, snapshotSeq);
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
