/**
 * The deterministic exchange state machine. Owns accounts and wallets, symbols and their books,
 * risk checks, matching and settlement. `apply(command)` validates everything before it changes
 * anything, so a rejected command leaves the state (and `stateHash()`) as it was.
 *
 * May import: ../domain (pure helpers) and its own folder. Never I/O, clocks, randomness or the
 * environment: time is the command's `tsUs`. Rules: docs/engine.md.
 */
import {
  BalanceCause,
  Code,
  ExecType,
  OrdStatus,
  OrdType,
  Reason,
  Side,
  Stp,
  Tif,
  TradingState,
} from '../domain/codes.js';
import { isNonNegativeInt, isPositiveInt } from '../domain/decimal.js';
import {
  addAsset,
  addSymbol,
  cloneConfig,
  createAccount,
  setAccountEnabled,
  setAccountLimits,
  setSymbolState,
  transfer,
  updateSymbol,
} from './admin.js';
import { BookSide, LevelStore } from './book.js';
import { ClOrdIndex, type PrebuiltClOrdTable } from './clOrdIndex.js';
import type { CancelOrderCmd, Command, MassCancelCmd, NewOrderCmd, ReplaceOrderCmd, SymbolConfig } from './commands.js';
import { Ev, EventLog } from './events.js';
import { GtdHeap } from './gtdHeap.js';
import { IdIndex } from './idIndex.js';
import { checkInvariants } from './invariants.js';
import { enumOrdType, enumPostOnly, enumSide, enumStatus, enumStp, enumTif, NIL, OrderStore } from './orderStore.js';
import { PairTable } from './pairTable.js';
import { RetainQueue } from './retainQueue.js';
import { readSnapshot, stateHashOf, writeSnapshot } from './snapshot.js';
import { DAY_US, inSession, nextSessionBoundary, type SymbolParams } from './symbols.js';

export const CLORDID_RE = /^[A-Za-z0-9_-]{1,36}$/;
export const TRANSFER_ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
export const FEE_ACCOUNT_ID = 0;
export const NO_TIMER = Number.MAX_SAFE_INTEGER;

export interface EngineOptions {
  /** closed orders kept for clOrdId dedupe, oldest evicted first */
  dedupeCapacity?: number;
  /** open + pending orders per account unless the account's limits say otherwise */
  defaultMaxOpenOrders?: number;
  /** order slots preallocated */
  initialOrderCapacity?: number;
  /** transfer ids kept for deposit / withdraw idempotency, oldest forgotten first */
  transferDedupeCapacity?: number;
}

export interface Asset {
  idx: number;
  name: string;
  decimals: number;
  /** deposits - withdrawals, minor units */
  supplyMinor: number;
}

export interface Sym {
  idx: number;
  name: string;
  config: SymbolConfig;
  p: SymbolParams;
  baseIdx: number;
  quoteIdx: number;
  state: TradingState;
  lastPxTicks: number;
  /** UTC day number of the latest open (sessions); -1 before the first */
  sessionDay: number;
  bids: BookSide;
  asks: BookSide;
  /** pending buy stops, by (stopPx asc, orderId asc); sells by (stopPx desc, orderId asc) */
  buyStops: number[];
  sellStops: number[];
  nextBoundaryUs: number;
}

export interface Account {
  id: number;
  name: string;
  apiKeyHash: string;
  enabled: boolean;
  /** -1 = engine default */
  maxOpenOrders: number;
  openCount: number;
  openHead: number;
  openTail: number;
  /** symbolIdx -> lots (overrides the symbol's dailyAccountQtyLimit); null until one is set */
  dailyLimits: Map<number, number> | null;
  /** the last number given to a message for this account (execution reports, cancel rejects): gap-free per account */
  msgSeq: number;
  /**
   * Cache of the table records for the symbol this account used last (an account mostly trades
   * one symbol at a time): its base and quote wallet rows and its daily row. Not state: derived,
   * rebuilt on a miss. Records never move, so the indexes stay valid.
   */
  cSym: number;
  cBaseAsset: number;
  cQuoteAsset: number;
  cBase: number;
  cQuote: number;
  cDaily: number;
}

export interface Transfer {
  accountId: number;
  assetIdx: number;
  amountMinor: number;
  kind: 1 | 2;
}

export interface OrderView {
  orderId: number;
  clOrdId: string | null;
  accountId: number;
  symbol: string;
  side: Side;
  ordType: OrdType;
  tif: Tif;
  priceTicks: number;
  stopPriceTicks: number;
  qtyLots: number;
  filledLots: number;
  leavesLots: number;
  cumNotionalTickLots: number;
  status: OrdStatus;
  postOnly: boolean;
  stp: Stp;
  expireTimeUs: number;
  createdAtUs: number;
  updatedAtUs: number;
  seq: number;
}

export interface BalanceView {
  asset: string;
  totalMinor: number;
  reservedMinor: number;
  availableMinor: number;
}

const isLive = (status: number) =>
  status === OrdStatus.NEW || status === OrdStatus.PARTIALLY_FILLED || status === OrdStatus.PENDING_TRIGGER;

export class Engine {
  readonly events: EventLog;
  readonly store: OrderStore;
  readonly levels = new LevelStore();
  readonly byOrderId: IdIndex;
  readonly clOrd: ClOrdIndex;
  readonly gtd = new GtdHeap();
  readonly assets: Asset[] = [];
  readonly assetByName = new Map<string, number>();
  readonly symbols: Sym[] = [];
  readonly symbolByName = new Map<string, number>();
  readonly accounts: Account[] = [];
  /** (account, asset) -> [total, reserved], minor units */
  readonly wallets = new PairTable(2);
  /** (account, symbol) -> [trading day, filled lots that day, working lots] */
  readonly dailies = new PairTable(3);
  readonly transfers = new Map<string, Transfer>();
  /** closed orders kept for dedupe: [orderId, utcDayClosed] in closing order */
  readonly retained = new RetainQueue();
  nextOrderId = 1;
  nextTradeId = 1;
  lastSeq = 0;
  nowUs = 0;
  currentDay = -1;
  readonly dedupeCapacity: number;
  readonly defaultMaxOpenOrders: number;
  readonly transferDedupeCapacity: number;
  /** @internal the earliest time a timer is due */
  nextTimerUs = 0;
  /** ordinal of the next execution report inside the current command (ExecID = seq.ordinal) */
  private execOrdinal = 0;

  constructor(options: EngineOptions = {}) {
    this.dedupeCapacity = options.dedupeCapacity ?? 1_000_000;
    this.defaultMaxOpenOrders = options.defaultMaxOpenOrders ?? 10_000;
    this.transferDedupeCapacity = options.transferDedupeCapacity ?? 1_000_000;
    const capacity = options.initialOrderCapacity ?? 1 << 12;
    this.store = new OrderStore(capacity);
    this.byOrderId = new IdIndex();
    this.clOrd = new ClOrdIndex(this.store, ClOrdIndex.bucketsFor(capacity));
    this.events = new EventLog();
    this.accounts.push(this.makeAccount(FEE_ACCOUNT_ID, 'fees', ''));
  }

  // ------------------------------------------------------------------ dispatch

  apply(cmd: Command): Code {
    const ev = this.events;
    this.execOrdinal = 0;
    if (cmd === null || typeof cmd !== 'object') return this.reject(Code.INVALID_REQUEST, 'command must be an object');
    const seq = cmd.seq;
    const ts = cmd.tsUs;
    ev.seq = isNonNegativeInt(seq) ? seq : 0;
    ev.tsUs = isNonNegativeInt(ts) ? ts : 0;
    if (!isPositiveInt(seq) || seq <= this.lastSeq) return this.reject(Code.INVALID_REQUEST, 'seq must increase');
    if (!isNonNegativeInt(ts) || ts < this.nowUs) return this.reject(Code.INVALID_REQUEST, 'tsUs must not go back');
    this.lastSeq = seq;
    this.nowUs = ts;
    if (ts >= this.nextTimerUs) this.runTimers(ts);
    switch (cmd.type) {
      case 'newOrder':
        return this.newOrder(cmd);
      case 'cancelOrder':
        return this.cancelOrder(cmd);
      case 'replaceOrder':
        return this.replaceOrder(cmd);
      case 'massCancel':
        return this.massCancel(cmd);
      case 'tick':
        return Code.OK;
      case 'deposit':
      case 'withdraw':
        return transfer(this, cmd);
      case 'createAccount':
        return createAccount(this, cmd);
      case 'setAccountEnabled':
        return setAccountEnabled(this, cmd);
      case 'setAccountLimits':
        return setAccountLimits(this, cmd);
      case 'addAsset':
        return addAsset(this, cmd);
      case 'addSymbol':
        return addSymbol(this, cmd);
      case 'updateSymbol':
        return updateSymbol(this, cmd);
      case 'setSymbolState':
        return setSymbolState(this, cmd);
      default:
        return this.reject(Code.INVALID_REQUEST, 'unknown command type');
    }
  }

