/**
 * Orders at the REST edge: a request body → an engine command (integers, validated against the
 * symbol's grid), and the engine's execution reports or order views → SPEC §3's order object
 * (decimal strings, names for enums). Pure functions over the gateway's reference data.
 */
import { Code, CODE_NAMES, ORD_STATUS_NAMES, ORD_TYPE_NAMES, REASON_NAMES, SIDE_NAMES, STP_NAMES, TIF_NAMES } from '../domain/codes.js';
import type { CancelOrderCmd, NewOrderCmd, ReplaceOrderCmd } from '../engine/commands.js';
import type { DecodedEvent } from '../engine/events.js';
import type { OrderView } from '../engine/engine.js';
import { CLORDID_RE } from '../engine/engine.js';
import type { Directory, SymbolInfo } from './directory.js';
import { JsonNumber, type JsonValue } from './json.js';
import { ApiError } from './errors.js';

/** extra decimal places of an average price beyond the tick's */
const AVG_PX_EXTRA_DIGITS = 4;
const NEW_ORDER_FIELDS = new Set(['symbol', 'side', 'type', 'qty', 'price', 'stopPrice', 'tif', 'expireTime', 'postOnly', 'stp', 'clOrdId']);
const REPLACE_FIELDS = new Set(['qty', 'price', 'clOrdId']);

type Body = { [key: string]: JsonValue };

export function asObject(body: JsonValue): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || body instanceof JsonNumber) throw new ApiError(Code.INVALID_REQUEST, 'the body must be a JSON object');
  return body;
}

function onlyFields(body: Body, allowed: Set<string>): void {
  for (const k of Object.keys(body)) if (!allowed.has(k)) throw new ApiError(Code.INVALID_REQUEST, `unknown field "${k.slice(0, 40)}"`);
}

function enumField(body: Body, field: string, names: readonly string[], required: boolean): number | undefined {
  const v = body[field];
  if (v === undefined || (v === null && !required)) {
    if (required) throw new ApiError(Code.INVALID_REQUEST, `${field} is required`);
    return undefined;
  }
  const i = typeof v === 'string' && v !== '' ? names.indexOf(v) : -1;
  if (i <= 0) throw new ApiError(Code.INVALID_REQUEST, `${field} must be one of ${names.slice(1).join(', ')}`);
  return i;
}

export function clOrdIdField(v: JsonValue | undefined, field = 'clOrdId'): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !CLORDID_RE.test(v)) throw new ApiError(Code.INVALID_REQUEST, `${field} must be 1 to 36 characters of A-Z a-z 0-9 _ -`);
  return v;
}

function priceField(sym: SymbolInfo, v: JsonValue | undefined, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ticks = sym.tick.parse(v);
  if (ticks === null || ticks <= 0) throw new ApiError(Code.INVALID_PRICE, `${field} must be a positive decimal on the tick grid (${sym.tick.text})`);
  return ticks;
}

function qtyField(sym: SymbolInfo, v: JsonValue | undefined, required: boolean): number | undefined {
  if (v === undefined || v === null) {
    if (required) throw new ApiError(Code.INVALID_QUANTITY, 'qty is required');
    return undefined;
  }
  const lots = sym.lot.parse(v);
  if (lots === null || lots <= 0) throw new ApiError(Code.INVALID_QUANTITY, `qty must be a positive decimal on the lot grid (${sym.lot.text})`);
  return lots;
}

/** expireTime: an ISO-8601 instant with a zone ("2026-12-01T21:00:00Z") or epoch milliseconds */
function timeUsField(v: JsonValue | undefined, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  let ms: number;
  if (v instanceof JsonNumber) {
    if (!/^\d{1,15}$/.test(v.text)) throw new ApiError(Code.INVALID_REQUEST, `${field} must be epoch milliseconds or an ISO-8601 time`);
    ms = Number(v.text);
  } else if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/.test(v)) {
    ms = Date.parse(v);
  } else throw new ApiError(Code.INVALID_REQUEST, `${field} must be epoch milliseconds or an ISO-8601 time with a zone`);
  // the engine counts microseconds: they must be a safe integer too (up to the year 2255)
  if (!Number.isSafeInteger(ms * 1000) || ms <= 0) throw new ApiError(Code.INVALID_REQUEST, `${field} is out of range`);
  return ms * 1000;
}

