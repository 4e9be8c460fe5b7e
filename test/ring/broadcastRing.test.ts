/**
 * BroadcastRing: one producer -> several consumers with their own cursors; the producer never
 * waits; frames are readable only once published; a consumer more than a ring behind is lapped.
 *
 * Single-thread tests pin publishTo gating, pads, independent cursors, lagBytes, lap detection
 * (at the exact boundary), intact(), canClaim, and a model-based property test (positions starting
 * anywhere, including across the Int32 wrap). The stress test runs the producer and two consumers
 * in worker threads: a fast one that must see every frame, and a slow one that is lapped over and
 * over and must never accept a damaged frame.
 *
 * The worker threads run the compiled ring (dist/), so `make build` must have run.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { BroadcastReader, BroadcastRing, EMPTY, LAPPED, MAX_CONSUMERS } from '../../src/ring/broadcastRing.js';
import { CONTROL_BYTES, FRAME_HEADER_BYTES, frameBytes } from '../../src/ring/frame.js';
import { checkDistFresh, sabAt, Spawned, until } from './harness.js';
import { checkPayload, writePayload } from './workers/common.mjs';

// ------------------------------------------------------------------ helpers

const CAP = 4096;
const MAX = CAP / 4 - FRAME_HEADER_BYTES; // 1016

/** Claims a frame and writes its payload (keyed by tag and length); not published. */
function put(ring: BroadcastRing, tag: number, len: number): number {
  const at = ring.claim(tag, len);
  writePayload(ring.v.bytes, at, tag, len, len);
  return at;
}

function putAll(ring: BroadcastRing, tags: number[], len: number): void {
  for (const t of tags) put(ring, t, len);
}

interface Got {
  tag: number;
  at: number;
  len: number;
  ok: string | null;
}

/** Reads (and advances over) up to `max` frames; stops at EMPTY, or at LAPPED (pushed as 'LAPPED'). */
function read(r: BroadcastReader, max = 10_000): (Got | 'LAPPED')[] {
  const out: (Got | 'LAPPED')[] = [];
  while (out.length < max) {
    const at = r.next();
    if (at === EMPTY) break;
    if (at === LAPPED) {
      out.push('LAPPED');
      break;
    }
    const ok = checkPayload(r.v.bytes, at, r.payloadBytes, r.tag, r.payloadBytes);
    out.push({ tag: r.tag, at, len: r.payloadBytes, ok: r.intact() ? ok : 'not intact' });
    r.advance();
  }
  return out;
}