  /** @internal */
  reject(code: Code, message: string): Code {
    const at = this.events.begin(Ev.REJECT);
    this.events.buf[at] = code;
    this.events.buf[at + 1] = this.events.str(message);
    return code;
  }

  // ------------------------------------------------------------------ admin: assets, symbols





  /** @internal */
  changeState(sym: Sym, state: TradingState): void {
    // the trading day is the UTC date of the latest open (scheduled or manual; a resume on the
    // same date changes nothing)
    if (state === TradingState.OPEN) sym.sessionDay = this.currentDay;
    sym.state = state;
    this.emitTradingState(sym);
    // a reopened market may have stops whose trigger price was crossed meanwhile
    if (state === TradingState.OPEN) this.runStops(sym);
  }


  /** @internal */
  emitTradingState(sym: Sym): void {
    const at = this.events.begin(Ev.TRADING_STATE);
    const b = this.events.buf;
    b[at] = sym.idx;
    b[at + 1] = sym.state;
    b[at + 2] = this.tradingDay(sym);
  }

  /** UTC day of the symbol's current trading day (see docs/engine.md, Time). */
  private tradingDay(sym: Sym): number {
    // currentDay is floor(nowUs / DAY_US): midnight is always a timer, so runTimers keeps it current
    return sym.p.session === null ? this.currentDay : sym.sessionDay;
  }

  // ------------------------------------------------------------------ admin: accounts, transfers

  /** @internal */
  makeAccount(id: number, name: string, apiKeyHash: string): Account {
    return {
      id,
      name,
      apiKeyHash,
      enabled: true,
      maxOpenOrders: -1,
      openCount: 0,
      openHead: NIL,
      openTail: NIL,
      dailyLimits: null,
      msgSeq: 0,
      cSym: -1,
      cBaseAsset: -1,
      cQuoteAsset: -1,
      cBase: -1,
      cQuote: -1,
      cDaily: -1,
    };
  }



