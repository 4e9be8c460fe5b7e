/**
 * For the review tests of the event-ring consumers (market-data and report workers): a real
 * journal made by a sequencer host, and its event frames rebuilt by an engine replaying it (split
 * in parts as the sequencer splits a large output), to be written into an event ring by hand: the
 * test decides what a worker thread finds there and when (a lap, a command published in parts).
 */
import { Dispatcher } from '../../src/gateway/dispatcher.js';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { recoverJournal } from '../../src/journal/journal.js';
import { BroadcastRing, EMPTY, LAPPED } from '../../src/ring/broadcastRing.js';
import { decodeCommand } from '../../src/sequencer/codec.js';
import { SequencerHost } from '../../src/sequencer/host.js';
import { decodeOutput, outputBytes, writeOutput, writeOutputParts } from '../../src/sequencer/outputCodec.js';
import { twoTraderSetup, type Body } from '../sequencer/setup.js';

/** event frames are split at half the frame limit of a ring this size: 8 KiB parts */
export const SMALL_RING = 1 << 16;

export interface Frame {
  seq: number;
  tag: number;
  more: boolean;
  payload: Uint8Array;
}

export interface Journal {
  /** after the setup (assets, symbol, two funded accounts) */
  setupSeq: number;
  /** alice's mass cancel of her `orders` resting orders: an output in several parts */
  massCancelSeq: number;
  lastSeq: number;
  frames: Frame[];
  /** the engine at the journal's end */
  engine: Engine;
}

/**
 * A journal in `dir`: the two-trader setup, `orders` resting buys from alice, her mass cancel,
 * then two resting sells from bob. Returns it with its event frames.
 */
export async function makeJournal(dir: string, orders = 300): Promise<Journal> {
  const host = await SequencerHost.start({ dataDir: dir, gateways: 1, snapshotEveryRecords: 0, snapshotEverySeconds: 0 });
  const d = new Dispatcher(0, host.inbound.sab, host.outbound[0]!.sab, 20_000);
  const run = async (b: Body): Promise<number> => {
    const r = await d.command({ ...b, seq: 0, tsUs: 0 } as Command);
    if (r.kind !== 'reply') throw new Error(`no answer to ${b.type}: ${r.kind}`);
    return r.seq;
  };
  let setupSeq = 0;
  for (const b of twoTraderSetup(100_000_000_000, 1_000_000)) setupSeq = await run(b);
  for (let i = 0; i < orders; i++) await run({ type: 'newOrder', accountId: 1, symbol: 'AAPL', side: 1, ordType: 1, qtyLots: 1, priceTicks: 9_000 + i, clOrdId: `m${i}` } as Body);
  const massCancelSeq = await run({ type: 'massCancel', accountId: 1 } as Body);
  await run({ type: 'newOrder', accountId: 2, symbol: 'AAPL', side: 2, ordType: 1, qtyLots: 5, priceTicks: 20_000, clOrdId: 'b1' } as Body);
  await run({ type: 'newOrder', accountId: 2, symbol: 'AAPL', side: 2, ordType: 1, qtyLots: 7, priceTicks: 20_001, clOrdId: 'b2' } as Body);
  d.stop();
  const { lastSeq } = await host.stop();
  const { frames, engine } = framesOf(dir);
  return { setupSeq, massCancelSeq, lastSeq, frames, engine };
}

/** Every event frame of the journal in `dir`, as the sequencer writes them into a SMALL_RING event ring. */
export function framesOf(dir: string): { frames: Frame[]; engine: Engine } {
  const engine = new Engine();
  const scratch = BroadcastRing.create(SMALL_RING);
  const reader = scratch.reader(0);
  const frames: Frame[] = [];
  const collect = () => {
    scratch.publishTo(scratch.position());
    for (let at = reader.next(); at !== EMPTY; at = reader.next()) {
      if (at === LAPPED) throw new Error('scratch ring lapped');
      const o = decodeOutput(scratch.v, at, reader.payloadBytes);
      frames.push({ seq: o.seq, tag: reader.tag, more: o.more, payload: scratch.v.bytes.slice(at, at + reader.payloadBytes) });
      reader.advance();
    }
  };
  recoverJournal(dir, false, (seq, tsUs, type, bytes, from, to) => {
    const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
    if (cmd === null) throw new Error(`record ${seq} does not decode`);
    const log = engine.events;
    log.clear();
    const code = engine.apply(cmd);
    if (log.len === 0) return;
    const n = outputBytes(log);
    if (n > scratch.v.maxPayloadBytes >> 1) writeOutputParts(scratch, type, seq, tsUs, code, 0, log, collect);
    else writeOutput(scratch.v, scratch.claim(type, n), seq, tsUs, code, 0, log, false);
    collect();
  });
  return { frames, engine };
}

/** An event ring the test writes frames into (the sequencer's part). */
export class Feed {
  readonly ring: BroadcastRing;
  constructor(capacity = SMALL_RING) {
    this.ring = BroadcastRing.create(capacity);
  }
  /** writes the frames; publishes after each one (`publish`: false leaves them unpublished) */
  write(frames: Frame[], publish = true): void {
    for (const f of frames) {
      const at = this.ring.claim(f.tag, f.payload.length);
      this.ring.v.bytes.set(f.payload, at);
      if (publish) this.publish();
    }
  }
  publish(): void {
    this.ring.publishTo(this.ring.position());
  }
  get laps(): number {
    return this.ring.lapCount();
  }
}
