/**
 * The fixed binary encoding of engine commands: what crosses the rings and what the journal
 * stores as a record's payload (the record header already carries seq, time and the type code).
 * Order-flow commands are fixed little-endian fields (no JSON, no MessagePack); admin commands,
 * rare and nested, are UTF-8 JSON of their fields. `decodeCommand` validates lengths and never
 * throws: a malformed payload is `null`.
 *
 * Absent optional numbers are encoded as -1 (every real value is a non-negative integer), absent
 * enums as 0, absent strings as length 0xFF.
 */
import type { Command } from '../engine/commands.js';

export const enum CmdType {
  NEW_ORDER = 1,
  CANCEL_ORDER = 2,
  REPLACE_ORDER = 3,
  MASS_CANCEL = 4,
  TICK = 5,
  ADD_ASSET = 16,
  ADD_SYMBOL = 17,
  UPDATE_SYMBOL = 18,
  SET_SYMBOL_STATE = 19,
  CREATE_ACCOUNT = 20,
  SET_ACCOUNT_ENABLED = 21,
  SET_ACCOUNT_LIMITS = 22,
  DEPOSIT = 23,
  WITHDRAW = 24,
  /** a read-only query (queries.ts): answered from the engine, never journaled or applied */
  QUERY = 64,
}

const ADMIN_TYPES: Record<string, CmdType> = {
  addAsset: CmdType.ADD_ASSET,
  addSymbol: CmdType.ADD_SYMBOL,
  updateSymbol: CmdType.UPDATE_SYMBOL,
  setSymbolState: CmdType.SET_SYMBOL_STATE,
  createAccount: CmdType.CREATE_ACCOUNT,
  setAccountEnabled: CmdType.SET_ACCOUNT_ENABLED,
  setAccountLimits: CmdType.SET_ACCOUNT_LIMITS,
  deposit: CmdType.DEPOSIT,
  withdraw: CmdType.WITHDRAW,
};
const ADMIN_NAMES = new Map<number, string>(Object.entries(ADMIN_TYPES).map(([k, v]) => [v, k]));

const ABSENT = -1;
const NO_STRING = 0xff;
/** the longest encoded payload: a new order with a 255-byte symbol and clOrdId */
export const MAX_COMMAND_BYTES = 16 * 1024;

