/**
 * Worker entry of the snapshot thread: a replica engine built by replaying the durable journal
 * (DESIGN.md: "a forked state built by a replayer"), so a snapshot never pauses matching. On each
 * request it replays the records it has not seen up to the requested seq, writes `snap-<seq>.snap`
 * (seq, state hash, CRC) atomically, and keeps the newest few.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, type EngineOptions } from '../engine/engine.js';
import { recoverJournal } from '../journal/journal.js';
import { listSnapshots, newestSnapshot, snapshotSeqOf, writeSnapshotFile } from '../journal/snapshotFile.js';
import { archiveCoveredSegments } from '../journal/archive.js';
import { tuneV8ForEngine } from '../platform/v8.js';
import { decodeCommand } from './codec.js';
import { restoreNewestSnapshot } from './recovery.js';
import { SequencerControl } from './control.js';

export interface SnapshotThreadData {
  dataDir: string;
  engine: EngineOptions;
  keepSnapshots: number;
  archiveSegments: boolean;
  controlSab: SharedArrayBuffer;
}

tuneV8ForEngine();
const data = workerData as SnapshotThreadData;
const control = new SequencerControl(data.controlSab);
let replica: Engine | null = null;

function advanceTo(seq: number): Engine {
  if (replica === null) {
    replica = restoreNewestSnapshot(data.dataDir, seq, data.engine, () => {})?.engine ?? new Engine(data.engine);
  }
  const e = replica;
  if (e.lastSeq >= seq) return e;
  recoverJournal(
    data.dataDir,
    false,
    (s, tsUs, type, bytes, from, to) => {
      if (s <= e.lastSeq || s > seq) return;
      const cmd = decodeCommand(type, s, tsUs, bytes, from, to);
      if (cmd === null) throw new Error(`journal record seq ${s} does not decode`);
      e.apply(cmd);
      e.events.clear();
    },
    { afterSeq: e.lastSeq },
  );
  if (e.lastSeq !== seq) throw new Error(`snapshot replica reached seq ${e.lastSeq}, wanted ${seq}`);
  return e;
}

/**
 * Start-up check: restore the snapshot the sequencer started from and compare its state hash with
 * the recorded one (the sequencer skipped this to serve sooner). The replica is then warm.
 */
function verifyStartSnapshot(seq: number): { ok: boolean; detail: string } {
  const snap = newestSnapshot(data.dataDir, seq);
  if (snap === null || snap.seq !== seq) return { ok: false, detail: `snapshot at seq ${seq} not found` };
  const e = Engine.restore(snap.body, data.engine);
  const hash = e.stateHash();
  if (hash !== snap.stateHash) return { ok: false, detail: `${snap.path}: restored state hash ${hash} differs from the recorded ${snap.stateHash}` };
  replica = e;
  return { ok: true, detail: `${snap.path}: restored state hash matches` };
}

parentPort!.on('message', (msg: { id: number; seq: number; verify?: boolean }) => {
  if (msg.verify === true) {
    try {
      parentPort!.postMessage({ id: msg.id, verify: verifyStartSnapshot(msg.seq) });
    } catch (err) {
      parentPort!.postMessage({ id: msg.id, verify: { ok: false, detail: String(err instanceof Error ? err.message : err) } });
    }
    return;
  }
  try {
    const t0 = performance.now();
    const e = advanceTo(msg.seq);
    const t1 = performance.now();
    const path = writeSnapshotFile(data.dataDir, msg.seq, e.stateHash(), e.snapshot());
    control.snapshotSeq = msg.seq;
    const kept = listSnapshots(data.dataDir);
    for (const name of kept.splice(data.keepSnapshots)) rmSync(join(data.dataDir, name), { force: true });
    // what every kept snapshot covers is history: archived, still read by recovery and replay
    const archived = data.archiveSegments ? archiveCoveredSegments(data.dataDir, snapshotSeqOf(kept[kept.length - 1]!)) : [];
    parentPort!.postMessage({ id: msg.id, seq: msg.seq, path, replayMs: t1 - t0, writeMs: performance.now() - t1, archived });
  } catch (err) {
    replica = null; // rebuilt from disk next time
    parentPort!.postMessage({ id: msg.id, error: String(err instanceof Error ? err.message : err) });
  }
});