  /** The account for an id from outside, or null (unknown, or not a safe integer). */
  /** @internal */
  acct(id: unknown): Account | null {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= this.accounts.length) return null;
    return this.accounts[id]!;
  }





  /** Changes a balance and records why. The only writer of `bal`. */
  /** @internal */
  applyBalance(a: Account, assetIdx: number, dTotal: number, dReserved: number, cause: BalanceCause, refId: number, refStr?: string): void {
    const i = this.walletRec(a, assetIdx) * 2;
    const bal = this.wallets.data;
    const total = (bal[i] = bal[i]! + dTotal);
    const reserved = (bal[i + 1] = bal[i + 1]! + dReserved);
    const at = this.events.begin(Ev.BALANCE);
    const b = this.events.buf;
    b[at] = a.id;
    b[at + 1] = assetIdx;
    b[at + 2] = dTotal;
    b[at + 3] = dReserved;
    b[at + 4] = total;
    b[at + 5] = reserved;
    b[at + 6] = cause;
    b[at + 7] = refId;
    b[at + 8] = refStr === undefined ? -1 : this.events.str(refStr);
  }

  // ------------------------------------------------------------------ new order

  private newOrder(c: NewOrderCmd): Code {
    const a = this.acct(c.accountId);
    if (a === null) return this.rejectOrder(c, Code.UNAUTHORIZED);
    if (a.id === FEE_ACCOUNT_ID) return this.rejectOrder(c, Code.FORBIDDEN);
    const side = c.side;
    const type = c.ordType;
    if (side !== Side.BUY && side !== Side.SELL) return this.rejectOrder(c, Code.INVALID_REQUEST);
    if (type !== OrdType.LIMIT && type !== OrdType.MARKET && type !== OrdType.STOP && type !== OrdType.STOP_LIMIT)
      return this.rejectOrder(c, Code.INVALID_REQUEST);
    const isMarketLike = type === OrdType.MARKET || type === OrdType.STOP;
    const tif = c.tif === undefined ? (type === OrdType.MARKET ? Tif.IOC : Tif.GTC) : c.tif;
    if (tif !== Tif.GTC && tif !== Tif.DAY && tif !== Tif.IOC && tif !== Tif.FOK && tif !== Tif.GTD)
      return this.rejectOrder(c, Code.INVALID_REQUEST);
    if (type === OrdType.MARKET && tif !== Tif.IOC && tif !== Tif.FOK) return this.rejectOrder(c, Code.INVALID_REQUEST);
    const stp = c.stp === undefined ? Stp.CANCEL_NEWEST : c.stp;
    if (stp !== Stp.CANCEL_NEWEST && stp !== Stp.CANCEL_OLDEST && stp !== Stp.CANCEL_BOTH && stp !== Stp.DECREMENT)
      return this.rejectOrder(c, Code.INVALID_REQUEST);
    const postOnly = c.postOnly === undefined ? false : c.postOnly;
    if (typeof postOnly !== 'boolean') return this.rejectOrder(c, Code.INVALID_REQUEST);
    if (postOnly && (type !== OrdType.LIMIT || (tif !== Tif.GTC && tif !== Tif.DAY && tif !== Tif.GTD)))
      return this.rejectOrder(c, Code.INVALID_REQUEST);
    if (!isPositiveInt(c.qtyLots)) return this.rejectOrder(c, Code.INVALID_QUANTITY);
    const qty = c.qtyLots;
    if (isMarketLike ? c.priceTicks !== undefined : !isPositiveInt(c.priceTicks)) return this.rejectOrder(c, Code.INVALID_PRICE);
    const hasStop = type === OrdType.STOP || type === OrdType.STOP_LIMIT;
    if (hasStop ? !isPositiveInt(c.stopPriceTicks) : c.stopPriceTicks !== undefined) return this.rejectOrder(c, Code.INVALID_PRICE);
    if (tif === Tif.GTD ? !isPositiveInt(c.expireTimeUs) || c.expireTimeUs <= this.nowUs : c.expireTimeUs !== undefined)
      return this.rejectOrder(c, Code.INVALID_REQUEST);
    const clOrdId = c.clOrdId;
    if (clOrdId !== undefined && (typeof clOrdId !== 'string' || !CLORDID_RE.test(clOrdId)))
      return this.rejectOrder(c, Code.INVALID_REQUEST);
    const symIdx = typeof c.symbol === 'string' ? this.symbolByName.get(c.symbol) : undefined;
    if (symIdx === undefined) return this.rejectOrder(c, Code.UNKNOWN_SYMBOL);
    const sym = this.symbols[symIdx]!;
    if (!a.enabled) return this.rejectOrder(c, Code.ACCOUNT_DISABLED);
    this.cacheSymbol(a, sym);

    if (clOrdId !== undefined) {
      const prior = this.findClOrd(a.id, clOrdId);
      if (prior !== NIL) {
        if (!this.sameParams(prior, c, symIdx, tif, stp, postOnly)) return this.rejectOrder(c, Code.DUPLICATE_CLORDID);
        this.emitExec(prior, ExecType.ORDER_STATUS, Reason.NONE, 0, 0, 0, 0);
        return Code.OK;
      }
    }

    const opp = side === Side.BUY ? sym.asks : sym.bids;
    const state = sym.state;
    if (state !== TradingState.OPEN) {
      if (state === TradingState.HALTED) return this.rejectOrder(c, Code.SYMBOL_HALTED);
      if (state !== TradingState.PRE_OPEN || type !== OrdType.LIMIT || tif === Tif.IOC || tif === Tif.FOK)
        return this.rejectOrder(c, Code.MARKET_CLOSED);
      if (opp.n > 0 && crosses(side, c.priceTicks!, opp.bestPrice())) return this.rejectOrder(c, Code.MARKET_CLOSED);
    }
    const p = sym.p;
    if (qty < p.minQtyLots) return this.rejectOrder(c, Code.INVALID_QUANTITY);
    if (qty > p.maxQtyLots) return this.rejectOrder(c, Code.MAX_QTY_EXCEEDED);
    if (!isMarketLike && !this.inBand(sym, c.priceTicks!)) return this.rejectOrder(c, Code.PRICE_OUTSIDE_BAND);

    // reservation price: the limit, or the protection price of market / stop orders (0 = no liquidity)
    let reservePx: number;
    if (type === OrdType.MARKET) reservePx = opp.n === 0 ? 0 : protectionPrice(side, opp.bestPrice(), p.protectionBps);
    else if (type === OrdType.STOP) reservePx = protectionPrice(side, c.stopPriceTicks!, p.protectionBps);
    else reservePx = c.priceTicks!;
    if (reservePx * qty * p.k > p.maxNotionalMinor) return this.rejectOrder(c, Code.MAX_NOTIONAL_EXCEEDED);
    const maxOpen = a.maxOpenOrders < 0 ? this.defaultMaxOpenOrders : a.maxOpenOrders;
    if (a.openCount >= maxOpen) return this.rejectOrder(c, Code.MAX_OPEN_ORDERS_EXCEEDED);
    const limit = a.dailyLimits?.get(symIdx) ?? p.dailyLimitLots;
    if (limit >= 0 && this.dailyUsed(a, sym) + qty > limit) return this.rejectOrder(c, Code.DAILY_LIMIT_EXCEEDED);
    if (postOnly && opp.n > 0 && crosses(side, c.priceTicks!, opp.bestPrice())) return this.rejectOrder(c, Code.POST_ONLY_WOULD_TRADE);
    const reserveAsset = side === Side.BUY ? sym.quoteIdx : sym.baseIdx;
    const noLiquidity = type === OrdType.MARKET && reservePx === 0; // accepted, expires at once, reserves nothing
    const reserveAmount = noLiquidity ? 0 : side === Side.BUY ? reservePx * qty * p.k : qty * p.lotMinor;
    if (reserveAmount > this.available(a, reserveAsset)) return this.rejectOrder(c, Code.INSUFFICIENT_FUNDS);

    // accepted: from here on nothing can fail
    const s = this.store;
    const slot = s.alloc();
    const orderId = this.nextOrderId++;
    s.setOrderId(slot, orderId);
    s.setPriceTicks(slot, reservePx);
    s.setQtyLots(slot, qty);
    s.setCreatedAtUs(slot, this.nowUs);
    s.setUpdatedAtUs(slot, this.nowUs);
    s.setSeq(slot, this.lastSeq);
    s.setAccountIdx(slot, a.id);
    s.setSymbolIdx(slot, symIdx);
    s.initEnums(slot, side, type, tif, hasStop ? OrdStatus.PENDING_TRIGGER : OrdStatus.NEW, postOnly ? 1 : 0, stp);
    s.setClOrdId(slot, clOrdId);
    if (hasStop) s.stopPriceTicks.set(slot, c.stopPriceTicks!);
    if (tif === Tif.GTD) {
      s.expireTimeUs.set(slot, c.expireTimeUs!);
      this.gtd.push(c.expireTimeUs!, orderId);
      // entries of orders that ended early are skipped lazily; rebuild before they pile up
      if (this.gtd.size > 2 * s.expireTimeUs.size + 1024) this.rebuildGtd();
      if (c.expireTimeUs! < this.nextTimerUs) this.nextTimerUs = c.expireTimeUs!;
    }
    this.byOrderId.set(orderId, slot);
    if (clOrdId !== undefined) this.clOrd.insert(slot);
    this.linkAccount(a, slot);
    this.addDaily(a, sym, 0, qty);
    this.emitExec(slot, ExecType.NEW, Reason.NONE, 0, 0, 0, 0);
    if (reserveAmount > 0) this.applyBalance(a, reserveAsset, 0, reserveAmount, BalanceCause.RESERVE, orderId);

    if (hasStop) {
      this.insertStop(sym, slot);
      this.runStops(sym);
      return Code.OK;
    }
    if (noLiquidity) {
      this.closeOrder(slot, OrdStatus.EXPIRED, ExecType.EXPIRED, Reason.NO_LIQUIDITY);
      return Code.OK;
    }
    this.execute(slot, sym, reservePx);
    this.runStops(sym);
    return Code.OK;
  }

  private rejectOrder(c: NewOrderCmd, code: Code): Code {
    const ev = this.events;
    const at = ev.begin(Ev.EXEC);
    const b = ev.buf;
    b[at] = ++this.execOrdinal;
    b[at + 1] = 0;
    b[at + 2] = num(c.accountId);
    b[at + 3] = typeof c.symbol === 'string' ? (this.symbolByName.get(c.symbol) ?? -1) : -1;
    b[at + 4] = num(c.side);
    b[at + 5] = num(c.ordType);
    b[at + 6] = num(c.tif);
    b[at + 7] = ExecType.REJECTED;
    b[at + 8] = OrdStatus.REJECTED;
    b[at + 9] = num(c.priceTicks);
    b[at + 10] = num(c.stopPriceTicks);
    b[at + 11] = num(c.qtyLots);
    b[at + 12] = 0;
    b[at + 13] = 0;
    b[at + 14] = 0;
    b[at + 15] = 0;
    b[at + 16] = 0;
    b[at + 17] = 0;
    b[at + 18] = 0;
    b[at + 19] = code;
    b[at + 20] = Reason.NONE;
    b[at + 21] = typeof c.clOrdId === 'string' && c.clOrdId.length <= 64 ? ev.str(c.clOrdId) : -1;
    b[at + 22] = num(c.expireTimeUs);
    b[at + 23] = this.nowUs;
    b[at + 24] = c.postOnly === true ? 1 : 0;
    b[at + 25] = num(c.stp);
    const a = this.acct(c.accountId);
    b[at + 26] = a === null ? 0 : ++a.msgSeq;
    return code;
  }

  private sameParams(slot: number, c: NewOrderCmd, symIdx: number, tif: Tif, stp: Stp, postOnly: boolean): boolean {
    const s = this.store;
    const orig = s.original.get(slot);
    const qty = orig === undefined ? s.qtyLots(slot) : orig[0];
    const price = orig === undefined ? s.priceTicks(slot) : orig[1];
    const type = s.ordType(slot);
    return (
      s.symbolIdx(slot) === symIdx &&
      s.side(slot) === c.side &&
      type === c.ordType &&
      s.tif(slot) === tif &&
      qty === c.qtyLots &&
      (type === OrdType.MARKET || type === OrdType.STOP || price === c.priceTicks) &&
      (s.stopPriceTicks.get(slot) ?? undefined) === c.stopPriceTicks &&
      (s.expireTimeUs.get(slot) ?? undefined) === c.expireTimeUs &&
      (s.postOnly(slot) === 1) === postOnly &&
      s.stp(slot) === stp
    );
  }

  private findClOrd(accountIdx: number, clOrdId: string): number {
    const slot = this.clOrd.find(accountIdx, clOrdId);
    if (slot !== NIL || this.clOrd.aliases.size === 0) return slot;
    const orderId = this.clOrd.aliases.get(`${accountIdx}:${clOrdId}`);
    return orderId === undefined ? NIL : this.byOrderId.get(orderId);
  }

  private inBand(sym: Sym, priceTicks: number): boolean {
    const bps = sym.p.bandBps;
    if (bps < 0) return true;
    const ref = sym.lastPxTicks > 0 ? sym.lastPxTicks : sym.p.referencePxTicks;
    if (ref === 0) return true;
    // ref <= maxNotional (config and notional checks), so ref * bps <= maxNotional * 10^4 < 2^53:
    // exact. ceil(ref * (1 - b)) = ref - floor(ref * b) and floor(ref * (1 + b)) = ref + floor(ref * b).
    const d = Math.floor((ref * bps) / 10_000);
    return priceTicks >= ref - d && priceTicks <= ref + d;
  }

  /** Points the account's record cache at `sym` (creating zero rows, which are not state). */
  private cacheSymbol(a: Account, sym: Sym): void {
    if (a.cSym === sym.idx) return;
    a.cSym = sym.idx;
    a.cBaseAsset = sym.baseIdx;
    a.cQuoteAsset = sym.quoteIdx;
    a.cBase = this.wallets.findOrAdd(a.id, sym.baseIdx);
    a.cQuote = this.wallets.findOrAdd(a.id, sym.quoteIdx);
    a.cDaily = this.dailies.findOrAdd(a.id, sym.idx);
  }

  private walletRec(a: Account, assetIdx: number): number {
    if (assetIdx === a.cBaseAsset) return a.cBase;
    if (assetIdx === a.cQuoteAsset) return a.cQuote;
    return this.wallets.findOrAdd(a.id, assetIdx);
  }

  private dailyRec(a: Account, sym: Sym): number {
    return a.cSym === sym.idx ? a.cDaily : this.dailies.findOrAdd(a.id, sym.idx);
  }

  /** Available = total - reserved. */
  /** @internal */
  available(a: Account, assetIdx: number): number {
    const r = this.walletRec(a, assetIdx) * 2;
    return this.wallets.data[r]! - this.wallets.data[r + 1]!;
  }

  /** Filled today + working, read without changing anything (checks run before any mutation). */
  private dailyUsed(a: Account, sym: Sym): number {
    const r = this.dailyRec(a, sym) * 3;
    const d = this.dailies.data;
    return (d[r] === this.tradingDay(sym) ? d[r + 1]! : 0) + d[r + 2]!;
  }

  /** Adds to the account's filled-today and working quantities; filled resets when the day changes. */
  private addDaily(a: Account, sym: Sym, filled: number, working: number): void {
    const i = this.dailyRec(a, sym) * 3;
    const d = this.dailies.data;
    const day = this.tradingDay(sym);
    if (d[i] !== day) {
      d[i] = day;
      d[i + 1] = 0; // working (open GTC orders) carries over
    }
    d[i + 1]! += filled;
    d[i + 2]! += working;
  }

  private linkAccount(a: Account, slot: number): void {
    const s = this.store;
    s.setAcctPrev(slot, a.openTail);
    s.setAcctNext(slot, NIL);
    if (a.openTail === NIL) a.openHead = slot;
    else s.setAcctNext(a.openTail, slot);
    a.openTail = slot;
    a.openCount++;
  }

  private unlinkAccount(a: Account, slot: number): void {
    const s = this.store;
    const p = s.acctPrev(slot);
    const n = s.acctNext(slot);
    if (p === NIL) a.openHead = n;
    else s.setAcctNext(p, n);
    if (n === NIL) a.openTail = p;
    else s.setAcctPrev(n, p);
    s.setAcctPrev(slot, NIL);
    s.setAcctNext(slot, NIL);
    a.openCount--;
  }

  // ------------------------------------------------------------------ matching

  /**
   * Runs an incoming order against the book up to `limitPx`, then rests or expires what is left.
   * Handles FOK, STP and settlement. The order is accepted, reserved and not on the book.
   */
  private execute(slot: number, sym: Sym, limitPx: number): void {
    const s = this.store;
    const side = s.side(slot);
    const isBuy = side === Side.BUY;
    const opp = isBuy ? sym.asks : sym.bids;
    const tif = s.tif(slot);
    const acctIdx = s.accountIdx(slot);
    if (tif === Tif.FOK && !this.fokFillable(slot, opp, limitPx)) {
      this.closeOrder(slot, OrdStatus.EXPIRED, ExecType.EXPIRED, Reason.FOK_UNFILLED);
      return;
    }
    let takerCanceled = false;
    outer: while (opp.n > 0) {
      const px = opp.bestPrice();
      if (isBuy ? px > limitPx : px < limitPx) break;
      let m = this.levels.head[opp.bestLevel()]!;
      while (m !== NIL) {
        const leaves = s.qtyLots(slot) - s.filledLots(slot);
        if (leaves === 0) break outer;
        const nextM = s.next(m);
        if (s.accountIdx(m) === acctIdx) {
          if (this.selfTrade(slot, m)) {
            takerCanceled = true;
            break outer;
          }
        } else {
          const makerLeaves = s.qtyLots(m) - s.filledLots(m);
          this.fill(slot, m, leaves < makerLeaves ? leaves : makerLeaves, px, sym, opp);
        }
        m = nextM;
      }
      if (s.qtyLots(slot) === s.filledLots(slot)) break;
    }
    const leaves = s.qtyLots(slot) - s.filledLots(slot);
    if (takerCanceled) {
      this.closeOrder(slot, OrdStatus.CANCELED, ExecType.CANCELED, Reason.STP);
    } else if (leaves === 0) {
      this.closeOrder(slot, OrdStatus.FILLED, 0, Reason.NONE);
    } else {
      const type = s.ordType(slot);
      const rests = (type === OrdType.LIMIT || type === OrdType.STOP_LIMIT) && (tif === Tif.GTC || tif === Tif.DAY || tif === Tif.GTD);
      if (rests) this.rest(slot, sym);
      else {
        const reason =
          type === OrdType.MARKET || type === OrdType.STOP
            ? s.filledLots(slot) === 0 && opp.n === 0
              ? Reason.NO_LIQUIDITY
              : Reason.MARKET_REMAINDER
            : Reason.IOC_REMAINDER;
        this.closeOrder(slot, OrdStatus.EXPIRED, ExecType.EXPIRED, reason);
      }
    }
  }

  private rest(slot: number, sym: Sym): void {
    const s = this.store;
    const side = s.side(slot);
    const leaves = s.qtyLots(slot) - s.filledLots(slot);
    const px = s.priceTicks(slot);
    (side === Side.BUY ? sym.bids : sym.asks).append(slot, px, leaves);
    const at = this.events.begin(Ev.BOOK_ADD);
    const b = this.events.buf;
    b[at] = sym.idx;
    b[at + 1] = s.orderId(slot);
    b[at + 2] = side;
    b[at + 3] = px;
    b[at + 4] = leaves;
  }

  /** Whether a FOK order can fill completely now (docs/engine.md: the STP walk rule). */
  private fokFillable(slot: number, opp: BookSide, limitPx: number): boolean {
    const s = this.store;
    const isBuy = s.side(slot) === Side.BUY;
    const acctIdx = s.accountIdx(slot);
    const stp = s.stp(slot);
    let need = s.qtyLots(slot) - s.filledLots(slot);
    for (let i = 0; i < opp.n; i++) {
      const l = opp.levelAt(i);
      const px = this.levels.priceTicks[l]!;
      if (isBuy ? px > limitPx : px < limitPx) return false;
      for (let m = this.levels.head[l]!; m !== NIL; m = s.next(m)) {
        if (s.accountIdx(m) === acctIdx) {
          if (stp === Stp.CANCEL_OLDEST) continue;
          return false;
        }
        need -= s.qtyLots(m) - s.filledLots(m);
        if (need <= 0) return true;
      }
    }
    return false;
  }

  /** Self-trade between the incoming order and maker `m` of the same account; true = taker is done. */
  private selfTrade(slot: number, m: number): boolean {
    const s = this.store;
    const mode = s.stp(slot);
    if (mode === Stp.CANCEL_NEWEST) return true;
    if (mode === Stp.CANCEL_OLDEST) {
      this.closeOrder(m, OrdStatus.CANCELED, ExecType.CANCELED, Reason.STP);
      return false;
    }
    if (mode === Stp.CANCEL_BOTH) {
      this.closeOrder(m, OrdStatus.CANCELED, ExecType.CANCELED, Reason.STP);
      return true;
    }
    // decrement: the smaller is canceled (both if equal), the larger shrinks by the smaller's leaves
    const takerLeaves = s.qtyLots(slot) - s.filledLots(slot);
    const makerLeaves = s.qtyLots(m) - s.filledLots(m);
    const d = takerLeaves < makerLeaves ? takerLeaves : makerLeaves;
    if (makerLeaves === d) this.closeOrder(m, OrdStatus.CANCELED, ExecType.CANCELED, Reason.STP);
    else this.decrementResting(m, d);
    if (takerLeaves === d) return true;
    this.shrink(slot, d);
    this.emitExec(slot, ExecType.RESTATED, Reason.STP, 0, 0, 0, 0);
    return false;
  }

  /** Reduces a resting order's qty by d keeping its place (STP decrement). */
  private decrementResting(m: number, d: number): void {
    this.shrink(m, d);
    this.emitExec(m, ExecType.RESTATED, Reason.STP, 0, 0, 0, 0);
    this.reduceOnBook(m, d);
  }

  /** The order's level loses d lots and the order keeps its place (ITCH "order cancel"). */
  private reduceOnBook(slot: number, d: number): void {
    const s = this.store;
    this.levels.qtyLots[s.level(slot)]! -= d;
    const at = this.events.begin(Ev.BOOK_CANCEL);
    const b = this.events.buf;
    b[at] = s.symbolIdx(slot);
    b[at + 1] = s.orderId(slot);
    b[at + 2] = s.side(slot);
    b[at + 3] = s.priceTicks(slot);
    b[at + 4] = d;
    b[at + 5] = s.qtyLots(slot) - s.filledLots(slot);
  }

  private emitBookDelete(symIdx: number, orderId: number, side: number, priceTicks: number, lots: number): void {
    const at = this.events.begin(Ev.BOOK_DELETE);
    const b = this.events.buf;
    b[at] = symIdx;
    b[at + 1] = orderId;
    b[at + 2] = side;
    b[at + 3] = priceTicks;
    b[at + 4] = lots;
  }

  /** qty -= d with the reservation and daily working quantity released (book level left to caller). */
  private shrink(slot: number, d: number): void {
    const s = this.store;
    this.rememberOriginal(slot);
    s.setQtyLots(slot, s.qtyLots(slot) - (d));
    s.setUpdatedAtUs(slot, this.nowUs);
    s.setSeq(slot, this.lastSeq);
    const sym = this.symbols[s.symbolIdx(slot)]!;
    const a = this.accounts[s.accountIdx(slot)]!;
    this.addDaily(a, sym, 0, -d);
    this.releaseFor(slot, a, sym, d);
  }

  private releaseFor(slot: number, a: Account, sym: Sym, lots: number): void {
    const s = this.store;
    if (s.priceTicks(slot) === 0) return; // a market order that met no liquidity reserved nothing
    if (s.side(slot) === Side.BUY) {
      const amt = s.priceTicks(slot) * lots * sym.p.k;
      if (amt > 0) this.applyBalance(a, sym.quoteIdx, 0, -amt, BalanceCause.RELEASE, s.orderId(slot));
    } else {
      this.applyBalance(a, sym.baseIdx, 0, -lots * sym.p.lotMinor, BalanceCause.RELEASE, s.orderId(slot));
    }
  }

  private rememberOriginal(slot: number): void {
    const s = this.store;
    if (s.clOrdIdOf(slot) !== undefined && !s.original.has(slot)) s.original.set(slot, [s.qtyLots(slot), s.priceTicks(slot)]);
  }

  /** One match: q lots at the maker's price px. Settles both sides and reports it. */
  private fill(taker: number, maker: number, q: number, px: number, sym: Sym, opp: BookSide): void {
    const s = this.store;
    const p = sym.p;
    const tradeId = this.nextTradeId++;
    const makerLeft = s.qtyLots(maker) - s.filledLots(maker) - q;
    s.setFilledLots(taker, s.filledLots(taker) + (q));
    s.setCumNotional(taker, s.cumNotional(taker) + (px * q));
    s.setFilledLots(maker, s.filledLots(maker) + (q));
    s.setCumNotional(maker, s.cumNotional(maker) + (px * q));
    s.setUpdatedAtUs(taker, this.nowUs);
    s.setUpdatedAtUs(maker, this.nowUs);
    s.setSeq(taker, this.lastSeq);
    s.setSeq(maker, this.lastSeq);
    s.setStatus(taker, s.qtyLots(taker) === s.filledLots(taker) ? OrdStatus.FILLED : OrdStatus.PARTIALLY_FILLED);
    s.setStatus(maker, makerLeft === 0 ? OrdStatus.FILLED : OrdStatus.PARTIALLY_FILLED);
    sym.lastPxTicks = px;
    const ev = this.events;
    const takerSide = s.side(taker);
    let at = ev.begin(Ev.TRADE);
    let b = ev.buf;
    b[at] = tradeId;
    b[at + 1] = sym.idx;
    b[at + 2] = px;
    b[at + 3] = q;
    b[at + 4] = takerSide;
    b[at + 5] = s.orderId(maker);
    b[at + 6] = s.orderId(taker);
    at = ev.begin(Ev.BOOK_EXECUTE);
    b = ev.buf;
    b[at] = sym.idx;
    b[at + 1] = s.orderId(maker);
    b[at + 2] = s.side(maker);
    b[at + 3] = px;
    b[at + 4] = q;
    b[at + 5] = makerLeft;
    b[at + 6] = tradeId;
    this.emitExec(maker, ExecType.TRADE, Reason.NONE, q, px, tradeId, 1);
    this.emitExec(taker, ExecType.TRADE, Reason.NONE, q, px, tradeId, 2);

    // settlement
    const buyer = takerSide === Side.BUY ? taker : maker;
    const seller = takerSide === Side.BUY ? maker : taker;
    const buyerAcct = this.accounts[s.accountIdx(buyer)]!;
    const sellerAcct = this.accounts[s.accountIdx(seller)]!;
    this.cacheSymbol(buyerAcct, sym);
    this.cacheSymbol(sellerAcct, sym);
    const notional = px * q * p.k;
    const baseAmt = q * p.lotMinor;
    const buyerBps = buyer === taker ? p.takerFeeBps : p.makerFeeBps;
    const sellerBps = seller === taker ? p.takerFeeBps : p.makerFeeBps;
    // floor(x / d) through float division is exact for safe integers x: the true quotient is at
    // least 1/d below the next integer and the rounding error is under x/d * 2^-53 < 1/d
    const buyerFee = buyerBps === 0 ? 0 : Math.floor((baseAmt * buyerBps) / 10_000);
    const sellerFee = sellerBps === 0 ? 0 : Math.floor((notional * sellerBps) / 10_000);
    this.applyBalance(buyerAcct, sym.quoteIdx, -notional, -(s.priceTicks(buyer) * q * p.k), BalanceCause.TRADE, tradeId);
    this.applyBalance(buyerAcct, sym.baseIdx, baseAmt - buyerFee, 0, BalanceCause.TRADE, tradeId);
    this.applyBalance(sellerAcct, sym.baseIdx, -baseAmt, -baseAmt, BalanceCause.TRADE, tradeId);
    this.applyBalance(sellerAcct, sym.quoteIdx, notional - sellerFee, 0, BalanceCause.TRADE, tradeId);
    const fees = this.accounts[FEE_ACCOUNT_ID]!;
    if (buyerFee > 0) this.applyBalance(fees, sym.baseIdx, buyerFee, 0, BalanceCause.FEE, tradeId);
    if (sellerFee > 0) this.applyBalance(fees, sym.quoteIdx, sellerFee, 0, BalanceCause.FEE, tradeId);
    this.addDaily(buyerAcct, sym, q, -q);
    this.addDaily(sellerAcct, sym, q, -q);

    // the maker leaves the book when done; its level shrinks either way
    if (makerLeft === 0) {
      opp.remove(maker, q);
      this.finish(maker);
    } else {
      this.levels.qtyLots[s.level(maker)]! -= q;
    }
  }

  // ------------------------------------------------------------------ stops

  private insertStop(sym: Sym, slot: number): void {
    const s = this.store;
    const isBuy = s.side(slot) === Side.BUY;
    const list = isBuy ? sym.buyStops : sym.sellStops;
    const stopPx = s.stopPriceTicks.get(slot)!;
    const orderId = s.orderId(slot);
    // (stopPx asc for buys, desc for sells), then orderId asc: the triggered ones form a prefix
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const o = list[mid]!;
      const opx = s.stopPriceTicks.get(o)!;
      const before = isBuy ? opx < stopPx : opx > stopPx;
      if (before || (opx === stopPx && s.orderId(o) < orderId)) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, slot);
  }

  private removeStop(sym: Sym, slot: number): void {
    const list = this.store.side(slot) === Side.BUY ? sym.buyStops : sym.sellStops;
    const i = list.indexOf(slot);
    if (i >= 0) list.splice(i, 1);
  }

  /** Triggers stops crossed by the last price, lowest orderId first, until none is (cascades). */
  private runStops(sym: Sym): void {
    const s = this.store;
    while (sym.state === TradingState.OPEN && sym.lastPxTicks > 0) {
      const last = sym.lastPxTicks;
      let best = NIL;
      for (const o of sym.buyStops) {
        if (s.stopPriceTicks.get(o)! > last) break;
        if (best === NIL || s.orderId(o) < s.orderId(best)) best = o;
      }
      for (const o of sym.sellStops) {
        if (s.stopPriceTicks.get(o)! < last) break;
        if (best === NIL || s.orderId(o) < s.orderId(best)) best = o;
      }
      if (best === NIL) return;
      this.removeStop(sym, best);
      this.trigger(best, sym);
    }
  }

  private trigger(slot: number, sym: Sym): void {
    const s = this.store;
    s.setStatus(slot, OrdStatus.NEW);
    s.setUpdatedAtUs(slot, this.nowUs);
    s.setSeq(slot, this.lastSeq);
    this.emitExec(slot, ExecType.TRIGGERED, Reason.NONE, 0, 0, 0, 0);
    const side = s.side(slot);
    let limitPx = s.priceTicks(slot);
    if (s.ordType(slot) === OrdType.STOP) {
      const opp = side === Side.BUY ? sym.asks : sym.bids;
      if (opp.n === 0) {
        this.closeOrder(slot, OrdStatus.EXPIRED, ExecType.EXPIRED, Reason.NO_LIQUIDITY);
        return;
      }
      const prot = protectionPrice(side, opp.bestPrice(), sym.p.protectionBps);
      // never beyond the price the funds were reserved at
      limitPx = side === Side.BUY ? Math.min(prot, limitPx) : Math.max(prot, limitPx);
    }
    this.execute(slot, sym, limitPx);
  }

  // ------------------------------------------------------------------ closing orders

  /**
   * Ends a live order: off the book (or the stop list), reservation and working quantity released,
   * a final execution report (unless execType 0: the fill already reported it), then kept for
   * dedupe or freed.
   */
  private closeOrder(slot: number, status: OrdStatus, execType: ExecType | 0, reason: Reason): void {
    const s = this.store;
    const sym = this.symbols[s.symbolIdx(slot)]!;
    const a = this.accounts[s.accountIdx(slot)]!;
    const leaves = s.qtyLots(slot) - s.filledLots(slot);
    const wasPending = s.status(slot) === OrdStatus.PENDING_TRIGGER;
    s.setStatus(slot, status);
    s.setUpdatedAtUs(slot, this.nowUs);
    s.setSeq(slot, this.lastSeq);
    if (execType !== 0) this.emitExec(slot, execType, reason, 0, 0, 0, 0);
    if (leaves > 0) {
      if (s.level(slot) !== NIL) {
        const side = s.side(slot) === Side.BUY ? sym.bids : sym.asks;
        const px = s.priceTicks(slot);
        side.remove(slot, leaves);
        this.emitBookDelete(sym.idx, s.orderId(slot), s.side(slot), px, leaves);
      } else if (wasPending) {
        this.removeStop(sym, slot);
      }
      this.addDaily(a, sym, 0, -leaves);
      this.releaseFor(slot, a, sym, leaves);
    }
    this.finish(slot);
  }

  /** The order is final: off its account's open list; kept for clOrdId dedupe or freed. */
  private finish(slot: number): void {
    const s = this.store;
    this.unlinkAccount(this.accounts[s.accountIdx(slot)]!, slot);
    if (s.clOrdIdOf(slot) !== undefined) {
      this.retained.push(s.orderId(slot), this.currentDay);
      if (this.retained.size > this.dedupeCapacity) this.evictRetained(-1);
    } else {
      this.byOrderId.delete(s.orderId(slot));
      s.free(slot);
    }
  }

  /** Forgets the oldest closed orders: one (day < 0), or all closed before UTC day `day`. */
  private evictRetained(day: number): void {
    const r = this.retained;
    while (r.size > 0) {
      if (day >= 0 && r.oldestDay() >= day) break;
      const slot = this.byOrderId.get(r.oldestOrderId());
      r.shift();
      if (slot !== NIL) this.forget(slot);
      if (day < 0) break;
    }
  }

  private forget(slot: number): void {
    const s = this.store;
    const orderId = s.orderId(slot);
    this.clOrd.remove(slot);
    if (this.clOrd.aliases.size > 0) this.clOrd.dropAliases(orderId);
    this.byOrderId.delete(orderId);
    s.free(slot);
  }

  // ------------------------------------------------------------------ cancel, replace, mass cancel

  /** Finds an order of account `a` by orderId or clOrdId; NIL if unknown or someone else's. */
  private locate(a: Account, orderId: unknown, clOrdId: unknown): number {
    let slot = NIL;
    if (orderId !== undefined) {
      if (!isPositiveInt(orderId)) return NIL;
      slot = this.byOrderId.get(orderId);
    } else if (typeof clOrdId === 'string' && CLORDID_RE.test(clOrdId)) {
      slot = this.findClOrd(a.id, clOrdId);
    }
    if (slot === NIL || this.store.accountIdx(slot) !== a.id) return NIL;
    return slot;
  }

  private cancelReject(accountId: number, orderId: number, clOrdId: unknown, responseTo: 1 | 2, code: Code, status: number): Code {
    const ev = this.events;
    const at = ev.begin(Ev.CANCEL_REJECT);
    const b = ev.buf;
    b[at] = accountId;
    b[at + 1] = orderId;
    b[at + 2] = typeof clOrdId === 'string' && clOrdId.length <= 64 ? ev.str(clOrdId) : -1;
    b[at + 3] = responseTo;
    b[at + 4] = code;
    b[at + 5] = status;
    const a = this.acct(accountId);
    b[at + 6] = a === null ? 0 : ++a.msgSeq;
    return code;
  }

  private cancelOrder(c: CancelOrderCmd): Code {
    const a = this.acct(c.accountId);
    const oid = isPositiveInt(c.orderId) ? c.orderId : 0;
    if (a === null) return this.cancelReject(num(c.accountId), oid, c.clOrdId, 1, Code.UNAUTHORIZED, 0);
    if (c.orderId === undefined && c.clOrdId === undefined) return this.cancelReject(a.id, 0, undefined, 1, Code.INVALID_REQUEST, 0);
    const slot = this.locate(a, c.orderId, c.clOrdId);
    if (slot === NIL) return this.cancelReject(a.id, oid, c.clOrdId, 1, Code.NOT_FOUND, 0);
    const s = this.store;
    if (!isLive(s.status(slot))) return this.cancelReject(a.id, s.orderId(slot), c.clOrdId, 1, Code.TOO_LATE_TO_CANCEL, s.status(slot));
    this.closeOrder(slot, OrdStatus.CANCELED, ExecType.CANCELED, Reason.USER);
    return Code.OK;
  }

  private massCancel(c: MassCancelCmd): Code {
    const a = this.acct(c.accountId);
    if (a === null) return this.reject(Code.UNAUTHORIZED, 'unknown account');
    let symIdx = -1;
    if (c.symbol !== undefined) {
      const i = typeof c.symbol === 'string' ? this.symbolByName.get(c.symbol) : undefined;
      if (i === undefined) return this.reject(Code.UNKNOWN_SYMBOL, 'unknown symbol');
      symIdx = i;
    }
    this.cancelAccountOrders(a, symIdx, Reason.MASS_CANCEL);
    return Code.OK;
  }

  /** Cancels the account's open and pending orders (one symbol, or all when symIdx < 0), orderId order. */
  /** @internal */
  cancelAccountOrders(a: Account, symIdx: number, reason: Reason): void {
    const s = this.store;
    let slot = a.openHead;
    while (slot !== NIL) {
      const next = s.acctNext(slot);
      if (symIdx < 0 || s.symbolIdx(slot) === symIdx) this.closeOrder(slot, OrdStatus.CANCELED, ExecType.CANCELED, reason);
      slot = next;
    }
  }

  private replaceOrder(c: ReplaceOrderCmd): Code {
    const a = this.acct(c.accountId);
    const oid = isPositiveInt(c.orderId) ? c.orderId : 0;
    const reqClOrd = c.clOrdId;
    if (a === null) return this.cancelReject(num(c.accountId), oid, reqClOrd, 2, Code.UNAUTHORIZED, 0);
    if (c.orderId === undefined && c.origClOrdId === undefined) return this.cancelReject(a.id, 0, reqClOrd, 2, Code.INVALID_REQUEST, 0);
    const slot = this.locate(a, c.orderId, c.origClOrdId);
    if (slot === NIL) return this.cancelReject(a.id, oid, reqClOrd, 2, Code.NOT_FOUND, 0);
    const s = this.store;
    const orderId = s.orderId(slot);
    const status = s.status(slot);
    const no = (code: Code) => this.cancelReject(a.id, orderId, reqClOrd, 2, code, status);
    if (!isLive(status)) return no(Code.TOO_LATE_TO_CANCEL);
    if (!a.enabled) return no(Code.ACCOUNT_DISABLED);
    const type = s.ordType(slot);
    const oldQty = s.qtyLots(slot);
    const oldPx = s.priceTicks(slot);
    const filled = s.filledLots(slot);
    if (c.qtyLots !== undefined && !isPositiveInt(c.qtyLots)) return no(Code.INVALID_QUANTITY);
    if (c.priceTicks !== undefined && (!isPositiveInt(c.priceTicks) || type === OrdType.STOP || type === OrdType.MARKET))
      return no(Code.INVALID_PRICE);
    if (reqClOrd !== undefined && (typeof reqClOrd !== 'string' || !CLORDID_RE.test(reqClOrd))) return no(Code.INVALID_REQUEST);
    const newQty = c.qtyLots ?? oldQty;
    const newPx = c.priceTicks ?? oldPx;
    const clOrdChanges = reqClOrd !== undefined && reqClOrd !== s.clOrdIdOf(slot);
    if (newQty === oldQty && newPx === oldPx && !clOrdChanges) {
      // nothing to change (a retried replace): answer with the order as it is
      this.emitExec(slot, ExecType.ORDER_STATUS, Reason.NONE, 0, 0, 0, 0);
      return Code.OK;
    }
    if (clOrdChanges && this.findClOrd(a.id, reqClOrd) !== NIL) return no(Code.DUPLICATE_CLORDID);
    const sym = this.symbols[s.symbolIdx(slot)]!;
    const pending = status === OrdStatus.PENDING_TRIGGER;
    const side = s.side(slot);
    const opp = side === Side.BUY ? sym.asks : sym.bids;
    const wouldCross = !pending && newPx !== oldPx && opp.n > 0 && crosses(side, newPx, opp.bestPrice());
    if (sym.state !== TradingState.OPEN) {
      if (sym.state === TradingState.HALTED) return no(Code.SYMBOL_HALTED);
      if (sym.state !== TradingState.PRE_OPEN || wouldCross) return no(Code.MARKET_CLOSED);
    }
    const p = sym.p;
    if (newQty <= filled) return no(Code.INVALID_QUANTITY);
    if (newQty < p.minQtyLots) return no(Code.INVALID_QUANTITY);
    if (newQty > p.maxQtyLots) return no(Code.MAX_QTY_EXCEEDED);
    // a pure decrease only reduces risk; anything else is checked as a new order would be
    const hasLimitPx = type === OrdType.LIMIT || type === OrdType.STOP_LIMIT; // a stop's price is its reservation, not collared
    if (hasLimitPx && (newPx !== oldPx || newQty > oldQty) && !this.inBand(sym, newPx)) return no(Code.PRICE_OUTSIDE_BAND);
    if (newPx * newQty * p.k > p.maxNotionalMinor) return no(Code.MAX_NOTIONAL_EXCEEDED);
    const limit = a.dailyLimits?.get(sym.idx) ?? p.dailyLimitLots;
    const dQty = newQty - oldQty;
    if (dQty > 0 && limit >= 0 && this.dailyUsed(a, sym) + dQty > limit) return no(Code.DAILY_LIMIT_EXCEEDED);
    if (s.postOnly(slot) === 1 && wouldCross) return no(Code.POST_ONLY_WOULD_TRADE);
    const oldLeaves = oldQty - filled;
    const newLeaves = newQty - filled;
    const reserveAsset = side === Side.BUY ? sym.quoteIdx : sym.baseIdx;
    const dReserve = side === Side.BUY ? (newPx * newLeaves - oldPx * oldLeaves) * p.k : (newLeaves - oldLeaves) * p.lotMinor;
    if (dReserve > 0 && dReserve > this.available(a, reserveAsset)) return no(Code.INSUFFICIENT_FUNDS);

    // accepted
    this.rememberOriginal(slot);
    if (clOrdChanges) {
      const old = s.clOrdIdOf(slot);
      if (old !== undefined) {
        this.clOrd.remove(slot);
        this.clOrd.addAlias(`${a.id}:${old}`, orderId);
      }
      s.setClOrdId(slot, reqClOrd);
      this.clOrd.insert(slot);
    }
    const keepsPriority = newPx === oldPx && newQty < oldQty;
    const onBook = s.level(slot) !== NIL;
    const book = side === Side.BUY ? sym.bids : sym.asks;
    const moves = onBook && !keepsPriority && (newQty !== oldQty || newPx !== oldPx);
    if (moves) book.remove(slot, oldLeaves);
    s.setQtyLots(slot, newQty);
    s.setPriceTicks(slot, newPx);
    s.setUpdatedAtUs(slot, this.nowUs);
    s.setSeq(slot, this.lastSeq);
    this.addDaily(a, sym, 0, dQty);
    this.emitExec(slot, ExecType.REPLACED, Reason.NONE, 0, 0, 0, 0);
    if (dReserve !== 0) this.applyBalance(a, reserveAsset, 0, dReserve, dReserve > 0 ? BalanceCause.RESERVE : BalanceCause.RELEASE, orderId);
    if (!onBook) return Code.OK; // a pending stop: new values apply at trigger
    if (keepsPriority) {
      this.reduceOnBook(slot, oldLeaves - newLeaves);
      return Code.OK;
    }
    if (!moves) return Code.OK; // only the clOrdId changed
    if (wouldCross) {
      this.emitBookDelete(sym.idx, orderId, side, oldPx, oldLeaves);
      this.execute(slot, sym, newPx);
      this.runStops(sym);
      return Code.OK;
    }
    book.append(slot, newPx, newLeaves);
    const at = this.events.begin(Ev.BOOK_REPLACE);
    const bb = this.events.buf;
    bb[at] = sym.idx;
    bb[at + 1] = orderId;
    bb[at + 2] = side;
    bb[at + 3] = oldPx;
    bb[at + 4] = oldLeaves;
    bb[at + 5] = newPx;
    bb[at + 6] = newLeaves;
    return Code.OK;
  }

  // ------------------------------------------------------------------ time

  /**
   * Runs every timer due at or before `now`, earliest first: UTC midnight (DAY expiry of
   * round-the-clock symbols, dedupe window), GTD expiries by (time, orderId), session boundaries by
   * symbol; at equal times in that order. `currentDay` follows the timer being run, so each sees
   * the trading day of its own time.
   */
  private runTimers(now: number): void {
    if (this.currentDay < 0) this.currentDay = Math.floor(now / DAY_US); // the first command: nothing rolls
    for (;;) {
      let due = (this.currentDay + 1) * DAY_US;
      let kind = 0;
      let symbol: Sym | null = null;
      if (this.gtd.size > 0 && this.gtd.topTime() < due) {
        due = this.gtd.topTime();
        kind = 1;
      }
      for (const sym of this.symbols)
        if (sym.nextBoundaryUs < due) {
          due = sym.nextBoundaryUs;
          kind = 2;
          symbol = sym;
        }
      if (due > now) {
        this.nextTimerUs = due;
        return;
      }
      if (kind === 0) {
        this.currentDay++;
        for (const sym of this.symbols) if (sym.p.session === null) this.expireDayOrders(sym);
        this.evictRetained(this.currentDay);
      } else if (kind === 1) {
        const orderId = this.gtd.topOrderId();
        this.gtd.pop();
        const slot = this.byOrderId.get(orderId);
        if (slot !== NIL && isLive(this.store.status(slot)) && this.store.expireTimeUs.get(slot) === due)
          this.closeOrder(slot, OrdStatus.EXPIRED, ExecType.EXPIRED, Reason.GTD_EXPIRY);
      } else {
        const sym = symbol!;
        const session = sym.p.session!;
        if (inSession(session, due)) this.changeState(sym, TradingState.OPEN);
        else {
          this.changeState(sym, TradingState.CLOSED);
          this.expireDayOrders(sym);
        }
        sym.nextBoundaryUs = nextSessionBoundary(session, due);
      }
    }
  }

  private rebuildGtd(): void {
    const s = this.store;
    this.gtd.clear();
    for (const [slot, expire] of s.expireTimeUs) if (isLive(s.status(slot))) this.gtd.push(expire, s.orderId(slot));
  }

  private expireDayOrders(sym: Sym): void {
    const s = this.store;
    const due: number[] = [];
    for (const side of [sym.bids, sym.asks])
      for (let i = 0; i < side.n; i++)
        for (let o = this.levels.head[side.levelAt(i)]!; o !== NIL; o = s.next(o)) if (s.tif(o) === Tif.DAY) due.push(o);
    for (const o of sym.buyStops) if (s.tif(o) === Tif.DAY) due.push(o);
    for (const o of sym.sellStops) if (s.tif(o) === Tif.DAY) due.push(o);
    due.sort((x, y) => s.orderId(x) - s.orderId(y));
    for (const o of due) this.closeOrder(o, OrdStatus.EXPIRED, ExecType.EXPIRED, Reason.DAY_EXPIRY);
  }

  // ------------------------------------------------------------------ events

  /** An execution report with the order's full state after the change. */
  private emitExec(slot: number, execType: ExecType, reason: Reason, lastQty: number, lastPx: number, tradeId: number, liquidity: number): void {
    const s = this.store;
    const ev = this.events;
    const at = ev.begin(Ev.EXEC);
    const b = ev.buf;
    const en = s.enums(slot);
    const status = enumStatus(en);
    b[at] = ++this.execOrdinal;
    b[at + 1] = s.orderId(slot);
    b[at + 2] = s.accountIdx(slot);
    b[at + 3] = s.symbolIdx(slot);
    b[at + 4] = enumSide(en);
    b[at + 5] = enumOrdType(en);
    b[at + 6] = enumTif(en);
    b[at + 7] = execType;
    b[at + 8] = status;
    b[at + 9] = s.priceTicks(slot);
    b[at + 10] = s.stopPriceTicks.size === 0 ? 0 : (s.stopPriceTicks.get(slot) ?? 0);
    b[at + 11] = s.qtyLots(slot);
    b[at + 12] = s.filledLots(slot);
    b[at + 13] = isLive(status) ? s.qtyLots(slot) - s.filledLots(slot) : 0;
    b[at + 14] = s.cumNotional(slot);
    b[at + 15] = lastQty;
    b[at + 16] = lastPx;
    b[at + 17] = tradeId;
    b[at + 18] = liquidity;
    b[at + 19] = 0;
    b[at + 20] = reason;
    const cl = s.clOrdIdOf(slot);
    b[at + 21] = cl === undefined ? -1 : ev.str(cl);
    b[at + 22] = s.expireTimeUs.size === 0 ? 0 : (s.expireTimeUs.get(slot) ?? 0);
    b[at + 23] = s.createdAtUs(slot);
    b[at + 24] = enumPostOnly(en);
    b[at + 25] = enumStp(en);
    b[at + 26] = ++this.accounts[s.accountIdx(slot)]!.msgSeq;
  }

  // ------------------------------------------------------------------ queries

  getOrder(orderId: number): OrderView | null {
    if (!isPositiveInt(orderId)) return null;
    const slot = this.byOrderId.get(orderId);
    return slot === NIL ? null : this.view(slot);
  }

  getOrderByClOrdId(accountId: number, clOrdId: string): OrderView | null {
    const a = this.acct(accountId);
    if (a === null || typeof clOrdId !== 'string') return null;
    const slot = this.findClOrd(a.id, clOrdId);
    return slot === NIL ? null : this.view(slot);
  }

  openOrders(accountId: number, symbol?: string): OrderView[] {
    const a = this.acct(accountId);
    if (a === null) return [];
    const out: OrderView[] = [];
    const s = this.store;
    for (let slot = a.openHead; slot !== NIL; slot = s.acctNext(slot))
      if (symbol === undefined || this.symbols[s.symbolIdx(slot)]!.name === symbol) out.push(this.view(slot));
    return out;
  }

  view(slot: number): OrderView {
    const s = this.store;
    const status = s.status(slot) as OrdStatus;
    return {
      orderId: s.orderId(slot),
      clOrdId: s.clOrdIdOf(slot) ?? null,
      accountId: s.accountIdx(slot),
      symbol: this.symbols[s.symbolIdx(slot)]!.name,
      side: s.side(slot) as Side,
      ordType: s.ordType(slot) as OrdType,
      tif: s.tif(slot) as Tif,
      priceTicks: s.priceTicks(slot),
      stopPriceTicks: s.stopPriceTicks.get(slot) ?? 0,
      qtyLots: s.qtyLots(slot),
      filledLots: s.filledLots(slot),
      leavesLots: isLive(status) ? s.qtyLots(slot) - s.filledLots(slot) : 0,
      cumNotionalTickLots: s.cumNotional(slot),
      status,
      postOnly: s.postOnly(slot) === 1,
      stp: s.stp(slot) as Stp,
      expireTimeUs: s.expireTimeUs.get(slot) ?? 0,
      createdAtUs: s.createdAtUs(slot),
      updatedAtUs: s.updatedAtUs(slot),
      seq: s.seq(slot),
    };
  }

  balance(accountId: number, asset: string): Omit<BalanceView, 'asset'> | null {
    const a = this.acct(accountId);
    const idx = typeof asset === 'string' ? this.assetByName.get(asset) : undefined;
    if (a === null || idx === undefined) return null;
    const r = this.wallets.find(a.id, idx);
    const total = r < 0 ? 0 : this.wallets.data[r * 2]!;
    const reserved = r < 0 ? 0 : this.wallets.data[r * 2 + 1]!;
    return { totalMinor: total, reservedMinor: reserved, availableMinor: total - reserved };
  }

  balances(accountId: number): BalanceView[] {
    const a = this.acct(accountId);
    if (a === null) return [];
    return this.assets.map((x) => ({ asset: x.name, ...this.balance(a.id, x.name)! }));
  }

  account(accountId: number): { accountId: number; name: string; enabled: boolean; maxOpenOrders: number; openOrders: number; apiKeyHash: string } | null {
    const a = this.acct(accountId);
    if (a === null) return null;
    return {
      accountId: a.id,
      name: a.name,
      enabled: a.enabled,
      maxOpenOrders: a.maxOpenOrders < 0 ? this.defaultMaxOpenOrders : a.maxOpenOrders,
      openOrders: a.openCount,
      apiKeyHash: a.apiKeyHash,
    };
  }

  symbol(name: string): SymbolView | null {
    const i = typeof name === 'string' ? this.symbolByName.get(name) : undefined;
    return i === undefined ? null : this.symbolByIdx(i);
  }

  symbolByIdx(i: number): SymbolView | null {
    const sym = this.symbols[i];
    if (sym === undefined) return null;
    return {
      idx: sym.idx,
      name: sym.name,
      config: cloneConfig(sym.config),
      params: sym.p,
      base: this.assets[sym.baseIdx]!.name,
      quote: this.assets[sym.quoteIdx]!.name,
      state: sym.state,
      lastPxTicks: sym.lastPxTicks,
      tradingDay: this.tradingDay(sym),
    };
  }

  symbolNames(): string[] {
    return this.symbols.map((x) => x.name);
  }

  assetByIdx(i: number): { name: string; decimals: number } | null {
    const a = this.assets[i];
    return a === undefined ? null : { name: a.name, decimals: a.decimals };
  }

  assetNames(): string[] {
    return this.assets.map((x) => x.name);
  }

  assetSupply(asset: string): number {
    const i = this.assetByName.get(asset);
    return i === undefined ? 0 : this.assets[i]!.supplyMinor;
  }

  bookL2(symbol: string, depth = Number.MAX_SAFE_INTEGER): { bids: [number, number, number][]; asks: [number, number, number][] } | null {
    const i = this.symbolByName.get(symbol);
    if (i === undefined) return null;
    const sym = this.symbols[i]!;
    const lv = this.levels;
    const side = (b: BookSide) => {
      const out: [number, number, number][] = [];
      for (let k = 0; k < b.n && k < depth; k++) {
        const l = b.levelAt(k);
        out.push([lv.priceTicks[l]!, lv.qtyLots[l]!, lv.count[l]!]);
      }
      return out;
    };
    return { bids: side(sym.bids), asks: side(sym.asks) };
  }

  /** every resting order in priority order, at most `limit` a side */
  bookL3(symbol: string, limit = Number.MAX_SAFE_INTEGER): { bids: L3Entry[]; asks: L3Entry[] } | null {
    const i = this.symbolByName.get(symbol);
    if (i === undefined) return null;
    const sym = this.symbols[i]!;
    const s = this.store;
    const side = (b: BookSide) => {
      const out: L3Entry[] = [];
      for (let k = 0; k < b.n && out.length < limit; k++)
        for (let o = this.levels.head[b.levelAt(k)]!; o !== NIL && out.length < limit; o = s.next(o))
          out.push({ orderId: s.orderId(o), priceTicks: s.priceTicks(o), qtyLots: s.qtyLots(o) - s.filledLots(o) });
      return out;
    };
    return { bids: side(sym.bids), asks: side(sym.asks) };
  }

  // ------------------------------------------------------------------ state: hash, snapshot, invariants

  stateHash(): string {
    return stateHashOf(this);
  }

  snapshot(): Uint8Array {
    return writeSnapshot(this);
  }

  /** `prebuilt`: the clOrdId index built from the same bytes on another thread (snapshot.ts buildClOrdTable) */
  static restore(bytes: Uint8Array, options: EngineOptions = {}, prebuilt?: () => PrebuiltClOrdTable | null): Engine {
    return readSnapshot(bytes, options, prebuilt);
  }

  checkInvariants(): void {
    checkInvariants(this);
  }

  /** @internal used by snapshot restore: rebuild one order exactly. */
  restoreOrderAt(o: Float64Array, i: number, clOrdIdAt: number, idText: string, index: boolean): number {
    // the snapshot's order columns (snapshot.ts ORDER_FIELDS): read in place, no object per order
    const s = this.store;
    const slot = s.alloc();
    const orderId = o[i]!;
    const accountIdx = o[i + 1]!;
    const enums = o[i + 3]!;
    s.setOrderId(slot, orderId);
    s.setAccountIdx(slot, accountIdx);
    s.setSymbolIdx(slot, o[i + 2]!);
    s.setPriceTicks(slot, o[i + 4]!);
    s.setQtyLots(slot, o[i + 6]!);
    s.setFilledLots(slot, o[i + 7]!);
    s.setCumNotional(slot, o[i + 8]!);
    s.setCreatedAtUs(slot, o[i + 10]!);
    s.setUpdatedAtUs(slot, o[i + 11]!);
    s.setSeq(slot, o[i + 12]!);
    s.initEnums(slot, enumSide(enums), enumOrdType(enums), enumTif(enums), enumStatus(enums), enumPostOnly(enums), enumStp(enums));
    if (clOrdIdAt >= 0) s.setRestoredClOrdId(slot, idText, clOrdIdAt);
    const status = enumStatus(enums);
    const stopPriceTicks = o[i + 5]!;
    const expireTimeUs = o[i + 9]!;
    if (stopPriceTicks > 0) s.stopPriceTicks.set(slot, stopPriceTicks);
    if (expireTimeUs > 0) {
      s.expireTimeUs.set(slot, expireTimeUs);
      if (isLive(status)) this.gtd.push(expireTimeUs, orderId);
    }
    if (o[i + 13]! >= 0) s.original.set(slot, [o[i + 13]!, o[i + 14]!]);
    this.byOrderId.set(orderId, slot);
    if (clOrdIdAt >= 0 && index) this.clOrd.insert(slot);
    if (isLive(status)) this.linkAccount(this.accounts[accountIdx]!, slot);
    return slot;
  }

  /** @internal used by snapshot restore */
  restoreFinish(nextTimerUs: number): void {
    this.nextTimerUs = nextTimerUs;
  }

  /** @internal */
  timerDueUs(): number {
    return this.nextTimerUs;
  }

  /** @internal for snapshot: a fresh account record */
  newAccountRecord(id: number, name: string, apiKeyHash: string): Account {
    return this.makeAccount(id, name, apiKeyHash);
  }

  /** @internal for snapshot: a fresh symbol record */
  newSymbolRecord(idx: number, config: SymbolConfig, p: SymbolParams, baseIdx: number, quoteIdx: number): Sym {
    return {
      idx,
      name: config.symbol,
      config,
      p,
      baseIdx,
      quoteIdx,
      state: TradingState.OPEN,
      lastPxTicks: 0,
      sessionDay: 0,
      bids: new BookSide(true, this.levels, this.store),
      asks: new BookSide(false, this.levels, this.store),
      buyStops: [],
      sellStops: [],
      nextBoundaryUs: NO_TIMER,
    };
  }
}

