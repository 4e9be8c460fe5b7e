/**
 * Starts and stops the sequencer's threads and owns their shared memory: the inbound ring
 * (gateways -> sequencer), one outbound ring per gateway, the event ring, the journal ring
 * (sequencer -> journal thread) and the control words. Also schedules snapshots: every N records
 * or T seconds, and on demand, taken by the snapshot thread's replica (matching never pauses).
 *
 * Threads: sequencer (recovery, then the engine), journal (write + fdatasync), snapshot (replica,
 * started at the first snapshot). The host thread itself only schedules and reports.
 */
import { Worker } from 'node:worker_threads';
import { mkdirSync } from 'node:fs';
import type { EngineOptions } from '../engine/engine.js';
import type { Durability, Recovery } from '../journal/journal.js';
import { lockDataDir } from '../journal/dirLock.js';
import { workerUrl } from '../platform/workers.js';
import { BroadcastRing } from '../ring/broadcastRing.js';
import { InboundRing } from '../ring/inboundRing.js';
import { SequencerControl } from './control.js';
import type { JournalStart, JournalThreadData } from './journalThread.js';
import type { PreparerThreadData } from './preparerThread.js';
import type { ClOrdTableOffer, SequencerThreadData, SnapshotOffer } from './sequencerThread.js';
import { buildClOrdTable } from '../engine/snapshot.js';
import { newestSnapshot } from '../journal/snapshotFile.js';
import type { SnapshotThreadData } from './snapshotThread.js';
import type { DecodedEvent } from '../engine/events.js';

export interface SequencerConfig {
  dataDir: string;
  durability?: Durability;
  /** gateways (each gets an outbound ring; its frames carry its index as source) */
  gateways: number;
  engine?: EngineOptions;
  segmentBytes?: number;
  /** `batch` mode: fdatasync every this many ms */
  syncIntervalMs?: number;
  inboundRingBytes?: number;
  journalRingBytes?: number;
  outboundRingBytes?: number;
  eventRingBytes?: number;
  maxBatch?: number;
  /** snapshot after this many new records (0: never by count) */
  snapshotEveryRecords?: number;
  /** snapshot after this many seconds if anything new was journaled (0: never by time) */
  snapshotEverySeconds?: number;
  keepSnapshots?: number;
  /** after each snapshot, move segments every kept snapshot covers into `<dataDir>/archive/` */
  archiveSegments?: boolean;
  /** compute the state hash at a clean stop (costly on a big book) */
  hashOnStop?: boolean;
  /** recovery hands back the account messages of records it replays after this seq (the session store's gap) */
  recoverMessagesAfterSeq?: number;
  log?: (line: string) => void;
}

/** Defaults, documented in docs/sequencer.md. */
export const SEQUENCER_DEFAULTS = {
  durability: 'fsync' as Durability,
  segmentBytes: 64 * 1024 * 1024,
  syncIntervalMs: 10,
  inboundRingBytes: 1 << 22,
  journalRingBytes: 1 << 24,
  outboundRingBytes: 1 << 24,
  eventRingBytes: 1 << 26,
  maxBatch: 4096,
  // a restart replays at most this tail after the snapshot: the trade-off is in docs/sequencer.md
  snapshotEveryRecords: 2_000_000,
  snapshotEverySeconds: 300,
  keepSnapshots: 3,
  archiveSegments: true,
};

export interface RecoveryReport {
  lastSeq: number;
  snapshotSeq: number;
  replayed: number;
  ms: number;
  journal: Recovery;
  logs: string[];
  /** account messages of replayed records after `recoverMessagesAfterSeq` */
  messages: DecodedEvent[];
  /** per account id, the msgSeq of its last message (the engine's numbering after recovery) */
  msgSeqs?: number[];
}

export interface SnapshotResult {
  seq: number;
  path: string;
  replayMs: number;
  writeMs: number;
  /** journal segments moved into the archive after it (every kept snapshot covers them) */
  archived: string[];
}

/** The newest usable snapshot of `dataDir`, read into shared memory, as a message for the sequencer thread. */
function snapshotOffer(dataDir: string): SnapshotOffer {
  const logs: string[] = [];
  const snap = newestSnapshot(dataDir, Number.MAX_SAFE_INTEGER, (path, why) => logs.push(`skipping snapshot ${path}: ${why}`), true);
  return { type: 'snapshot', snapshot: snap, logs };
}

