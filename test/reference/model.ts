/**
 * Reference model of the seqex engine, written from docs/engine.md only (not from the engine's
 * code). Deliberately simple: plain objects, arrays re-sorted on every insert, linear scans. It is
 * the oracle of test/property.test.ts.
 *
 * Scope (what the model decides):
 * - addAsset, addSymbol (tickSize, lotSize, minQty, maxQty, maxNotional, marketProtectionPct,
 *   makerFeeBps, takerFeeBps, priceBandPct + referencePrice; no session, no daily quantity
 *   limit), createAccount;
 * - setSymbolState and the trading-state check of newOrder (halted, closed, cancel_only, pre_open);
 * - setAccountEnabled (kill switch: cancels open and pending orders, ACCOUNT_DISABLED);
 * - setAccountLimits maxOpenOrders (MAX_OPEN_ORDERS_EXCEEDED; pending stops count as open);
 * - deposit / withdraw with transferId idempotency;
 * - newOrder: limit, market (protection price), stop, stop_limit; GTC, IOC, FOK, DAY (00:00 UTC
 *   expiry, symbols without a session), GTD; postOnly; the four STP modes; FOK walk; stop triggers
 *   with cascade; validation codes (docs order) UNAUTHORIZED, FORBIDDEN, INVALID_REQUEST,
 *   INVALID_QUANTITY, INVALID_PRICE, UNKNOWN_SYMBOL, ACCOUNT_DISABLED, DUPLICATE_CLORDID,
 *   SYMBOL_HALTED, MARKET_CLOSED, MAX_QTY_EXCEEDED, PRICE_OUTSIDE_BAND, MAX_NOTIONAL_EXCEEDED,
 *   MAX_OPEN_ORDERS_EXCEEDED, POST_ONLY_WOULD_TRADE, INSUFFICIENT_FUNDS;
 * - clOrdId on newOrder (idempotent replay with identical parameters, DUPLICATE_CLORDID, kept for
 *   open orders and until the end of the UTC day of closing);
 * - cancelOrder by orderId or clOrdId (NOT_FOUND, TOO_LATE_TO_CANCEL), replaceOrder by orderId or
 *   origClOrdId (priority rules, funds delta, re-run risk checks, crossing replace, pending
 *   stops), massCancel;
 * - settlement with maker / taker fees credited to account 0;
 * - time: GTD and DAY expiry before each command.
 *
 * - updateSymbol of makerFeeBps / takerFeeBps.
 *
 * Not modelled: a new clOrdId on replace, daily quantity limits, sessions, other updateSymbol fields,
 * dedupeCapacity eviction, replace while a symbol is not open.
 *
 * Reserved balances are not stored: an account's reserved amount of an asset is, by definition,
 * the sum of what its open orders need (buy: priceTicks × leaves × k of quote; sell: leaves ×
 * lotMinor of base; a market order with no liquidity reserves nothing). Only totals are stored.
 *
 * Where docs/engine.md leaves a choice open, `apply` answers a set of acceptable codes (`codes`);
 * every choice made is listed in AMBIGUITIES below.
 */
import { Code, OrdStatus, OrdType, Side, Stp, Tif, TradingState } from '../../src/domain/codes.js';
import { decimalToUnits, minorUnit, parseDecimal, type ScaledDecimal } from '../../src/domain/decimal.js';
import type { Command, SymbolConfig } from '../../src/engine/commands.js';

export const AMBIGUITIES = [
  'stop cascade: after each trigger the set of triggered stops is re-evaluated against the current last price (lowest orderId first)',
  'cancel / replace of a closed order: TOO_LATE_TO_CANCEL while the order is kept (closed today, UTC), NOT_FOUND after; either code accepted when the closing day is unclear (timer due on an earlier day than the command that ran it)',
  'a replace with the same price and the same qty changes nothing (priority kept); its code may be OK or the reject of a re-run risk check (no state change either way)',
  'replace notional check uses the new total qty',
  'replace with priceTicks on a stop (market) order: INVALID_PRICE or INVALID_REQUEST accepted',
  'a rejected withdrawal does not take its transferId',
  'price collar: checked on arrival (limit price of limit / stop_limit) and on replace (the new or unchanged limit price against the current reference, as "all of the risk checks re-run for the new values" says) except for a pure quantity decrease at the same price (it only lowers risk; the engine accepts it); not re-checked when a stop_limit triggers',
  'a disabled account may still deposit / withdraw; its cancel / replace / massCancel answer ACCOUNT_DISABLED or the usual code (it has no open orders either way)',
  'closed orders without a clOrdId: the engine forgets them at once (getOrder null, cancel NOT_FOUND); the docs only define keeping for the clOrdId key, so cancel / replace of such an order accepts TOO_LATE_TO_CANCEL or NOT_FOUND',
] as const;

/**
 * Engine deviations from docs/engine.md that the model can imitate, to keep exploring past a known
 * discrepancy (PROP_TOLERATE=name,name). The default is strict: the model follows the docs.
 */
export type Tolerance = 'marketSellNoLiquidityFunds' | 'replaceCollarOnlyOnPriceChange' | 'replaceCollarsStopReservation';

export const DAY_US = 86_400_000_000;
export const dayOf = (tsUs: number) => Math.floor(tsUs / DAY_US);

