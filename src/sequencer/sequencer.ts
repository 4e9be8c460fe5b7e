/**
 * The sequencer: the only writer of the engine. Each turn it drains a batch of commands from the
 * inbound ring, and for each one stamps the next seq and a timestamp, hands the record to the
 * journal thread (journal ring), applies it to the engine and writes the engine's output to the
 * event ring and to the outbound ring of the gateway that sent it. Outputs are held (written but
 * not published) until the journal thread reports their records durable: the disk sync of batch k
 * overlaps the matching of batch k+1 (DESIGN.md rules 1 and 4).
 *
 * Inbound frame: tag = command type (codec), payload = [Int32 source, Int32 correlation, command].
 * Journal frame: tag = command type, payload = [Float64 seq, Float64 tsUs, command].
 * Outbound / event frames: `outputCodec.ts`; outbound tag = correlation, event tag = command type.
 */
import type { Engine } from '../engine/engine.js';
import { Code } from '../domain/codes.js';
import { BroadcastRing } from '../ring/broadcastRing.js';
import { InboundRing } from '../ring/inboundRing.js';
import { CmdType, decodeCommand } from './codec.js';
import { SequencerControl } from './control.js';
import { outputBytes, responseBytes, responseEvents, SOURCE_SEQUENCER, writeOutput, writeOutputParts, writeResponse } from './outputCodec.js';
import { EventLog } from '../engine/events.js';
import { QUERY_LIMITS, QueryAnswerer } from './queries.js';
import type { Command } from '../engine/commands.js';

export const INBOUND_HEADER_BYTES = 8;
export const JOURNAL_HEADER_BYTES = 16;
const CHECKPOINTS = 1 << 14;

export interface SequencerRings {
  inbound: InboundRing;
  journal: InboundRing;
  events: BroadcastRing;
  /** index = the source id gateways put in their frames */
  outbound: BroadcastRing[];
}

export interface SequencerOptions {
  /** frames drained per turn (one journal group commit may cover several turns) */
  maxBatch?: number;
  /** microseconds since the epoch; strictly the sequencer's business (engine time) */
  clockUs?: () => number;
}

export const wallClockUs = (): number => Math.floor((performance.timeOrigin + performance.now()) * 1000);

export class Sequencer {
  private lastSeq: number;
  private lastTsUs: number;
  private readonly maxBatch: number;
  private readonly clockUs: () => number;
  /** held outputs: per checkpoint the last seq of a turn and the ring positions after it */
  private readonly cpSeq = new Float64Array(CHECKPOINTS);
  private readonly cpPos: Int32Array;
  private cpHead = 0;
  private cpTail = 0;
  private turnCommands = 0;
  private batchTsUs = 0;
  /** outputs written this turn (a malformed answer has no seq but must be released too) */
  private turnOutputs = 0;
  private readonly onFrame: (type: number, at: number, bytes: number) => void;
  /** the current command's response (its sender's events), reused */
  private readonly response = new EventLog(1 << 10);
  private readonly queries: QueryAnswerer;

