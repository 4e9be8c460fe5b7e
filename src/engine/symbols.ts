/**
 * Symbol reference data: validation of a SymbolConfig (decimal text) into the integer parameters
 * the engine uses, with the overflow bounds of docs/engine.md checked here, once, so the hot path
 * can multiply without checks.
 */
import { decimalToUnits, MAX_SAFE, minorUnit, parseDecimal, toUnits } from '../domain/decimal.js';
import { TradingState } from '../domain/codes.js';
import type { SymbolConfig } from './commands.js';

export const SYMBOL_RE = /^[A-Z0-9][A-Z0-9._-]{0,23}$/;
export const ASSET_RE = /^[A-Z0-9]{1,12}$/;
/** fees multiply amounts by basis points: keep amount * 10^4 exact */
const BPS_HEADROOM = 10_000;
const MAX_FEE_BPS = 1_000;
const DEFAULT_PROTECTION_BPS = 500;

export interface AssetRef {
  name: string;
  decimals: number;
}

/** Integer parameters derived from a SymbolConfig. */
export interface SymbolParams {
  /** quote minor units per tick-lot */
  k: number;
  /** base minor units per lot */
  lotMinor: number;
  minQtyLots: number;
  maxQtyLots: number;
  maxNotionalMinor: number;
  /** -1 = no collar */
  bandBps: number;
  protectionBps: number;
  /** -1 = unlimited */
  dailyLimitLots: number;
  makerFeeBps: number;
  takerFeeBps: number;
  /** 0 = none */
  referencePxTicks: number;
  /** minutes after 00:00 UTC; null = around the clock */
  session: { openMin: number; closeMin: number; weekdayMask: number } | null;
}

export type ParseResult = { ok: true; params: SymbolParams } | { ok: false; message: string };

function pctToBps(v: unknown): number | null {
  const bps = decimalToUnits(v, '0.01');
  return bps === null || bps > 100_000 ? null : bps;
}

function hhmm(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(s);
  return m === null ? null : Number(m[1]) * 60 + Number(m[2]);
}

