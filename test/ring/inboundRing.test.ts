/**
 * InboundRing: many producers -> one consumer, bounded, never lossy.
 *
 * Single-thread tests pin the layout (8-aligned frames, pads at the end of the region), the
 * back-pressure (a refused claim changes nothing but the OVERLOADED count), commit ordering and the
 * consumer's zeroing, plus a model-based property test against a plain queue (positions starting
 * anywhere, including across the Int32 wrap). The stress test runs three producer threads against
 * the main thread as the consumer through a 64 KiB ring that wraps and fills thousands of times.
 *
 * The worker threads run the compiled ring (dist/), so `make build` must have run: the suite checks
 * that dist is not older than src.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_BYTES, FRAME_HEADER_BYTES, frameBytes } from '../../src/ring/frame.js';
import { InboundRing } from '../../src/ring/inboundRing.js';
import { checkDistFresh, sabAt, Spawned, until, yieldToEventLoop } from './harness.js';
import { checkPayload, inboundLen, inboundTag, writePayload } from './workers/common.mjs';

// ------------------------------------------------------------------ helpers

const CAP = 4096;
const MAX = CAP / 4 - FRAME_HEADER_BYTES; // 1016

interface Got {
  tag: number;
  at: number;
  len: number;
  ok: string | null;
}

/** claim + payload (keyed by tag and length) + commit; returns the payload offset or -1. */
function put(ring: InboundRing, tag: number, len: number): number {
  const at = ring.claim(len);
  if (at < 0) return at;
  writePayload(ring.v.bytes, at, tag, len, len);
  ring.commit(at, tag, len);
  return at;
}

/**
 * Drains up to `max` frames (by default one more than a ring can hold, so a drain that hands
 * frames twice shows up as a failed expectation, not a hang), checking each payload against what
 * `put` wrote.
 */
function drain(ring: InboundRing, max = ring.capacity / FRAME_HEADER_BYTES + 1): Got[] {
  const out: Got[] = [];
  ring.drain(max, (tag, at, len) => out.push({ tag, at, len, ok: checkPayload(ring.v.bytes, at, len, tag, len) }));
  return out;
}

const tags = (g: Got[]) => g.map((f) => f.tag);
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** A ring whose claim and tail positions both start at `start` (8-aligned). */
function ringAt(start: number, capacity = CAP): InboundRing {
  return new InboundRing(sabAt(start, capacity));
}

function allZero(ring: InboundRing): boolean {
  return ring.v.i32.every((w) => w === 0);
}

// ------------------------------------------------------------------ single thread

