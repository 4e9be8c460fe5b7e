/**
 * Supervision of the sequencer host's consumer workers (the market-data worker and the report
 * writer): a worker that ends unexpectedly (an error, a non-zero exit, or any exit nobody asked
 * for) is logged in one line, counted, and started again after a bounded backoff. The sequencer
 * and the order path never wait for any of it: the workers are consumers of the event ring (the
 * producer never waits for a consumer), so a dead one only stops what it derives.
 *
 * Policy (WORKER_RESTART, docs/architecture.md "Worker failures"): the first restart after 100 ms,
 * doubling to 5 s; a worker that ran for a minute counts as healthy again (the delay and the count
 * start over); after 10 failures in a row that each came within a minute of their start the
 * supervisor gives up (the failure is not transient: a bug or a broken data directory) and the
 * worker's service stays unavailable until the server restarts.
 */
import type { Worker } from 'node:worker_threads';

export interface RestartPolicy {
  /** delay before the first restart */
  firstDelayMs: number;
  /** the delay doubles per fast failure up to this */
  maxDelayMs: number;
  /** a worker that ran this long before failing was healthy: the backoff starts over */
  healthyAfterMs: number;
  /** give up after this many fast failures in a row */
  maxFastFailures: number;
}

export const WORKER_RESTART: RestartPolicy = { firstDelayMs: 100, maxDelayMs: 5_000, healthyAfterMs: 60_000, maxFastFailures: 10 };

export type WorkerState = 'running' | 'down' | 'gaveUp' | 'stopped';

/** What /metrics shows of a supervised worker. */
export interface WorkerFacts {
  name: string;
  up: boolean;
  failures: number;
  restarts: number;
  gaveUp: boolean;
}

export interface SupervisorHooks {
  log: (line: string) => void;
  /** how the failure line starts, e.g. "market data: the worker failed" */
  failedLine: string;
  /** the worker ended unexpectedly (before any restart is scheduled) */
  onDown?: (reason: string) => void;
  /** the supervisor stopped restarting it */
  onGiveUp?: () => void;
}

/** One line: the error's message and where it was thrown (the stack's first frame). */
export function oneLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e).replace(/\s*\n\s*/g, ' | ');
  const frame = (e.stack ?? '').split('\n').find((l) => /^\s+at /.test(l));
  return `${e.name}: ${e.message.replace(/\s*\n\s*/g, ' | ')}${frame !== undefined ? ` (${frame.trim()})` : ''}`;
}

export class WorkerSupervisor {
  state: WorkerState = 'running';
  failures = 0;
  restarts = 0;
  /** the worker of this generation (0: the first start) */
  generation = 0;
  private worker: Worker | null = null;
  private startedMs = 0;
  private fastFailures = 0;
  private timer: NodeJS.Timeout | null = null;
  /** why the current worker failed, if it said (a 'failed' message, an 'error' event) */
  private reason: string | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    /** starts the worker of `generation` (listeners for its own messages included) */
    private readonly spawn: (generation: number) => Worker,
    private readonly hooks: SupervisorHooks,
    private readonly policy: RestartPolicy = WORKER_RESTART,
  ) {}

  start(): this {
    this.launch();
    return this;
  }

  /** the running worker (null while down, given up or stopped) */
  get current(): Worker | null {
    return this.state === 'running' ? this.worker : null;
  }

  /** the worker said why it fails (before it exits): kept for the one log line */
  noteFailure(reason: string): void {
    this.reason ??= reason;
  }

  facts(): WorkerFacts {
    return { name: this.name, up: this.state === 'running', failures: this.failures, restarts: this.restarts, gaveUp: this.state === 'gaveUp' };
  }

  private launch(): void {
    const w = this.spawn(this.generation);
    this.worker = w;
    this.state = 'running';
    this.reason = null;
    this.startedMs = performance.now();
    w.on('error', (e) => this.noteFailure(oneLine(e)));
    this.exited = new Promise((resolve) =>
      w.once('exit', (code) => {
        resolve();
        if (this.worker === w && this.state === 'running') this.onExit(code);
      }),
    );
  }

  private onExit(code: number): void {
    this.failures++;
    const ranMs = performance.now() - this.startedMs;
    if (ranMs >= this.policy.healthyAfterMs) this.fastFailures = 0;
    this.fastFailures++;
    const why = this.reason ?? (code === 0 ? 'exited unexpectedly' : 'terminated');
    this.state = 'down';
    this.worker = null;
    const head = `${this.hooks.failedLine} (worker ${this.name}, exit code ${code}, after ${Math.round(ranMs)} ms): ${why}`;
    if (this.fastFailures > this.policy.maxFastFailures) {
      this.state = 'gaveUp';
      this.hooks.log(`${head}; ${this.policy.maxFastFailures} fast failures in a row: not restarting it again (unavailable until the server restarts)`);
      this.hooks.onDown?.(why);
      this.hooks.onGiveUp?.();
      return;
    }
    const delayMs = Math.min(this.policy.maxDelayMs, this.policy.firstDelayMs * 2 ** (this.fastFailures - 1));
    this.hooks.log(`${head}; restarting it in ${delayMs} ms (failure ${this.fastFailures} in a row)`);
    this.hooks.onDown?.(why);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state !== 'down') return;
      this.generation++;
      this.restarts++;
      try {
        this.launch();
      } catch (e) {
        // the Worker could not even be made (out of memory, threads): a failure like any other
        this.state = 'running';
        this.reason = oneLine(e);
        this.startedMs = performance.now();
        this.onExit(1);
      }
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Stops supervising and asks the running worker to stop ({type: 'stop'}: its exit is then
   * expected); terminates it if it has not exited after `terminateAfterMs`.
   */
  async stop(terminateAfterMs: number): Promise<void> {
    const w = this.current;
    this.state = 'stopped';
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (w !== null) {
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage({ type: 'stop' });
      const t = setTimeout(() => void w.terminate(), terminateAfterMs);
      await exited;
      clearTimeout(t);
    }
    await this.exited;
  }

  /** Tests only: makes the current worker fail (an uncaught error in it, or a terminate). */
  crashForTest(how: 'throw' | 'terminate'): boolean {
    const w = this.current;
    if (w === null) return false;
    if (how === 'throw') w.postMessage({ type: 'testCrash' });
    else void w.terminate();
    return true;
  }
}