export interface MSymbol {
  idx: number;
  name: string;
  base: string;
  quote: string;
  k: number;
  lotMinor: number;
  minQtyLots: number;
  maxQtyLots: number;
  maxNotionalMinor: number;
  /** market protection p = protNum / protDen */
  protNum: bigint;
  protDen: bigint;
  makerFeeBps: number;
  takerFeeBps: number;
  /** collar band = bandNum / bandDen; null = no collar */
  bandNum: bigint | null;
  bandDen: bigint;
  referencePx: number | null;
  state: TradingState;
  lastPx: number | null;
  /** best first, then arrival */
  bids: MOrder[];
  asks: MOrder[];
}

export interface MOrder {
  orderId: number;
  accountId: number;
  symbol: string;
  side: Side;
  ordType: OrdType;
  tif: Tif;
  /** reservation price (limit price for limit / stop_limit); 0 for a market order with no liquidity */
  priceTicks: number;
  stopPriceTicks: number;
  clOrdId: string | undefined;
  /** the parameters as first submitted, for clOrdId idempotency */
  params: string;
  qty: number;
  filled: number;
  leaves: number;
  status: OrdStatus;
  postOnly: boolean;
  stp: Stp;
  expireTimeUs: number;
  createdAtUs: number;
  /** time priority stamp: smaller = earlier */
  arrival: number;
  /** when it closed: timer due time for expiries, otherwise the command time */
  closedAtUs: number;
  /** the command time at which it closed */
  closedCmdUs: number;
}

export interface MTrade {
  tradeId: number;
  symbol: string;
  priceTicks: number;
  qtyLots: number;
  makerOrderId: number;
  takerOrderId: number;
}

export interface MResult {
  /** acceptable codes; the first is the primary one */
  codes: Code[];
  trades: MTrade[];
}

interface Transfer {
  type: 'deposit' | 'withdraw';
  accountId: number;
  asset: string;
  amountMinor: number;
}

const isOpen = (o: MOrder) =>
  o.status === OrdStatus.NEW || o.status === OrdStatus.PARTIALLY_FILLED || o.status === OrdStatus.PENDING_TRIGGER;

const isPosInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}
function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}

class Reject {
  constructor(readonly codes: Code[]) {}
}
const reject = (...codes: Code[]): never => {
  throw new Reject(codes);
};

export class RefModel {
  assets: { name: string; decimals: number }[] = [];
  symbols: MSymbol[] = [];
  /** accountId -> name; index 0 is the fee account */
  accounts: string[] = ['fee'];
  disabled = new Set<number>();
  /** accountId -> max open orders (absent = the engine default, 10,000) */
  maxOpen = new Map<number, number>();
  /** `${accountId}|${asset}` -> total */
  totals = new Map<string, number>();
  /** per asset: deposits - withdrawals */
  supply = new Map<string, number>();
  transfers = new Map<string, Transfer>();
  /** every accepted order, index orderId - 1 */
  orders: MOrder[] = [];
  nextTradeId = 1;
  arrivalCounter = 0;
  now = 0;
  private trades: MTrade[] = [];

  constructor(readonly tolerate: readonly Tolerance[] = []) {}

  // ------------------------------------------------------------------ queries

  total(accountId: number, asset: string): number {
    return this.totals.get(`${accountId}|${asset}`) ?? 0;
  }

  reserved(accountId: number, asset: string): number {
    let r = 0;
    for (const o of this.orders) {
      if (o.accountId !== accountId || !isOpen(o)) continue;
      const s = this.sym(o.symbol)!;
      if (o.side === Side.BUY && s.quote === asset) r += o.priceTicks * o.leaves * s.k;
      if (o.side === Side.SELL && s.base === asset) r += o.leaves * s.lotMinor;
    }
    return r;
  }

  balance(accountId: number, asset: string): { totalMinor: number; reservedMinor: number; availableMinor: number } {
    const t = this.total(accountId, asset);
    const r = this.reserved(accountId, asset);
    return { totalMinor: t, reservedMinor: r, availableMinor: t - r };
  }

  sym(name: unknown): MSymbol | undefined {
    return this.symbols.find((s) => s.name === name);
  }

  order(orderId: number): MOrder | undefined {
    return isPosInt(orderId) ? this.orders[orderId - 1] : undefined;
  }

  openOrders(accountId: number): MOrder[] {
    return this.orders.filter((o) => o.accountId === accountId && isOpen(o));
  }

  l3(symbol: string): { bids: { orderId: number; priceTicks: number; qtyLots: number }[]; asks: { orderId: number; priceTicks: number; qtyLots: number }[] } {
    const s = this.sym(symbol)!;
    const row = (o: MOrder) => ({ orderId: o.orderId, priceTicks: o.priceTicks, qtyLots: o.leaves });
    return { bids: s.bids.map(row), asks: s.asks.map(row) };
  }

  /** Whether a closed order is still kept: true, false, or null when the docs leave it open. */
  kept(o: MOrder): boolean | null {
    if (isOpen(o)) return true;
    if (o.clOrdId === undefined) return null;
    const a = dayOf(this.now) <= dayOf(o.closedAtUs);
    const b = dayOf(this.now) <= dayOf(o.closedCmdUs);
    return a === b ? a : null;
  }