describe('InboundRing, one thread', () => {
  it('capacity must be a power of two in [4 KiB, 1 GiB]', () => {
    for (const bad of [0, 1000, 2048, 4095, 4097, 3 * 4096, 2 ** 31, 1.5, Number.NaN]) expect(() => InboundRing.create(bad), String(bad)).toThrow(/power of two/);
    expect(InboundRing.create(4096).capacity).toBe(4096);
    expect(InboundRing.create(1 << 16).v.maxPayloadBytes).toBe((1 << 16) / 4 - 8);
    expect(() => new InboundRing(new SharedArrayBuffer(CONTROL_BYTES + 1000))).toThrow(/power of two/);
  });

  it('frames come out in order with tag, length and payload; usedBytes counts header and alignment; 0 after the drain', () => {
    const ring = InboundRing.create(CAP);
    const sizes = [0, 1, 7, 8, 9, 100, MAX];
    let expectedAt = FRAME_HEADER_BYTES;
    let used = 0;
    sizes.forEach((len, i) => {
      expect(put(ring, 100 + i, len)).toBe(expectedAt);
      expect(expectedAt % 8).toBe(0);
      expectedAt += frameBytes(len);
      used += frameBytes(len);
      expect(ring.usedBytes()).toBe(used);
    });
    expect(frameBytes(0)).toBe(8);
    expect(frameBytes(1)).toBe(16);
    expect(frameBytes(8)).toBe(16);
    expect(frameBytes(9)).toBe(24);
    expect(ring.hasFrame()).toBe(true);
    const got = drain(ring);
    expect(got.map((g) => [g.tag, g.len, g.ok])).toEqual(sizes.map((len, i) => [100 + i, len, null]));
    expect(ring.usedBytes()).toBe(0);
    expect(ring.hasFrame()).toBe(false);
    expect(drain(ring)).toEqual([]);
    expect(ring.overloadedCount()).toBe(0);
    expect(allZero(ring)).toBe(true);
  });

  it('drain(maxFrames) hands at most that many and the next drain resumes after them', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 10; i++) put(ring, i, 20 + i);
    expect(tags(drain(ring, 3))).toEqual([0, 1, 2]);
    expect(ring.usedBytes()).toBe([23, 24, 25, 26, 27, 28, 29].reduce((a, len) => a + frameBytes(len), 0));
    expect(tags(drain(ring, 0))).toEqual([]);
    expect(tags(drain(ring, 4))).toEqual([3, 4, 5, 6]);
    expect(tags(drain(ring))).toEqual([7, 8, 9]);
    expect(ring.usedBytes()).toBe(0);
  });

  it('wrap: a frame that does not fit before the end is preceded by a pad to the end and starts at 0', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 30; i++) put(ring, i, 100); // 30 * 112 = 3360
    expect(drain(ring).length).toBe(30);
    expect(ring.usedBytes()).toBe(0);
    // 736 bytes to the end, the frame needs 1024: pad 736, frame at 0
    expect(put(ring, 1000, MAX)).toBe(FRAME_HEADER_BYTES);
    expect(ring.v.i32[3360 >> 2]).toBe(-(CAP - 3360));
    expect(ring.usedBytes()).toBe(CAP - 3360 + frameBytes(MAX));
    expect(ring.hasFrame()).toBe(true); // the pad is at the tail, committed at once
    // the next frame follows it
    expect(put(ring, 1001, 5)).toBe(frameBytes(MAX) + FRAME_HEADER_BYTES);
    const got = drain(ring);
    expect(got.map((g) => [g.tag, g.at, g.len, g.ok])).toEqual([
      [1000, 8, MAX, null],
      [1001, 1024 + 8, 5, null],
    ]);
    expect(ring.usedBytes()).toBe(0);
    expect(allZero(ring)).toBe(true); // the pad was zeroed too
  });

  it('a frame that ends exactly at the end of the region needs no pad; the next one starts at 0', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 31; i++) put(ring, i, 120); // 31 * 128 = 3968
    drain(ring);
    expect(put(ring, 50, 120)).toBe(3968 + 8); // ends at 4096
    expect(put(ring, 51, 120)).toBe(8);
    expect(ring.usedBytes()).toBe(256);
    expect(drain(ring).map((g) => [g.tag, g.at, g.ok])).toEqual([
      [50, 3976, null],
      [51, 8, null],
    ]);
  });

  it('a full ring refuses claims with -1, counts them, and changes nothing: the next drain returns exactly the committed frames', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 32; i++) expect(put(ring, i, 120)).toBeGreaterThan(0); // 32 * 128 = 4096: exactly full
    expect(ring.usedBytes()).toBe(CAP);
    const before = ring.v.bytes.slice();
    expect(ring.claim(120)).toBe(-1);
    expect(ring.claim(0)).toBe(-1);
    expect(ring.tryWrite(99, new Uint8Array(3))).toBe(false);
    expect(ring.overloadedCount()).toBe(3);
    expect(ring.usedBytes()).toBe(CAP);
    expect(ring.v.bytes).toEqual(before);
    const got = drain(ring);
    expect(tags(got)).toEqual(range(0, 32));
    expect(got.every((g) => g.ok === null)).toBe(true);
    expect(ring.usedBytes()).toBe(0);
    // and it takes frames again
    expect(put(ring, 40, 120)).toBe(8);
    expect(tags(drain(ring))).toEqual([40]);
    expect(ring.overloadedCount()).toBe(3);
  });

  it('draining an exactly full ring in one call hands each frame once and frees the whole ring', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 32; i++) put(ring, i, 120); // 32 * 128 = 4096
    const seen: number[] = [];
    expect(ring.drain(100, (tag) => seen.push(tag))).toBe(32);
    expect(seen).toEqual(range(0, 32));
    expect(ring.usedBytes()).toBe(0);
    expect(ring.hasFrame()).toBe(false);
    expect(allZero(ring)).toBe(true);
    // the same with a pad in the full ring: tail at 3968, pad 128 + 31 frames of 128
    for (let i = 0; i < 31; i++) put(ring, i, 120);
    drain(ring);
    expect(put(ring, 100, 248)).toBe(8); // pad 128 + 256 bytes at 0
    for (let i = 0; i < 29; i++) put(ring, 101 + i, 120); // 128 + 256 + 29 * 128 = 4096
    expect(ring.usedBytes()).toBe(CAP);
    expect(tags(drain(ring, 100))).toEqual(range(100, 30));
    expect(ring.usedBytes()).toBe(0);
  });

  it('one frame consumed from a full ring makes room for exactly one frame of that size', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 32; i++) put(ring, i, 120);
    expect(tags(drain(ring, 1))).toEqual([0]);
    expect(ring.claim(121)).toBe(-1); // 136 bytes do not fit in 128
    expect(put(ring, 32, 120)).toBe(8);
    expect(ring.claim(0)).toBe(-1);
    expect(ring.overloadedCount()).toBe(2);
    expect(tags(drain(ring))).toEqual(range(1, 32));
  });

  it('a claim that would need a pad plus the frame is refused when that does not fit, and writes no pad', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 31; i++) put(ring, i, 120); // head at 3968: 128 bytes to the end
    expect(tags(drain(ring, 7))).toEqual([0, 1, 2, 3, 4, 5, 6]); // tail 896: 1024 bytes free in all, not together
    const used = ring.usedBytes();
    expect(used).toBe(3072);
    expect(ring.claim(MAX)).toBe(-1); // needs 128 (pad) + 1024
    expect(ring.v.i32[3968 >> 2]).toBe(0); // no pad written
    expect(ring.usedBytes()).toBe(used);
    expect(ring.overloadedCount()).toBe(1);
    expect(tags(drain(ring, 1))).toEqual([7]); // tail 1024: now pad + frame fit exactly
    expect(put(ring, 99, MAX)).toBe(8);
    expect(ring.v.i32[3968 >> 2]).toBe(-128);
    expect(ring.usedBytes()).toBe(CAP);
    const got = drain(ring);
    expect(tags(got)).toEqual([...range(8, 23), 99]);
    expect(got.every((g) => g.ok === null)).toBe(true);
    expect(ring.usedBytes()).toBe(0);
    expect(allZero(ring)).toBe(true);
  });

  it('a payload larger than maxPayloadBytes (a quarter of the ring less the header) or negative throws, and changes nothing', () => {
    const ring = InboundRing.create(CAP);
    expect(ring.v.maxPayloadBytes).toBe(MAX);
    expect(() => ring.claim(MAX + 1)).toThrow(/max 1016/);
    expect(() => ring.claim(-1)).toThrow();
    expect(() => ring.claim(Number.POSITIVE_INFINITY)).toThrow();
    expect(() => ring.tryWrite(1, new Uint8Array(MAX + 1))).toThrow();
    expect(ring.usedBytes()).toBe(0);
    expect(ring.overloadedCount()).toBe(0);
    expect(put(ring, 1, MAX)).toBe(8);
    expect(drain(ring).map((g) => [g.tag, g.len, g.ok])).toEqual([[1, MAX, null]]);
  });

  it('a payload size that is not an integer is refused (NaN would reserve no space, yet return an offset)', () => {
    const ring = InboundRing.create(CAP);
    expect(() => ring.claim(Number.NaN)).toThrow();
    expect(() => ring.claim(1.5)).toThrow();
    expect(ring.usedBytes()).toBe(0);
  });

  it('a claimed, uncommitted frame blocks the ones behind it: commit B before A, nothing until A commits, then A, B', () => {
    const ring = InboundRing.create(CAP);
    const a = new InboundRing(ring.sab); // producer A
    const b = new InboundRing(ring.sab); // producer B
    const atA = a.claim(16);
    const atB = b.claim(24);
    expect(atB).toBe(atA + frameBytes(16));
    writePayload(b.v.bytes, atB, 2, 24, 24);
    b.commit(atB, 2, 24);
    expect(ring.hasFrame()).toBe(false);
    expect(drain(ring)).toEqual([]);
    expect(ring.usedBytes()).toBe(frameBytes(16) + frameBytes(24));
    writePayload(a.v.bytes, atA, 1, 16, 16);
    a.commit(atA, 1, 16);
    expect(ring.hasFrame()).toBe(true);
    expect(drain(ring).map((g) => [g.tag, g.at, g.ok])).toEqual([
      [1, atA, null],
      [2, atB, null],
    ]);
    expect(ring.usedBytes()).toBe(0);
  });

  it('an uncommitted frame behind a pad: the pad is consumed, the frame still blocks the next one', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 31; i++) put(ring, i, 120);
    drain(ring); // tail = head = 3968
    const atA = ring.claim(200); // pad 128 + frame at 0
    expect(atA).toBe(8);
    expect(put(ring, 2, 8)).toBe(frameBytes(200) + 8);
    expect(ring.hasFrame()).toBe(true); // the pad
    expect(drain(ring)).toEqual([]);
    expect(ring.usedBytes()).toBe(frameBytes(200) + frameBytes(8)); // the pad's 128 bytes are free again
    expect(ring.hasFrame()).toBe(false);
    writePayload(ring.v.bytes, atA, 1, 200, 200);
    ring.commit(atA, 1, 200);
    expect(drain(ring).map((g) => [g.tag, g.ok])).toEqual([
      [1, null],
      [2, null],
    ]);
    expect(allZero(ring)).toBe(true);
  });

  it('a consumer that attaches later starts at the stored tail', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 5; i++) put(ring, i, 10);
    expect(tags(drain(ring, 2))).toEqual([0, 1]);
    const again = new InboundRing(ring.sab);
    expect(tags(drain(again))).toEqual([2, 3, 4]);
    expect(again.usedBytes()).toBe(0);
  });

  it('positions are Int32 counters: frames cross 2^31 and 2^32 (as Int32: 0) without a hitch', () => {
    for (const start of [2 ** 31 - 2048, -2048, -8, 2 ** 31 - 8]) {
      const ring = ringAt(start | 0);
      expect(ring.usedBytes()).toBe(0);
      const first = put(ring, 0, 100);
      const at0 = start & (CAP - 1);
      expect(first, `start ${start}`).toBe(CAP - at0 >= frameBytes(100) ? at0 + 8 : 8); // -8: 8 bytes to the end, pad
      const sent = [0];
      let tag = 1;
      // push 3 ring's worth through, draining as needed
      for (let i = 0; i < 400; i++) {
        const len = (i * 37) % 300;
        if (put(ring, tag, len) < 0) {
          expect(drain(ring).map((g) => [g.tag, g.ok])).toEqual(sent.map((t) => [t, null]));
          sent.length = 0;
          expect(put(ring, tag, len)).toBeGreaterThan(0);
        }
        sent.push(tag++);
      }
      expect(drain(ring).map((g) => [g.tag, g.ok])).toEqual(sent.map((t) => [t, null]));
      expect(ring.usedBytes()).toBe(0);
      expect(allZero(ring)).toBe(true);
    }
  });

  it('model: any mix of claims (from two producer attachments), late commits and partial drains behaves like a queue', () => {
    type Item = { pad: boolean; size: number; committed: boolean; tag: number; len: number; at: number };
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('claim' as const), len: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: MAX })), commitNow: fc.boolean(), via: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('commit' as const), pick: fc.nat() }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('drain' as const), k: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(1_000)) }) },
    );
    const start = fc.oneof(fc.constant(0), fc.constant(2 ** 31 - 1024), fc.constant(-1024), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((x) => x & ~7));
    fc.assert(
      fc.property(start, fc.array(op, { maxLength: 150 }), (s, ops) => {
        const consumer = ringAt(s);
        const p = [new InboundRing(consumer.sab), new InboundRing(consumer.sab)];
        const items: Item[] = [];
        let head = s;
        let refusals = 0;
        let nextTag = 1;
        const commit = (it: Item) => {
          writePayload(consumer.v.bytes, it.at, it.tag, it.len, it.len);
          p[it.tag & 1]!.commit(it.at, it.tag, it.len);
          it.committed = true;
        };
        for (const o of ops) {
          if (o.op === 'claim') {
            const need = frameBytes(o.len);
            const at = head & (CAP - 1);
            const toEnd = CAP - at;
            const total = need <= toEnd ? need : toEnd + need;
            const used = items.reduce((a, x) => a + x.size, 0);
            const got = p[o.via ? 1 : 0]!.claim(o.len);
            if (used + total > CAP) {
              expect(got).toBe(-1);
              refusals++;
            } else {
              if (total !== need) items.push({ pad: true, size: toEnd, committed: true, tag: 0, len: 0, at: 0 });
              const frameAt = (total !== need ? 0 : at) + FRAME_HEADER_BYTES;
              expect(got).toBe(frameAt);
              const tag = (nextTag++ << 1) | (o.via ? 1 : 0);
              const item = { pad: false, size: need, committed: false, tag, len: o.len, at: frameAt };
              items.push(item);
              head = (head + total) | 0;
              if (o.commitNow) commit(item);
            }
          } else if (o.op === 'commit') {
            const open = items.filter((x) => !x.committed);
            if (open.length > 0) commit(open[o.pick % open.length]!);
          } else {
            const want: Got[] = [];
            let n = 0;
            while (n < o.k && items.length > 0 && items[0]!.committed) {
              const x = items.shift()!;
              if (x.pad) continue;
              want.push({ tag: x.tag, at: x.at, len: x.len, ok: null });
              n++;
            }
            expect(drain(consumer, o.k)).toEqual(want);
          }
          expect(consumer.usedBytes()).toBe(items.reduce((a, x) => a + x.size, 0));
          expect(consumer.overloadedCount()).toBe(refusals);
          expect(consumer.hasFrame()).toBe(items.length > 0 && items[0]!.committed);
        }
        // commit and drain the rest: everything comes out, and the region is all zero again
        for (const x of items) if (!x.committed) commit(x);
        expect(tags(drain(consumer))).toEqual(items.filter((x) => !x.pad).map((x) => x.tag));
        expect(consumer.usedBytes()).toBe(0);
        expect(allZero(consumer)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a frame handler that throws: the frames handed before it stay consumed, the ring is not wedged, the rest still come', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 5; i++) put(ring, i, 16);
    const seen: number[] = [];
    expect(() =>
      ring.drain(10, (tag) => {
        if (tag === 2) throw new Error('bad command');
        seen.push(tag);
      }),
    ).toThrow('bad command');
    expect(seen).toEqual([0, 1]);
    // frames 0 and 1 are consumed (not handed again); the one whose handler threw comes again, then the rest
    expect(tags(drain(ring))).toEqual([2, 3, 4]);
    expect(ring.usedBytes()).toBe(0);
    for (let i = 0; i < 31; i++) expect(put(ring, 10 + i, 120)).toBeGreaterThan(0); // all but 128 bytes of the ring fit again
  });

  it('a frame handler that throws on the first frame of a drain: that frame comes again', () => {
    const ring = InboundRing.create(CAP);
    for (let i = 0; i < 3; i++) put(ring, i, 16);
    expect(() =>
      ring.drain(10, () => {
        throw new Error('bad command');
      }),
    ).toThrow('bad command');
    expect(tags(drain(ring))).toEqual([0, 1, 2]);
  });

  it('waitForFrame: true at once when a frame is committed, false after the timeout when none is', () => {
    const ring = InboundRing.create(CAP);
    let t = performance.now();
    expect(ring.waitForFrame(40, 10)).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(30);
    put(ring, 1, 1);
    t = performance.now();
    expect(ring.waitForFrame(5_000, 10)).toBe(true);
    expect(performance.now() - t).toBeLessThan(1_000);
  });
});