function boolField(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ApiError(Code.INVALID_REQUEST, `${field} must be true or false`);
  return v;
}

export async function parseNewOrder(raw: JsonValue, accountId: number, dir: Directory): Promise<NewOrderCmd> {
  const body = asObject(raw);
  onlyFields(body, NEW_ORDER_FIELDS);
  if (typeof body.symbol !== 'string' || body.symbol === '') throw new ApiError(Code.INVALID_REQUEST, 'symbol is required');
  const sym = await dir.findSymbol(body.symbol);
  if (sym === undefined) throw new ApiError(Code.UNKNOWN_SYMBOL, `unknown symbol ${body.symbol.slice(0, 40)}`);
  const side = enumField(body, 'side', SIDE_NAMES, true)!;
  const ordType = enumField(body, 'type', ORD_TYPE_NAMES, true)!;
  return {
    type: 'newOrder',
    seq: 0,
    tsUs: 0,
    accountId,
    symbol: sym.symbol,
    side,
    ordType,
    tif: enumField(body, 'tif', TIF_NAMES, false),
    qtyLots: qtyField(sym, body.qty, true)!,
    priceTicks: priceField(sym, body.price, 'price'),
    stopPriceTicks: priceField(sym, body.stopPrice, 'stopPrice'),
    expireTimeUs: timeUsField(body.expireTime, 'expireTime'),
    postOnly: boolField(body, 'postOnly'),
    stp: enumField(body, 'stp', STP_NAMES, false),
    clOrdId: clOrdIdField(body.clOrdId),
  };
}

/** PATCH /v1/order/:orderId: new qty and / or price, optionally a new clOrdId. */
export function parseReplace(raw: JsonValue, accountId: number, orderId: number, sym: SymbolInfo): ReplaceOrderCmd {
  const body = asObject(raw);
  onlyFields(body, REPLACE_FIELDS);
  const qtyLots = qtyField(sym, body.qty, false);
  const priceTicks = priceField(sym, body.price, 'price');
  if (qtyLots === undefined && priceTicks === undefined) throw new ApiError(Code.INVALID_REQUEST, 'give qty and / or price');
  return { type: 'replaceOrder', seq: 0, tsUs: 0, accountId, orderId, qtyLots, priceTicks, clOrdId: clOrdIdField(body.clOrdId) };
}

export function cancelCommand(accountId: number, orderId: number | undefined, clOrdId: string | undefined): CancelOrderCmd {
  return { type: 'cancelOrder', seq: 0, tsUs: 0, accountId, orderId, clOrdId };
}