/**
 * The offered snapshot's clOrdId index, built here from the shared bytes while the sequencer thread
 * restores (this thread is otherwise idle during start-up; ~0.5 s at 1M orders).
 */
function clOrdTableOffer(offer: SnapshotOffer, options: EngineOptions, log: (line: string) => void): ClOrdTableOffer {
  if (offer.snapshot === null) return { type: 'clOrdTable', prebuilt: null };
  try {
    return { type: 'clOrdTable', prebuilt: buildClOrdTable(offer.snapshot.body, options) };
  } catch (e) {
    // e.g. a format this build cannot read (restore reports it); the sequencer thread builds it then
    log(`start-up: clOrdId index not prebuilt (${e instanceof Error ? e.message : String(e)}); the sequencer thread builds it`);
    return { type: 'clOrdTable', prebuilt: null };
  }
}

function once<T>(w: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { type?: string }) => {
      if (m.type === type) {
        cleanup();
        resolve(m as T);
      }
    };
    const onErr = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`thread exited (${code}) before '${type}'`));
    };
    const cleanup = () => {
      w.off('message', onMsg);
      w.off('error', onErr);
      w.off('exit', onExit);
    };
    w.on('message', onMsg);
    w.on('error', onErr);
    w.on('exit', onExit);
  });
}

export class SequencerHost {
  readonly control: SequencerControl;
  readonly inbound: InboundRing;
  readonly events: BroadcastRing;
  readonly outbound: BroadcastRing[];
  readonly journalRing: InboundRing;
  recovery!: RecoveryReport;
  private sequencer: Worker | undefined;
  private journal: Worker | undefined;
  private preparer: Worker | null = null;
  private snapshotter: Worker | null = null;
  private unlock: () => void = () => {};
  private snapshotIds = 0;
  private readonly pendingSnapshots = new Map<number, { resolve: (m: unknown) => void; reject: (e: Error) => void }>();
  /** resolves true once the snapshot the sequencer started from is proven (restored hash = recorded) */
  startSnapshotVerified: Promise<boolean> = Promise.resolve(true);
  private timer: NodeJS.Timeout | null = null;
  private lastSnapshotSeq = 0;
  private lastSnapshotMs = performance.now();
  private snapshotRunning = false;
  private stopping: Promise<{ lastSeq: number; stateHash: string | null }> | null = null;
  /** a thread died: the exchange must not go on (nothing unjournaled was released) */
  failure: Error | null = null;
  private readonly cfg: Required<Omit<SequencerConfig, 'engine' | 'log'>> & SequencerConfig;

  private constructor(config: SequencerConfig) {
    // an option given as undefined takes its default
    const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
    this.cfg = { ...SEQUENCER_DEFAULTS, hashOnStop: false, ...given } as SequencerHost['cfg'];
    if (!Number.isInteger(this.cfg.keepSnapshots) || this.cfg.keepSnapshots < 1) throw new Error(`keepSnapshots must be an integer >= 1, got ${this.cfg.keepSnapshots}`);
    this.control = SequencerControl.create();
    this.inbound = InboundRing.create(this.cfg.inboundRingBytes);
    this.journalRing = InboundRing.create(this.cfg.journalRingBytes);
    this.events = BroadcastRing.create(this.cfg.eventRingBytes);
    this.outbound = Array.from({ length: config.gateways }, () => BroadcastRing.create(this.cfg.outboundRingBytes));
  }

  static async start(config: SequencerConfig): Promise<SequencerHost> {
    const h = new SequencerHost(config);
    try {
      await h.boot();
    } catch (e) {
      // recovery refused (corruption, missing segments) or a thread failed to start
      h.control.requestStop();
      await Promise.all([h.sequencer, h.journal, h.preparer].map((w) => w?.terminate()));
      h.unlock();
      throw e;
    }
    return h;
  }

  private log(line: string): void {
    this.cfg.log?.(line);
  }

