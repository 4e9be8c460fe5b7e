/**
 * Stable enumerations shared by the engine, the event stream and every edge. Numbers are what the
 * engine stores and journals; names are what users see. Never renumber: journals keep the numbers.
 */

/** Reject / error codes (SPEC §3). 0 means accepted. */
export const enum Code {
  OK = 0,
  INVALID_REQUEST = 1,
  INVALID_PRICE = 2,
  INVALID_QUANTITY = 3,
  UNKNOWN_SYMBOL = 4,
  UNAUTHORIZED = 5,
  FORBIDDEN = 6,
  ACCOUNT_DISABLED = 7,
  NOT_FOUND = 8,
  DUPLICATE_CLORDID = 9,
  TOO_LATE_TO_CANCEL = 10,
  INSUFFICIENT_FUNDS = 11,
  PRICE_OUTSIDE_BAND = 12,
  MAX_QTY_EXCEEDED = 13,
  MAX_NOTIONAL_EXCEEDED = 14,
  DAILY_LIMIT_EXCEEDED = 15,
  MARKET_CLOSED = 16,
  SYMBOL_HALTED = 17,
  POST_ONLY_WOULD_TRADE = 18,
  MAX_OPEN_ORDERS_EXCEEDED = 19,
  DUPLICATE_TRANSFER_ID = 20,
  ALREADY_EXISTS = 21,
  INVALID_CONFIG = 22,
}

export const CODE_NAMES: readonly string[] = [
  'OK',
  'INVALID_REQUEST',
  'INVALID_PRICE',
  'INVALID_QUANTITY',
  'UNKNOWN_SYMBOL',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'ACCOUNT_DISABLED',
  'NOT_FOUND',
  'DUPLICATE_CLORDID',
  'TOO_LATE_TO_CANCEL',
  'INSUFFICIENT_FUNDS',
  'PRICE_OUTSIDE_BAND',
  'MAX_QTY_EXCEEDED',
  'MAX_NOTIONAL_EXCEEDED',
  'DAILY_LIMIT_EXCEEDED',
  'MARKET_CLOSED',
  'SYMBOL_HALTED',
  'POST_ONLY_WOULD_TRADE',
  'MAX_OPEN_ORDERS_EXCEEDED',
  'DUPLICATE_TRANSFER_ID',
  'ALREADY_EXISTS',
  'INVALID_CONFIG',
];

/** HTTP status for each code (SPEC §3 table); codes not in the table are documented in docs/. */
export const CODE_HTTP_STATUS: readonly number[] = [
  200, 400, 400, 400, 400, 401, 403, 403, 404, 409, 409, 422, 422, 422, 422, 422, 422, 422, 422,
  422, 409, 409, 400,
];

export const enum Side {
  BUY = 1,
  SELL = 2,
}
export const SIDE_NAMES = ['', 'buy', 'sell'] as const;

export const enum OrdType {
  LIMIT = 1,
  MARKET = 2,
  STOP = 3,
  STOP_LIMIT = 4,
}
export const ORD_TYPE_NAMES = ['', 'limit', 'market', 'stop', 'stop_limit'] as const;

export const enum Tif {
  GTC = 1,
  DAY = 2,
  IOC = 3,
  FOK = 4,
  GTD = 5,
}
export const TIF_NAMES = ['', 'GTC', 'DAY', 'IOC', 'FOK', 'GTD'] as const;

export const enum Stp {
  CANCEL_NEWEST = 1,
  CANCEL_OLDEST = 2,
  CANCEL_BOTH = 3,
  DECREMENT = 4,
}
export const STP_NAMES = ['', 'cancel_newest', 'cancel_oldest', 'cancel_both', 'decrement'] as const;

export const enum OrdStatus {
  NEW = 1,
  PARTIALLY_FILLED = 2,
  FILLED = 3,
  CANCELED = 4,
  EXPIRED = 5,
  REJECTED = 6,
  PENDING_TRIGGER = 7,
}
export const ORD_STATUS_NAMES = [
  '',
  'new',
  'partially_filled',
  'filled',
  'canceled',
  'expired',
  'rejected',
  'pending_trigger',
] as const;

/** ExecType (FIX tag 150), stored as our number; FIX_EXEC_TYPE gives the FIX character. */
export const enum ExecType {
  NEW = 1,
  TRADE = 2,
  CANCELED = 3,
  REPLACED = 4,
  REJECTED = 5,
  EXPIRED = 6,
  RESTATED = 7,
  TRIGGERED = 8,
  ORDER_STATUS = 9,
}
export const EXEC_TYPE_NAMES = [
  '',
  'new',
  'trade',
  'canceled',
  'replaced',
  'rejected',
  'expired',
  'restated',
  'triggered',
  'order_status',
] as const;
export const FIX_EXEC_TYPE = ['', '0', 'F', '4', '5', '8', 'C', 'D', 'L', 'I'] as const;
/** OrdStatus (FIX tag 39); pending_trigger maps to 'A' (Pending New), as several venues do. */
export const FIX_ORD_STATUS = ['', '0', '1', '2', '4', 'C', '8', 'A'] as const;

/** Why an order left the book or changed without a trade (carried on execution reports). */
export const enum Reason {
  NONE = 0,
  USER = 1,
  ADMIN = 2,
  STP = 3,
  KILL_SWITCH = 4,
  IOC_REMAINDER = 5,
  FOK_UNFILLED = 6,
  MARKET_REMAINDER = 7,
  NO_LIQUIDITY = 8,
  DAY_EXPIRY = 9,
  GTD_EXPIRY = 10,
  MASS_CANCEL = 11,
}
export const REASON_NAMES = [
  '',
  'user',
  'admin',
  'stp',
  'kill_switch',
  'ioc_remainder',
  'fok_unfilled',
  'market_remainder',
  'no_liquidity',
  'day_expiry',
  'gtd_expiry',
  'mass_cancel',
] as const;

export const enum TradingState {
  CLOSED = 1,
  PRE_OPEN = 2,
  OPEN = 3,
  HALTED = 4,
  CANCEL_ONLY = 5,
}
export const TRADING_STATE_NAMES = ['', 'closed', 'pre_open', 'open', 'halted', 'cancel_only'] as const;

/** Why a balance changed (ledger cause). */
export const enum BalanceCause {
  DEPOSIT = 1,
  WITHDRAW = 2,
  RESERVE = 3,
  RELEASE = 4,
  TRADE = 5,
  FEE = 6,
}
export const BALANCE_CAUSE_NAMES = ['', 'deposit', 'withdraw', 'reserve', 'release', 'trade', 'fee'] as const;
