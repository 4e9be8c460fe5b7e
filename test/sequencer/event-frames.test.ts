/**
 * The whole-event consumer of the event ring (market data, reports): every frame arrives in order
 * with exactly the events the engine emitted; a reader left a whole ring behind is told so, with the
 * last seq it had, and then reads on from the producer's position.
 */
import { expect, it } from 'vitest';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { decodeEvents, type DecodedEvent } from '../../src/engine/events.js';
import { BroadcastRing } from '../../src/ring/broadcastRing.js';
import { EventFrames } from '../../src/sequencer/eventFrames.js';
import { outputBytes, writeOutput } from '../../src/sequencer/outputCodec.js';
import { twoTraderSetup } from './setup.js';

function run(ring: BroadcastRing, engine: Engine, bodies: Record<string, unknown>[], firstSeq: number): DecodedEvent[][] {
  const emitted: DecodedEvent[][] = [];
  bodies.forEach((b, i) => {
    const seq = firstSeq + i;
    const tsUs = 1_764_000_000_000_000 + seq;
    engine.events.clear();
    const code = engine.apply({ ...b, seq, tsUs } as Command);
    emitted.push(decodeEvents(engine.events));
    writeOutput(ring.v, ring.claim(0, outputBytes(engine.events)), seq, tsUs, code, -1, engine.events, false);
    ring.publishTo(ring.position());
  });
  return emitted;
}

const orders = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'newOrder', accountId: 1 + (i % 2), symbol: 'AAPL', side: 1 + (i % 2), ordType: 1, qtyLots: 1 + (i % 7), priceTicks: 18_000 + (i % 5), clOrdId: `o${from + i}` }));

it('hands over every frame in journal order with the events the engine emitted', () => {
  const ring = BroadcastRing.create(1 << 20);
  const frames = new EventFrames(ring.sab, 1, true);
  const engine = new Engine();
  const bodies = [...twoTraderSetup(1_000_000_000, 100_000), ...orders(200, 0)] as Record<string, unknown>[];
  const emitted = run(ring, engine, bodies, 1);
  const got: { seq: number; events: DecodedEvent[] }[] = [];
  while (frames.pollRecords((f) => got.push({ seq: f.seq, events: decodeEvents(f.log) }), () => expect.unreachable('no lap'), 64) > 0);
  expect(got.map((f) => f.seq)).toEqual(bodies.map((_, i) => i + 1));
  expect(got.map((f) => f.events)).toEqual(emitted);
  expect(got.some((f) => f.events.some((e) => e.event === 'trade'))).toBe(true);
  expect(frames.lastSeq).toBe(bodies.length);
});

it('a reader a whole ring behind is told the last seq it had, then reads on from the producer', () => {
  const ring = BroadcastRing.create(1 << 16);
  const frames = new EventFrames(ring.sab, 1, true);
  const engine = new Engine();
  const setup = twoTraderSetup(1_000_000_000, 100_000) as Record<string, unknown>[];
  run(ring, engine, setup, 1);
  const seen: number[] = [];
  while (frames.pollRecords((f) => seen.push(f.seq), () => expect.unreachable('no lap yet')) > 0);
  expect(frames.lastSeq).toBe(setup.length);
  // far more than 64 KiB of frames while the reader sleeps
  run(ring, engine, orders(2_000, 0) as Record<string, unknown>[], setup.length + 1);
  const laps: number[] = [];
  const after: number[] = [];
  while (frames.pollRecords((f) => after.push(f.seq), (last) => laps.push(last)) > 0);
  expect(laps).toEqual([setup.length]);
  expect(frames.laps).toBe(1);
  // resynced to the producer's position: what is published from now on is read, gap-free
  const next = setup.length + 2_000 + 1;
  run(ring, engine, orders(10, 5_000) as Record<string, unknown>[], next);
  while (frames.pollRecords((f) => after.push(f.seq), (last) => laps.push(last)) > 0);
  expect(after.slice(-10)).toEqual(Array.from({ length: 10 }, (_, i) => next + i));
  expect(laps).toHaveLength(1);
});