export interface L3Entry {
  orderId: number;
  priceTicks: number;
  qtyLots: number;
}

export interface SymbolView {
  idx: number;
  name: string;
  config: SymbolConfig;
  params: SymbolParams;
  base: string;
  quote: string;
  state: TradingState;
  lastPxTicks: number;
  tradingDay: number;
}

// ------------------------------------------------------------------ helpers (pure)





/** A number for an event field from an untrusted value (0 when not a finite number). */
function num(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : 0;
}

function crosses(side: Side, priceTicks: number, bestOpposite: number): boolean {
  return side === Side.BUY ? priceTicks >= bestOpposite : priceTicks <= bestOpposite;
}

/** Market protection: best opposite price moved by `bps` against the taker, rounded inward to a tick. */
export function protectionPrice(side: Side, bestOpposite: number, bps: number): number {
  // floor(p * (1 + b)) = p + floor(p * b); ceil(p * (1 - b)) = p - floor(p * b). p * bps is exact for
  // any price an order can have (p <= maxNotional, bps < 10^4); a larger stop price gives a huge
  // reservation price that the notional check then rejects.
  const d = Math.floor((bestOpposite * bps) / 10_000);
  return side === Side.BUY ? bestOpposite + d : Math.max(1, bestOpposite - d);
}
