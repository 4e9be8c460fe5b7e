// An InboundRing producer thread for test/ring/inboundRing.test.ts: sends `frames` frames of
// producer `id` (tag, length and payload from common.mjs), retrying every refused claim and
// counting the refusals. mode 'claim' writes the payload straight into the ring between claim and
// commit (and now and then holds a claim a while before committing); mode 'tryWrite' copies.
import { parentPort, workerData } from 'node:worker_threads';
import { inboundLen, inboundTag, sleepMs, writePayload } from './common.mjs';

const { InboundRing } = await import(new URL('../../../dist/src/ring/inboundRing.js', import.meta.url).href);

const { sab, gate, id, frames, mode, holdEvery } = workerData;
const gateWord = new Int32Array(gate);
const ring = new InboundRing(sab);
const max = ring.v.maxPayloadBytes;
const scratch = new Uint8Array(max);
let refusals = 0;
let holds = 0;

function backoff(tries) {
  // a few immediate retries, then give the CPU away (2 cores, 4 busy threads)
  if (tries > 4) sleepMs(0.05);
}

try {
  // everyone starts together, so the producers race for the claim cursor from the first frame
  parentPort.postMessage({ type: 'ready' });
  while (Atomics.load(gateWord, 0) === 0) Atomics.wait(gateWord, 0, 0, 1000);

  for (let c = 0; c < frames; c++) {
    const len = inboundLen(id, c, max);
    const tag = inboundTag(id, c);
    let tries = 0;
    if (mode === 'tryWrite') {
      writePayload(scratch, 0, id, c, len);
      while (!ring.tryWrite(tag, scratch, 0, len)) {
        refusals++;
        backoff(++tries);
      }
    } else {
      let at;
      while ((at = ring.claim(len)) < 0) {
        refusals++;
        backoff(++tries);
      }
      writePayload(ring.v.bytes, at, id, c, len);
      if (holdEvery > 0 && c % holdEvery === holdEvery - 1) {
        // keep the claim uncommitted for a while: frames claimed after it by the other producers
        // commit first and must wait behind it
        holds++;
        const until = performance.now() + 0.2;
        while (performance.now() < until);
      }
      ring.commit(at, tag, len);
    }
  }
  parentPort.postMessage({ type: 'done', id, refusals, holds });
} catch (e) {
  parentPort.postMessage({ type: 'failed', id, error: String(e && e.stack ? e.stack : e) });
}
