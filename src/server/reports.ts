/**
 * The report database for a running exchange: the writer thread (src/reportworker/thread.ts) on
 * the event ring, and a piscina pool of read-only query threads the gateways' history questions
 * run on (GET /v1/execution, closed orders, trades and candles history), so a slow query never
 * blocks a gateway or the main thread. A query waits (bounded) until the database holds what the
 * asking client was already answered.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { workerUrl } from '../platform/workers.js';
import type { ReportAnswer, ReportQuery, ReportResult } from '../reportworker/queryTask.js';
import type { FromReportWorker, ReportWorkerData } from '../reportworker/thread.js';
import { DEFAULT_REPORTS_FILE } from '../reports/schema.js';
import type { SequencerHost } from '../sequencer/host.js';

/** how long a query waits for the database to reach the seq the client has seen */
const FRESH_WAIT_MS = 2_000;


export class ReportService {
  private readonly progress: BigInt64Array;
  private readonly worker: Worker;
  private readonly pool: Piscina;
  private readonly ready: Promise<boolean>;
  private readonly exited: Promise<void>;
  private failed = false;

  constructor(
    readonly path: string,
    dataDir: string,
    host: SequencerHost,
    private readonly log: (line: string) => void,
  ) {
    const progressSab = new SharedArrayBuffer(8);
    this.progress = new BigInt64Array(progressSab);
    const data: ReportWorkerData = { dataDir, reportsPath: path, eventsSab: host.events.sab, fromSeq: host.recovery.lastSeq, progressSab, controlSab: host.control.sab };
    this.worker = new Worker(workerUrl(import.meta.url, '../reportworker/thread.js'), { workerData: data, name: 'seqex-reports' });
    this.ready = new Promise((resolve) => {
      this.worker.on('message', (m: FromReportWorker) => {
        if (m.type === 'log') log(m.line);
        else if (m.type === 'ready') {
          log(`reports: ${path} ready at seq ${m.seq} in ${m.ms} ms (${m.caughtUp} records caught up from the journal)`);
          resolve(true);
        } else {
          this.failed = true;
          log(`reports: the writer failed: ${m.message}`);
          resolve(false);
        }
      });
      this.worker.on('error', (e) => {
        this.failed = true;
        log(`reports: the writer failed: ${e.stack ?? e.message}`);
        resolve(false);
      });
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.pool = new Piscina({ filename: workerUrl(import.meta.url, '../reportworker/queryTask.js').href, minThreads: 1, maxThreads: 2, idleTimeout: 30_000 });
  }

  static start(dataDir: string, host: SequencerHost, log: (line: string) => void): ReportService {
    return new ReportService(join(dataDir, DEFAULT_REPORTS_FILE), dataDir, host, log);
  }

  /** the last seq the database holds */
  get seq(): number {
    return Number(Atomics.load(this.progress, 0));
  }

  /** Runs `q` once the database holds `minSeq` (or after FRESH_WAIT_MS: the answer says how far it goes). */
  async query(q: ReportQuery, minSeq: number): Promise<ReportResult> {
    const until = performance.now() + FRESH_WAIT_MS;
    // a long catch-up at start-up: answer 503 after the same bounded wait rather than hang
    const ready = await Promise.race([this.ready, new Promise<null>((r) => setTimeout(() => r(null), FRESH_WAIT_MS).unref())]);
    if (ready === null) return { ok: false, message: 'the report database is catching up with the journal: retry shortly', unavailable: true };
    if (!ready || this.failed) return { ok: false, message: 'the report database is not available', unavailable: true };
    while (this.seq < minSeq && performance.now() < until) await new Promise((r) => setTimeout(r, 2));
    const seq = this.seq;
    try {
      const a = (await this.pool.run({ path: this.path, q })) as ReportAnswer;
      return { ...a, seq };
    } catch (e) {
      // the database failed (not the request: a bad request is a QueryError answer): a 503, never a 400
      this.log(`reports: a query failed: ${e instanceof Error ? e.message : String(e)}`);
      return { ok: false, message: 'the report database is not available', unavailable: true };
    }
  }

  async stop(): Promise<void> {
    this.worker.postMessage({ type: 'stop' });
    const t = setTimeout(() => void this.worker.terminate(), 30_000);
    await this.exited;
    clearTimeout(t);
    await this.pool.destroy();
  }
}
