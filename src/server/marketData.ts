/**
 * The market-data worker of a running exchange (src/mdworker/thread.ts), supervised
 * (src/server/supervisor.ts). Each generation of the worker has its own market-data ring and a
 * MessagePort to each gateway thread: a restarted worker starts from nothing (its sequences start
 * again), so nothing of the dead one's ring or ports is reused.
 *
 * What the gateways are told (docs/market-data.md, "When the market-data worker fails"):
 * - `mdDown` when the worker ended: they stop reading its ring, send `reset` to every WebSocket
 *   subscriber (whose subscriptions end; new ones wait for the next worker), end SSE streams, and
 *   answer REST market data 503 OVERLOADED;
 * - `mdUp` with the new ring and port once the restarted worker is ready (seeded from snapshot +
 *   journal): the waiting subscriptions are asked again and get fresh snapshots;
 * - `mdGaveUp` when the supervisor stops restarting it: subscribers are closed with 4011 and
 *   market data answers 503 until the server restarts.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { ToGateway } from '../gateway/gatewayThread.js';
import type { FromMdWorker, MdWorkerData } from '../mdworker/thread.js';
import { workerUrl } from '../platform/workers.js';
import { BroadcastRing } from '../ring/broadcastRing.js';
import type { SequencerHost } from '../sequencer/host.js';
import { type RestartPolicy, WORKER_RESTART, WorkerSupervisor } from './supervisor.js';

/** the market-data ring's size: a few seconds of updates at full speed, and room for large snapshots */
const MD_RING_BYTES = 1 << 26;

export type MdAvailability = 'up' | 'down' | 'gaveUp';

interface Generation {
  n: number;
  sab: SharedArrayBuffer;
  /** the gateways' ends, by gateway index (null once handed over) */
  ports: (MessagePort | null)[];
  ready: boolean;
}

export class MarketDataService {
  readonly supervisor: WorkerSupervisor;
  private gen!: Generation;
  /** gateway threads told about restarts, by index, with the generation whose port each holds */
  private readonly gateways: { w: Worker; holds: number }[] = [];

  constructor(gatewayCount: number, host: SequencerHost, dataDir: string, log: (line: string) => void, policy: RestartPolicy = WORKER_RESTART) {
    const spawn = (n: number): Worker => {
      const ring = BroadcastRing.create(MD_RING_BYTES);
      const channels = Array.from({ length: gatewayCount }, () => new MessageChannel());
      const gen: Generation = { n, sab: ring.sab, ports: channels.map((c) => c.port2), ready: false };
      this.gen = gen;
      const data: MdWorkerData = { dataDir, eventsSab: host.events.sab, mdSab: ring.sab, fromSeq: n === 0 ? host.recovery.lastSeq : null, controlSab: host.control.sab, ports: channels.map((c) => c.port1) };
      const w = new Worker(workerUrl(import.meta.url, '../mdworker/thread.js'), { workerData: data, transferList: data.ports, name: 'seqex-marketdata' });
      w.on('message', (m: FromMdWorker) => {
        if (m.type === 'log') log(m.line);
        else if (m.type === 'ready') {
          log(`market data: ready at seq ${m.seq} in ${m.ms} ms (snapshot ${m.snapshotSeq}, ${m.replayed} records replayed)${n > 0 ? ` (restart ${n})` : ''}`);
          gen.ready = true;
          if (this.gen === gen) this.handOver(gen);
        } else this.supervisor.noteFailure(m.message.split('\n')[0]!);
      });
      return w;
    };
    this.supervisor = new WorkerSupervisor('md', spawn, { log, failedLine: 'market data: the worker failed', onDown: () => this.tell({ type: 'mdDown' }), onGiveUp: () => this.tell({ type: 'mdGaveUp' }) }, policy).start();
  }

  get availability(): MdAvailability {
    const s = this.supervisor.state;
    return s === 'running' ? 'up' : s === 'gaveUp' ? 'gaveUp' : 'down';
  }

  /**
   * The ring and port a gateway thread starts with (the current generation's: one still seeding
   * answers once ready, requests wait in the port), and whether market data is up now.
   */
  forGateway(index: number): { sab: SharedArrayBuffer; port: MessagePort; availability: MdAvailability } {
    const port = this.gen.ports[index];
    if (port === null || port === undefined) throw new Error(`market data: gateway ${index}'s port was handed over already`);
    this.gen.ports[index] = null;
    return { sab: this.gen.sab, port, availability: this.availability };
  }

  /** A gateway thread started with `forGateway(index)`: it is told about restarts from now on. */
  attach(index: number, w: Worker): void {
    this.gateways[index] = { w, holds: this.gen.n };
  }

  /** the restarted worker is ready: every gateway gets its ring and port */
  private handOver(gen: Generation): void {
    this.gateways.forEach((g, i) => {
      if (g === undefined || g.holds === gen.n) return;
      const port = gen.ports[i];
      if (port === null || port === undefined) return;
      gen.ports[i] = null;
      g.holds = gen.n;
      g.w.postMessage({ type: 'mdUp', mdSab: gen.sab, mdPort: port } satisfies ToGateway, [port]);
    });
  }

  private tell(m: ToGateway): void {
    for (const g of this.gateways) g?.w.postMessage(m);
  }

  async stop(): Promise<void> {
    await this.supervisor.stop(5_000); // it holds no sockets: terminating is safe
  }

  /** tests only: makes the current worker fail (an uncaught error in it, or a terminate) */
  crashForTest(how: 'throw' | 'terminate'): boolean {
    return this.supervisor.crashForTest(how);
  }
}