/** The tags read, with 'LAPPED' or a payload error in their place. */
function readTags(r: BroadcastReader, max?: number): (number | string)[] {
  return read(r, max).map((g) => (g === 'LAPPED' ? g : g.ok ?? g.tag));
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

// ------------------------------------------------------------------ single thread

describe('BroadcastRing, one thread', () => {
  it('capacity must be a power of two in [4 KiB, 1 GiB]; reader index 0..MAX_CONSUMERS-1', () => {
    for (const bad of [0, 1000, 4095, 6144, 2 ** 31]) expect(() => BroadcastRing.create(bad), String(bad)).toThrow(/power of two/);
    expect(() => new BroadcastRing(new SharedArrayBuffer(CONTROL_BYTES + 5000))).toThrow(/power of two/);
    const ring = BroadcastRing.create(CAP);
    expect(MAX_CONSUMERS).toBe(11);
    for (const bad of [-1, MAX_CONSUMERS, 1.5, Number.NaN]) expect(() => ring.reader(bad), String(bad)).toThrow(/consumer index/);
    expect(ring.reader(MAX_CONSUMERS - 1)).toBeInstanceOf(BroadcastReader);
  });

  it('claimed frames are not readable until published; publishTo(position) publishes exactly the frames claimed before it', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    expect(ring.position()).toBe(0);
    expect(put(ring, 1, 10)).toBe(8);
    const p1 = ring.position();
    expect(p1).toBe(frameBytes(10));
    put(ring, 2, 20);
    put(ring, 3, 30);
    expect(ring.heldBytes()).toBe(frameBytes(10) + frameBytes(20) + frameBytes(30));
    expect(r.hasFrame()).toBe(false);
    expect(r.next()).toBe(EMPTY);
    expect(ring.lagBytes(0)).toBe(0);

    ring.publishTo(p1);
    expect(ring.heldBytes()).toBe(frameBytes(20) + frameBytes(30));
    expect(ring.lagBytes(0)).toBe(frameBytes(10));
    expect(r.hasFrame()).toBe(true);
    expect(readTags(r)).toEqual([1]);
    expect(r.next()).toBe(EMPTY);
    expect(ring.lagBytes(0)).toBe(0);

    // publishing an older position (or the same one) changes nothing
    ring.publishTo(0);
    ring.publishTo(p1);
    expect(ring.heldBytes()).toBe(frameBytes(20) + frameBytes(30));
    expect(r.next()).toBe(EMPTY);

    ring.publishTo(ring.position());
    expect(ring.heldBytes()).toBe(0);
    expect(readTags(r)).toEqual([2, 3]);
    expect(r.hasFrame()).toBe(false);
  });

  it('next() without advance() returns the same frame again; the reader exposes tag and payloadBytes', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    put(ring, 7, 12);
    put(ring, 8, 40);
    ring.publishTo(ring.position());
    const a = r.next();
    expect(a).toBe(8);
    expect([r.tag, r.payloadBytes, r.intact()]).toEqual([7, 12, true]);
    expect(r.next()).toBe(a);
    r.advance();
    expect(r.next()).toBe(8 + frameBytes(12));
    expect([r.tag, r.payloadBytes]).toEqual([8, 40]);
    r.advance();
    expect(r.next()).toBe(EMPTY);
  });

  it('a reader made later starts at the published position: neither older frames nor held ones', () => {
    const ring = BroadcastRing.create(CAP);
    const r0 = ring.reader(0);
    putAll(ring, [1, 2], 16);
    ring.publishTo(ring.position());
    put(ring, 3, 16); // held
    const r1 = ring.reader(1);
    expect(r1.next()).toBe(EMPTY);
    expect(ring.lagBytes(1)).toBe(0);
    expect(ring.lagBytes(0)).toBe(2 * frameBytes(16));
    ring.publishTo(ring.position());
    expect(readTags(r1)).toEqual([3]);
    expect(readTags(r0)).toEqual([1, 2, 3]);
  });

  it('wrap: a frame that does not fit before the end gets a pad and starts at 0; readers skip the pad; lag counts it', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    for (let i = 0; i < 36; i++) {
      put(ring, i, 100); // 36 * 112 = 4032: 64 bytes to the end
      if (i % 10 === 9) {
        ring.publishTo(ring.position());
        expect(readTags(r)).toEqual(range(i - 9, 10));
      }
    }
    ring.publishTo(ring.position());
    expect(readTags(r)).toEqual([30, 31, 32, 33, 34, 35]);
    expect(put(ring, 36, 100)).toBe(8);
    expect(ring.v.i32[4032 >> 2]).toBe(-64);
    expect(ring.position()).toBe(4032 + 64 + 112);
    expect(ring.heldBytes()).toBe(64 + 112);
    expect(put(ring, 37, 200)).toBe(112 + 8);
    ring.publishTo(ring.position());
    expect(ring.lagBytes(0)).toBe(64 + 112 + frameBytes(200));
    const got = read(r);
    expect(got).toEqual([
      { tag: 36, at: 8, len: 100, ok: null },
      { tag: 37, at: 120, len: 200, ok: null },
    ]);
    expect(ring.lagBytes(0)).toBe(0);
  });

  it('a frame that ends exactly at the end of the region needs no pad', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    for (let i = 0; i < 31; i++) put(ring, i, 120); // 3968
    ring.publishTo(ring.position());
    expect(readTags(r)).toEqual(range(0, 31));
    expect(put(ring, 31, 120)).toBe(3968 + 8);
    expect(put(ring, 32, 120)).toBe(8);
    ring.publishTo(ring.position());
    expect(readTags(r)).toEqual([31, 32]);
  });

  it('two readers keep independent cursors; lagBytes(i) is published minus reader i\'s cursor', () => {
    const ring = BroadcastRing.create(CAP);
    const r0 = ring.reader(0);
    const r1 = ring.reader(1);
    for (let i = 0; i < 5; i++) put(ring, i, 8 * i);
    ring.publishTo(ring.position());
    const all = range(0, 5).reduce((a, i) => a + frameBytes(8 * i), 0);
    expect([ring.lagBytes(0), ring.lagBytes(1)]).toEqual([all, all]);
    expect(readTags(r0, 2)).toEqual([0, 1]);
    expect(readTags(r1)).toEqual([0, 1, 2, 3, 4]);
    expect(ring.lagBytes(0)).toBe(all - frameBytes(0) - frameBytes(8));
    expect(ring.lagBytes(1)).toBe(0);
    put(ring, 5, 50);
    expect(ring.lagBytes(1)).toBe(0); // held bytes are not lag
    ring.publishTo(ring.position());
    expect(ring.lagBytes(1)).toBe(frameBytes(50));
    expect(readTags(r0)).toEqual([2, 3, 4, 5]);
    expect(readTags(r1)).toEqual([5]);
    expect([ring.lagBytes(0), ring.lagBytes(1)]).toEqual([0, 0]);
    expect(ring.lapCount()).toBe(0);
  });

  it('exactly a ring behind is not lapped: a reader reads a whole ring of frames published at once', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    putAll(ring, range(0, 32), 120); // 32 * 128 = 4096
    ring.publishTo(ring.position());
    expect(ring.lagBytes(0)).toBe(CAP);
    expect(readTags(r)).toEqual(range(0, 32));
    expect(ring.lapCount()).toBe(0);
  });

  it('more than a ring behind: LAPPED, lapCount counts each detection, resync() reads only new frames', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    const keeper = ring.reader(1); // keeps up
    for (let i = 0; i < 33; i++) {
      put(ring, i, 120); // the 33rd frame is written over the first
      ring.publishTo(ring.position());
      expect(readTags(keeper)).toEqual([i]);
    }
    expect(ring.lagBytes(0)).toBe(33 * 128);
    expect(r.hasFrame()).toBe(true);
    expect(r.next()).toBe(LAPPED);
    expect(ring.lapCount()).toBe(1);
    expect(r.next()).toBe(LAPPED); // still lapped until it resyncs
    expect(ring.lapCount()).toBe(2);
    r.resync();
    expect(ring.lagBytes(0)).toBe(0);
    expect(r.next()).toBe(EMPTY);
    putAll(ring, [100, 101, 102], 40);
    ring.publishTo(ring.position());
    expect(readTags(r)).toEqual([100, 101, 102]);
    expect(readTags(keeper)).toEqual([100, 101, 102]);
    expect(ring.lapCount()).toBe(2);
  });

  it('a claim laps a reader as soon as it is announced, before it is published', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    putAll(ring, range(0, 31), 120); // 3968
    ring.publishTo(ring.position());
    put(ring, 31, 120); // 4096: the reader's first frame is still whole
    put(ring, 32, 0); // 4104: now it is not
    expect(ring.heldBytes()).toBe(128 + 8);
    expect(r.next()).toBe(LAPPED);
    expect(ring.lapCount()).toBe(1);
  });

  it('intact(): false once the producer claims over the frame being read, true up to the exact boundary', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    putAll(ring, range(0, 31), 120); // 3968
    ring.publishTo(ring.position());
    expect(r.next()).toBe(8);
    expect(r.intact()).toBe(true);
    put(ring, 31, 120); // claimed up to 4096: the frame at 0..128 is untouched
    expect(r.intact()).toBe(true);
    put(ring, 32, 0); // 4104: claims bytes 0..8 of it
    expect(r.intact()).toBe(false);
    // the frame's header and payload were indeed written over
    expect(r.v.i32[0]).toBe(FRAME_HEADER_BYTES);
    expect(r.v.i32[1]).toBe(32);
  });

  it('a reader lapped across a pad: LAPPED, not a frame read from the middle of another', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    for (let i = 0; i < 36; i++) put(ring, i, 100); // 4032
    ring.publishTo(ring.position());
    expect(readTags(r)).toEqual(range(0, 36));
    put(ring, 36, 100); // pad at 4032, frame at 0
    ring.publishTo(ring.position());
    // now the reader is at the pad; the producer goes round once more, over the pad
    for (let i = 37; i < 37 + 37; i++) put(ring, i, 100);
    ring.publishTo(ring.position());
    expect(readTags(r)).toEqual(['LAPPED']);
    r.resync();
    expect(r.next()).toBe(EMPTY);
  });

  it('canClaim: held bytes + twice the frame must fit, so even a frame behind a pad never overwrites unpublished frames', () => {
    const ring = BroadcastRing.create(CAP);
    expect(ring.canClaim(MAX)).toBe(true);
    putAll(ring, range(0, 30), 120); // 3840 held
    expect(ring.canClaim(120)).toBe(true); // 3840 + 2 * 128 = 4096
    expect(ring.canClaim(121)).toBe(false);
    put(ring, 30, 120); // 3968 held
    expect(ring.canClaim(120)).toBe(false);
    expect(ring.canClaim(56)).toBe(true); // 3968 + 2 * 64 = 4096
    expect(ring.canClaim(57)).toBe(false);
    ring.publishTo(ring.position());
    expect(ring.heldBytes()).toBe(0);
    expect(ring.canClaim(MAX)).toBe(true);
  });

  it('a payload larger than maxPayloadBytes or negative throws, and claims nothing', () => {
    const ring = BroadcastRing.create(CAP);
    expect(ring.v.maxPayloadBytes).toBe(MAX);
    expect(() => ring.claim(1, MAX + 1)).toThrow(/max 1016/);
    expect(() => ring.claim(1, -1)).toThrow();
    expect(ring.position()).toBe(0);
    expect(ring.heldBytes()).toBe(0);
    expect(put(ring, 1, MAX)).toBe(8);
  });

  it('a payload size that is not an integer is refused (NaN would claim nothing, yet return an offset to write at)', () => {
    const ring = BroadcastRing.create(CAP);
    expect(() => ring.claim(1, Number.NaN)).toThrow();
    expect(() => ring.claim(1, 2.5)).toThrow();
    expect(ring.position()).toBe(0);
  });

  it('positions are Int32 counters: producer and readers cross 2^31 and 2^32 without a hitch', () => {
    for (const start of [2 ** 31 - 2048, -2048, -8]) {
      const ring = new BroadcastRing(sabAt(start | 0, CAP));
      expect(ring.position()).toBe(start | 0);
      const r = ring.reader(0);
      expect(ring.lagBytes(0)).toBe(0);
      let tag = 0;
      for (let round = 0; round < 12; round++) {
        const tags: number[] = [];
        for (let i = 0; i < 7; i++) {
          const len = (round * 7 + i) * 23 % 400;
          expect(ring.canClaim(len)).toBe(true);
          put(ring, tag, len);
          tags.push(tag++);
        }
        ring.publishTo(ring.position());
        expect(readTags(r), `start ${start} round ${round}`).toEqual(tags);
        expect(ring.lagBytes(0)).toBe(0);
      }
      // and a reader left behind is still told it was lapped
      const behind = ring.reader(1);
      for (let i = 0; i < 40; i++) put(ring, 1000 + i, 120);
      ring.publishTo(ring.position());
      expect(readTags(behind)).toEqual(['LAPPED']);
    }
  });

  it('model: claims only when canClaim, random publishes and reads; readers see published frames in order, a lagging one is lapped exactly when a ring behind', () => {
    type F = { tag: number; at: number; len: number; pos: number };
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('claim' as const), len: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: MAX })) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('publish' as const), partial: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('read' as const), who: fc.integer({ min: 0, max: 1 }), k: fc.integer({ min: 1, max: 12 }) }) },
    );
    const start = fc.oneof(fc.constant(0), fc.constant(2 ** 31 - 1024), fc.constant(-1024), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((x) => x & ~7));
    fc.assert(
      fc.property(start, fc.array(op, { maxLength: 200 }), (s, ops) => {
        const ring = new BroadcastRing(sabAt(s, CAP));
        const readers = [ring.reader(0), ring.reader(1)];
        // where each reader is: past any pad it skipped (local), and its stored cursor (the end of the last frame it advanced over)
        const local = [s, s];
        const slot = [s, s];
        const frames: F[] = []; // every frame claimed, in order
        let head = s;
        let published = s;
        let laps = 0;
        let nextTag = 1;
        const held = () => (head - published) | 0;
        for (const o of ops) {
          if (o.op === 'claim') {
            const need = frameBytes(o.len);
            const can = held() + 2 * need <= CAP;
            expect(ring.canClaim(o.len)).toBe(can);
            if (!can) continue;
            const at = head & (CAP - 1);
            const toEnd = CAP - at;
            const pad = need > toEnd;
            const frameAt = (pad ? 0 : at) + FRAME_HEADER_BYTES;
            const tag = nextTag++;
            expect(put(ring, tag, o.len)).toBe(frameAt);
            frames.push({ tag, at: frameAt, len: o.len, pos: pad ? (head + toEnd) | 0 : head });
            head = (head + (pad ? toEnd + need : need)) | 0;
            expect(ring.position()).toBe(head);
            expect(ring.heldBytes()).toBe(held());
          } else if (o.op === 'publish') {
            // publish everything, or up to the middle held frame
            const unpublished = frames.filter((f) => ((f.pos - published) | 0) >= 0);
            const to = o.partial && unpublished.length > 1 ? unpublished[unpublished.length >> 1]!.pos : head;
            // every frame about to be published is still whole: no claim since wrote over it
            for (const f of frames.filter((x) => ((x.pos - published) | 0) >= 0 && ((x.pos - to) | 0) < 0)) expect(checkPayload(ring.v.bytes, f.at, f.len, f.tag, f.len)).toBeNull();
            ring.publishTo(to);
            published = to;
            expect(ring.heldBytes()).toBe(held());
          } else {
            const w = o.who;
            const r = readers[w]!;
            expect(ring.lagBytes(w)).toBe((published - slot[w]!) | 0);
            // the frames this reader is due: from its cursor up to the published position
            const due = frames.filter((f) => ((f.pos - local[w]!) | 0) >= 0 && ((f.pos - published) | 0) < 0);
            const got = read(r, o.k);
            if (((head - local[w]!) | 0) > CAP && due.length > 0) {
              // lapped the moment any byte of its next frame was claimed over
              expect(got).toEqual(['LAPPED']);
              laps++;
              r.resync();
              local[w] = slot[w] = published;
              expect(ring.lagBytes(w)).toBe(0);
            } else {
              const want = due.slice(0, o.k);
              expect(got).toEqual(want.map((f) => ({ tag: f.tag, at: f.at, len: f.len, ok: null })));
              if (want.length > 0) {
                const last = want[want.length - 1]!;
                local[w] = slot[w] = (last.pos + frameBytes(last.len)) | 0;
              }
              // stopped at EMPTY: it skipped any published pad on the way
              if (want.length < o.k) local[w] = published;
            }
            expect(ring.lapCount()).toBe(laps);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('waitForFrame: false after the timeout when nothing is published, true at once when something is', () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    put(ring, 1, 8); // held: not a frame for the reader
    let t = performance.now();
    expect(r.waitForFrame(40, 10)).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(30);
    ring.publishTo(ring.position());
    t = performance.now();
    expect(r.waitForFrame(5_000, 10)).toBe(true);
    expect(performance.now() - t).toBeLessThan(1_000);
  });

  it('waitForFrameAsync: resolves false on timeout, and true when publishTo notifies it', async () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    expect(await r.waitForFrameAsync(30)).toBe(false);
    const t = performance.now();
    const waiting = r.waitForFrameAsync(10_000);
    setTimeout(() => {
      put(ring, 5, 5);
      ring.publishTo(ring.position());
    }, 50);
    expect(await waiting).toBe(true);
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(readTags(r)).toEqual([5]);
  });
});

// ------------------------------------------------------------------ threads

describe('BroadcastRing, across threads', () => {
  beforeAll(() => checkDistFresh(['frame', 'broadcastRing']));

  it('a consumer asleep in waitForFrame is woken by another thread\'s publishTo', async () => {
    const ring = BroadcastRing.create(CAP);
    const r = ring.reader(0);
    const w = new Spawned('ringHelper.mjs', { sab: ring.sab, action: 'broadcast-publish', delayMs: 150 });
    try {
      const t = performance.now();
      const got = r.waitForFrame(10_000, 0);
      const took = performance.now() - t;
      expect(got).toBe(true);
      expect(took).toBeGreaterThan(100);
      expect(took).toBeLessThan(5_000);
      const at = r.next();
      expect([r.tag, r.payloadBytes, r.intact()]).toEqual([88, 4, true]);
      expect([...r.v.bytes.subarray(at, at + 4)]).toEqual([5, 6, 7, 8]);
      expect(await until(() => w.exitCode !== null, 5_000)).toBe(true);
      expect(w.error).toBeNull();
      expect(w.exitCode).toBe(0);
    } finally {
      await w.worker.terminate();
    }
  });

  it('stress: a producer thread publishes 500k checksummed frames in batches; a fast consumer sees all in order, a slow one is lapped, resyncs, and never accepts a damaged frame', async () => {
    const FRAMES = 500_000;
    const ring = BroadcastRing.create(1 << 16);
    const ctl = new SharedArrayBuffer(8);
    const workers: Spawned[] = [];
    try {
      const t0 = performance.now();
      const fast = new Spawned('broadcastConsumer.mjs', { sab: ring.sab, ctl, index: 0, mode: 'fast' });
      const slow = new Spawned('broadcastConsumer.mjs', { sab: ring.sab, ctl, index: 1, mode: 'slow' });
      const producer = new Spawned('broadcastProducer.mjs', { sab: ring.sab, ctl, frames: FRAMES, consumers: 2, fastIndex: 0 });
      workers.push(fast, slow, producer);

      // all three finish on their own
      const finished = await until(() => workers.every((w) => w.exitCode !== null), 30_000);
      const took = performance.now() - t0;
      expect(workers.map((w) => w.failure())).toEqual([null, null, null]);
      expect(finished).toBe(true);
      expect(workers.map((w) => w.exitCode)).toEqual([0, 0, 0]);
      const p = producer.message('done')!;
      const f = fast.message('done')!;
      const s = slow.message('done')!;
      expect(p.frames).toBe(FRAMES);
      expect(ring.lagBytes(0)).toBe(0);
      expect(p.partials as number).toBeGreaterThan(100);

      // the fast consumer: every frame, in order, intact, never lapped
      expect(f.errors).toEqual([]);
      expect({ accepted: f.accepted, expected: f.expected, laps: f.laps, overwritten: f.overwritten, corrupt: f.corruptAccepted, order: f.orderErrors, skips: f.skips }).toEqual({
        accepted: FRAMES,
        expected: FRAMES,
        laps: 0,
        overwritten: 0,
        corrupt: 0,
        order: 0,
        skips: 0,
      });

      // the slow consumer: lapped (and told so), frames written over under it (and told so),
      // carried on after each resync, never accepted a damaged frame or one out of order
      expect(s.errors).toEqual([]);
      expect(s.corruptAccepted).toBe(0);
      expect(s.orderErrors).toBe(0);
      expect(s.laps as number).toBeGreaterThan(0);
      expect(s.overwritten as number).toBeGreaterThan(0);
      expect(s.overwrittenBad as number).toBeGreaterThan(0); // intact() really did catch damaged reads
      expect(s.acceptedAfterFirstLap as number).toBeGreaterThan(0);
      expect(s.skips as number).toBeGreaterThan(0);
      expect(s.accepted as number).toBeLessThan(FRAMES);

      // LAPS counts every LAPPED next() returned, and only the slow consumer got any
      expect(ring.lapCount()).toBe(s.laps);
      console.log(
        `broadcast stress: ${FRAMES} frames in ${took.toFixed(0)} ms; producer throttled ${p.throttles} times, max held ${p.maxHeld} B; ` +
          `slow consumer: ${s.accepted} accepted, ${s.laps} laps, ${s.overwritten} overwritten while read (${s.overwrittenBad} visibly damaged), ${s.skips} resync skips`,
      );
    } finally {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    }
  }, 60_000);
});
