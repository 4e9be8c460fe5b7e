/**
 * The binary session's vocabulary (docs/protocol.md): FIX MsgType and enum values, the engine's
 * events as FIX-shaped messages (ExecutionReport, OrderCancelReject), and inbound application
 * messages checked and turned into engine commands. Pure functions over the gateway's reference
 * data; the session (sessions.ts) owns the connection.
 */
import { Code, CODE_NAMES, FIX_EXEC_TYPE, FIX_ORD_STATUS, STP_NAMES } from '../domain/codes.js';
import type { Command } from '../engine/commands.js';
import type { DecodedEvent } from '../engine/events.js';
import { CLORDID_RE } from '../engine/engine.js';
import type { Directory, SymbolInfo } from './directory.js';

export const MsgType = {
  HEARTBEAT: '0',
  TEST_REQUEST: '1',
  RESEND_REQUEST: '2',
  REJECT: '3',
  SEQUENCE_RESET: '4',
  LOGOUT: '5',
  EXECUTION_REPORT: '8',
  ORDER_CANCEL_REJECT: '9',
  LOGON: 'A',
  NEW_ORDER_SINGLE: 'D',
  ORDER_CANCEL_REQUEST: 'F',
  ORDER_CANCEL_REPLACE_REQUEST: 'G',
  ORDER_STATUS_REQUEST: 'H',
  BUSINESS_MESSAGE_REJECT: 'j',
  ORDER_MASS_CANCEL_REQUEST: 'q',
  ORDER_MASS_CANCEL_REPORT: 'r',
} as const;

/** FIX Side (54), OrdType (40), TimeInForce (59) ↔ the engine's numbers (src/domain/codes.ts) */
export const FIX_SIDE = ['', '1', '2'] as const;
export const FIX_ORD_TYPE = ['', '2', '1', '3', '4'] as const; // limit, market, stop, stop limit
export const FIX_TIF = ['', '1', '0', '3', '4', '6'] as const; // GTC, DAY, IOC, FOK, GTD

/** OrdRejReason (103) for our reject codes; the exact code is always in `rejectCode` too */
export const ORD_REJ_REASON: Partial<Record<Code, number>> = {
  [Code.UNKNOWN_SYMBOL]: 1,
  [Code.MARKET_CLOSED]: 2,
  [Code.SYMBOL_HALTED]: 2,
  [Code.MAX_QTY_EXCEEDED]: 3,
  [Code.MAX_NOTIONAL_EXCEEDED]: 3,
  [Code.DAILY_LIMIT_EXCEEDED]: 3,
  [Code.MAX_OPEN_ORDERS_EXCEEDED]: 3,
  [Code.NOT_FOUND]: 5,
  [Code.DUPLICATE_CLORDID]: 6,
  [Code.INVALID_REQUEST]: 11,
  [Code.INVALID_QUANTITY]: 13,
  [Code.PRICE_OUTSIDE_BAND]: 16,
  [Code.UNAUTHORIZED]: 0,
  [Code.FORBIDDEN]: 0,
  [Code.ACCOUNT_DISABLED]: 0,
};
/** CxlRejReason (102) */
export const CXL_REJ_REASON: Partial<Record<Code, number>> = { [Code.TOO_LATE_TO_CANCEL]: 0, [Code.NOT_FOUND]: 1, [Code.DUPLICATE_CLORDID]: 6 };

export type Message = Record<string, unknown> & { msgType: string };

const ts = (us: number): number => Math.floor(us / 1000);

