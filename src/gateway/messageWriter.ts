/**
 * Execution reports (8) and order cancel rejects (9) written as MessagePack straight from the
 * event record into one reusable buffer: the hot path of the session gateway (every order makes
 * one to three of them). Building an object per report and handing it to msgpackr cost an object,
 * a dictionary walk and a buffer per report, and most of the gateway thread's garbage.
 *
 * The bytes decode to exactly the object `executionReport` / `orderCancelReject` (fix.ts) build:
 * the same keys in the same order, the same values (a test holds them equal over random records).
 * Those builders stay for the rare paths (resends, fills from the store, reports held ahead).
 */
import { Code, CODE_NAMES, FIX_EXEC_TYPE, FIX_ORD_STATUS, STP_NAMES } from '../domain/codes.js';
import { Ev, EVENT_FIELDS } from '../engine/events.js';
import type { SymbolInfo } from './directory.js';
import { CXL_REJ_REASON, FIX_ORD_TYPE, FIX_SIDE, FIX_TIF, MsgType, ORD_REJ_REASON } from './fix.js';

/** field offsets in a record (its type at 0, then seq, tsUs, then the event's fields) */
const fieldsAt = (type: number): Record<string, number> => Object.fromEntries(EVENT_FIELDS[type]!.map((name, i) => [name, 3 + i]));
const X = fieldsAt(Ev.EXEC);
const C = fieldsAt(Ev.CANCEL_REJECT);

/** every key as a MessagePack fixstr, encoded once */
const KEY = new Map<string, Uint8Array>();
const key = (name: string): Uint8Array => {
  let k = KEY.get(name);
  if (k === undefined) {
    k = Buffer.concat([Buffer.from([0xa0 | name.length]), Buffer.from(name, 'latin1')]);
    KEY.set(name, k);
  }
  return k;
};
const K = {
  msgType: key('msgType'),
  seqNum: key('seqNum'),
  sendingTime: key('sendingTime'),
  transactTime: key('transactTime'),
  execId: key('execId'),
  orderId: key('orderId'),
  clOrdId: key('clOrdId'),
  symbol: key('symbol'),
  side: key('side'),
  ordType: key('ordType'),
  timeInForce: key('timeInForce'),
  execType: key('execType'),
  ordStatus: key('ordStatus'),
  orderQty: key('orderQty'),
  price: key('price'),
  stopPx: key('stopPx'),
  cumQty: key('cumQty'),
  leavesQty: key('leavesQty'),
  avgPx: key('avgPx'),
  seq: key('seq'),
  lastQty: key('lastQty'),
  lastPx: key('lastPx'),
  tradeId: key('tradeId'),
  lastLiquidityInd: key('lastLiquidityInd'),
  ordRejReason: key('ordRejReason'),
  rejectCode: key('rejectCode'),
  postOnly: key('postOnly'),
  stp: key('stp'),
  expireTime: key('expireTime'),
  cxlRejResponseTo: key('cxlRejResponseTo'),
  cxlRejReason: key('cxlRejReason'),
};

export class MessageWriter {
  buf = Buffer.allocUnsafe(64 * 1024);
  pos = 0;
  private mapAt = 0;
  private fields = 0;

  /** starts over at the buffer's beginning (what was written before is no longer needed) */
  reset(): void {
    this.pos = 0;
  }

  /**
   * The execution report of the exec record at `rec[o]`, for symbol `sym` (undefined: a symbol the
   * thread does not know; the report then lacks symbol and prices, as `executionReport` does).
   * Returns where it starts; it ends at `pos`.
   */
  executionReport(rec: Float64Array, o: number, clOrdId: string | null, sym: SymbolInfo | undefined, sendingTime: number): number {
    const start = this.begin();
    const n = (at: number) => rec[o + at]!;
    this.str(K.msgType, MsgType.EXECUTION_REPORT);
    this.num(K.seqNum, n(X.msgSeq!));
    this.num(K.sendingTime, sendingTime);
    this.num(K.transactTime, Math.floor(n(2) / 1000));
    this.str(K.execId, `${n(1)}.${n(X.execId!)}`);
    this.num(K.orderId, n(X.orderId!));
    if (n(X.clOrdIdStr!) >= 0 && clOrdId !== null) this.str(K.clOrdId, clOrdId);
    if (sym !== undefined) this.str(K.symbol, sym.symbol);
    this.str(K.side, FIX_SIDE[n(X.side!)]);
    this.str(K.ordType, FIX_ORD_TYPE[n(X.ordType!)]);
    this.str(K.timeInForce, FIX_TIF[n(X.tif!)]);
    const execType = n(X.execType!);
    this.str(K.execType, FIX_EXEC_TYPE[execType]);
    this.str(K.ordStatus, FIX_ORD_STATUS[n(X.ordStatus!)]);
    const lot = sym?.lot;
    const cum = n(X.cumQtyLots!);
    this.str(K.orderQty, lot !== undefined ? lot.format(n(X.qtyLots!)) : String(n(X.qtyLots!)));
    if (sym !== undefined && n(X.priceTicks!) > 0) this.str(K.price, sym.tick.format(n(X.priceTicks!)));
    if (sym !== undefined && n(X.stopPriceTicks!) > 0) this.str(K.stopPx, sym.tick.format(n(X.stopPriceTicks!)));
    this.str(K.cumQty, lot !== undefined ? lot.format(cum) : String(cum));
    this.str(K.leavesQty, lot !== undefined ? lot.format(n(X.leavesQtyLots!)) : String(n(X.leavesQtyLots!)));
    this.str(K.avgPx, cum > 0 && sym !== undefined ? sym.tick.ratio(n(X.cumNotionalTickLots!), cum, 4) : '0');
    this.num(K.seq, n(1));
    if (execType === 2) {
      this.str(K.lastQty, lot !== undefined ? lot.format(n(X.lastQtyLots!)) : String(n(X.lastQtyLots!)));
      if (sym !== undefined) this.str(K.lastPx, sym.tick.format(n(X.lastPxTicks!)));
      this.num(K.tradeId, n(X.tradeId!));
      this.str(K.lastLiquidityInd, n(X.liquidity!) === 1 ? '1' : '2');
    }
    const reject = n(X.rejectCode!);
    if (reject > 0) {
      this.num(K.ordRejReason, ORD_REJ_REASON[reject as Code] ?? 99);
      this.optStr(K.rejectCode, CODE_NAMES[reject]);
    }
    if (n(X.postOnly!) === 1) this.bool(K.postOnly, true);
    if (n(X.stp!) > 0) this.optStr(K.stp, STP_NAMES[n(X.stp!)]);
    if (n(X.expireTimeUs!) > 0) this.num(K.expireTime, Math.floor(n(X.expireTimeUs!) / 1000));
    this.end();
    return start;
  }

