/**
 * What the ring tests share on the main thread: worker threads with their messages, errors and
 * exit collected, polling that lets the event loop run, and the check that dist/ (which the
 * workers load) is not older than src/.
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CONTROL_BYTES, LINE } from '../../src/ring/frame.js';

const distFile = (name: string) => fileURLToPath(new URL(`../../dist/src/ring/${name}.js`, import.meta.url));
const srcFile = (name: string) => fileURLToPath(new URL(`../../src/ring/${name}.ts`, import.meta.url));

/** The worker threads load dist/: refuse to test a missing or stale build. */
export function checkDistFresh(names: string[]): void {
  for (const n of names) {
    let dist: number;
    try {
      dist = statSync(distFile(n)).mtimeMs;
    } catch {
      throw new Error(`${distFile(n)} is missing: run \`make build\` before the ring tests`);
    }
    if (dist < statSync(srcFile(n)).mtimeMs) throw new Error(`${distFile(n)} is older than its source: run \`make build\``);
  }
}

export type Msg = { type: string; [k: string]: unknown };

/** A worker thread (a script in test/ring/workers/) with its messages collected, its error and exit recorded. */
export class Spawned {
  readonly worker: Worker;
  readonly messages: Msg[] = [];
  error: unknown = null;
  exitCode: number | null = null;

  constructor(file: string, workerData: unknown) {
    this.worker = new Worker(new URL(`./workers/${file}`, import.meta.url), { workerData });
    this.worker.on('message', (m: Msg) => this.messages.push(m));
    this.worker.on('error', (e) => (this.error = e));
    this.worker.on('exit', (code) => (this.exitCode = code));
  }

  message(type: string): Msg | undefined {
    return this.messages.find((m) => m.type === type);
  }

  /** The worker's failure, if any: an uncaught error or a 'failed' message. */
  failure(): unknown {
    return this.error ?? this.message('failed') ?? null;
  }
}

/** Polls (yielding to the event loop) until `cond` or the timeout; true if `cond` held. */
export async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

export const yieldToEventLoop = () => new Promise((r) => setImmediate(r));

/**
 * A ring buffer whose first two cursors (slots 0 and LINE of the control block: InboundRing's
 * claim and tail, BroadcastRing's claimed and published) both start at `start`, to run positions
 * across the Int32 wrap without pushing 2 GiB through.
 */
export function sabAt(start: number, capacity: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(CONTROL_BYTES + capacity);
  const ctrl = new Int32Array(sab);
  ctrl[0] = start;
  ctrl[LINE] = start;
  return sab;
}