  private async boot(): Promise<void> {
    const c = this.cfg;
    mkdirSync(c.dataDir, { recursive: true });
    this.unlock = lockDataDir(c.dataDir);
    const seqData: SequencerThreadData = {
      dataDir: c.dataDir,
      engine: c.engine ?? {},
      maxBatch: c.maxBatch,
      hashOnStop: c.hashOnStop,
      controlSab: this.control.sab,
      inboundSab: this.inbound.sab,
      journalSab: this.journalRing.sab,
      eventsSab: this.events.sab,
      outboundSabs: this.outbound.map((r) => r.sab),
      recoverMessagesAfterSeq: c.recoverMessagesAfterSeq ?? -1,
    };
    this.sequencer = new Worker(workerUrl(import.meta.url, 'sequencerThread.js'), { workerData: seqData, name: 'seqex-sequencer' });
    this.watch(this.sequencer, 'sequencer');
    const running = once(this.sequencer, 'running');
    running.catch(() => {});
    // the journal thread starts now and waits for the recovery result (its start-up overlaps recovery)
    const jData: JournalThreadData = {
      dataDir: c.dataDir,
      durability: c.durability,
      segmentBytes: c.segmentBytes,
      syncIntervalMs: c.syncIntervalMs,
      controlSab: this.control.sab,
      journalSab: this.journalRing.sab,
      inboundSab: this.inbound.sab,
    };
    this.journal = new Worker(workerUrl(import.meta.url, 'journalThread.js'), { workerData: jData, name: 'seqex-journal' });
    this.watch(this.journal, 'journal');
    // while both threads boot (~150 ms): read and check the newest snapshot here, into shared
    // memory; then build its clOrdId index here while the sequencer thread restores the rest
    const recovered = once<RecoveryReport>(this.sequencer, 'recovered');
    recovered.catch(() => {});
    const offer = snapshotOffer(c.dataDir);
    this.sequencer.postMessage(offer);
    this.sequencer.postMessage(clOrdTableOffer(offer, c.engine ?? {}, (line) => this.log(line)));
    this.recovery = await recovered;
    for (const line of this.recovery.logs) this.log(line);
    if (c.durability !== 'none') {
      // after recovery: its 64 MiB of zeros must not compete with recovery's reads
      const pData: PreparerThreadData = { dataDir: c.dataDir, segmentBytes: c.segmentBytes, controlSab: this.control.sab };
      this.preparer = new Worker(workerUrl(import.meta.url, 'preparerThread.js'), { workerData: pData, name: 'seqex-preparer' });
      this.watch(this.preparer, 'segment preparer');
    }
    const start: JournalStart = { recovered: this.recovery.journal };
    this.journal.postMessage(start);
    await running;
    this.lastSnapshotSeq = this.recovery.snapshotSeq;
    this.control.snapshotSeq = this.recovery.snapshotSeq;
    if (this.recovery.snapshotSeq > 0) this.verifyStartSnapshot(this.recovery.snapshotSeq);
    this.log(
      `sequencer: recovered to seq ${this.recovery.lastSeq} (snapshot ${this.recovery.snapshotSeq}, ${this.recovery.replayed} records replayed) in ${this.recovery.ms.toFixed(0)} ms; durability ${c.durability}`,
    );
    if (c.snapshotEveryRecords > 0 || c.snapshotEverySeconds > 0) {
      this.timer = setInterval(() => this.maybeSnapshot(), 250);
      this.timer.unref();
    }
  }

  private readonly exits = new Map<Worker, Promise<void>>();

  private watch(w: Worker, name: string): void {
    // registered at spawn: stop() must not wait for an 'exit' that already happened
    this.exits.set(w, new Promise((r) => w.once('exit', () => r())));
    w.on('error', (e) => {
      this.log(`${name} thread failed: ${e.stack ?? e.message}`);
      this.fail(e);
    });
  }

  private maybeSnapshot(): void {
    if (this.snapshotRunning || this.stopping !== null) return;
    const durable = this.control.durableSeq;
    const fresh = durable - this.lastSnapshotSeq;
    if (fresh <= 0) return;
    const c = this.cfg;
    const byCount = c.snapshotEveryRecords > 0 && fresh >= c.snapshotEveryRecords;
    const byTime = c.snapshotEverySeconds > 0 && performance.now() - this.lastSnapshotMs >= c.snapshotEverySeconds * 1000;
    if (byCount || byTime) this.snapshotNow().catch((e: Error) => this.log(`snapshot failed: ${e.message}`));
  }