  // ------------------------------------------------------------------ apply

  apply(cmd: Command): MResult {
    this.trades = [];
    const c = cmd as unknown as Record<string, unknown>;
    if (typeof c.tsUs === 'number' && Number.isFinite(c.tsUs) && c.tsUs >= this.now) {
      this.now = c.tsUs;
      this.runTimers(c.tsUs);
    }
    let codes: Code[] = [Code.OK];
    try {
      switch (c.type) {
        case 'addAsset':
          this.addAsset(c);
          break;
        case 'addSymbol':
          this.addSymbol(c.config as SymbolConfig);
          break;
        case 'createAccount':
          this.accounts.push(String(c.name));
          break;
        case 'setAccountEnabled':
          this.setEnabled(c);
          break;
        case 'setAccountLimits':
          this.setLimits(c);
          break;
        case 'updateSymbol': {
          // fees only (the property test changes nothing else)
          const s = this.sym(c.symbol);
          if (s === undefined) return reject(Code.UNKNOWN_SYMBOL);
          const ch = c.changes as Record<string, unknown>;
          for (const k of Object.keys(ch)) if (k !== 'makerFeeBps' && k !== 'takerFeeBps') throw new Error(`model: updateSymbol ${k} not modelled`);
          for (const k of ['makerFeeBps', 'takerFeeBps'] as const) {
            const v = ch[k];
            if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 10_000)) reject(Code.INVALID_CONFIG);
          }
          if (ch.makerFeeBps !== undefined) s.makerFeeBps = ch.makerFeeBps as number;
          if (ch.takerFeeBps !== undefined) s.takerFeeBps = ch.takerFeeBps as number;
          break;
        }
        case 'setSymbolState': {
          const s = this.sym(c.symbol);
          if (s === undefined) reject(Code.UNKNOWN_SYMBOL);
          if (![TradingState.CLOSED, TradingState.PRE_OPEN, TradingState.OPEN, TradingState.HALTED, TradingState.CANCEL_ONLY].includes(c.state as TradingState)) reject(Code.INVALID_REQUEST);
          s!.state = c.state as TradingState;
          break;
        }
        case 'deposit':
        case 'withdraw':
          this.transfer(c);
          break;
        case 'newOrder':
          this.newOrder(c);
          break;
        case 'cancelOrder':
          this.cancel(c);
          break;
        case 'replaceOrder':
          this.replace(c);
          break;
        case 'massCancel':
          this.massCancel(c);
          break;
        case 'tick':
          break;
        default:
          reject(Code.INVALID_REQUEST);
      }
      this.runStops();
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      codes = e.codes;
    }
    return { codes, trades: this.trades };
  }

  // ------------------------------------------------------------------ time

  private runTimers(now: number): void {
    // GTD expiry, then DAY expiry (no sessions in the model). Expiry never trades, so the order
    // among due timers only affects event order, which the model does not describe.
    for (const o of this.orders) {
      if (!isOpen(o)) continue;
      if (o.tif === Tif.GTD && o.expireTimeUs <= now) this.close(o, OrdStatus.EXPIRED, o.expireTimeUs);
    }
    for (const o of this.orders) {
      if (!isOpen(o)) continue;
      if (o.tif === Tif.DAY && dayOf(o.createdAtUs) < dayOf(now)) this.close(o, OrdStatus.EXPIRED, (dayOf(o.createdAtUs) + 1) * DAY_US);
    }
  }

  // ------------------------------------------------------------------ admin

  private addAsset(c: Record<string, unknown>): void {
    if (typeof c.asset !== 'string' || !Number.isInteger(c.decimals)) reject(Code.INVALID_REQUEST);
    if (this.assets.some((a) => a.name === c.asset)) reject(Code.ALREADY_EXISTS);
    this.assets.push({ name: c.asset as string, decimals: c.decimals as number });
  }

  private addSymbol(cfg: SymbolConfig): void {
    const base = this.assets.find((a) => a.name === cfg.base);
    const quote = this.assets.find((a) => a.name === cfg.quote);
    if (base === undefined || quote === undefined) return reject(Code.INVALID_CONFIG);
    if (this.sym(cfg.symbol) !== undefined) reject(Code.ALREADY_EXISTS);
    const tick = parseDecimal(cfg.tickSize)!;
    const lot = parseDecimal(cfg.lotSize)!;
    // k = tick × lot × 10^quoteDecimals; lotMinor = lot × 10^baseDecimals
    const k = toInt(BigInt(tick.digits) * BigInt(lot.digits) * 10n ** BigInt(quote.decimals), tick.scale + lot.scale);
    const lotMinor = toInt(BigInt(lot.digits) * 10n ** BigInt(base.decimals), lot.scale);
    if (k === null || lotMinor === null) return reject(Code.INVALID_CONFIG);
    const maxQtyLots = decimalToUnits(cfg.maxQty, cfg.lotSize);
    const minQtyLots = cfg.minQty === undefined ? 1 : decimalToUnits(cfg.minQty, cfg.lotSize);
    const maxNotionalMinor = decimalToUnits(cfg.maxNotional, minorUnit(quote.decimals));
    if (maxQtyLots === null || minQtyLots === null || maxNotionalMinor === null) return reject(Code.INVALID_CONFIG);
    const prot: ScaledDecimal = parseDecimal(cfg.marketProtectionPct ?? '5')!;
    const band = cfg.priceBandPct === undefined || cfg.priceBandPct === null ? null : parseDecimal(cfg.priceBandPct)!;
    const referencePx = cfg.referencePrice === undefined || cfg.referencePrice === null ? null : decimalToUnits(cfg.referencePrice, cfg.tickSize);
    this.symbols.push({
      idx: this.symbols.length,
      name: cfg.symbol,
      base: cfg.base,
      quote: cfg.quote,
      k,
      lotMinor,
      minQtyLots,
      maxQtyLots,
      maxNotionalMinor,
      protNum: BigInt(prot.digits),
      protDen: 100n * 10n ** BigInt(prot.scale),
      makerFeeBps: cfg.makerFeeBps ?? 0,
      takerFeeBps: cfg.takerFeeBps ?? 0,
      bandNum: band === null ? null : BigInt(band.digits),
      bandDen: band === null ? 1n : 100n * 10n ** BigInt(band.scale),
      referencePx,
      state: TradingState.OPEN,
      lastPx: null,
      bids: [],
      asks: [],
    });
  }

  // ------------------------------------------------------------------ transfers

  private transfer(c: Record<string, unknown>): void {
    const type = c.type as 'deposit' | 'withdraw';
    const accountId = c.accountId as number;
    this.checkAccount(accountId);
    const asset = c.asset as string;
    if (!this.assets.some((a) => a.name === asset)) reject(Code.INVALID_REQUEST, Code.NOT_FOUND, Code.UNKNOWN_SYMBOL);
    const amount = c.amountMinor as number;
    if (!isPosInt(amount)) reject(Code.INVALID_QUANTITY, Code.INVALID_REQUEST);
    const id = c.transferId as string;
    if (typeof id !== 'string' || id.length < 1 || id.length > 64) reject(Code.INVALID_REQUEST);
    const prev = this.transfers.get(id);
    if (prev !== undefined) {
      if (prev.type === type && prev.accountId === accountId && prev.asset === asset && prev.amountMinor === amount) return; // replay
      reject(Code.DUPLICATE_TRANSFER_ID);
    }
    if (type === 'withdraw' && this.balance(accountId, asset).availableMinor < amount) reject(Code.INSUFFICIENT_FUNDS);
    this.transfers.set(id, { type, accountId, asset, amountMinor: amount });
    const sign = type === 'deposit' ? 1 : -1;
    this.addTotal(accountId, asset, sign * amount);
    this.supply.set(asset, (this.supply.get(asset) ?? 0) + sign * amount);
  }

  private addTotal(accountId: number, asset: string, delta: number): void {
    const key = `${accountId}|${asset}`;
    this.totals.set(key, (this.totals.get(key) ?? 0) + delta);
  }

  private checkAccount(accountId: unknown): void {
    if (accountId === 0) reject(Code.FORBIDDEN);
    if (!isPosInt(accountId) || accountId >= this.accounts.length) reject(Code.UNAUTHORIZED);
  }

  private setEnabled(c: Record<string, unknown>): void {
    const id = c.accountId;
    if (!isPosInt(id) || id >= this.accounts.length) reject(Code.NOT_FOUND, Code.UNAUTHORIZED, Code.FORBIDDEN, Code.INVALID_REQUEST);
    if (typeof c.enabled !== 'boolean') reject(Code.INVALID_REQUEST);
    if (c.enabled) {
      this.disabled.delete(id as number);
      return;
    }
    this.disabled.add(id as number);
    for (const o of this.orders) if (o.accountId === id && isOpen(o)) this.close(o, OrdStatus.CANCELED);
  }

  private setLimits(c: Record<string, unknown>): void {
    const id = c.accountId;
    if (!isPosInt(id) || id >= this.accounts.length) reject(Code.NOT_FOUND, Code.UNAUTHORIZED, Code.FORBIDDEN, Code.INVALID_REQUEST);
    if (c.dailyQtyLimits !== undefined) reject(Code.INVALID_REQUEST); // not modelled
    if (c.maxOpenOrders === null) this.maxOpen.delete(id as number);
    else if (c.maxOpenOrders !== undefined) {
      if (!isPosInt(c.maxOpenOrders)) reject(Code.INVALID_REQUEST);
      this.maxOpen.set(id as number, c.maxOpenOrders as number);
    }
  }

  /** step 6: the limit price inside [ceil(ref × (1 − band)), floor(ref × (1 + band))] */
  private checkCollar(s: MSymbol, px: number): void {
    if (s.bandNum === null) return;
    const ref = s.lastPx ?? s.referencePx;
    if (ref === null) return;
    const r = BigInt(ref);
    const lo = Number(ceilDiv(r * (s.bandDen - s.bandNum), s.bandDen));
    const hi = Number(floorDiv(r * (s.bandDen + s.bandNum), s.bandDen));
    if (px < lo || px > hi) reject(Code.PRICE_OUTSIDE_BAND);
  }

  // ------------------------------------------------------------------ orders

  private newOrder(c: Record<string, unknown>): void {
    // 1. shape
    this.checkAccount(c.accountId);
    // every failing shape check; the docs do not order the checks inside step 1, so any of them is accepted
    const bad: Code[] = [];
    const fail = (code: Code) => void bad.push(code);
    const accountId = c.accountId as number;
    const side = c.side as Side;
    const ordType = c.ordType as OrdType;
    if (side !== Side.BUY && side !== Side.SELL) fail(Code.INVALID_REQUEST);
    if (![OrdType.LIMIT, OrdType.MARKET, OrdType.STOP, OrdType.STOP_LIMIT].includes(ordType)) fail(Code.INVALID_REQUEST);
    const tif = (c.tif ?? (ordType === OrdType.MARKET ? Tif.IOC : Tif.GTC)) as Tif;
    if (![Tif.GTC, Tif.DAY, Tif.IOC, Tif.FOK, Tif.GTD].includes(tif)) fail(Code.INVALID_REQUEST);
    const stp = (c.stp ?? Stp.CANCEL_NEWEST) as Stp;
    if (![Stp.CANCEL_NEWEST, Stp.CANCEL_OLDEST, Stp.CANCEL_BOTH, Stp.DECREMENT].includes(stp)) fail(Code.INVALID_REQUEST);
    const qty = c.qtyLots as number;
    if (!isPosInt(qty)) fail(Code.INVALID_QUANTITY);
    const hasLimit = ordType === OrdType.LIMIT || ordType === OrdType.STOP_LIMIT;
    const hasStop = ordType === OrdType.STOP || ordType === OrdType.STOP_LIMIT;
    if (hasLimit ? !isPosInt(c.priceTicks) : c.priceTicks !== undefined) fail(Code.INVALID_PRICE);
    if (hasStop ? !isPosInt(c.stopPriceTicks) : c.stopPriceTicks !== undefined) fail(Code.INVALID_PRICE);
    if (ordType === OrdType.MARKET && tif !== Tif.IOC && tif !== Tif.FOK) fail(Code.INVALID_REQUEST);
    const postOnly = c.postOnly === true;
    if (c.postOnly !== undefined && typeof c.postOnly !== 'boolean') fail(Code.INVALID_REQUEST);
    if (postOnly && !(ordType === OrdType.LIMIT && (tif === Tif.GTC || tif === Tif.DAY || tif === Tif.GTD))) fail(Code.INVALID_REQUEST);
    if (tif === Tif.GTD ? !(isPosInt(c.expireTimeUs) && c.expireTimeUs > this.now) : c.expireTimeUs !== undefined) fail(Code.INVALID_REQUEST);
    const clOrdId = c.clOrdId as string | undefined;
    if (clOrdId !== undefined && !(typeof clOrdId === 'string' && /^[A-Za-z0-9_-]{1,36}$/.test(clOrdId))) fail(Code.INVALID_REQUEST);
    if (bad.length > 0) reject(...bad);
    // 2. symbol
    const s = this.sym(c.symbol);
    if (s === undefined) return reject(Code.UNKNOWN_SYMBOL);
    if (this.disabled.has(accountId)) reject(Code.ACCOUNT_DISABLED);
    // 3. clOrdId idempotency
    const params = JSON.stringify([s.name, side, ordType, tif, qty, c.priceTicks ?? 0, c.stopPriceTicks ?? 0, c.expireTimeUs ?? 0, postOnly, stp]);
    if (clOrdId !== undefined) {
      const prev = this.byClOrdId(accountId, clOrdId);
      if (prev === 'unclear') throw new Error('model: clOrdId reuse whose keeping the docs leave open; the generator must avoid it');
      if (prev !== undefined) {
        if (prev.params === params) return; // idempotent replay: OK, no state change
        reject(Code.DUPLICATE_CLORDID);
      }
    }
    // 4. trading state
    if (s.state === TradingState.HALTED) reject(Code.SYMBOL_HALTED);
    if (s.state === TradingState.CLOSED || s.state === TradingState.CANCEL_ONLY) reject(Code.MARKET_CLOSED);
    if (s.state === TradingState.PRE_OPEN) {
      if (ordType !== OrdType.LIMIT || !(tif === Tif.GTC || tif === Tif.DAY || tif === Tif.GTD)) reject(Code.MARKET_CLOSED);
      const best = this.bestOpposite(s, side);
      const px = c.priceTicks as number;
      if (best !== null && (side === Side.BUY ? px >= best : px <= best)) reject(Code.MARKET_CLOSED);
    }
    // 5. quantity bounds
    if (qty < s.minQtyLots) reject(Code.INVALID_QUANTITY);
    if (qty > s.maxQtyLots) reject(Code.MAX_QTY_EXCEEDED);
    // 6. price collar
    if (hasLimit) this.checkCollar(s, c.priceTicks as number);
    // reservation price
    const stopPx = hasStop ? (c.stopPriceTicks as number) : 0;
    let reservePx: number;
    let noLiquidity = false;
    if (hasLimit) reservePx = c.priceTicks as number;
    else if (ordType === OrdType.MARKET) {
      const best = this.bestOpposite(s, side);
      if (best === null) {
        noLiquidity = true;
        reservePx = 0;
      } else reservePx = this.protection(s, side, best);
    } else reservePx = this.protection(s, side, stopPx);
    // 7. notional
    if (!noLiquidity && reservePx * qty * s.k > s.maxNotionalMinor) reject(Code.MAX_NOTIONAL_EXCEEDED);
    // 8. open orders
    if (this.openOrders(accountId).length >= (this.maxOpen.get(accountId) ?? 10_000)) reject(Code.MAX_OPEN_ORDERS_EXCEEDED);
    // 10. post-only
    if (postOnly) {
      const best = this.bestOpposite(s, side);
      if (best !== null && (side === Side.BUY ? reservePx >= best : reservePx <= best)) reject(Code.POST_ONLY_WOULD_TRADE);
    }
    // 11. funds
    if (noLiquidity && side === Side.SELL && this.tolerate.includes('marketSellNoLiquidityFunds') && qty * s.lotMinor > this.balance(accountId, s.base).availableMinor) reject(Code.INSUFFICIENT_FUNDS);
    if (!noLiquidity) {
      if (side === Side.BUY) {
        if (reservePx * qty * s.k > this.balance(accountId, s.quote).availableMinor) reject(Code.INSUFFICIENT_FUNDS);
      } else if (qty * s.lotMinor > this.balance(accountId, s.base).availableMinor) reject(Code.INSUFFICIENT_FUNDS);
    }
    // accepted
    const o: MOrder = {
      orderId: this.orders.length + 1,
      accountId,
      symbol: s.name,
      side,
      ordType,
      tif,
      priceTicks: reservePx,
      stopPriceTicks: stopPx,
      clOrdId,
      params,
      qty,
      filled: 0,
      leaves: qty,
      status: hasStop ? OrdStatus.PENDING_TRIGGER : OrdStatus.NEW,
      postOnly,
      stp,
      expireTimeUs: tif === Tif.GTD ? (c.expireTimeUs as number) : 0,
      createdAtUs: this.now,
      arrival: 0,
      closedAtUs: 0,
      closedCmdUs: 0,
    };
    this.orders.push(o);
    if (noLiquidity) {
      this.close(o, OrdStatus.EXPIRED);
      return;
    }
    if (hasStop) return; // pending; runStops (after the command) triggers it at once if the last price crosses
    this.match(o, reservePx);
  }

  private bestOpposite(s: MSymbol, side: Side): number | null {
    const opp = side === Side.BUY ? s.asks : s.bids;
    return opp.length === 0 ? null : opp[0]!.priceTicks;
  }

  /** buy: floor(px × (1 + p)); sell: ceil(px × (1 − p)) */
  private protection(s: MSymbol, side: Side, px: number): number {
    const p = BigInt(px);
    if (side === Side.BUY) return Number(floorDiv(p * (s.protDen + s.protNum), s.protDen));
    return Number(ceilDiv(p * (s.protDen - s.protNum), s.protDen));
  }

  private close(o: MOrder, status: OrdStatus, atUs = this.now): void {
    o.status = status;
    o.leaves = 0;
    o.closedAtUs = atUs;
    o.closedCmdUs = this.now;
    const s = this.sym(o.symbol)!;
    s.bids = s.bids.filter((x) => x !== o);
    s.asks = s.asks.filter((x) => x !== o);
  }

  private addToBook(o: MOrder): void {
    const s = this.sym(o.symbol)!;
    o.arrival = ++this.arrivalCounter;
    if (o.side === Side.BUY) {
      s.bids.push(o);
      s.bids.sort((a, b) => b.priceTicks - a.priceTicks || a.arrival - b.arrival);
    } else {
      s.asks.push(o);
      s.asks.sort((a, b) => a.priceTicks - b.priceTicks || a.arrival - b.arrival);
    }
  }

  /** Matches the incoming order `o` up to `limitPx`, then rests or expires its remainder. */
  private match(o: MOrder, limitPx: number): void {
    const s = this.sym(o.symbol)!;
    const opp = () => (o.side === Side.BUY ? s.asks : s.bids);
    const reaches = (px: number) => (o.side === Side.BUY ? px <= limitPx : px >= limitPx);
    if (o.tif === Tif.FOK) {
      let available = 0;
      for (const m of opp()) {
        if (!reaches(m.priceTicks)) break;
        if (m.accountId === o.accountId) {
          if (o.stp === Stp.CANCEL_OLDEST) continue;
          break;
        }
        available += m.leaves;
      }
      if (available < o.leaves) {
        this.close(o, OrdStatus.EXPIRED);
        return;
      }
    }
    while (o.leaves > 0) {
      const m = opp()[0];
      if (m === undefined || !reaches(m.priceTicks)) break;
      if (m.accountId === o.accountId) {
        if (o.stp === Stp.CANCEL_NEWEST) {
          this.close(o, OrdStatus.CANCELED);
          return;
        }
        if (o.stp === Stp.CANCEL_OLDEST) {
          this.close(m, OrdStatus.CANCELED);
          continue;
        }
        if (o.stp === Stp.CANCEL_BOTH) {
          this.close(m, OrdStatus.CANCELED);
          this.close(o, OrdStatus.CANCELED);
          return;
        }
        // decrement
        const d = Math.min(o.leaves, m.leaves);
        if (o.leaves === m.leaves) {
          this.close(m, OrdStatus.CANCELED);
          this.close(o, OrdStatus.CANCELED);
          return;
        }
        if (o.leaves < m.leaves) {
          m.qty -= d;
          m.leaves -= d;
          this.close(o, OrdStatus.CANCELED);
          return;
        }
        o.qty -= d;
        o.leaves -= d;
        this.close(m, OrdStatus.CANCELED);
        continue;
      }
      this.fill(s, m, o, Math.min(o.leaves, m.leaves));
    }
    if (o.leaves === 0) return;
    const rests = (o.ordType === OrdType.LIMIT || o.ordType === OrdType.STOP_LIMIT) && (o.tif === Tif.GTC || o.tif === Tif.DAY || o.tif === Tif.GTD);
    if (rests) this.addToBook(o);
    else this.close(o, OrdStatus.EXPIRED);
  }

  private fill(s: MSymbol, maker: MOrder, taker: MOrder, q: number): void {
    const px = maker.priceTicks;
    const buyer = maker.side === Side.BUY ? maker : taker;
    const seller = maker.side === Side.BUY ? taker : maker;
    const N = px * q * s.k;
    const B = q * s.lotMinor;
    const buyerBps = buyer === maker ? s.makerFeeBps : s.takerFeeBps;
    const sellerBps = seller === maker ? s.makerFeeBps : s.takerFeeBps;
    const buyerFee = Math.floor((B * buyerBps) / 10000);
    const sellerFee = Math.floor((N * sellerBps) / 10000);
    this.addTotal(buyer.accountId, s.quote, -N);
    this.addTotal(buyer.accountId, s.base, B - buyerFee);
    this.addTotal(seller.accountId, s.base, -B);
    this.addTotal(seller.accountId, s.quote, N - sellerFee);
    this.addTotal(0, s.base, buyerFee);
    this.addTotal(0, s.quote, sellerFee);
    for (const o of [maker, taker]) {
      o.filled += q;
      o.leaves -= q;
      o.status = o.leaves === 0 ? OrdStatus.FILLED : OrdStatus.PARTIALLY_FILLED;
    }
    if (maker.leaves === 0) this.close(maker, OrdStatus.FILLED);
    if (taker.leaves === 0) this.close(taker, OrdStatus.FILLED);
    s.lastPx = px;
    this.trades.push({ tradeId: this.nextTradeId++, symbol: s.name, priceTicks: px, qtyLots: q, makerOrderId: maker.orderId, takerOrderId: taker.orderId });
  }

  /** Triggered stops run one at a time, lowest orderId first, until none is triggered. */
  private runStops(): void {
    for (;;) {
      let next: MOrder | undefined;
      for (const o of this.orders) {
        if (o.status !== OrdStatus.PENDING_TRIGGER) continue;
        const last = this.sym(o.symbol)!.lastPx;
        if (last === null) continue;
        if (o.side === Side.BUY ? last >= o.stopPriceTicks : last <= o.stopPriceTicks) {
          next = o;
          break;
        }
      }
      if (next === undefined) return;
      this.trigger(next);
    }
  }

  private trigger(o: MOrder): void {
    const s = this.sym(o.symbol)!;
    o.status = OrdStatus.NEW;
    if (o.ordType === OrdType.STOP_LIMIT) {
      this.match(o, o.priceTicks);
      return;
    }
    const best = this.bestOpposite(s, o.side);
    if (best === null) {
      this.close(o, OrdStatus.EXPIRED);
      return;
    }
    const prot = this.protection(s, o.side, best);
    const limitPx = o.side === Side.BUY ? Math.min(prot, o.priceTicks) : Math.max(prot, o.priceTicks);
    this.match(o, limitPx);
  }

  /** The order the (account, clOrdId) key identifies: open, or closed and kept. */
  byClOrdId(accountId: number, clOrdId: string): MOrder | undefined | 'unclear' {
    let found: MOrder | undefined | 'unclear';
    for (const o of this.orders) {
      if (o.accountId !== accountId || o.clOrdId !== clOrdId) continue;
      const k = this.kept(o);
      if (k === true) found = o;
      else if (k === null) found = 'unclear';
    }
    return found;
  }

  /** The account's order by orderId (or clOrdId), open; rejects as cancel / replace do otherwise. */
  private ownOpenOrder(c: Record<string, unknown>, clOrdIdField: string): MOrder {
    if (!this.disabled.has(c.accountId as number)) return this.findOwnOpen(c, clOrdIdField);
    // a disabled account has no open orders: the usual reject, or ACCOUNT_DISABLED
    try {
      return this.findOwnOpen(c, clOrdIdField);
    } catch (e) {
      if (e instanceof Reject) reject(...e.codes, Code.ACCOUNT_DISABLED);
      throw e;
    }
  }

  private findOwnOpen(c: Record<string, unknown>, clOrdIdField: string): MOrder {
    this.checkAccount(c.accountId);
    let o: MOrder | undefined;
    if (c.orderId !== undefined) o = this.order(c.orderId as number);
    else if (typeof c[clOrdIdField] === 'string') {
      const x = this.byClOrdId(c.accountId as number, c[clOrdIdField] as string);
      if (x === 'unclear') return reject(Code.NOT_FOUND, Code.TOO_LATE_TO_CANCEL);
      o = x;
    } else reject(Code.INVALID_REQUEST);
    if (o === undefined || o.accountId !== c.accountId) return reject(Code.NOT_FOUND);
    if (!isOpen(o)) {
      const k = this.kept(o);
      if (k === true) reject(Code.TOO_LATE_TO_CANCEL);
      if (k === false) reject(Code.NOT_FOUND);
      reject(Code.TOO_LATE_TO_CANCEL, Code.NOT_FOUND);
    }
    return o;
  }

  private cancel(c: Record<string, unknown>): void {
    const o = this.ownOpenOrder(c, 'clOrdId');
    this.close(o, OrdStatus.CANCELED);
  }

  private massCancel(c: Record<string, unknown>): void {
    this.checkAccount(c.accountId);
    if (this.disabled.has(c.accountId as number)) reject(Code.OK, Code.ACCOUNT_DISABLED); // nothing to cancel either way
    if (c.symbol !== undefined && this.sym(c.symbol) === undefined) reject(Code.UNKNOWN_SYMBOL);
    for (const o of this.orders) {
      if (o.accountId === c.accountId && isOpen(o) && (c.symbol === undefined || o.symbol === c.symbol)) this.close(o, OrdStatus.CANCELED);
    }
  }

  private need(o: MOrder, priceTicks: number, leaves: number): number {
    const s = this.sym(o.symbol)!;
    return o.side === Side.BUY ? priceTicks * leaves * s.k : leaves * s.lotMinor;
  }

  private replace(c: Record<string, unknown>): void {
    const o = this.ownOpenOrder(c, 'origClOrdId');
    const s = this.sym(o.symbol)!;
    const bad: Code[] = [];
    if (c.qtyLots !== undefined && !isPosInt(c.qtyLots)) bad.push(Code.INVALID_QUANTITY);
    if (c.priceTicks !== undefined) {
      if (o.ordType !== OrdType.LIMIT && o.ordType !== OrdType.STOP_LIMIT) bad.push(Code.INVALID_PRICE, Code.INVALID_REQUEST);
      if (!isPosInt(c.priceTicks)) bad.push(Code.INVALID_PRICE);
    }
    if (c.clOrdId !== undefined) bad.push(Code.INVALID_REQUEST); // a new clOrdId on replace: not modelled
    if (bad.length > 0) reject(...bad);
    const qty = (c.qtyLots ?? o.qty) as number;
    const px = (c.priceTicks ?? o.priceTicks) as number;
    if (qty === o.qty && px === o.priceTicks) {
      // a replace that changes nothing: OK with no change, or the reject of a re-run check (also no change)
      try {
        this.replaceChecks(o, s, qty, px);
      } catch (e) {
        if (e instanceof Reject) reject(Code.OK, ...e.codes);
        throw e;
      }
      return;
    }
    const { crosses, leaves, pending } = this.replaceChecks(o, s, qty, px);
    // accepted
    const keepsPriority = px === o.priceTicks && qty < o.qty;
    o.qty = qty;
    o.leaves = leaves;
    if (pending || keepsPriority) {
      o.priceTicks = px;
      return;
    }
    s.bids = s.bids.filter((x) => x !== o);
    s.asks = s.asks.filter((x) => x !== o);
    o.priceTicks = px;
    if (crosses) this.match(o, px);
    else this.addToBook(o);
  }

  /** Steps 5-11 for a replace to (qty, px). */
  private replaceChecks(o: MOrder, s: MSymbol, qty: number, px: number): { crosses: boolean; leaves: number; pending: boolean } {
    if (qty <= o.filled) reject(Code.INVALID_QUANTITY);
    if (qty < s.minQtyLots) reject(Code.INVALID_QUANTITY);
    if (qty > s.maxQtyLots) reject(Code.MAX_QTY_EXCEEDED);
    const collared = o.ordType === OrdType.LIMIT || o.ordType === OrdType.STOP_LIMIT;
    const pureDecrease = px === o.priceTicks && qty < o.qty;
    if (collared && !pureDecrease && !(this.tolerate.includes('replaceCollarOnlyOnPriceChange') && px === o.priceTicks)) this.checkCollar(s, px);
    if (o.ordType === OrdType.STOP && !pureDecrease && this.tolerate.includes('replaceCollarsStopReservation')) this.checkCollar(s, px);
    if (px * qty * s.k > s.maxNotionalMinor) reject(Code.MAX_NOTIONAL_EXCEEDED);
    const pending = o.status === OrdStatus.PENDING_TRIGGER;
    const best = this.bestOpposite(s, o.side);
    const crosses = !pending && best !== null && (o.side === Side.BUY ? px >= best : px <= best);
    if (o.postOnly && crosses) reject(Code.POST_ONLY_WOULD_TRADE);
    const leaves = qty - o.filled;
    const delta = this.need(o, px, leaves) - this.need(o, o.priceTicks, o.leaves);
    const asset = o.side === Side.BUY ? s.quote : s.base;
    if (delta > this.balance(o.accountId, asset).availableMinor) reject(Code.INSUFFICIENT_FUNDS);
    return { crosses, leaves, pending };
  }
}

function toInt(numerator: bigint, scale: number): number | null {
  const den = 10n ** BigInt(scale);
  if (numerator % den !== 0n) return null;
  return Number(numerator / den);
}
