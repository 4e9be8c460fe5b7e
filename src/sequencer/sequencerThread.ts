/**
 * Worker entry of the sequencer thread: take the newest snapshot the host read, recover the engine
 * (snapshot + journal tail), tell the host where the journal ends, wait for the journal thread,
 * then run the sequencer until stopped.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { EngineOptions } from '../engine/engine.js';
import type { SnapshotFile } from '../journal/snapshotFile.js';
import { tuneV8ForEngine } from '../platform/v8.js';
import { BroadcastRing } from '../ring/broadcastRing.js';
import { InboundRing } from '../ring/inboundRing.js';
import { SequencerControl } from './control.js';
import { recoverEngine } from './recovery.js';
import { Sequencer } from './sequencer.js';

export interface SequencerThreadData {
  dataDir: string;
  engine: EngineOptions;
  maxBatch: number;
  hashOnStop: boolean;
  controlSab: SharedArrayBuffer;
  inboundSab: SharedArrayBuffer;
  journalSab: SharedArrayBuffer;
  eventsSab: SharedArrayBuffer;
  outboundSabs: SharedArrayBuffer[];
}

tuneV8ForEngine();
const data = workerData as SequencerThreadData;
const port = parentPort!;
const control = new SequencerControl(data.controlSab);
/** The host reads the newest snapshot while this thread boots and moves its bytes here. */
export interface SnapshotOffer {
  type: 'snapshot';
  snapshot: SnapshotFile | null;
  logs: string[];
}
let offer: SnapshotOffer | null = await new Promise<SnapshotOffer>((resolve) => {
  const onMessage = (m: SnapshotOffer) => {
    if (m.type !== 'snapshot') return;
    port.off('message', onMessage);
    resolve(m);
  };
  port.on('message', onMessage);
});
const logs: string[] = [...offer.logs];
// the restored state's hash is checked by the snapshot thread in the background (host.ts)
const r = recoverEngine(data.dataDir, data.engine, (line) => logs.push(line), { checkSnapshotHash: false, newestSnapshot: offer.snapshot });
offer = null; // the file's bytes (~150 MiB at a 1M-order window): this thread runs on for good
port.postMessage({
  type: 'recovered',
  lastSeq: r.journal.lastSeq,
  snapshotSeq: r.snapshotSeq,
  replayed: r.replayed,
  ms: r.ms,
  journal: r.journal,
  logs,
});
while (!control.waitJournalReady(1000)) if (control.stopRequested) process.exit(0);
const sequencer = new Sequencer(
  r.engine,
  {
    inbound: new InboundRing(data.inboundSab),
    journal: new InboundRing(data.journalSab),
    events: new BroadcastRing(data.eventsSab),
    outbound: data.outboundSabs.map((s) => new BroadcastRing(s)),
  },
  control,
  { maxBatch: data.maxBatch },
);
port.postMessage({ type: 'running' });
sequencer.run();
control.setSequencerDone();
port.postMessage({ type: 'stopped', lastSeq: sequencer.seq, stateHash: data.hashOnStop ? r.engine.stateHash() : null });