class Writer {
  private dv: DataView;
  buf: Uint8Array;
  at = 0;
  constructor() {
    this.buf = new Uint8Array(0);
    this.dv = new DataView(this.buf.buffer);
  }
  /** Points the writer at `buf` (one writer serves every encode, like the reader). */
  reset(buf: Uint8Array): this {
    if (buf !== this.buf) {
      this.buf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.at = 0;
    return this;
  }
  f64(v: number | undefined): void {
    this.dv.setFloat64(this.at, v === undefined ? ABSENT : v, true);
    this.at += 8;
  }
  u8(v: number | undefined): void {
    this.buf[this.at++] = v === undefined ? 0 : v;
  }
  str(s: string | undefined): void {
    if (s === undefined) {
      this.buf[this.at++] = NO_STRING;
      return;
    }
    // ASCII (symbols, clOrdIds) byte by byte: a Buffer per string cost more than the rest of the command
    const n0 = s.length;
    if (n0 < NO_STRING && this.at + 1 + n0 <= this.buf.length) {
      const buf = this.buf;
      const o = this.at + 1;
      let i = 0;
      for (; i < n0; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[o + i] = c;
      }
      if (i === n0) {
        buf[this.at] = n0;
        this.at = o + n0;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    if (bytes >= NO_STRING) throw new Error('string too long for the command encoding (max 254 bytes)');
    if (this.at + 1 + bytes > this.buf.length) throw new Error('command does not fit in the buffer');
    const n = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.at + 1, bytes).write(s, 'utf8');
    this.buf[this.at] = n;
    this.at += 1 + n;
  }
}

/** Recently decoded short strings (symbols), so replaying a million orders does not allocate a million "AAPL"s. */
const INTERN_MAX_BYTES = 24;
const interned: { bytes: Uint8Array; s: string }[] = [];

function internedString(buf: Uint8Array, at: number, n: number): string {
  for (const e of interned) {
    if (e.bytes.length !== n) continue;
    let k = 0;
    while (k < n && e.bytes[k] === buf[at + k]) k++;
    if (k === n) return e.s;
  }
  const s = Buffer.from(buf.buffer, buf.byteOffset + at, n).toString('utf8');
  if (interned.length >= 64) interned.shift();
  interned.push({ bytes: buf.slice(at, at + n), s });
  return s;
}

class Reader {
  private dv: DataView;
  private buf: Uint8Array;
  /** the same bytes as a Buffer: toString on it costs ~110 ns a clOrdId, a Buffer made per string ~400 */
  private text: Buffer;
  private end = 0;
  at = 0;
  ok = true;
  constructor() {
    this.buf = new Uint8Array(0);
    this.dv = new DataView(this.buf.buffer);
    this.text = Buffer.from(this.buf.buffer);
  }
  /** Points the reader at buf[from, end) (one reader serves every decode: no allocation). */
  reset(buf: Uint8Array, from: number, end: number): this {
    if (buf !== this.buf) {
      this.buf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.at = from;
    this.end = end;
    this.ok = true;
    return this;
  }
  f64(): number | undefined {
    if (this.at + 8 > this.end) return this.fail();
    const v = this.dv.getFloat64(this.at, true);
    this.at += 8;
    return v === ABSENT ? undefined : v;
  }
  u8(): number | undefined {
    if (this.at + 1 > this.end) return this.fail();
    const v = this.buf[this.at++]!;
    return v === 0 ? undefined : v;
  }
  /** `intern`: for fields with few distinct values (symbols), reuse the decoded string */
  str(intern = false): string | undefined {
    if (this.at + 1 > this.end) return this.fail();
    const n = this.buf[this.at++]!;
    if (n === NO_STRING) return undefined;
    if (this.at + n > this.end) return this.fail();
    const s = intern && n <= INTERN_MAX_BYTES ? internedString(this.buf, this.at, n) : this.text.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  private fail(): undefined {
    this.ok = false;
    return undefined;
  }
}

/** Writes the command's payload into `buf` and returns [type code, payload length]. */
const writer = new Writer();

export function encodeCommand(c: Command, buf: Uint8Array): [CmdType, number] {
  const w = writer.reset(buf);
  switch (c.type) {
    case 'newOrder':
      w.f64(c.accountId);
      w.u8(c.side);
      w.u8(c.ordType);
      w.u8(c.tif);
      w.u8(c.stp);
      w.u8(c.postOnly === undefined ? 0 : c.postOnly ? 2 : 1);
      w.f64(c.qtyLots);
      w.f64(c.priceTicks);
      w.f64(c.stopPriceTicks);
      w.f64(c.expireTimeUs);
      w.str(c.symbol);
      w.str(c.clOrdId);
      return [CmdType.NEW_ORDER, w.at];
    case 'cancelOrder':
      w.f64(c.accountId);
      w.f64(c.orderId);
      w.str(c.clOrdId);
      return [CmdType.CANCEL_ORDER, w.at];
    case 'replaceOrder':
      w.f64(c.accountId);
      w.f64(c.orderId);
      w.f64(c.qtyLots);
      w.f64(c.priceTicks);
      w.str(c.origClOrdId);
      w.str(c.clOrdId);
      return [CmdType.REPLACE_ORDER, w.at];
    case 'massCancel':
      w.f64(c.accountId);
      w.str(c.symbol);
      return [CmdType.MASS_CANCEL, w.at];
    case 'tick':
      return [CmdType.TICK, 0];
    default: {
      const type = ADMIN_TYPES[c.type];
      if (type === undefined) throw new Error(`no encoding for command type ${String((c as { type: unknown }).type)}`);
      const { seq: _seq, tsUs: _ts, type: _type, ...fields } = c as Command & Record<string, unknown>;
      const json = JSON.stringify(fields);
      const n = Buffer.byteLength(json, 'utf8');
      if (n > buf.length) throw new Error('admin command too large for the command encoding');
      Buffer.from(buf.buffer, buf.byteOffset, n).write(json, 'utf8');
      return [type, n];
    }
  }
}

/** The command of a payload (seq and time from the record header), or null if malformed. */
const reader = new Reader();

export function decodeCommand(type: number, seq: number, tsUs: number, buf: Uint8Array, from: number, to: number): Command | null {
  const r = reader.reset(buf, from, to);
  let c: Command;
  switch (type) {
    case CmdType.NEW_ORDER: {
      const accountId = r.f64();
      const side = r.u8();
      const ordType = r.u8();
      const tif = r.u8();
      const stp = r.u8();
      const post = r.u8();
      const qtyLots = r.f64();
      const priceTicks = r.f64();
      const stopPriceTicks = r.f64();
      const expireTimeUs = r.f64();
      const symbol = r.str(true);
      const clOrdId = r.str();
      // one object shape for every decoded order (absent fields present as undefined): the engine's
      // property reads stay monomorphic, as with a ring decoder
      c = {
        type: 'newOrder',
        seq,
        tsUs,
        accountId: accountId!,
        symbol: symbol!,
        side: side!,
        ordType: ordType!,
        tif,
        qtyLots: qtyLots!,
        priceTicks,
        stopPriceTicks,
        expireTimeUs,
        postOnly: post === undefined ? undefined : post === 2,
        stp,
        clOrdId,
      };
      break;
    }
    case CmdType.CANCEL_ORDER: {
      const accountId = r.f64();
      const orderId = r.f64();
      const clOrdId = r.str();
      c = { type: 'cancelOrder', seq, tsUs, accountId: accountId!, orderId, clOrdId };
      break;
    }
    case CmdType.REPLACE_ORDER: {
      const accountId = r.f64();
      const orderId = r.f64();
      const qtyLots = r.f64();
      const priceTicks = r.f64();
      const origClOrdId = r.str();
      const clOrdId = r.str();
      c = { type: 'replaceOrder', seq, tsUs, accountId: accountId!, orderId, origClOrdId, qtyLots, priceTicks, clOrdId };
      break;
    }
    case CmdType.MASS_CANCEL: {
      const accountId = r.f64();
      const symbol = r.str(true);
      c = { type: 'massCancel', seq, tsUs, accountId: accountId!, symbol };
      break;
    }
    case CmdType.TICK:
      c = { type: 'tick', seq, tsUs };
      break;
    default: {
      const name = ADMIN_NAMES.get(type);
      if (name === undefined) return null;
      try {
        const fields = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('utf8')) as object;
        if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) return null;
        return { ...fields, type: name, seq, tsUs } as Command;
      } catch {
        return null;
      }
    }
  }
  return r.ok && r.at === to ? c : null;
}
