// Shared by the ring tests (main thread, through common.d.mts) and their worker threads: a
// deterministic payload format, so every side can tell what a frame must contain from its keys.
//
// A payload of at least 12 bytes is [u32 k1][u32 k2][pattern bytes][u32 FNV-1a of all bytes before
// it]; shorter payloads are only pattern bytes, which the reader regenerates and compares. The
// pattern is an xorshift stream seeded by (k1, k2), so a frame read from the wrong place, a stale
// frame or a torn one does not pass.

export const FNV_OFFSET = 0x811c9dc5;
export const MIN_KEYED_BYTES = 12;

/** FNV-1a (32-bit) over bytes[from, to). */
export function fnv1a(bytes, from, to, h = FNV_OFFSET) {
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** A well mixed non-zero 32-bit hash of two integers. */
export function mix(a, b) {
  let h = Math.imul((a ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(b | 0, 0xcc9e2d51);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return h >>> 0 || 1;
}

function fillPattern(bytes, from, to, seed) {
  let x = seed | 0 || 1;
  for (let i = from; i < to; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
}

function putU32(bytes, at, v) {
  bytes[at] = v & 0xff;
  bytes[at + 1] = (v >>> 8) & 0xff;
  bytes[at + 2] = (v >>> 16) & 0xff;
  bytes[at + 3] = (v >>> 24) & 0xff;
}

function getU32(bytes, at) {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/** Writes the payload for keys (k1, k2) of `len` bytes at bytes[at...]. */
export function writePayload(bytes, at, k1, k2, len) {
  if (len < MIN_KEYED_BYTES) {
    fillPattern(bytes, at, at + len, mix(k1, k2));
    return;
  }
  putU32(bytes, at, k1);
  putU32(bytes, at + 4, k2);
  fillPattern(bytes, at + 8, at + len - 4, mix(k1, k2));
  putU32(bytes, at + len - 4, fnv1a(bytes, at, at + len - 4));
}

const scratch = new Uint8Array(MIN_KEYED_BYTES);

/** null if bytes[at, at + len) is the payload for (k1, k2), else what is wrong. */
export function checkPayload(bytes, at, len, k1, k2) {
  if (len < MIN_KEYED_BYTES) {
    fillPattern(scratch, 0, len, mix(k1, k2));
    for (let i = 0; i < len; i++) if (bytes[at + i] !== scratch[i]) return `short payload byte ${i} differs`;
    return null;
  }
  const sum = fnv1a(bytes, at, at + len - 4);
  if (sum !== getU32(bytes, at + len - 4)) return 'checksum mismatch';
  if (getU32(bytes, at) !== k1 >>> 0) return `k1 ${getU32(bytes, at)} != ${k1 >>> 0}`;
  if (getU32(bytes, at + 4) !== k2 >>> 0) return `k2 ${getU32(bytes, at + 4)} != ${k2 >>> 0}`;
  return null;
}

/** Reads k1 of a keyed payload (>= 12 bytes). */
export function payloadK1(bytes, at) {
  return getU32(bytes, at);
}

// ------------------------------------------------------------------ the inbound stress format

/** The tag of producer `id`'s frame number `counter` (id in the top byte)... */
export function inboundTag(id, counter) {
  return ((id << 24) | (counter & 0xffffff)) | 0;
}

/** ...and its payload length: 1..300 bytes, about one in 500 frames up to maxPayload/2. */
export function inboundLen(id, counter, maxPayload) {
  const h = mix(id + 101, counter);
  if (h % 500 === 0) return 301 + (mix(h, 7) % (Math.floor(maxPayload / 2) - 300));
  return 1 + ((h >>> 9) % 300);
}

// ------------------------------------------------------------------ the broadcast stress format

/** Frame `seq` of the broadcast stress: 12..300 bytes, about one in 1000 up to maxPayload. */
export function broadcastLen(seq, maxPayload) {
  const h = mix(seq, 0x5eed);
  if (h % 1000 === 0) return 301 + (mix(h, 3) % (maxPayload - 300));
  return MIN_KEYED_BYTES + ((h >>> 9) % (300 - MIN_KEYED_BYTES + 1));
}

export const BROADCAST_K2 = 0xb0a0c0d0;

/** Sleeps the calling thread for `ms` (workers and the test's main thread may block). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms) {
  Atomics.wait(sleeper, 0, 0, ms);
}
