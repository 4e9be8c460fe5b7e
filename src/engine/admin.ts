/**
 * Admin commands: assets, symbols and their trading state, accounts, limits and transfers. Cold
 * paths kept apart from the order flow in engine.ts; the same rules apply (validate everything,
 * then change state; every change is an event).
 */
import { BalanceCause, Code, Reason, TradingState } from '../domain/codes.js';
import { decimalToUnits, isPositiveInt, MAX_SAFE } from '../domain/decimal.js';
import { BookSide } from './book.js';
import type {
  AddAssetCmd,
  AddSymbolCmd,
  CreateAccountCmd,
  SetAccountEnabledCmd,
  SetAccountLimitsCmd,
  SetSymbolStateCmd,
  SymbolConfig,
  TransferCmd,
  UpdateSymbolCmd,
} from './commands.js';
import { type Account, type Engine, FEE_ACCOUNT_ID, NO_TIMER, type Sym, TRANSFER_ID_RE } from './engine.js';
import { AccountEventKind, Ev } from './events.js';
import { MAX_MINOR } from './pairTable.js';
import { ASSET_RE, inSession, nextSessionBoundary, parseSymbolConfig, STATE_BY_NAME, SYMBOL_RE } from './symbols.js';

const NAME_MAX = 64;
export function addAsset(e: Engine, c: AddAssetCmd): Code {
  if (typeof c.asset !== 'string' || !ASSET_RE.test(c.asset)) return e.reject(Code.INVALID_REQUEST, 'asset must be 1-12 of A-Z0-9');
  if (!Number.isInteger(c.decimals) || c.decimals < 0 || c.decimals > 12)
    return e.reject(Code.INVALID_REQUEST, 'decimals must be an integer in [0, 12]');
  if (e.assetByName.has(c.asset)) return e.reject(Code.ALREADY_EXISTS, `asset ${c.asset} exists`);
  if (e.assets.length > MAX_MINOR) return e.reject(Code.INVALID_CONFIG, `at most ${MAX_MINOR + 1} assets`);
  const idx = e.assets.length;
  e.assets.push({ idx, name: c.asset, decimals: c.decimals, supplyMinor: 0 });
  e.assetByName.set(c.asset, idx);
  const at = e.events.begin(Ev.ASSET);
  const b = e.events.buf;
  b[at] = idx;
  b[at + 1] = c.decimals;
  b[at + 2] = e.events.str(c.asset);
  return Code.OK;
}

export function addSymbol(e: Engine, c: AddSymbolCmd): Code {
  const cfg = c.config;
  if (cfg === null || typeof cfg !== 'object') return e.reject(Code.INVALID_REQUEST, 'config must be an object');
  if (!jsonSafe(cfg)) return e.reject(Code.INVALID_CONFIG, 'config values must be strings, finite numbers, booleans, arrays or objects');
  if (typeof cfg.symbol !== 'string' || !SYMBOL_RE.test(cfg.symbol))
    return e.reject(Code.INVALID_REQUEST, 'symbol must be 1-24 of A-Z0-9._- starting with a letter or digit');
  if (e.symbolByName.has(cfg.symbol)) return e.reject(Code.ALREADY_EXISTS, `symbol ${cfg.symbol} exists`);
  if (e.symbols.length > MAX_MINOR) return e.reject(Code.INVALID_CONFIG, `at most ${MAX_MINOR + 1} symbols`);
  const baseIdx = typeof cfg.base === 'string' ? e.assetByName.get(cfg.base) : undefined;
  const quoteIdx = typeof cfg.quote === 'string' ? e.assetByName.get(cfg.quote) : undefined;
  if (baseIdx === undefined || quoteIdx === undefined || baseIdx === quoteIdx)
    return e.reject(Code.INVALID_CONFIG, 'base and quote must be two different known assets');
  let state: TradingState | undefined;
  if (cfg.state !== undefined) {
    state = Object.hasOwn(STATE_BY_NAME, cfg.state as string) ? STATE_BY_NAME[cfg.state as string] : undefined;
    if (state === undefined) return e.reject(Code.INVALID_CONFIG, 'unknown state');
  }
  const parsed = safeParse(cfg, e.assets[baseIdx]!, e.assets[quoteIdx]!);
  if (!parsed.ok) return e.reject(Code.INVALID_CONFIG, parsed.message);
  const p = parsed.params;
  const idx = e.symbols.length;
  const sessionOpen = p.session !== null && inSession(p.session, e.nowUs);
  const sym: Sym = {
    idx,
    name: cfg.symbol,
    config: cloneConfig(cfg),
    p,
    baseIdx,
    quoteIdx,
    state: state ?? (p.session === null || sessionOpen ? TradingState.OPEN : TradingState.CLOSED),
    lastPxTicks: 0,
    sessionDay: e.currentDay,
    bids: new BookSide(true, e.levels, e.store),
    asks: new BookSide(false, e.levels, e.store),
    buyStops: [],
    sellStops: [],
    nextBoundaryUs: p.session === null ? NO_TIMER : nextSessionBoundary(p.session, e.nowUs),
  };
  e.symbols.push(sym);
  e.symbolByName.set(sym.name, idx);
  e.nextTimerUs = Math.min(e.nextTimerUs, sym.nextBoundaryUs);
  emitSymbol(e, sym, 1);
  e.emitTradingState(sym);
  return Code.OK;
}

