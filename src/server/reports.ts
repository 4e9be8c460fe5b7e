/**
 * The report database for a running exchange: the writer thread (src/reportworker/thread.ts) on
 * the event ring, and a piscina pool of read-only query threads the gateways' history questions
 * run on (GET /v1/execution, closed orders, trades and candles history), so a slow query never
 * blocks a gateway or the main thread. A query waits (bounded) until the database holds what the
 * asking client was already answered. The writer is supervised (src/server/supervisor.ts): one that
 * fails is restarted and catches up from the journal; meanwhile queries answer 503 (docs/reports.md).
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { workerUrl } from '../platform/workers.js';
import type { ReportAnswer, ReportQuery, ReportResult } from '../reportworker/queryTask.js';
import type { FromReportWorker, ReportWorkerData } from '../reportworker/thread.js';
import { DEFAULT_REPORTS_FILE } from '../reports/schema.js';
import type { SequencerHost } from '../sequencer/host.js';
import { type RestartPolicy, WORKER_RESTART, WorkerSupervisor } from './supervisor.js';

/** how long a query waits for the database to reach the seq the client has seen */
const FRESH_WAIT_MS = 2_000;


export class ReportService {
  private readonly progress: BigInt64Array;
  private readonly pool: Piscina;
  readonly supervisor: WorkerSupervisor;
  /** resolves true when the writer of the current generation is ready, false when it failed first */
  private ready!: Promise<boolean>;
  private settle: (ok: boolean) => void = () => {};
  /** the current writer is ready (caught up with the journal) */
  private isReady = false;

  constructor(
    readonly path: string,
    dataDir: string,
    host: SequencerHost,
    private readonly log: (line: string) => void,
    policy: RestartPolicy = WORKER_RESTART,
  ) {
    const progressSab = new SharedArrayBuffer(8);
    this.progress = new BigInt64Array(progressSab);
    this.arm();
    const spawn = (generation: number): Worker => {
      // a restart (generation > 0) follows the live ring and catches up from the journal from the
      // seq the database committed (src/reportworker/thread.ts)
      const data: ReportWorkerData = { dataDir, reportsPath: path, eventsSab: host.events.sab, fromSeq: generation === 0 ? host.recovery.lastSeq : null, progressSab, controlSab: host.control.sab };
      const w = new Worker(workerUrl(import.meta.url, '../reportworker/thread.js'), { workerData: data, name: 'seqex-reports' });
      w.on('message', (m: FromReportWorker) => {
        if (m.type === 'log') log(m.line);
        else if (m.type === 'ready') {
          log(`reports: ${path} ready at seq ${m.seq} in ${m.ms} ms (${m.caughtUp} records caught up from the journal)${generation > 0 ? ` (restart ${generation})` : ''}`);
          this.isReady = true;
          this.settle(true);
        } else this.supervisor.noteFailure(m.message.split('\n')[0]!);
      });
      return w;
    };
    this.supervisor = new WorkerSupervisor('reports', spawn, {
      log,
      failedLine: 'reports: the writer failed',
      // queries answer 503 from now until the next writer is ready
      onDown: () => {
        this.isReady = false;
        this.settle(false);
        this.arm();
      },
      onGiveUp: () => this.settle(false),
    }, policy).start();
    this.pool = new Piscina({ filename: workerUrl(import.meta.url, '../reportworker/queryTask.js').href, minThreads: 1, maxThreads: 2, idleTimeout: 30_000 });
  }

  /** a fresh `ready` for the next writer */
  private arm(): void {
    this.ready = new Promise((resolve) => (this.settle = resolve));
  }

  static start(dataDir: string, host: SequencerHost, log: (line: string) => void, policy: RestartPolicy = WORKER_RESTART): ReportService {
    return new ReportService(join(dataDir, DEFAULT_REPORTS_FILE), dataDir, host, log, policy);
  }

  /** the last seq the database holds */
  get seq(): number {
    return Number(Atomics.load(this.progress, 0));
  }

  /** Runs `q` once the database holds `minSeq` (or after FRESH_WAIT_MS: the answer says how far it goes). */
  async query(q: ReportQuery, minSeq: number): Promise<ReportResult> {
    const until = performance.now() + FRESH_WAIT_MS;
    const state = this.supervisor.state;
    if (state === 'gaveUp') return { ok: false, message: 'the report database is not available (its writer failed repeatedly)', unavailable: true };
    // the writer failed and is being restarted: answers would miss what it has not written
    if (state === 'down') return { ok: false, message: 'the report writer is restarting: retry shortly', unavailable: true };
    // a long catch-up (at start-up or after a restart): answer 503 after the same bounded wait rather than hang
    const ready = this.isReady || (await Promise.race([this.ready, new Promise<null>((r) => setTimeout(() => r(null), FRESH_WAIT_MS).unref())]));
    if (ready === null) return { ok: false, message: 'the report database is catching up with the journal: retry shortly', unavailable: true };
    if (!ready) return { ok: false, message: 'the report writer is restarting: retry shortly', unavailable: true };
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
    await this.supervisor.stop(30_000);
    await this.pool.destroy();
  }

  /** tests only: makes the current worker fail (an uncaught error in it, or a terminate) */
  crashForTest(how: 'throw' | 'terminate'): boolean {
    return this.supervisor.crashForTest(how);
  }
}
