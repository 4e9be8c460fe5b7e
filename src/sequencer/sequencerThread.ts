/**
 * Worker entry of the sequencer thread: take the newest snapshot the host read, recover the engine
 * (snapshot + journal tail), tell the host where the journal ends, wait for the journal thread,
 * then run the sequencer until stopped.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { PrebuiltClOrdTable } from '../engine/clOrdIndex.js';
import type { EngineOptions } from '../engine/engine.js';
import type { SnapshotFile } from '../journal/snapshotFile.js';
import { tuneV8ForEngine } from '../platform/v8.js';
import { BroadcastRing } from '../ring/broadcastRing.js';
import { InboundRing } from '../ring/inboundRing.js';
import { SequencerControl } from './control.js';
import { recoverEngine } from './recovery.js';
import { Sequencer } from './sequencer.js';
import { decodeEvents, type DecodedEvent, type EventLog } from '../engine/events.js';

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
  /** collect the account messages of replayed records after this seq (-1: none), for the session store */
  recoverMessagesAfterSeq: number;
}

/** at most this many recovered account messages go back to the host (the rest: a GapFill for the sessions) */
const MAX_RECOVERED_MESSAGES = 1_000_000;

tuneV8ForEngine();
const data = workerData as SequencerThreadData;
const port = parentPort!;
const control = new SequencerControl(data.controlSab);
/** The host reads the newest snapshot (into shared memory) while this thread boots. */
export interface SnapshotOffer {
  type: 'snapshot';
  snapshot: SnapshotFile | null;
  logs: string[];
}
/** Then it builds that snapshot's clOrdId index while this thread restores the rest (null: it could not). */
export interface ClOrdTableOffer {
  type: 'clOrdTable';
  prebuilt: PrebuiltClOrdTable | null;
}
const idle = new Int32Array(new SharedArrayBuffer(4));
/** The host's next message of `type`, read synchronously (this thread blocks until it comes), or null after `timeoutMs`. */
function receive<T extends { type: string }>(type: T['type'], timeoutMs = Infinity): T | null {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const m = receiveMessageOnPort(port)?.message as T | undefined;
    if (m?.type === type) return m;
    if (m === undefined) {
      if (control.stopRequested) process.exit(0); // stopped during start-up
      if (performance.now() > until) return null;
      Atomics.wait(idle, 0, 0, 1);
    }
  }
}
let offer: SnapshotOffer | null = receive<SnapshotOffer>('snapshot')!;
const logs: string[] = [...offer.logs];
const messages: DecodedEvent[] = [];
const collectAfter = data.recoverMessagesAfterSeq;
const onEvents = (log: EventLog, seq: number) => {
  if (seq <= collectAfter || messages.length >= MAX_RECOVERED_MESSAGES) return;
  for (const e of decodeEvents(log)) if ((e.event === 'exec' || e.event === 'cancelReject') && (e.msgSeq as number) > 0) messages.push(e);
};
// the restored state's hash is checked by the snapshot thread in the background (host.ts)
const r = recoverEngine(data.dataDir, data.engine, (line) => logs.push(line), {
  checkSnapshotHash: false,
  newestSnapshot: offer.snapshot,
  // the host sends it right after the snapshot; past the bound this thread builds the index itself
  prebuiltClOrdTable: () => receive<ClOrdTableOffer>('clOrdTable', 30_000)?.prebuilt ?? null,
  onEvents: collectAfter >= 0 ? onEvents : undefined,
});
offer = null; // the file's bytes (~150 MiB at a 1M-order window): this thread runs on for good
// a clOrdId table restore did not take (it fell back to an older snapshot) would stay queued, and
// this thread never returns to its event loop: read it off the port now
while (receiveMessageOnPort(port) !== undefined);
port.postMessage({
  type: 'recovered',
  lastSeq: r.journal.lastSeq,
  snapshotSeq: r.snapshotSeq,
  replayed: r.replayed,
  ms: r.ms,
  journal: r.journal,
  logs,
  messages,
  // the session store's files may lack an account's messages (removed, rotated out, or before a
  // snapshot that recovery did not replay): it still must know where each account's numbering stands
  msgSeqs: r.engine.accounts.map((a) => a.msgSeq),
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