export function updateSymbol(e: Engine, c: UpdateSymbolCmd): Code {
  const idx = typeof c.symbol === 'string' ? e.symbolByName.get(c.symbol) : undefined;
  if (idx === undefined) return e.reject(Code.UNKNOWN_SYMBOL, 'unknown symbol');
  if (c.changes === null || typeof c.changes !== 'object') return e.reject(Code.INVALID_REQUEST, 'changes must be an object');
  if (!jsonSafe(c.changes)) return e.reject(Code.INVALID_CONFIG, 'config values must be strings, finite numbers, booleans, arrays or objects');
  const sym = e.symbols[idx]!;
  for (const key of Object.keys(c.changes))
    if (['symbol', 'base', 'quote', 'tickSize', 'lotSize', 'state'].includes(key))
      return e.reject(Code.INVALID_CONFIG, `${key} cannot change: it would re-price resting orders`);
  const next = { ...sym.config, ...cloneConfig(c.changes as SymbolConfig) } as SymbolConfig;
  const parsed = safeParse(next, e.assets[sym.baseIdx]!, e.assets[sym.quoteIdx]!);
  if (!parsed.ok) return e.reject(Code.INVALID_CONFIG, parsed.message);
  const hadSession = sym.p.session !== null;
  sym.config = next;
  sym.p = parsed.params;
  // a session added now starts from today's trading day (the counters of today keep counting)
  if (!hadSession && sym.p.session !== null) sym.sessionDay = e.currentDay;
  sym.nextBoundaryUs = sym.p.session === null ? NO_TIMER : nextSessionBoundary(sym.p.session, e.nowUs);
  e.nextTimerUs = Math.min(e.nextTimerUs, sym.nextBoundaryUs);
  emitSymbol(e, sym, 2);
  return Code.OK;
}

export function setSymbolState(e: Engine, c: SetSymbolStateCmd): Code {
  const idx = typeof c.symbol === 'string' ? e.symbolByName.get(c.symbol) : undefined;
  if (idx === undefined) return e.reject(Code.UNKNOWN_SYMBOL, 'unknown symbol');
  if (!Number.isInteger(c.state) || c.state < TradingState.CLOSED || c.state > TradingState.CANCEL_ONLY)
    return e.reject(Code.INVALID_REQUEST, 'unknown trading state');
  e.changeState(e.symbols[idx]!, c.state);
  return Code.OK;
}

export function emitSymbol(e: Engine, sym: Sym, kind: number): void {
  const at = e.events.begin(Ev.SYMBOL);
  const b = e.events.buf;
  b[at] = sym.idx;
  b[at + 1] = kind;
  b[at + 2] = e.events.str(JSON.stringify(sym.config));
}

