/**
 * Worker entry of the segment preparer: keeps one preallocated segment ready for the journal
 * thread's next rotation (src/journal/preallocate.ts says why), so the journal thread never
 * writes 64 MB of zeros itself.
 */
import { workerData } from 'node:worker_threads';
import { prepareSegment, removeStalePreparation } from '../journal/preallocate.js';
import { SequencerControl } from './control.js';

export interface PreparerThreadData {
  dataDir: string;
  segmentBytes: number;
  controlSab: SharedArrayBuffer;
}

const data = workerData as PreparerThreadData;
const control = new SequencerControl(data.controlSab);
removeStalePreparation(data.dataDir);
let served = 0;
while (!control.stopRequested) {
  if (!control.preparedReady) {
    prepareSegment(data.dataDir, data.segmentBytes);
    control.setPreparedReady(true);
  }
  served = control.waitPrepareRequest(served, 500);
}
