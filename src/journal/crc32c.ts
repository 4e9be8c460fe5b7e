/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of journal records and
 * snapshots: the same one iSCSI, ext4 and many log formats use, with better error detection than
 * CRC-32 for the short-burst errors of storage. Slicing-by-8 tables: 8 bytes per step in plain JS.
 */
const POLY = 0x82f63b78;

const TABLES: Int32Array[] = (() => {
  const t: Int32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0]![n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c;
    }
  }
  return t;
})();

const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** CRC-32C of bytes[from, to), continuing from `crc` (0 to start). Returns an unsigned 32-bit value. */
export function crc32c(bytes: Uint8Array, from = 0, to = bytes.length, crc = 0): number {
  let c = ~crc;
  let i = from;
  for (; i + 8 <= to; i += 8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^
      t1[bytes[i + 6]!]! ^
      t0[bytes[i + 7]!]!;
  }
  for (; i < to; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
