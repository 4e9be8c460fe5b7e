// A BroadcastRing consumer thread for test/ring/broadcastRing.test.ts, reading with its own cursor
// until the producer is done and nothing is left.
//   fast: reads everything as quickly as it can.
//   slow: every 1000 frames sleeps 3 ms between frames (so it gets lapped: it must see LAPPED and
//         resync), and every 1000 frames, offset by 500, sleeps 3 ms after next() and before reading
//         the payload (so the frame is overwritten under it: intact() must say so).
// A frame is accepted only when intact() holds after its payload was read and checked; an accepted
// frame with a bad checksum, tag or length is a corrupt frame accepted, which must never happen.
import { parentPort, workerData } from 'node:worker_threads';
import { BROADCAST_K2, broadcastLen, checkPayload, MIN_KEYED_BYTES, payloadK1, sleepMs } from './common.mjs';

const { BroadcastRing, EMPTY, LAPPED } = await import(new URL('../../../dist/src/ring/broadcastRing.js', import.meta.url).href);

const { sab, ctl, index, mode } = workerData;
const c = new Int32Array(ctl);
const ring = new BroadcastRing(sab);
const r = ring.reader(index);
const bytes = ring.v.bytes;
const max = ring.v.maxPayloadBytes;
const slow = mode === 'slow';

const s = {
  accepted: 0,
  expected: 0, // the seq due next
  laps: 0, // next() returned LAPPED
  overwritten: 0, // next() gave a frame, intact() was false after reading it
  overwrittenBad: 0, // ...and its content was indeed damaged (what intact() protected us from)
  corruptAccepted: 0,
  orderErrors: 0,
  skips: 0, // seq jumps forward right after a resync (the frames a lapped reader lost)
  acceptedAfterFirstLap: 0,
  sleepsBetween: 0,
  sleepsInside: 0,
  waits: 0,
  maxLag: 0,
  errors: [],
};
const note = (e) => {
  if (s.errors.length < 20) s.errors.push(e);
};

try {
  Atomics.add(c, 0, 1);
  Atomics.notify(c, 0);
  let resynced = false;
  let lapped = false;
  const deadline = Date.now() + 40_000;
  for (;;) {
    const at = r.next();
    if (at === EMPTY) {
      if (Atomics.load(c, 1) !== 0 && !r.hasFrame()) break;
      s.waits++;
      r.waitForFrame(20);
      if (Date.now() > deadline) throw new Error('consumer deadline');
      continue;
    }
    if (at === LAPPED) {
      s.laps++;
      lapped = true;
      r.resync();
      resynced = true;
      continue;
    }
    if (slow && s.accepted % 1000 === 999 && s.sleepsInside < s.accepted / 1000) {
      s.sleepsInside++;
      sleepMs(3);
    }
    const len = r.payloadBytes;
    const tag = r.tag;
    let seq = -1;
    let bad = null;
    if (len < MIN_KEYED_BYTES) bad = `${len}-byte payload`;
    else {
      seq = payloadK1(bytes, at);
      bad = checkPayload(bytes, at, len, seq, BROADCAST_K2);
      if (!bad && tag !== (seq | 0)) bad = `tag ${tag} for seq ${seq}`;
      if (!bad && len !== broadcastLen(seq, max)) bad = `seq ${seq}: ${len} bytes, not ${broadcastLen(seq, max)}`;
    }
    if (!r.intact()) {
      // the producer claimed over the frame while we read it: drop it, as a lap
      s.overwritten++;
      if (bad) s.overwrittenBad++;
      r.resync();
      resynced = true;
      lapped = true;
      continue;
    }
    if (bad) {
      s.corruptAccepted++;
      note(`accepted a damaged frame at seq ~${s.expected}: ${bad}`);
    }
    if (seq !== s.expected) {
      if (resynced && seq > s.expected) s.skips++;
      else {
        s.orderErrors++;
        note(`seq ${seq} where ${s.expected} was due${resynced ? ' (after a resync)' : ''}`);
      }
    }
    resynced = false;
    s.expected = seq + 1;
    s.accepted++;
    if (lapped) s.acceptedAfterFirstLap++;
    r.advance();
    if ((s.accepted & 1023) === 0) s.maxLag = Math.max(s.maxLag, ring.lagBytes(index));
    if (slow && s.accepted % 1000 === 500) {
      s.sleepsBetween++;
      sleepMs(3);
    }
  }
  parentPort.postMessage({ type: 'done', mode, ...s });
} catch (e) {
  parentPort.postMessage({ type: 'failed', mode, error: String(e && e.stack ? e.stack : e), ...s });
}