// ------------------------------------------------------------------ threads

describe('InboundRing, across threads', () => {
  beforeAll(() => checkDistFresh(['frame', 'inboundRing']));

  for (const action of ['inbound-commit', 'inbound-wake'] as const) {
    it(`a consumer asleep in waitForFrame is woken by another thread's ${action === 'inbound-commit' ? 'commit' : 'wake()'}`, async () => {
      const ring = InboundRing.create(CAP);
      const w = new Spawned('ringHelper.mjs', { sab: ring.sab, action, delayMs: 150 });
      try {
        const t = performance.now();
        // no spinning: straight to sleep, so only a notify ends the wait before 10 s
        const got = ring.waitForFrame(10_000, 0);
        const took = performance.now() - t;
        expect(got).toBe(action === 'inbound-commit');
        expect(took).toBeGreaterThan(100);
        expect(took).toBeLessThan(5_000);
        if (action === 'inbound-commit') expect(drain(ring).map((g) => g.tag)).toEqual([77]);
        expect(await until(() => w.exitCode !== null, 5_000)).toBe(true);
        expect(w.error).toBeNull();
        expect(w.exitCode).toBe(0);
      } finally {
        await w.worker.terminate();
      }
    });
  }

  it('stress: 3 producer threads x 200k frames (1..300 bytes, some up to maxPayload/2) through a 64 KiB ring; nothing lost, duplicated, reordered or damaged', async () => {
    const PRODUCERS = 3;
    const FRAMES = 200_000;
    const ring = InboundRing.create(1 << 16);
    const max = ring.v.maxPayloadBytes;
    const gate = new SharedArrayBuffer(4);
    const workers: Spawned[] = [];
    try {
      for (let id = 0; id < PRODUCERS; id++)
        workers.push(new Spawned('inboundProducer.mjs', { sab: ring.sab, gate, id, frames: FRAMES, mode: id === 2 ? 'tryWrite' : 'claim', holdEvery: id === 2 ? 0 : 997 }));
      expect(await until(() => workers.every((w) => w.message('ready') || w.error || w.exitCode !== null), 10_000)).toBe(true);
      expect(workers.map((w) => w.error)).toEqual([null, null, null]);

      const expected = new Array<number>(PRODUCERS).fill(0);
      const errors: string[] = [];
      let errorCount = 0;
      let received = 0;
      let wraps = 0;
      let lastAt = -1;
      let bigFrames = 0;
      const bytes = ring.v.bytes;
      const fail = (s: string) => {
        if (errors.length < 20) errors.push(s);
        errorCount++;
      };
      const onFrame = (tag: number, at: number, len: number) => {
        received++;
        if (at <= lastAt) wraps++;
        lastAt = at;
        const id = tag >>> 24;
        if (id >= PRODUCERS) return fail(`tag ${tag}: producer id ${id}`);
        const c = expected[id]!;
        if (tag !== inboundTag(id, c)) return fail(`producer ${id}: counter ${tag & 0xffffff} where ${c} was due`);
        expected[id] = c + 1;
        if (len !== inboundLen(id, c, max)) return fail(`producer ${id} frame ${c}: ${len} bytes, not ${inboundLen(id, c, max)}`);
        if (len > 300) bigFrames++;
        const bad = checkPayload(bytes, at, len, id, c);
        if (bad) fail(`producer ${id} frame ${c} (${len} bytes): ${bad}`);
      };

      const t0 = performance.now();
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
      const total = PRODUCERS * FRAMES;
      const deadline = Date.now() + 25_000;
      let lastYield = Date.now();
      let drains = 0;
      while (received < total && errorCount === 0) {
        // mostly small batches; every other drain takes all there is (a whole ring's worth at times)
        if (ring.drain(++drains & 1 ? 256 : 1_000_000, onFrame) === 0) ring.waitForFrame(20);
        if (Date.now() - lastYield > 100) {
          // let worker messages / errors / exits in
          await yieldToEventLoop();
          lastYield = Date.now();
          if (workers.some((w) => w.error || w.message('failed') || (w.exitCode !== null && !w.message('done')))) break;
          if (Date.now() > deadline) break;
        }
      }
      const took = performance.now() - t0;
      expect(errors).toEqual([]);
      expect(workers.map((w) => w.failure())).toEqual([null, null, null]);
      expect(expected).toEqual([FRAMES, FRAMES, FRAMES]);
      expect(received).toBe(total);

      // the producers finish on their own; nothing is left in the ring
      expect(await until(() => workers.every((w) => w.exitCode !== null), 10_000)).toBe(true);
      expect(workers.map((w) => w.exitCode)).toEqual([0, 0, 0]);
      expect(ring.drain(1, () => fail('a frame after the last one'))).toBe(0);
      expect(ring.usedBytes()).toBe(0);
      expect(ring.hasFrame()).toBe(false);

      // back-pressure happened, and every refusal a producer saw is counted once
      const refusals = workers.map((w) => w.message('done')!.refusals as number);
      const sum = refusals.reduce((a, b) => a + b, 0);
      expect(ring.overloadedCount()).toBeGreaterThan(0);
      expect(ring.overloadedCount()).toBe(sum);
      expect(wraps).toBeGreaterThan(1_000);
      expect(bigFrames).toBeGreaterThan(100);
      const holds = workers.map((w) => w.message('done')!.holds as number);
      expect(holds[0]).toBeGreaterThan(100);
      console.log(`inbound stress: ${total} frames in ${took.toFixed(0)} ms, ${wraps} wraps, ${bigFrames} frames > 300 bytes, refusals ${refusals.join('/')}`);
    } finally {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    }
  }, 60_000);
});
