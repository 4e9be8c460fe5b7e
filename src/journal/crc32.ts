/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of snapshot files. Snapshots
 * are large (100+ MiB) and checked on the restart path, so they use zlib's native CRC-32 (~4 GB/s
 * here, against ~0.4 GB/s for the JS CRC-32C of journal records; `zlib.crc32` exists from Node
 * 20.15). Journal records keep CRC-32C: they are short, and a native call per record costs more
 * than the JS loop. The JS fallback only covers an older Node.
 */
import zlib from 'node:zlib';

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32Js(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc32 = (bytes: Uint8Array, crc?: number) => number;
const native = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** CRC-32 of `bytes`, continuing from `crc` (0 to start). Returns an unsigned 32-bit value. */
export const crc32: Crc32 = native !== undefined ? (bytes, crc = 0) => native(bytes, crc) : crc32Js;

/** @internal the JS implementation, for tests against the native one */
export const crc32Portable = crc32Js;