/** An execution report (8) from the engine's exec event; `seqNum` is the account's msgSeq. */
export function executionReport(e: DecodedEvent, sym: SymbolInfo | undefined): Message {
  const n = (k: string) => e[k] as number;
  const qty = (l: number) => (sym !== undefined ? sym.lot.format(l) : String(l));
  const cum = n('cumQtyLots');
  const reject = n('rejectCode');
  // fields are only ever added, never deleted: a deleted property turns the object into a slow
  // dictionary for the MessagePack encoder (one report per fill: this is the hottest object)
  const m: Message = {
    msgType: MsgType.EXECUTION_REPORT,
    seqNum: n('msgSeq'),
    sendingTime: Date.now(),
    transactTime: ts(e.tsUs),
    execId: `${e.seq}.${n('execId')}`,
    orderId: n('orderId'),
  };
  if (typeof e.clOrdId === 'string') m.clOrdId = e.clOrdId;
  if (sym !== undefined) m.symbol = sym.symbol;
  m.side = FIX_SIDE[n('side')];
  m.ordType = FIX_ORD_TYPE[n('ordType')];
  m.timeInForce = FIX_TIF[n('tif')];
  m.execType = FIX_EXEC_TYPE[n('execType')];
  m.ordStatus = FIX_ORD_STATUS[n('ordStatus')];
  m.orderQty = qty(n('qtyLots'));
  if (sym !== undefined && n('priceTicks') > 0) m.price = sym.tick.format(n('priceTicks'));
  if (sym !== undefined && n('stopPriceTicks') > 0) m.stopPx = sym.tick.format(n('stopPriceTicks'));
  m.cumQty = qty(cum);
  m.leavesQty = qty(n('leavesQtyLots'));
  m.avgPx = cum > 0 && sym !== undefined ? sym.tick.ratio(n('cumNotionalTickLots'), cum, 4) : '0';
  m.seq = e.seq;
  if (n('execType') === 2) {
    m.lastQty = qty(n('lastQtyLots'));
    if (sym !== undefined) m.lastPx = sym.tick.format(n('lastPxTicks'));
    m.tradeId = n('tradeId');
    m.lastLiquidityInd = n('liquidity') === 1 ? '1' : '2';
  }
  if (reject > 0) {
    m.ordRejReason = ORD_REJ_REASON[reject as Code] ?? 99;
    m.rejectCode = CODE_NAMES[reject];
  }
  if (n('postOnly') === 1) m.postOnly = true;
  if (n('stp') > 0) m.stp = STP_NAMES[n('stp')];
  if (n('expireTimeUs') > 0) m.expireTime = ts(n('expireTimeUs'));
  return m;
}

/** An order cancel reject (9) from the engine's cancelReject event. */
export function orderCancelReject(e: DecodedEvent): Message {
  const code = e.rejectCode as Code;
  return dropUndefined({
    msgType: MsgType.ORDER_CANCEL_REJECT,
    seqNum: e.msgSeq as number,
    sendingTime: Date.now(),
    transactTime: ts(e.tsUs),
    orderId: (e.orderId as number) || undefined,
    clOrdId: e.clOrdId ?? undefined,
    ordStatus: (e.ordStatus as number) > 0 ? FIX_ORD_STATUS[e.ordStatus as number] : '8',
    cxlRejResponseTo: e.responseTo === 2 ? '2' : '1',
    cxlRejReason: CXL_REJ_REASON[code] ?? 99,
    rejectCode: CODE_NAMES[code],
    seq: e.seq,
  });
}

/** The account-addressed message of an event, or null for events no session gets. */
export function accountMessage(e: DecodedEvent, dir: Directory): Message | null {
  if (e.event === 'exec') return executionReport(e, dir.symbolAt(e.symbolIdx as number));
  if (e.event === 'cancelReject') return orderCancelReject(e);
  return null;
}

/** the message without its undefined fields (MessagePack would send them as nil) */
export function dropUndefined(m: Message): Message {
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  return m;
}

// ---------------------------------------------------------------- inbound application messages

export class FixReject extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

const fail = (code: Code, message: string): never => {
  throw new FixReject(code, message);
};

function str(m: Message, k: string, required: boolean): string | undefined {
  const v = m[k];
  if (v === undefined || v === null) return required ? fail(Code.INVALID_REQUEST, `${k} is required`) : undefined;
  if (typeof v !== 'string') return fail(Code.INVALID_REQUEST, `${k} must be a string`);
  return v;
}

function clOrdId(m: Message, k: string, required: boolean): string | undefined {
  const v = str(m, k, required);
  if (v !== undefined && !CLORDID_RE.test(v)) fail(Code.INVALID_REQUEST, `${k} must be 1 to 36 characters of A-Z a-z 0-9 _ -`);
  return v;
}

function fixEnum(m: Message, k: string, values: readonly string[], required: boolean): number | undefined {
  const v = str(m, k, required);
  if (v === undefined) return undefined;
  const i = values.indexOf(v);
  return i <= 0 ? fail(Code.INVALID_REQUEST, `${k} must be one of ${values.slice(1).join(', ')}`) : i;
}

/** a decimal field: a string, or a number read from its decimal text */
function decimal(m: Message, k: string, unit: { parse(v: string): number | null }, code: Code, required: boolean): number | undefined {
  const v = m[k];
  if (v === undefined || v === null) return required ? fail(code, `${k} is required`) : undefined;
  const text = typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
  const units = text === null ? null : unit.parse(text);
  return units === null || units <= 0 ? fail(code, `${k} must be a positive decimal on the grid`) : units;
}

