/**
 * A small MessagePack scanner shared by the load tools' hot paths (tools/load/ws-load.ts reads
 * execution reports, tools/load/md-subscribers.ts reads the head of market-data updates): it reads
 * strings and numbers in place and skips values, without decoding a message into an object. The
 * results of a read go into module variables (live bindings: `sStart`, `sLen`, `numEnd`), so a
 * read allocates nothing. Anything unusual is for msgpackr to decode.
 */

/** the string read by strAt: its bytes are b[sStart .. sStart + sLen) */
export let sStart = 0;
export let sLen = 0;

/** A string value at p (fixstr, str 8, str 16): sets sStart / sLen; false if not a string. */
export function strAt(b: Buffer, p: number): boolean {
  const h = b[p]!;
  if ((h & 0xe0) === 0xa0) {
    sStart = p + 1;
    sLen = h & 0x1f;
  } else if (h === 0xd9) {
    sStart = p + 2;
    sLen = b[p + 1]!;
  } else if (h === 0xda) {
    sStart = p + 3;
    sLen = b.readUInt16BE(p + 1);
  } else return false;
  return true;
}

/** the offset after the number numAt read (= p when it was not a number) */
export let numEnd = 0;

/** A non-negative integer or a float at p (NaN if not one of those); sets numEnd. */
export function numAt(b: Buffer, p: number): number {
  const h = b[p]!;
  if (h < 0x80) {
    numEnd = p + 1;
    return h;
  }
  switch (h) {
    case 0xcc:
      numEnd = p + 2;
      return b[p + 1]!;
    case 0xcd:
      numEnd = p + 3;
      return b.readUInt16BE(p + 1);
    case 0xce:
      numEnd = p + 5;
      return b.readUInt32BE(p + 1);
    case 0xcf:
      numEnd = p + 9;
      return b.readUInt32BE(p + 1) * 4294967296 + b.readUInt32BE(p + 5);
    case 0xd3:
      numEnd = p + 9;
      return b.readInt32BE(p + 1) * 4294967296 + b.readUInt32BE(p + 5);
    case 0xcb:
      numEnd = p + 9;
      return b.readDoubleBE(p + 1);
    case 0xca:
      numEnd = p + 5;
      return b.readFloatBE(p + 1);
    default:
      numEnd = p;
      return NaN;
  }
}

/** b[at .. at + len) holds exactly the bytes of k */
export function keyIs(b: Buffer, at: number, len: number, k: Buffer): boolean {
  if (len !== k.length) return false;
  for (let i = 0; i < len; i++) if (b[at + i] !== k[i]) return false;
  return true;
}

/** the offset after the MessagePack value at p */
export function skip(b: Buffer, p: number): number {
  const h = b[p]!;
  if (h < 0x80 || h >= 0xe0) return p + 1; // fixint
  if (h < 0x90) return skipValues(b, p + 1, (h & 0x0f) * 2); // fixmap: keys and values
  if (h < 0xa0) return skipValues(b, p + 1, h & 0x0f); // fixarray
  if (h < 0xc0) return p + 1 + (h & 0x1f); // fixstr
  switch (h) {
    case 0xc0: // nil, false, true
    case 0xc2:
    case 0xc3:
      return p + 1;
    case 0xc4: // bin 8, str 8
    case 0xd9:
      return p + 2 + b[p + 1]!;
    case 0xc5: // bin 16, str 16
    case 0xda:
      return p + 3 + b.readUInt16BE(p + 1);
    case 0xc6: // bin 32, str 32
    case 0xdb:
      return p + 5 + b.readUInt32BE(p + 1);
    case 0xc7: // ext 8, 16, 32: the length, a type byte, the data
      return p + 3 + b[p + 1]!;
    case 0xc8:
      return p + 4 + b.readUInt16BE(p + 1);
    case 0xc9:
      return p + 6 + b.readUInt32BE(p + 1);
    case 0xcc: // uint 8, int 8
    case 0xd0:
      return p + 2;
    case 0xcd: // uint 16, int 16, fixext 1
    case 0xd1:
    case 0xd4:
      return p + 3;
    case 0xd5: // fixext 2
      return p + 4;
    case 0xca: // float 32, uint 32, int 32
    case 0xce:
    case 0xd2:
      return p + 5;
    case 0xd6: // fixext 4
      return p + 6;
    case 0xcb: // float 64, uint 64, int 64
    case 0xcf:
    case 0xd3:
      return p + 9;
    case 0xd7: // fixext 8
      return p + 10;
    case 0xd8: // fixext 16
      return p + 18;
    case 0xdc: // array 16, 32
      return skipValues(b, p + 3, b.readUInt16BE(p + 1));
    case 0xdd:
      return skipValues(b, p + 5, b.readUInt32BE(p + 1));
    case 0xde: // map 16, 32: keys and values
      return skipValues(b, p + 3, b.readUInt16BE(p + 1) * 2);
    case 0xdf:
      return skipValues(b, p + 5, b.readUInt32BE(p + 1) * 2);
    default:
      throw new Error(`bad MessagePack byte 0x${h.toString(16)}`);
  }
}

/** the offset after the n MessagePack values from p */
export function skipValues(b: Buffer, p: number, n: number): number {
  while (n-- > 0) p = skip(b, p);
  return p;
}
