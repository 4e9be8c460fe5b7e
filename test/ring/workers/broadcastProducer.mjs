// The BroadcastRing producer thread for test/ring/broadcastRing.test.ts: publishes `frames`
// checksummed frames (seq = tag = k1, length from common.mjs) in batches of 1..64, now and then
// publishing part of a batch first. It never waits for the slow consumer; it holds back only for
// the consumer at `fastIndex`, so that one is never lapped: before each claim,
// claimed-but-unread bytes + the frame (twice, for a pad) must fit in the ring.
import { parentPort, workerData } from 'node:worker_threads';
import { BROADCAST_K2, broadcastLen, mix, sleepMs, writePayload } from './common.mjs';

const { BroadcastRing } = await import(new URL('../../../dist/src/ring/broadcastRing.js', import.meta.url).href);
const { frameBytes } = await import(new URL('../../../dist/src/ring/frame.js', import.meta.url).href);

const { sab, ctl, frames, consumers, fastIndex } = workerData;
const c = new Int32Array(ctl); // [0] consumers ready, [1] producer done
const ring = new BroadcastRing(sab);
const cap = ring.capacity;
const max = ring.v.maxPayloadBytes;

let throttles = 0;
let partials = 0;
let publishes = 0;
let maxHeld = 0;
try {
  const readyBy = Date.now() + 10_000;
  while (Atomics.load(c, 0) < consumers) {
    if (Date.now() > readyBy) throw new Error('consumers did not start');
    Atomics.wait(c, 0, Atomics.load(c, 0), 50);
  }
  let seq = 0;
  let batchNo = 0;
  while (seq < frames) {
    const h = mix(batchNo++, 0xba7c);
    const batch = 1 + (h % 64);
    const partialAt = h & 0x100 ? batch >> 1 : -1;
    for (let k = 0; k < batch && seq < frames; k++) {
      const len = broadcastLen(seq, max);
      let tries = 0;
      const stuckBy = Date.now() + 10_000;
      while (ring.heldBytes() + ring.lagBytes(fastIndex) + 2 * frameBytes(len) > cap) {
        // the fast consumer cannot catch up with what it cannot see
        if (ring.heldBytes() > 0) {
          ring.publishTo(ring.position());
          publishes++;
        }
        throttles++;
        if (++tries > 16) sleepMs(0.05);
        if (Date.now() > stuckBy) throw new Error(`fast consumer stuck: lag ${ring.lagBytes(fastIndex)}`);
      }
      if (!ring.canClaim(len)) throw new Error(`canClaim(${len}) false with ${ring.heldBytes()} bytes held`);
      const at = ring.claim(seq | 0, len);
      writePayload(ring.v.bytes, at, seq, BROADCAST_K2, len);
      seq++;
      maxHeld = Math.max(maxHeld, ring.heldBytes());
      if (k === partialAt) {
        ring.publishTo(ring.position());
        partials++;
        publishes++;
      }
    }
    ring.publishTo(ring.position());
    publishes++;
  }
  // consumers see the flag when they next find the ring empty (they wait at most 20 ms at a time)
  Atomics.store(c, 1, 1);
  parentPort.postMessage({ type: 'done', frames: seq, throttles, partials, publishes, maxHeld, position: ring.position() });
} catch (e) {
  Atomics.store(c, 1, 2);
  parentPort.postMessage({ type: 'failed', error: String(e && e.stack ? e.stack : e) });
}