function orderIdField(m: Message, k: string): number | undefined {
  const v = m[k];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : fail(Code.INVALID_REQUEST, `${k} must be a positive integer`);
}

/** NewOrderSingle (D) → newOrder, fetching the symbol's reference data if this thread lacks it */
export async function newOrderSingle(m: Message, accountId: number, dir: Directory): Promise<Command> {
  const symbol = str(m, 'symbol', true)!;
  const sym = await dir.findSymbol(symbol);
  if (sym === undefined) fail(Code.UNKNOWN_SYMBOL, `unknown symbol ${symbol.slice(0, 40)}`);
  return newOrderCommand(m, accountId, sym!);
}

/** NewOrderSingle (D) → newOrder, for the message's symbol `s` (already looked up) */
export function newOrderCommand(m: Message, accountId: number, s: SymbolInfo): Command {
  const expire = m.expireTime;
  if (expire !== undefined && !(typeof expire === 'number' && Number.isSafeInteger(expire) && expire > 0)) fail(Code.INVALID_REQUEST, 'expireTime must be epoch milliseconds');
  const postOnly = m.postOnly;
  if (postOnly !== undefined && typeof postOnly !== 'boolean') fail(Code.INVALID_REQUEST, 'postOnly must be a boolean');
  const stp = str(m, 'stp', false);
  const stpIdx = stp === undefined ? undefined : STP_NAMES.indexOf(stp as (typeof STP_NAMES)[number]);
  if (stpIdx !== undefined && stpIdx <= 0) fail(Code.INVALID_REQUEST, `stp must be one of ${STP_NAMES.slice(1).join(', ')}`);
  return {
    type: 'newOrder',
    seq: 0,
    tsUs: 0,
    accountId,
    symbol: s.symbol,
    side: fixEnum(m, 'side', FIX_SIDE, true)!,
    ordType: fixEnum(m, 'ordType', FIX_ORD_TYPE, true)!,
    tif: fixEnum(m, 'timeInForce', FIX_TIF, false),
    qtyLots: decimal(m, 'orderQty', s.lot, Code.INVALID_QUANTITY, true)!,
    priceTicks: decimal(m, 'price', s.tick, Code.INVALID_PRICE, false),
    stopPriceTicks: decimal(m, 'stopPx', s.tick, Code.INVALID_PRICE, false),
    expireTimeUs: expire === undefined ? undefined : (expire as number) * 1000,
    postOnly: postOnly as boolean | undefined,
    stp: stpIdx,
    clOrdId: clOrdId(m, 'clOrdId', true),
  };
}

/** OrderCancelRequest (F) → cancelOrder: the order by orderId or origClOrdId */
export function orderCancelRequest(m: Message, accountId: number): Command {
  const orderId = orderIdField(m, 'orderId');
  const orig = clOrdId(m, 'origClOrdId', false);
  if (orderId === undefined && orig === undefined) fail(Code.INVALID_REQUEST, 'give orderId or origClOrdId');
  clOrdId(m, 'clOrdId', false);
  return { type: 'cancelOrder', seq: 0, tsUs: 0, accountId, orderId, clOrdId: orderId === undefined ? orig : undefined };
}

/** OrderCancelReplaceRequest (G) → replaceOrder (the symbol's grid reads the new qty / price) */
export function orderCancelReplaceRequest(m: Message, accountId: number, sym: SymbolInfo): Command {
  const orderId = orderIdField(m, 'orderId');
  const orig = clOrdId(m, 'origClOrdId', false);
  if (orderId === undefined && orig === undefined) fail(Code.INVALID_REQUEST, 'give orderId or origClOrdId');
  const qtyLots = decimal(m, 'orderQty', sym.lot, Code.INVALID_QUANTITY, false);
  const priceTicks = decimal(m, 'price', sym.tick, Code.INVALID_PRICE, false);
  if (qtyLots === undefined && priceTicks === undefined) fail(Code.INVALID_REQUEST, 'give orderQty and / or price');
  return { type: 'replaceOrder', seq: 0, tsUs: 0, accountId, orderId, origClOrdId: orderId === undefined ? orig : undefined, qtyLots, priceTicks, clOrdId: clOrdId(m, 'clOrdId', false) };
}