  constructor(
    private readonly engine: Engine,
    private readonly rings: SequencerRings,
    private readonly control: SequencerControl,
    options: SequencerOptions = {},
  ) {
    this.lastSeq = engine.lastSeq;
    this.lastTsUs = engine.nowUs;
    this.maxBatch = options.maxBatch ?? 4096;
    this.clockUs = options.clockUs ?? wallClockUs;
    this.cpPos = new Int32Array(CHECKPOINTS * (1 + rings.outbound.length));
    this.onFrame = (type, at, bytes) => (type === CmdType.QUERY ? this.query(at, bytes) : this.sequence(type, at, bytes));
    this.queries = new QueryAnswerer(engine);
    control.sequencedSeq = this.lastSeq;
    control.releasedSeq = this.lastSeq;
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** Runs until a stop is requested, then drains, waits for durability and releases everything. */
  run(): void {
    const { inbound } = this.rings;
    const control = this.control;
    for (;;) {
      const n = this.turn();
      // query answers (no command) are released on the next turn: do not sleep on them
      if (n > 0 || this.turnOutputs > 0) continue;
      if (control.stopRequested && !inbound.hasFrame()) break;
      if (control.journalFailed) throw new Error('journal thread failed: the sequencer stops (nothing unjournaled was released)');
      const held = this.cpHead !== this.cpTail;
      const dueInMs = (this.engine.timerDueUs() - this.clockUs()) / 1000;
      // sleep until a command arrives or the journal thread reports durability (it wakes us)
      inbound.waitForFrame(Math.max(0, Math.min(held ? 1 : 100, dueInMs)));
    }
    while (this.cpHead !== this.cpTail && !control.journalFailed) {
      control.waitDurableAfter(control.durableSeq, 10);
      this.release();
    }
  }

  /** One turn: release what became durable, sequence a batch, tick the clock if a timer is due. */
  turn(): number {
    this.release();
    this.turnCommands = 0;
    this.turnOutputs = 0;
    // one timestamp per batch: reading the clock costs ~100 ns here, more than a ring hop
    this.batchTsUs = this.now();
    this.rings.inbound.drain(this.maxBatch, this.onFrame);
    if (this.engine.timerDueUs() <= this.batchTsUs) this.tick(this.batchTsUs);
    if (this.turnCommands > 0) this.rings.journal.endExclusiveBatch();
    const n = this.turnCommands;
    if (this.turnOutputs > 0) this.checkpoint();
    if (n > 0) {
      this.control.sequencedSeq = this.lastSeq;
      this.control.recordBatch(n);
    }
    return n;
  }

  private now(): number {
    const t = this.clockUs();
    if (t > this.lastTsUs) this.lastTsUs = t;
    return this.lastTsUs;
  }

  private sequence(type: number, at: number, bytes: number): void {
    const v = this.rings.inbound.v;
    const source = v.i32[at >> 2]!;
    const correlation = v.i32[(at >> 2) + 1]!;
    const seq = this.lastSeq + 1;
    const tsUs = this.batchTsUs;
    const from = at + INBOUND_HEADER_BYTES;
    const to = at + bytes;
    // a frame from no known gateway would be applied with no one to answer: refused like garbage
    const known = source >= 0 && source < this.rings.outbound.length;
    const cmd = bytes < INBOUND_HEADER_BYTES || !known ? null : decodeCommand(type, seq, tsUs, v.bytes, from, to);
    if (cmd === null) {
      // a gateway bug, not a market event: answered (if the source is known), never journaled or applied
      this.control.recordMalformed();
      this.engine.events.clear();
      this.respond(source, correlation, 0, tsUs, Code.INVALID_REQUEST);
      return;
    }
    this.lastSeq = seq;
    this.turnCommands++;
    this.journal(type, seq, tsUs, v.bytes, from, to);
    this.engine.events.clear();
    const code = this.engine.apply(cmd);
    this.publish(cmd, type, seq, tsUs, code, source, correlation);
  }

  /**
   * A gateway's read-only query: answered from the engine as it stands after the commands before
   * it, not journaled, and held like any output until the seq it reflects is durable.
   */
  private query(at: number, bytes: number): void {
    const v = this.rings.inbound.v;
    const source = v.i32[at >> 2]!;
    const correlation = v.i32[(at >> 2) + 1]!;
    const log = this.engine.events;
    log.clear();
    if (bytes < INBOUND_HEADER_BYTES || bytes - INBOUND_HEADER_BYTES > QUERY_LIMITS.maxQueryBytes) {
      this.control.recordMalformed();
      this.respond(source, correlation, this.lastSeq, this.batchTsUs, Code.INVALID_REQUEST);
      return;
    }
    const text = Buffer.from(v.bytes.buffer, v.bytes.byteOffset + at + INBOUND_HEADER_BYTES, bytes - INBOUND_HEADER_BYTES).toString('utf8');
    const answer = this.queries.answer(text);
    // frame strings carry a Uint16 length: the JSON goes in chunks of at most 16,384 UTF-16 units (< 64 KiB of UTF-8)
    const json = answer.json;
    for (let i = 0; i < json.length; ) {
      let end = Math.min(json.length, i + 16_384);
      const last = json.charCodeAt(end - 1);
      if (end < json.length && last >= 0xd800 && last <= 0xdbff) end--; // keep a surrogate pair whole
      log.str(json.slice(i, end));
      i = end;
    }
    this.respond(source, correlation, this.lastSeq, this.batchTsUs, answer.code);
  }

  /** Clock tick: a journaled command like any other, so expiry and sessions replay exactly. */
  private tick(now: number): void {
    const seq = ++this.lastSeq;
    this.turnCommands++;
    this.journal(CmdType.TICK, seq, now, this.rings.inbound.v.bytes, 0, 0);
    this.engine.events.clear();
    const cmd: Command = { type: 'tick', seq, tsUs: now };
    const code = this.engine.apply(cmd);
    this.publish(cmd, CmdType.TICK, seq, now, code, SOURCE_SEQUENCER, 0);
  }

  private journal(type: number, seq: number, tsUs: number, src: Uint8Array, from: number, to: number): void {
    const ring = this.rings.journal;
    let at = ring.claimExclusive(JOURNAL_HEADER_BYTES + to - from);
    while (at < 0) {
      ring.endExclusiveBatch();
      // the journal thread is behind by a whole ring: the disk is the bottleneck, wait for it
      if (this.control.journalFailed) throw new Error('journal thread failed');
      this.control.waitDurableAfter(this.control.durableSeq, 5);
      this.release();
      at = ring.claimExclusive(JOURNAL_HEADER_BYTES + to - from);
    }
    const v = ring.v;
    v.f64[at >> 3] = seq;
    v.f64[(at >> 3) + 1] = tsUs;
    const o = at + JOURNAL_HEADER_BYTES;
    if ((from & 3) === 0 && src === this.rings.inbound.v.bytes) {
      // both frames are 8-aligned and padded to 8 bytes: copy Int32 words
      const s32 = this.rings.inbound.v.i32;
      const d32 = v.i32;
      const words = (to - from + 3) >> 2;
      for (let k = 0; k < words; k++) d32[(o >> 2) + k] = s32[(from >> 2) + k]!;
    } else for (let i = from; i < to; i++) v.bytes[o + i - from] = src[i]!;
    ring.commitQuiet(at, type, JOURNAL_HEADER_BYTES + to - from);
  }

  private publish(cmd: Command, type: number, seq: number, tsUs: number, code: number, source: number, correlation: number): void {
    this.turnOutputs++;
    const log = this.engine.events;
    const events = this.rings.events;
    if (log.len > 0) this.writeFrame(events, type, seq, tsUs, code, source, log);
    const out = this.rings.outbound[source];
    if (out === undefined) return;
    // the response to an order-flow command: the sender's own reports (makers' reports and market
    // events go by the event ring); other commands are rare and small: all their events
    if (type <= CmdType.MASS_CANCEL && type !== CmdType.TICK) {
      const accountId = (cmd as { accountId: number }).accountId;
      const bytes = responseBytes(log, accountId);
      if (bytes <= out.v.maxPayloadBytes >> 1) {
        this.roomIn(out, bytes);
        writeResponse(out.v, out.claim(correlation, bytes), seq, tsUs, code, source, log, accountId);
        return;
      }
      // a response too large for one frame (a mass cancel of thousands): in parts
      responseEvents(log, accountId, this.response);
      this.writeFrame(out, correlation, seq, tsUs, code, source, this.response);
      return;
    }
    this.writeFrame(out, correlation, seq, tsUs, code, source, log);
  }

  private writeFrame(ring: BroadcastRing, tag: number, seq: number, tsUs: number, code: number, source: number, log: EventLog): void {
    const bytes = outputBytes(log);
    if (bytes > ring.v.maxPayloadBytes >> 1) {
      writeOutputParts(ring, tag, seq, tsUs, code, source, log, (b) => this.roomIn(ring, b));
      return;
    }
    this.roomIn(ring, bytes);
    writeOutput(ring.v, ring.claim(tag, bytes), seq, tsUs, code, source, log, false);
  }

  private respond(source: number, correlation: number, seq: number, tsUs: number, code: number): void {
    const out = this.rings.outbound[source];
    if (out === undefined) return;
    this.turnOutputs++;
    const bytes = outputBytes(this.engine.events);
    this.roomIn(out, bytes);
    writeOutput(out.v, out.claim(correlation, bytes), seq, tsUs, code, source, this.engine.events, false);
  }

  /**
   * Waits until `ring` can take a frame without overwriting held outputs: only when more than a
   * ring of output waits for the disk. Releasing is the only way out, so this is disk back-pressure.
   */
  private roomIn(ring: BroadcastRing, bytes: number): void {
    while (!ring.canClaim(bytes)) {
      if (this.control.journalFailed) throw new Error('journal thread failed');
      this.checkpoint();
      this.rings.journal.endExclusiveBatch(); // the journal thread must see what we wait for
      this.control.waitDurableAfter(this.control.durableSeq, 5);
      this.release();
    }
  }

  /** Records the ring positions after the commands sequenced so far (released together). */
  private checkpoint(): void {
    const next = (this.cpHead + 1) & (CHECKPOINTS - 1);
    while (next === this.cpTail) {
      this.rings.journal.endExclusiveBatch();
      this.control.waitDurableAfter(this.control.durableSeq, 5);
      this.release();
      if (this.control.journalFailed) throw new Error('journal thread failed');
    }
    const k = this.cpHead;
    const prev = (k - 1) & (CHECKPOINTS - 1);
    if (this.cpHead !== this.cpTail && this.cpSeq[prev] === this.lastSeq) {
      this.writePositions(prev); // same seq (a malformed answer): move the existing checkpoint
      return;
    }
    this.cpSeq[k] = this.lastSeq;
    this.writePositions(k);
    this.cpHead = next;
  }

  private writePositions(k: number): void {
    const stride = 1 + this.rings.outbound.length;
    this.cpPos[k * stride] = this.rings.events.position();
    for (let g = 0; g < this.rings.outbound.length; g++) this.cpPos[k * stride + 1 + g] = this.rings.outbound[g]!.position();
  }

  /** Publishes every held output whose command is durable. */
  release(): void {
    if (this.cpHead === this.cpTail) return;
    const durable = this.control.durableSeq;
    let last = -1;
    while (this.cpTail !== this.cpHead && this.cpSeq[this.cpTail]! <= durable) {
      last = this.cpTail;
      this.cpTail = (this.cpTail + 1) & (CHECKPOINTS - 1);
    }
    if (last < 0) return;
    const stride = 1 + this.rings.outbound.length;
    this.rings.events.publishTo(this.cpPos[last * stride]!);
    // between the two: a worker that reads the released seq and then the event ring finds every
    // frame up to it (the report writer relies on it), and a client holding an answer finds the
    // released seq at least its seq (a history read waits for it; stored after the answers, a read
    // right after one found the database a seq short: 44 in 400 cancels)
    this.control.releasedSeq = this.cpSeq[last]!;
    for (let g = 0; g < this.rings.outbound.length; g++) this.rings.outbound[g]!.publishTo(this.cpPos[last * stride + 1 + g]!);
  }
}