export function createAccount(e: Engine, c: CreateAccountCmd): Code {
  if (typeof c.name !== 'string' || c.name.length < 1 || c.name.length > NAME_MAX)
    return e.reject(Code.INVALID_REQUEST, `name must be 1-${NAME_MAX} characters`);
  if (c.apiKeyHash !== undefined && (typeof c.apiKeyHash !== 'string' || c.apiKeyHash.length > 256))
    return e.reject(Code.INVALID_REQUEST, 'apiKeyHash must be a string of at most 256 characters');
  const id = e.accounts.length;
  const acct = e.makeAccount(id, c.name, c.apiKeyHash ?? '');
  e.accounts.push(acct);
  emitAccount(e, acct, AccountEventKind.CREATED);
  return Code.OK;
}

export function emitAccount(e: Engine, a: Account, kind: AccountEventKind): void {
  const at = e.events.begin(Ev.ACCOUNT);
  const b = e.events.buf;
  b[at] = a.id;
  b[at + 1] = kind;
  b[at + 2] = e.events.str(a.name);
  b[at + 3] = e.events.str(a.apiKeyHash);
  b[at + 4] = a.maxOpenOrders;
}

export function setAccountEnabled(e: Engine, c: SetAccountEnabledCmd): Code {
  const a = e.acct(c.accountId);
  if (a === null || a.id === FEE_ACCOUNT_ID) return e.reject(Code.NOT_FOUND, 'unknown account');
  if (typeof c.enabled !== 'boolean') return e.reject(Code.INVALID_REQUEST, 'enabled must be a boolean');
  a.enabled = c.enabled;
  emitAccount(e, a, c.enabled ? AccountEventKind.ENABLED : AccountEventKind.DISABLED);
  if (!c.enabled) e.cancelAccountOrders(a, -1, Reason.KILL_SWITCH);
  return Code.OK;
}

export function setAccountLimits(e: Engine, c: SetAccountLimitsCmd): Code {
  const a = e.acct(c.accountId);
  if (a === null || a.id === FEE_ACCOUNT_ID) return e.reject(Code.NOT_FOUND, 'unknown account');
  let maxOpen = a.maxOpenOrders;
  if (c.maxOpenOrders !== undefined) {
    if (c.maxOpenOrders === null) maxOpen = -1;
    else if (!isPositiveInt(c.maxOpenOrders) || c.maxOpenOrders > 1_000_000)
      return e.reject(Code.INVALID_REQUEST, 'maxOpenOrders must be an integer in [1, 1000000]');
    else maxOpen = c.maxOpenOrders;
  }
  const limits: [number, number][] = [];
  if (c.dailyQtyLimits !== undefined) {
    if (c.dailyQtyLimits === null || typeof c.dailyQtyLimits !== 'object')
      return e.reject(Code.INVALID_REQUEST, 'dailyQtyLimits must be an object');
    for (const [name, qty] of Object.entries(c.dailyQtyLimits)) {
      const si = e.symbolByName.get(name);
      if (si === undefined) return e.reject(Code.UNKNOWN_SYMBOL, `unknown symbol ${name}`);
      if (qty === null) {
        limits.push([si, -1]);
        continue;
      }
      const lots = safeUnits(qty, e.symbols[si]!.config.lotSize);
      if (lots === null || lots < 1) return e.reject(Code.INVALID_QUANTITY, `daily limit for ${name} must be a positive multiple of the lot size`);
      limits.push([si, lots]);
    }
  }
  a.maxOpenOrders = maxOpen;
  for (const [si, lots] of limits) {
    if (lots < 0) a.dailyLimits?.delete(si);
    else (a.dailyLimits ??= new Map()).set(si, lots);
  }
  emitAccount(e, a, AccountEventKind.LIMITS);
  return Code.OK;
}

