/**
 * Review of the worker restart policy (src/server/supervisor.ts) with fake workers and short
 * delays: a stop while a restart is pending starts nothing; a worker failing while it is being
 * stopped is not restarted; a worker that cannot even be made counts as a failure (and the
 * supervisor gives up in the end); a worker that ignores the stop is terminated; one exit is
 * one restart, however many errors came before it.
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { WorkerSupervisor, type RestartPolicy } from '../../src/server/supervisor.js';

class FakeWorker extends EventEmitter {
  messages: unknown[] = [];
  terminated = false;
  exited = false;
  /** what it does when asked to stop */
  onStop: 'exit' | 'fail' | 'ignore' = 'exit';
  postMessage(m: { type: string }): void {
    this.messages.push(m);
    if (m.type !== 'stop' || this.exited) return;
    if (this.onStop === 'exit') setImmediate(() => this.exit(0));
    else if (this.onStop === 'fail') setImmediate(() => {
      this.emit('error', new Error('boom while stopping'));
      this.exit(1);
    });
  }
  terminate(): Promise<number> {
    this.terminated = true;
    setImmediate(() => this.exit(1));
    return Promise.resolve(1);
  }
  exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', code);
  }
}

const POLICY: RestartPolicy = { firstDelayMs: 20, maxDelayMs: 80, healthyAfterMs: 60_000, maxFastFailures: 3 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function supervised(spawnHook?: (n: number) => void) {
  const workers: FakeWorker[] = [];
  const logs: string[] = [];
  let downs = 0;
  let gaveUp = 0;
  const sup = new WorkerSupervisor(
    'fake',
    (n) => {
      spawnHook?.(n);
      const w = new FakeWorker();
      workers.push(w);
      return w as unknown as Worker;
    },
    { log: (l) => logs.push(l), failedLine: 'fake: the worker failed', onDown: () => downs++, onGiveUp: () => gaveUp++ },
    POLICY,
  ).start();
  return { sup, workers, logs, downs: () => downs, gaveUp: () => gaveUp };
}

test('a stop while a restart is pending starts nothing, and returns at once', async () => {
  const s = supervised();
  s.workers[0]!.exit(1);
  expect(s.sup.state).toBe('down');
  const t0 = performance.now();
  await s.sup.stop(1000);
  expect(performance.now() - t0).toBeLessThan(50);
  await sleep(POLICY.firstDelayMs * 3);
  expect(s.workers).toHaveLength(1);
  expect(s.sup.state).toBe('stopped');
  expect(s.sup.restarts).toBe(0);
});

test('a worker failing while it is being stopped is not restarted; an error before one exit is one failure', async () => {
  const s = supervised();
  s.workers[0]!.onStop = 'fail';
  await s.sup.stop(1000);
  await sleep(POLICY.firstDelayMs * 3);
  expect(s.workers).toHaveLength(1);
  expect(s.sup.failures).toBe(0);
  expect(s.downs()).toBe(0);

  const t = supervised();
  t.workers[0]!.emit('error', new Error('first'));
  t.workers[0]!.emit('error', new Error('second'));
  t.workers[0]!.exit(1);
  await sleep(POLICY.firstDelayMs * 3);
  expect(t.workers).toHaveLength(2);
  expect([t.sup.failures, t.sup.restarts, t.downs()]).toEqual([1, 1, 1]);
  expect(t.logs.some((l) => l.includes('Error: first'))).toBe(true);
  await t.sup.stop(1000);
});

test('a worker that ignores the stop is terminated after the grace period', async () => {
  const s = supervised();
  s.workers[0]!.onStop = 'ignore';
  await s.sup.stop(30);
  expect(s.workers[0]!.terminated).toBe(true);
  expect(s.sup.restarts).toBe(0);
});

test('a worker that cannot be made is a failure like any other: backoff, then give up', async () => {
  let failSpawns = false;
  const s = supervised((n) => {
    if (failSpawns && n > 0) throw new Error('no threads');
  });
  failSpawns = true;
  s.workers[0]!.exit(1);
  await sleep(20 + 40 + 80 + 80 + 100);
  expect(s.sup.state).toBe('gaveUp');
  expect(s.gaveUp()).toBe(1);
  expect(s.logs.filter((l) => l.includes('no threads')).length).toBeGreaterThan(0);
  await s.sup.stop(100);
});
