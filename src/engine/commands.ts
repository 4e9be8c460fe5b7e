/**
 * Engine input: plain data, one object per sequenced command. Every command carries the
 * sequencer's `seq` and `tsUs` (microseconds since the Unix epoch); the engine reads time from
 * nothing else. Prices and quantities are integers already (ticks, lots, minor units); the edges
 * convert decimal text with src/domain/decimal.ts. Every field is untrusted: `apply` validates.
 */
import type { OrdType, Side, Stp, Tif, TradingState } from '../domain/codes.js';

export interface Sequenced {
  seq: number;
  tsUs: number;
}

export interface AddAssetCmd extends Sequenced {
  type: 'addAsset';
  asset: string;
  decimals: number;
}

/** Symbol reference data as decimal text; see docs/engine.md for every field and bound. */
export interface SymbolConfig {
  symbol: string;
  base: string;
  quote: string;
  tickSize: string;
  lotSize: string;
  minQty?: string;
  maxQty: string;
  maxNotional: string;
  /** collar around the reference price, percent ("10" = ±10%); absent = no collar */
  priceBandPct?: string | null;
  /** market orders trade up to best opposite ± this percent (default "5") */
  marketProtectionPct?: string;
  /** per account per trading day, filled + working; absent = unlimited */
  dailyAccountQtyLimit?: string | null;
  makerFeeBps?: number;
  takerFeeBps?: number;
  /** reference price for the collar before the first trade */
  referencePrice?: string | null;
  /** UTC session; absent = trades around the clock, trading day = UTC date */
  session?: { open: string; close: string; weekdays?: number[] } | null;
  /** initial state; default open (or closed/open per session when a session is given) */
  state?: 'open' | 'closed' | 'halted' | 'pre_open' | 'cancel_only';
}

export interface AddSymbolCmd extends Sequenced {
  type: 'addSymbol';
  config: SymbolConfig;
}

/** Changes mutable fields; tickSize, lotSize, base and quote are fixed for life (see docs). */
export interface UpdateSymbolCmd extends Sequenced {
  type: 'updateSymbol';
  symbol: string;
  changes: Partial<Omit<SymbolConfig, 'symbol' | 'base' | 'quote' | 'tickSize' | 'lotSize' | 'state'>>;
}

export interface SetSymbolStateCmd extends Sequenced {
  type: 'setSymbolState';
  symbol: string;
  state: TradingState;
}

export interface CreateAccountCmd extends Sequenced {
  type: 'createAccount';
  name: string;
  /** opaque to the engine: the gateway stores hashed API keys here so a standby has them */
  apiKeyHash?: string;
}

export interface SetAccountEnabledCmd extends Sequenced {
  type: 'setAccountEnabled';
  accountId: number;
  enabled: boolean;
}

export interface SetAccountLimitsCmd extends Sequenced {
  type: 'setAccountLimits';
  accountId: number;
  /** null restores the default */
  maxOpenOrders?: number | null;
  /** per symbol daily quantity limit as decimal text; null removes the override */
  dailyQtyLimits?: Record<string, string | null>;
}

export interface TransferCmd extends Sequenced {
  type: 'deposit' | 'withdraw';
  accountId: number;
  asset: string;
  amountMinor: number;
  transferId: string;
}

export interface NewOrderCmd extends Sequenced {
  type: 'newOrder';
  accountId: number;
  symbol: string;
  side: Side;
  ordType: OrdType;
  /** default GTC for limit / stop_limit / stop, IOC for market */
  tif?: Tif;
  qtyLots: number;
  priceTicks?: number;
  stopPriceTicks?: number;
  expireTimeUs?: number;
  postOnly?: boolean;
  stp?: Stp;
  clOrdId?: string;
}

export interface CancelOrderCmd extends Sequenced {
  type: 'cancelOrder';
  accountId: number;
  orderId?: number;
  clOrdId?: string;
}

export interface ReplaceOrderCmd extends Sequenced {
  type: 'replaceOrder';
  accountId: number;
  orderId?: number;
  /** the order to replace, by its current clOrdId, when orderId is absent */
  origClOrdId?: string;
  qtyLots?: number;
  priceTicks?: number;
  /** the order's new clOrdId */
  clOrdId?: string;
}

export interface MassCancelCmd extends Sequenced {
  type: 'massCancel';
  accountId: number;
  symbol?: string;
}

/** Advances engine time: DAY / GTD expiry, session open / close, dedupe window roll-over. */
export interface TickCmd extends Sequenced {
  type: 'tick';
}

export type Command =
  | AddAssetCmd
  | AddSymbolCmd
  | UpdateSymbolCmd
  | SetSymbolStateCmd
  | CreateAccountCmd
  | SetAccountEnabledCmd
  | SetAccountLimitsCmd
  | TransferCmd
  | NewOrderCmd
  | CancelOrderCmd
  | ReplaceOrderCmd
  | MassCancelCmd
  | TickCmd;
