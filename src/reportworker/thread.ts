/**
 * The report worker thread: follows the event ring (its own consumer slot: it never slows the
 * sequencer) and writes the report database (src/reports: orders, fills, trades, the balance
 * ledger) in batched transactions. The database is derived data: at start-up, and after falling a
 * whole event ring behind, it catches up from the journal (snapshot + replay) from the last seq it
 * recorded, so a crash of the process or of this thread loses nothing.
 *
 * It tells readers how far the database goes (`progress`: the last seq written, in shared memory),
 * so a query can wait until it includes what the client was already answered (read your writes).
 */
import { readlinkSync, rmSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { EVENT_CONSUMER } from '../gateway/eventFeed.js';
import { catchUpFromJournal } from '../reports/journalReplay.js';
import { SchemaVersionError } from '../reports/schema.js';
import { ReportWriter } from '../reports/writer.js';
import { SequencerControl } from '../sequencer/control.js';
import { EventFrames, type RecordFrame } from '../sequencer/eventFrames.js';

export interface ReportWorkerData {
  dataDir: string;
  reportsPath: string;
  eventsSab: SharedArrayBuffer;
  /**
   * the sequencer's recovered seq: the event ring starts after it (a first start); null: a restart
   * (src/server/supervisor.ts) while the exchange runs: the thread reads the event ring from its
   * current position and catches up from the journal to the durable seq it reads after that
   */
  fromSeq: number | null;
  /** BigInt64Array[1]: the last seq written to the database */
  progressSab: SharedArrayBuffer;
  /** the sequencer's counters (the released seq: commands without events have no frame) */
  controlSab: SharedArrayBuffer;
}

export type FromReportWorker = { type: 'ready'; seq: number; caughtUp: number; ms: number } | { type: 'log'; line: string } | { type: 'failed'; message: string };

/** how long written rows may wait in the batch when the writer has read the ring to its end */
const FLUSH_MS = 20;
/**
 * ... and while it is still behind: a commit costs about a page per account touched, so small
 * batches cost throughput when it has a backlog to work off (report-bench --flush-ms 20: -10%);
 * queries wait for it anyway (up to 2 s)
 */
const FLUSH_BEHIND_MS = 250;
/** frames read in one poll */
const POLL_FRAMES = 1024;

const data = workerData as ReportWorkerData;
const parent = parentPort!;
const log = (line: string) => parent.postMessage({ type: 'log', line } satisfies FromReportWorker);
const progress = new BigInt64Array(data.progressSab);
// a first start reads the ring from its first frame (it begins after the recovered seq); a restart
// from where the ring is now: every frame before it is durable, so the catch-up covers it
const frames = new EventFrames(data.eventsSab, EVENT_CONSUMER.REPORTS, data.fromSeq !== null);
const control = new SequencerControl(data.controlSab);
/** how far the journal catch-up goes: read after the ring position above */
const fromSeq = data.fromSeq ?? control.durableSeq;
let writer: ReportWriter;
let running = true;
let lapped = false;
/** the writer holds the first parts of a command whose next part is still to come (an event frame with `more`) */
let partial = false;
let lastFlushMs = performance.now();

function published(): void {
  Atomics.store(progress, 0, BigInt(writer.flushedSeq));
  Atomics.notify(new Int32Array(data.progressSab), 0);
}

function flush(): void {
  writer.flush();
  lastFlushMs = performance.now();
  published();
}

/** the database up to `toSeq` from the journal (start-up, or frames lost to a lap) */
function catchUp(toSeq: number): number {
  const from = writer.lastSeq;
  if (toSeq <= from) return 0;
  flush();
  const r = catchUpFromJournal(data.dataDir, writer, { toSeq, log });
  published();
  return r.applied;
}

function onFrame(f: RecordFrame): void {
  if (lapped) {
    lapped = false;
    if (partial) {
      // the rest of the command being read went with the lap: drop what the writer holds since
      // its last commit (never written half); the journal has all of it
      writer.closeWithoutFlush();
      writer = new ReportWriter(data.reportsPath);
      partial = false;
    }
    // the frame after a lap may be a later part of a command: the whole of it comes from the journal
    log(`reports: fell a whole event ring behind; catching up from the journal to seq ${f.seq}`);
    catchUp(f.seq);
  }
  if (f.seq <= writer.lastSeq) return; // written already (the catch-up read it from the journal)
  // the records themselves, as the ring carries them: no object per event
  writer.applyRecords(f.log.buf, 0, f.log.len, f.log.strings, f.seq, f.more);
  partial = f.more;
}

/**
 * History may lag; orders may not: this thread runs at a lower scheduling priority (nice 10), so on
 * a busy machine the sequencer and the gateways get the CPU first (Linux: a thread's own id).
 */
function lowerPriority(): void {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
  } catch {
    // not Linux, or not allowed: the default priority
  }
}