/** An order id from a URL segment: a positive integer in canonical form, else null. */
export function parseOrderId(text: string): number | null {
  if (!/^[1-9]\d{0,15}$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

export interface Fill {
  tradeId: number;
  price: string;
  qty: string;
  liquidity: 'maker' | 'taker';
  ts: string;
}

export interface OrderObject {
  orderId: number;
  clOrdId: string | null;
  accountId: number;
  symbol: string;
  side: string;
  type: string;
  tif: string;
  price: string | null;
  stopPrice: string | null;
  qty: string;
  filledQty: string;
  leavesQty: string;
  avgPx: string | null;
  status: string;
  postOnly: boolean;
  stp: string;
  expireTime: string | null;
  rejectReason: string | null;
  reason: string | null;
  createdAt: string;
  updatedAt: string;
  seq: number;
  fills?: Fill[];
}

export const isoUs = (us: number): string => new Date(Math.floor(us / 1000)).toISOString();

function avgPx(sym: SymbolInfo, cumNotionalTickLots: number, cumQtyLots: number): string | null {
  return cumQtyLots > 0 ? sym.tick.ratio(cumNotionalTickLots, cumQtyLots, AVG_PX_EXTRA_DIGITS) : null;
}

/**
 * The order as its last execution report in `events` shows it, with the fills those reports
 * carry (the fills made while handling this one command: on arrival, the fills shown at once).
 */
export function orderFromReports(events: DecodedEvent[], orderId: number, seq: number, dir: Directory, rejectCode = 0): OrderObject | null {
  let last: DecodedEvent | null = null;
  const fills: Fill[] = [];
  for (const e of events) {
    if (e.event !== 'exec' || e.orderId !== orderId) continue;
    last = e;
    const sym = dir.symbolAt(e.symbolIdx as number);
    if (e.execType === 2 && sym !== undefined)
      fills.push({ tradeId: e.tradeId as number, price: sym.tick.format(e.lastPxTicks as number), qty: sym.lot.format(e.lastQtyLots as number), liquidity: e.liquidity === 1 ? 'maker' : 'taker', ts: isoUs(e.tsUs) });
  }
  if (last === null) return null;
  const sym = dir.symbolAt(last.symbolIdx as number);
  if (sym === undefined) return null;
  const n = (k: string) => last[k] as number;
  const code = rejectCode || n('rejectCode');
  return {
    orderId: n('orderId'),
    clOrdId: (last.clOrdId as string | null) ?? null,
    accountId: n('accountId'),
    symbol: sym.symbol,
    side: SIDE_NAMES[n('side')] ?? '',
    type: ORD_TYPE_NAMES[n('ordType')] ?? '',
    // a rejected order reports the tif as sent (0 = not given): show the engine's default
    tif: TIF_NAMES[n('tif')] || (n('ordType') === 2 ? 'IOC' : 'GTC'),
    price: n('priceTicks') > 0 ? sym.tick.format(n('priceTicks')) : null,
    stopPrice: n('stopPriceTicks') > 0 ? sym.tick.format(n('stopPriceTicks')) : null,
    qty: sym.lot.format(n('qtyLots')),
    filledQty: sym.lot.format(n('cumQtyLots')),
    leavesQty: sym.lot.format(n('leavesQtyLots')),
    avgPx: avgPx(sym, n('cumNotionalTickLots'), n('cumQtyLots')),
    status: ORD_STATUS_NAMES[n('ordStatus')] ?? '',
    postOnly: n('postOnly') === 1,
    stp: STP_NAMES[n('stp')] || 'cancel_newest',
    expireTime: n('expireTimeUs') > 0 ? isoUs(n('expireTimeUs')) : null,
    rejectReason: code > 0 ? codeName(code) : null,
    reason: REASON_NAMES[n('reason')] || null,
    createdAt: isoUs(n('createdAtUs')),
    updatedAt: isoUs(last.tsUs),
    seq,
    fills,
  };
}

export function orderFromView(v: OrderView, dir: Directory): OrderObject | null {
  const sym = dir.symbol(v.symbol);
  if (sym === undefined) return null;
  return {
    orderId: v.orderId,
    clOrdId: v.clOrdId,
    accountId: v.accountId,
    symbol: v.symbol,
    side: SIDE_NAMES[v.side] ?? '',
    type: ORD_TYPE_NAMES[v.ordType] ?? '',
    tif: TIF_NAMES[v.tif] ?? '',
    price: v.priceTicks > 0 ? sym.tick.format(v.priceTicks) : null,
    stopPrice: v.stopPriceTicks > 0 ? sym.tick.format(v.stopPriceTicks) : null,
    qty: sym.lot.format(v.qtyLots),
    filledQty: sym.lot.format(v.filledLots),
    leavesQty: sym.lot.format(v.leavesLots),
    avgPx: avgPx(sym, v.cumNotionalTickLots, v.filledLots),
    status: ORD_STATUS_NAMES[v.status] ?? '',
    postOnly: v.postOnly,
    stp: STP_NAMES[v.stp] || 'cancel_newest',
    expireTime: v.expireTimeUs > 0 ? isoUs(v.expireTimeUs) : null,
    rejectReason: null,
    reason: null,
    createdAt: isoUs(v.createdAtUs),
    updatedAt: isoUs(v.updatedAtUs),
    seq: v.seq,
  };
}

export const codeName = (code: number): string => CODE_NAMES[code] ?? `CODE_${code}`;