  /** The order cancel reject of the cancelReject record at `rec[o]`. Returns where it starts. */
  orderCancelReject(rec: Float64Array, o: number, clOrdId: string | null, sendingTime: number): number {
    const start = this.begin();
    const n = (at: number) => rec[o + at]!;
    const code = n(C.rejectCode!);
    this.str(K.msgType, MsgType.ORDER_CANCEL_REJECT);
    this.num(K.seqNum, n(C.msgSeq!));
    this.num(K.sendingTime, sendingTime);
    this.num(K.transactTime, Math.floor(n(2) / 1000));
    if (n(C.orderId!) !== 0) this.num(K.orderId, n(C.orderId!));
    if (n(C.clOrdIdStr!) >= 0 && clOrdId !== null) this.str(K.clOrdId, clOrdId);
    this.str(K.ordStatus, n(C.ordStatus!) > 0 ? FIX_ORD_STATUS[n(C.ordStatus!)] : '8');
    this.str(K.cxlRejResponseTo, n(C.responseTo!) === 2 ? '2' : '1');
    this.num(K.cxlRejReason, CXL_REJ_REASON[code as Code] ?? 99);
    this.optStr(K.rejectCode, CODE_NAMES[code]);
    this.num(K.seq, n(1));
    this.end();
    return start;
  }

  // ---------------------------------------------------------------- MessagePack

  private begin(): number {
    // a report is well under 1 KiB: keep 4 KiB free so no single write checks for room
    if (this.pos + 4096 > this.buf.length) this.grow();
    const start = this.pos;
    this.mapAt = start;
    this.fields = 0;
    this.buf[start] = 0xde; // map 16: the count is written at the end
    this.pos = start + 3;
    return start;
  }

  private end(): void {
    this.buf[this.mapAt + 1] = this.fields >> 8;
    this.buf[this.mapAt + 2] = this.fields & 0xff;
  }

  private grow(): void {
    const next = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private key(k: Uint8Array): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < k.length; i++) b[p++] = k[i]!;
    this.pos = p;
    this.fields++;
  }

  /** a string value; undefined values are left out (as `dropUndefined` does) */
  private optStr(k: Uint8Array, v: string | undefined): void {
    if (v !== undefined) this.str(k, v);
  }

  private str(k: Uint8Array, v: string | undefined): void {
    if (v === undefined) return;
    this.key(k);
    const b = this.buf;
    const len = v.length;
    let p = this.pos;
    let ascii = len < 256;
    for (let i = 0; ascii && i < len; i++) if (v.charCodeAt(i) > 0x7f) ascii = false;
    if (!ascii) {
      // not ASCII or long (never for the engine's names and ids; kept correct anyway)
      const bytes = Buffer.from(v, 'utf8');
      if (this.pos + bytes.length + 8 > b.length) this.grow();
      this.pos = this.strHeader(this.buf, this.pos, bytes.length);
      bytes.copy(this.buf, this.pos);
      this.pos += bytes.length;
      return;
    }
    p = this.strHeader(b, p, len);
    for (let i = 0; i < len; i++) b[p++] = v.charCodeAt(i);
    this.pos = p;
  }

  private strHeader(b: Buffer, p: number, len: number): number {
    if (len < 32) b[p++] = 0xa0 | len;
    else if (len < 256) {
      b[p++] = 0xd9;
      b[p++] = len;
    } else if (len < 65536) {
      b[p++] = 0xda;
      b[p++] = len >> 8;
      b[p++] = len & 0xff;
    } else {
      b[p++] = 0xdb;
      b.writeUInt32BE(len, p);
      p += 4;
    }
    return p;
  }

  private bool(k: Uint8Array, v: boolean): void {
    this.key(k);
    this.buf[this.pos++] = v ? 0xc3 : 0xc2;
  }

  private num(k: Uint8Array, v: number): void {
    this.key(k);
    const b = this.buf;
    let p = this.pos;
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) {
      if (v < 0x80) b[p++] = v;
      else if (v < 0x100) {
        b[p++] = 0xcc;
        b[p++] = v;
      } else if (v < 0x10000) {
        b[p++] = 0xcd;
        b[p++] = v >> 8;
        b[p++] = v & 0xff;
      } else {
        b[p++] = 0xce;
        b.writeUInt32BE(v, p);
        p += 4;
      }
    } else if (Number.isInteger(v) && v < 0 && v >= -0x80000000) {
      b[p++] = 0xd2;
      b.writeInt32BE(v, p);
      p += 4;
    } else {
      // larger integers (epoch milliseconds) and the rest: float 64, exact for every safe integer
      b[p++] = 0xcb;
      b.writeDoubleBE(v, p);
      p += 8;
    }
    this.pos = p;
  }
}