  /** Writes a snapshot of the state at the current durable seq (the snapshot thread's replica). */
  snapshotNow(): Promise<SnapshotResult> {
    this.lastSnapshotMs = performance.now();
    return this.askSnapshotThread<SnapshotResult>({ seq: this.control.durableSeq }).then((m) => {
      this.lastSnapshotSeq = Math.max(this.lastSnapshotSeq, m.seq);
      this.log(`snapshot at seq ${m.seq}: ${m.path} (replica replay ${m.replayMs.toFixed(0)} ms, write ${m.writeMs.toFixed(0)} ms)`);
      if (m.archived.length > 0) this.log(`journal: archived ${m.archived.length} segment(s) every kept snapshot covers: ${m.archived.join(', ')}`);
      return m;
    });
  }

  /**
   * The sequencer started from a snapshot without recomputing its state hash (to serve sooner):
   * the snapshot thread restores the same snapshot and compares. A difference means restore is
   * broken, so the exchange stops (`failure` says why).
   */
  private verifyStartSnapshot(seq: number): void {
    this.startSnapshotVerified = this.askSnapshotThread<{ verify: { ok: boolean; detail: string } }>({ seq, verify: true }).then(
      ({ verify }) => {
        this.log(`start snapshot check: ${verify.detail}`);
        if (!verify.ok) this.fail(new Error(`start snapshot check failed: ${verify.detail}`));
        return verify.ok;
      },
      (e: Error) => {
        if (this.stopping === null) this.fail(e);
        return false;
      },
    );
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.log(`FATAL: ${e.message}`);
    this.control.requestStop();
    this.inbound.wake();
  }

  private askSnapshotThread<T>(msg: { seq: number; verify?: boolean }): Promise<T> {
    if (this.snapshotter === null) {
      const data: SnapshotThreadData = { dataDir: this.cfg.dataDir, engine: this.cfg.engine ?? {}, keepSnapshots: this.cfg.keepSnapshots, archiveSegments: this.cfg.archiveSegments, controlSab: this.control.sab };
      const w = new Worker(workerUrl(import.meta.url, 'snapshotThread.js'), { workerData: data, name: 'seqex-snapshot' });
      w.unref();
      w.on('message', (m: { id: number; error?: string }) => {
        const p = this.pendingSnapshots.get(m.id);
        this.pendingSnapshots.delete(m.id);
        this.snapshotRunning = this.pendingSnapshots.size > 0;
        if (m.error !== undefined) p?.reject(new Error(m.error));
        else p?.resolve(m);
      });
      w.on('error', (e) => {
        for (const p of this.pendingSnapshots.values()) p.reject(e);
        this.pendingSnapshots.clear();
        this.snapshotRunning = false;
        this.snapshotter = null;
      });
      this.snapshotter = w;
    }
    this.snapshotRunning = true;
    const id = ++this.snapshotIds;
    return new Promise<T>((resolve, reject) => {
      this.pendingSnapshots.set(id, { resolve: resolve as (m: unknown) => void, reject });
      this.snapshotter!.postMessage({ id, ...msg });
    });
  }

  /**
   * Clean stop: the sequencer drains the inbound ring, waits until everything is durable and
   * released, then the journal thread syncs and closes. Producers should stop submitting first.
   */
  stop(): Promise<{ lastSeq: number; stateHash: string | null }> {
    this.stopping ??= (async () => {
      if (this.timer !== null) clearInterval(this.timer);
      const sequencer = this.sequencer!;
      const journal = this.journal!;
      const seqExit = this.exits.get(sequencer)!;
      const jExit = this.exits.get(journal)!;
      const stopped = Promise.race([
        once<{ lastSeq: number; stateHash: string | null }>(sequencer, 'stopped'),
        seqExit.then((): never => {
          throw new Error('the sequencer thread exited before it stopped cleanly');
        }),
      ]);
      this.control.requestStop();
      this.inbound.wake();
      let result: { lastSeq: number; stateHash: string | null };
      try {
        result = await stopped;
      } catch (e) {
        this.failure ??= e as Error;
        result = { lastSeq: this.control.sequencedSeq, stateHash: null };
      }
      this.journalRing.wake();
      await Promise.all([seqExit, jExit]);
      if (this.preparer !== null) {
        this.control.requestPrepare(); // wakes it to see the stop
        await this.exits.get(this.preparer);
      }
      if (this.snapshotter !== null) {
        await this.snapshotter.terminate();
        for (const p of this.pendingSnapshots.values()) p.reject(new Error('the exchange stopped'));
        this.pendingSnapshots.clear();
      }
      this.unlock();
      return result;
    })();
    return this.stopping;
  }
}
