/**
 * Worker entry of the journal thread: started beside the sequencer thread (its start-up overlaps
 * recovery), it waits for the recovery result, opens the journal where recovery left it and runs
 * the stage.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { JournalWriter, type Durability, type Recovery } from '../journal/journal.js';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { PREPARED_NAME } from '../journal/preallocate.js';
import { InboundRing } from '../ring/inboundRing.js';
import { SequencerControl } from './control.js';
import { JournalStage } from './journalStage.js';

export interface JournalThreadData {
  dataDir: string;
  durability: Durability;
  segmentBytes: number | undefined;
  syncIntervalMs: number;
  controlSab: SharedArrayBuffer;
  journalSab: SharedArrayBuffer;
  inboundSab: SharedArrayBuffer;
}

/** The message the host posts once the sequencer thread has recovered. */
export interface JournalStart {
  recovered: Recovery;
}

const data = workerData as JournalThreadData;
const control = new SequencerControl(data.controlSab);
parentPort!.once('message', (m: JournalStart) => run(m.recovered));

function run(recovered: Recovery): void {
  let freshJournal = recovered.segments.length === 0;
  try {
    const writer = new JournalWriter({
      dir: data.dataDir,
      durability: data.durability,
      segmentBytes: data.segmentBytes,
      recovered,
      takePreparedSegment: () => {
        // at start-up, wait for the first one (a fresh journal); later never wait: an empty file will do
        if (!control.preparedReady && freshJournal) control.waitPreparedReady(5_000);
        freshJournal = false;
        if (!control.preparedReady) return null;
        // move it out of the preparer's way before asking for the next one: the preparer skips its
        // work when PREPARED_NAME exists, and would report a file that is about to be renamed away
        const taken = join(data.dataDir, `${PREPARED_NAME}.taken`);
        renameSync(join(data.dataDir, PREPARED_NAME), taken);
        control.setPreparedReady(false);
        control.requestPrepare();
        return taken;
      },
    });

    const stage = new JournalStage(writer, new InboundRing(data.journalSab), control, new InboundRing(data.inboundSab), data.syncIntervalMs);
    control.setDurable(writer.lastSeq);
    control.setJournalReady();
    stage.run();
    parentPort!.postMessage({ type: 'closed', lastSeq: writer.lastSeq });
  } catch (e) {
    // nothing after the failure is released: the sequencer sees this flag and stops
    control.setJournalFailed();
    throw e;
  }
}