async function main(): Promise<void> {
  lowerPriority();
  const t0 = performance.now();
  const startOver = () => {
    for (const f of [data.reportsPath, `${data.reportsPath}-wal`, `${data.reportsPath}-shm`]) rmSync(f, { force: true });
    writer = new ReportWriter(data.reportsPath);
  };
  try {
    writer = new ReportWriter(data.reportsPath);
  } catch (e) {
    // a report database of another build (an upgrade): derived data, rebuilt from the journal rather
    // than failing at every restart; a file that is not a report database at all is left alone
    if (!(e instanceof SchemaVersionError) || e.foundVersion <= 0) throw e;
    log(`reports: ${e.message}; rebuilding it from the journal`);
    startOver();
  }
  if (writer.lastSeq > fromSeq) {
    // rows for commands the journal does not have (a journal replaced under it): start over
    log(`reports: the database (seq ${writer.lastSeq}) is ahead of the journal (seq ${fromSeq}); rebuilding it`);
    writer.closeWithoutFlush();
    startOver();
  }
  const caughtUp = catchUp(fromSeq);
  published();
  parent.postMessage({ type: 'ready', seq: writer.lastSeq, caughtUp, ms: Math.round(performance.now() - t0) } satisfies FromReportWorker);
  while (running) {
    // read before the ring: the frames of every command up to it were published before it was
    const released = control.releasedSeq;
    const n = frames.pollRecords(onFrame, () => (lapped = true), POLL_FRAMES);
    // a command with no events (a clock tick that changed nothing) has no frame: once the ring is
    // read to its end, the database holds every released command, and says so (a query waits for it)
    if (n === 0 && !lapped && !partial && released > writer.lastSeq) writer.apply([], released);
    // one transaction at most every FLUSH_MS (committing whenever the ring was momentarily empty
    // made ~1,000 commits a second at 1,000 orders/s: 20% of a core and a p99 of 100 ms on the
    // order path); never inside a command (the writer refuses): not while its parts are still coming
    const sinceFlushMs = performance.now() - lastFlushMs;
    if (!partial && sinceFlushMs >= (n < POLL_FRAMES ? FLUSH_MS : FLUSH_BEHIND_MS)) flush();
    if (n > 0) await new Promise((r) => setImmediate(r));
    else await frames.waitAsync(FLUSH_MS);
  }
  // what the ring still holds (the sequencer has stopped): written before closing
  while (frames.pollRecords(onFrame, () => (lapped = true), POLL_FRAMES) > 0);
  // a command cut short (its last parts never came) is left to the catch-up at the next start
  if (partial) writer.closeWithoutFlush();
  else writer.close();
  published();
  parent.close();
}

parent.on('message', (m: { type: 'stop' | 'testCrash' }) => {
  if (m.type === 'stop') running = false;
  // tests only (RunningExchange.testHooks): an uncaught error in this thread, as a bug would throw
  else if (m.type === 'testCrash') throw new Error('reports: crash requested by a test');
});

main().catch((e: unknown) => {
  parent.postMessage({ type: 'failed', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromReportWorker);
  // and end with an error: nothing here answers a stop any more; the host restarts the thread
  // (src/server/supervisor.ts), which catches up from what the database committed
  process.exit(1);
});
