/**
 * A gateway thread's requests to the sequencer as promises: each command or query goes on the
 * inbound ring with a fresh correlation id; the answer comes back on this gateway's outbound ring
 * (released only once durable) and settles the promise. One pump per thread waits on the ring
 * with Atomics.waitAsync, so the uWS event loop never blocks.
 *
 * A full inbound ring is `OVERLOADED` at once; an answer that does not come within
 * `timeoutMs` settles as `TIMEOUT` (the outcome is unknown: SPEC's 5xx "query by clOrdId").
 */
import type { Command } from '../engine/commands.js';
import type { DecodedEvent } from '../engine/events.js';
import { CmdType } from '../sequencer/codec.js';
import { GatewayPort } from '../sequencer/gatewayPort.js';
import { decodeAnswerText } from '../sequencer/outputCodec.js';
import type { Query } from '../sequencer/queries.js';

export interface CommandReply {
  kind: 'reply';
  seq: number;
  tsUs: number;
  code: number;
  /** the sender's own events: its execution reports, a cancel reject, a reject with its message */
  events: DecodedEvent[];
}

export interface QueryReply {
  kind: 'answer';
  /** the last seq the answer reflects */
  seq: number;
  code: number;
  json: string;
}

export type Failure = { kind: 'overloaded' } | { kind: 'timeout' } | { kind: 'stopped' };

interface Pending {
  resolve: (r: CommandReply | QueryReply | Failure) => void;
  isQuery: boolean;
  /** see `command`: null decodes every answer */
  wantsEvents: (() => boolean) | null;
  deadlineMs: number;
  /** events of earlier parts of a multi-frame answer */
  events: DecodedEvent[] | null;
}

const MAX_CORRELATION = 0x7fffffff;
const NO_EVENTS = Object.freeze([]) as unknown as DecodedEvent[];
const STOPPED: Failure = Object.freeze({ kind: 'stopped' });
const OVERLOADED: Failure = Object.freeze({ kind: 'overloaded' });
const TIMEOUT: Failure = Object.freeze({ kind: 'timeout' });

export class Dispatcher {
  private readonly port: GatewayPort;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelation = 1;
  private running = true;
  private wakeScheduled = false;
  private readonly queryBytes = new Uint8Array(8192);
  private readonly timer: NodeJS.Timeout;

  constructor(
    source: number,
    inboundSab: SharedArrayBuffer,
    outboundSab: SharedArrayBuffer,
    private readonly timeoutMs = 10_000,
  ) {
    this.port = new GatewayPort(source, inboundSab, outboundSab);
    this.timer = setInterval(() => this.expire(), 250);
    this.timer.unref();
    void this.pump();
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * `wantsEvents`, asked when the answer comes: false leaves the reply's events empty unless the
   * command was refused (a reject record, decoded with its message). For callers that get the
   * events another way (the session gateway: the account's messages come from the event feed);
   * decoding every answer into objects was a tenth of a gateway thread's time.
   */
  command(cmd: Command, wantsEvents: (() => boolean) | null = null): Promise<CommandReply | Failure> {
    return new Promise((resolve) => this.commandThen(cmd, wantsEvents, resolve));
  }

  /**
   * `command` with a callback instead of a promise (the session gateway's hot path: no promise and
   * no async frame per order). `done` is called exactly once, maybe before this returns (a full
   * ring, a stopped gateway), and must not throw.
   */
  commandThen(cmd: Command, wantsEvents: (() => boolean) | null, done: (r: CommandReply | Failure) => void): void {
    if (!this.running) return done(STOPPED);
    const correlation = this.correlation();
    if (!this.port.submit(cmd, correlation, false)) return done(OVERLOADED);
    this.wakeSoon();
    this.pending.set(correlation, { resolve: done as Pending['resolve'], isQuery: false, wantsEvents, deadlineMs: performance.now() + this.timeoutMs, events: null });
  }

  query(q: Query): Promise<QueryReply | Failure> {
    if (!this.running) return Promise.resolve(STOPPED);
    const n = Buffer.from(this.queryBytes.buffer).write(JSON.stringify(q), 'utf8');
    if (n >= this.queryBytes.length - 4) return Promise.resolve(OVERLOADED); // never: queries are small
    const correlation = this.correlation();
    if (!this.port.submitEncoded(CmdType.QUERY, this.queryBytes, n, correlation, false)) return Promise.resolve(OVERLOADED);
    this.wakeSoon();
    return new Promise((resolve) => {
      this.pending.set(correlation, { resolve: resolve as Pending['resolve'], isQuery: true, wantsEvents: null, deadlineMs: performance.now() + this.timeoutMs, events: null });
    });
  }

  private correlation(): number {
    const c = this.nextCorrelation;
    this.nextCorrelation = c === MAX_CORRELATION ? 1 : c + 1;
    return c;
  }

  /**
   * One wake-up of a sleeping sequencer for everything submitted in this turn of the event loop
   * (the messages of one socket read, say) rather than one per command: each is a futex syscall
   * on both sides. It runs after the loop's I/O callbacks, so the delay is the rest of the batch.
   */
  private wakeSoon(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(this.wakeNow);
  }

  private readonly wakeNow = (): void => {
    this.wakeScheduled = false;
    this.port.wake();
  };

  private async pump(): Promise<void> {
    const onFrame = (correlation: number, seq: number, code: number, more: boolean, at: number) => this.settle(correlation, seq, code, more, at);
    while (this.running) {
      // between batches, let the event loop run the answers' continuations and socket I/O
      if (this.port.poll(onFrame) > 0) await new Promise((r) => setImmediate(r));
      else await this.port.waitForResponseAsync(100);
    }
  }

  private settle(correlation: number, seq: number, code: number, more: boolean, at: number): void {
    const p = this.pending.get(correlation);
    if (p === undefined) return; // timed out already
    if (p.isQuery) {
      this.pending.delete(correlation);
      p.resolve({ kind: 'answer', seq, code, json: decodeAnswerText(this.port.outbound.v, at) });
      return;
    }
    if (p.wantsEvents !== null && !more && p.events === null && !p.wantsEvents() && !this.port.hasReject(at)) {
      this.pending.delete(correlation);
      p.resolve({ kind: 'reply', seq, tsUs: this.port.tsUs(at), code, events: NO_EVENTS });
      return;
    }
    const out = this.port.decode(at);
    const events = p.events === null ? out.events : p.events.concat(out.events);
    if (more) {
      p.events = events;
      return;
    }
    this.pending.delete(correlation);
    p.resolve({ kind: 'reply', seq, tsUs: out.tsUs, code, events });
  }

  private expire(): void {
    const now = performance.now();
    // insertion order = deadline order (one timeout for all)
    for (const [c, p] of this.pending) {
      if (p.deadlineMs > now) break;
      this.pending.delete(c);
      p.resolve(TIMEOUT);
    }
  }

  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    for (const p of this.pending.values()) p.resolve(STOPPED);
    this.pending.clear();
  }
}