export function transfer(e: Engine, c: TransferCmd): Code {
  const a = e.acct(c.accountId);
  if (a === null) return e.reject(Code.NOT_FOUND, 'unknown account');
  const assetIdx = typeof c.asset === 'string' ? e.assetByName.get(c.asset) : undefined;
  if (assetIdx === undefined) return e.reject(Code.INVALID_REQUEST, 'unknown asset');
  if (!isPositiveInt(c.amountMinor)) return e.reject(Code.INVALID_QUANTITY, 'amountMinor must be a positive safe integer');
  if (typeof c.transferId !== 'string' || !TRANSFER_ID_RE.test(c.transferId))
    return e.reject(Code.INVALID_REQUEST, 'transferId must be 1-64 of [A-Za-z0-9_.:-]');
  const kind = c.type === 'deposit' ? 1 : 2;
  const prior = e.transfers.get(c.transferId);
  if (prior !== undefined) {
    if (prior.accountId === a.id && prior.assetIdx === assetIdx && prior.amountMinor === c.amountMinor && prior.kind === kind) {
      emitTransfer(e, a.id, assetIdx, c.amountMinor, kind, c.transferId, true);
      return Code.OK;
    }
    return e.reject(Code.DUPLICATE_TRANSFER_ID, 'transferId already used with different parameters');
  }
  const asset = e.assets[assetIdx]!;
  if (kind === 1) {
    if (asset.supplyMinor + c.amountMinor > MAX_SAFE) return e.reject(Code.INVALID_QUANTITY, 'deposit would exceed the asset supply bound 2^53-1');
    asset.supplyMinor += c.amountMinor;
    e.applyBalance(a, assetIdx, c.amountMinor, 0, BalanceCause.DEPOSIT, 0, c.transferId);
  } else {
    const available = e.available(a, assetIdx);
    if (c.amountMinor > available) return e.reject(Code.INSUFFICIENT_FUNDS, 'withdrawal exceeds available balance');
    asset.supplyMinor -= c.amountMinor;
    e.applyBalance(a, assetIdx, -c.amountMinor, 0, BalanceCause.WITHDRAW, 0, c.transferId);
  }
  e.transfers.set(c.transferId, { accountId: a.id, assetIdx, amountMinor: c.amountMinor, kind });
  // oldest transfer ids leave the dedupe window first (Map order is insertion order)
  if (e.transfers.size > e.transferDedupeCapacity) e.transfers.delete(e.transfers.keys().next().value!);
  emitTransfer(e, a.id, assetIdx, c.amountMinor, kind, c.transferId, false);
  return Code.OK;
}

export function emitTransfer(e: Engine, accountId: number, assetIdx: number, amount: number, kind: number, id: string, replay: boolean): void {
  const at = e.events.begin(Ev.TRANSFER);
  const b = e.events.buf;
  b[at] = accountId;
  b[at + 1] = assetIdx;
  b[at + 2] = amount;
  b[at + 3] = kind;
  b[at + 4] = e.events.str(id);
  b[at + 5] = replay ? 1 : 0;
}

/** Whether a value survives JSON unchanged (no NaN / Infinity / undefined / functions), bounded in depth and size. */
function jsonSafe(v: unknown, depth = 0): boolean {
  if (depth > 4) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.length <= 64 && v.every((x) => jsonSafe(x, depth + 1));
  if (typeof v === 'object') {
    const entries = Object.entries(v as object);
    return entries.length <= 64 && entries.every(([, x]) => x !== undefined && jsonSafe(x, depth + 1));
  }
  return false;
}

/** A JSON-safe deep copy of config data from outside (drops functions, prototypes, cycles fail). */
export function cloneConfig<T>(cfg: T): T {
  return JSON.parse(JSON.stringify(cfg)) as T;
}

/** parseSymbolConfig, never throwing on hostile shapes. */
function safeParse(cfg: SymbolConfig, base: { name: string; decimals: number }, quote: { name: string; decimals: number }) {
  try {
    return parseSymbolConfig(cfg, base, quote);
  } catch {
    return { ok: false as const, message: 'malformed symbol configuration' };
  }
}

function safeUnits(v: unknown, unit: string): number | null {
  return decimalToUnits(v, unit);
}