export function parseSymbolConfig(cfg: SymbolConfig, base: AssetRef, quote: AssetRef): ParseResult {
  const fail = (message: string): ParseResult => ({ ok: false, message });
  const tick = parseDecimal(cfg.tickSize);
  const lot = parseDecimal(cfg.lotSize);
  if (tick === null || tick.digits === '0') return fail('tickSize must be a positive decimal');
  if (lot === null || lot.digits === '0') return fail('lotSize must be a positive decimal');
  // k = tick * lot * 10^quoteDecimals must be a whole number of quote minor units
  const kDec = { digits: (BigInt(tick.digits) * BigInt(lot.digits)).toString(), scale: tick.scale + lot.scale };
  const k = toUnits(kDec, { digits: '1', scale: quote.decimals });
  if (k === null || k < 1)
    return fail(
      `tickSize x lotSize (${cfg.tickSize} x ${cfg.lotSize}) is not a whole number of ${quote.name} minor units (decimals ${quote.decimals}): notionals would need rounding`,
    );
  const lotMinor = toUnits(lot, { digits: '1', scale: base.decimals });
  if (lotMinor === null || lotMinor < 1)
    return fail(`lotSize ${cfg.lotSize} is finer than ${base.name}'s ${base.decimals} decimals`);
  const minQtyLots = cfg.minQty === undefined ? 1 : decimalToUnits(cfg.minQty, cfg.lotSize);
  if (minQtyLots === null || minQtyLots < 1) return fail('minQty must be a positive multiple of lotSize');
  const maxQtyLots = decimalToUnits(cfg.maxQty, cfg.lotSize);
  if (maxQtyLots === null || maxQtyLots < minQtyLots) return fail('maxQty must be a multiple of lotSize and >= minQty');
  if (maxQtyLots * lotMinor * BPS_HEADROOM > MAX_SAFE)
    return fail('maxQty too large: maxQty in base minor units x 10^4 must stay below 2^53');
  const maxNotionalMinor = decimalToUnits(cfg.maxNotional, minorUnit(quote.decimals));
  if (maxNotionalMinor === null || maxNotionalMinor < 1)
    return fail(`maxNotional must be a positive amount of ${quote.name} with at most ${quote.decimals} decimals`);
  if (maxNotionalMinor * BPS_HEADROOM > MAX_SAFE) return fail('maxNotional too large: x 10^4 must stay below 2^53');
  let bandBps = -1;
  if (cfg.priceBandPct !== undefined && cfg.priceBandPct !== null) {
    const b = pctToBps(cfg.priceBandPct);
    if (b === null || b < 1 || b >= 10_000) return fail('priceBandPct must be a percentage in (0, 100) with at most 2 decimals');
    bandBps = b;
  }
  let protectionBps = DEFAULT_PROTECTION_BPS;
  if (cfg.marketProtectionPct !== undefined) {
    const p = pctToBps(cfg.marketProtectionPct);
    if (p === null || p < 1 || p >= 10_000) return fail('marketProtectionPct must be a percentage in (0, 100)');
    protectionBps = p;
  }
  let dailyLimitLots = -1;
  if (cfg.dailyAccountQtyLimit !== undefined && cfg.dailyAccountQtyLimit !== null) {
    const d = decimalToUnits(cfg.dailyAccountQtyLimit, cfg.lotSize);
    if (d === null || d < 1) return fail('dailyAccountQtyLimit must be a positive multiple of lotSize');
    dailyLimitLots = d;
  }
  const makerFeeBps = cfg.makerFeeBps ?? 0;
  const takerFeeBps = cfg.takerFeeBps ?? 0;
  for (const f of [makerFeeBps, takerFeeBps])
    if (!Number.isInteger(f) || f < 0 || f > MAX_FEE_BPS) return fail(`fees must be integer basis points in [0, ${MAX_FEE_BPS}]`);
  let referencePxTicks = 0;
  if (cfg.referencePrice !== undefined && cfg.referencePrice !== null) {
    const r = decimalToUnits(cfg.referencePrice, cfg.tickSize);
    if (r === null || r < 1) return fail('referencePrice must be a positive multiple of tickSize');
    if (r * k * minQtyLots > maxNotionalMinor) return fail('referencePrice is above any price an order of minQty could have under maxNotional');
    referencePxTicks = r;
  }
  let session: SymbolParams['session'] = null;
  if (cfg.session !== undefined && cfg.session !== null) {
    const openMin = hhmm(cfg.session.open);
    const closeMin = hhmm(cfg.session.close);
    if (openMin === null || closeMin === null || openMin >= closeMin)
      return fail('session needs open < close as "HH:MM" UTC on the same day');
    let weekdayMask = 0b0111110; // Monday..Friday (0 = Sunday)
    if (cfg.session.weekdays !== undefined) {
      if (!Array.isArray(cfg.session.weekdays) || cfg.session.weekdays.length === 0) return fail('session.weekdays must list days 0..6');
      weekdayMask = 0;
      for (const d of cfg.session.weekdays) {
        if (!Number.isInteger(d) || d < 0 || d > 6) return fail('session.weekdays must list days 0..6 (0 = Sunday)');
        weekdayMask |= 1 << d;
      }
    }
    session = { openMin, closeMin, weekdayMask };
  }
  return {
    ok: true,
    params: {
      k,
      lotMinor,
      minQtyLots,
      maxQtyLots,
      maxNotionalMinor,
      bandBps,
      protectionBps,
      dailyLimitLots,
      makerFeeBps,
      takerFeeBps,
      referencePxTicks,
      session,
    },
  };
}

export const STATE_BY_NAME: Record<string, TradingState> = {
  closed: TradingState.CLOSED,
  pre_open: TradingState.PRE_OPEN,
  open: TradingState.OPEN,
  halted: TradingState.HALTED,
  cancel_only: TradingState.CANCEL_ONLY,
};

export const DAY_US = 86_400_000_000;
const MINUTE_US = 60_000_000;

/** Whether `tsUs` falls inside the session on an allowed weekday. */
export function inSession(session: NonNullable<SymbolParams['session']>, tsUs: number): boolean {
  const day = Math.floor(tsUs / DAY_US);
  const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday
  if ((session.weekdayMask & (1 << weekday)) === 0) return false;
  const minute = (tsUs - day * DAY_US) / MINUTE_US;
  return minute >= session.openMin && minute < session.closeMin;
}

/** The first session boundary (open or close) strictly after `tsUs`. */
export function nextSessionBoundary(session: NonNullable<SymbolParams['session']>, tsUs: number): number {
  const day0 = Math.floor(tsUs / DAY_US);
  for (let d = day0; d < day0 + 9; d++) {
    const weekday = (d + 4) % 7;
    if ((session.weekdayMask & (1 << weekday)) === 0) continue;
    const open = d * DAY_US + session.openMin * MINUTE_US;
    const close = d * DAY_US + session.closeMin * MINUTE_US;
    if (open > tsUs) return open;
    if (close > tsUs) return close;
  }
  return Number.MAX_SAFE_INTEGER;
}
