/**
 * Read-only queries a gateway asks the sequencer thread (the only thread that holds the engine):
 * an order, open orders, an account and its balances, reference data, the book. They cross the
 * inbound ring as a QUERY frame (UTF-8 JSON) and are never journaled: they change nothing. The
 * answer is an ordinary output frame, held like every other output until the seq it reflects is
 * durable, so a query never shows state that a crash could take back.
 *
 * Answers carry integers (ticks, lots, minor units); the gateway formats decimals. Sizes are
 * bounded (`QUERY_LIMITS`) so an answer always fits in one outbound frame.
 */
import { Code } from '../domain/codes.js';
import type { Engine, OrderView } from '../engine/engine.js';

export const QUERY_LIMITS = {
  /** open orders in one answer (the gateway pages with `afterOrderId`) */
  maxOrders: 1000,
  /** L2 levels per side */
  maxLevels: 5000,
  /** L3 orders per side */
  maxL3Orders: 20_000,
  /** query text bytes */
  maxQueryBytes: 4096,
};

export type Query =
  /** reference data; `fromAsset` / `fromSymbol`: only the entries from those indexes on (both are append-only) */
  | { q: 'symbols'; fromAsset?: number; fromSymbol?: number }
  | { q: 'accountByKeyHash'; keyHash: string }
  | { q: 'order'; accountId: number; orderId?: number; clOrdId?: string }
  | { q: 'openOrders'; accountId: number; symbol?: string; afterOrderId?: number; limit?: number }
  | { q: 'account'; accountId: number }
  | { q: 'book'; symbol: string; depth?: number; l3?: boolean };

export interface QueryAnswer {
  code: Code;
  /** JSON text of the answer (an error message when code is not OK) */
  json: string;
}

const isId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const bounded = (x: unknown, max: number, dflt: number): number =>
  typeof x === 'number' && Number.isSafeInteger(x) && x > 0 ? Math.min(x, max) : dflt;

export class QueryAnswerer {
  /** keyHash -> accountId; accounts are only ever added and keys never change: extend, never rebuild */
  private readonly byKeyHash = new Map<string, number>();
  private indexedAccounts = 0;

  constructor(private readonly engine: Engine) {}

  answer(text: string): QueryAnswer {
    let query: Query;
    try {
      query = JSON.parse(text) as Query;
    } catch {
      return fail(Code.INVALID_REQUEST, 'query is not JSON');
    }
    if (query === null || typeof query !== 'object') return fail(Code.INVALID_REQUEST, 'query is not an object');
    const e = this.engine;
    switch (query.q) {
      case 'symbols':
        return ok(this.symbols(isId(query.fromAsset) ? query.fromAsset : 0, isId(query.fromSymbol) ? query.fromSymbol : 0));
      case 'accountByKeyHash': {
        if (typeof query.keyHash !== 'string') return fail(Code.INVALID_REQUEST, 'keyHash');
        this.indexAccounts();
        const id = this.byKeyHash.get(query.keyHash);
        return id === undefined ? fail(Code.NOT_FOUND, 'no such key') : ok({ accountId: id, enabled: e.accounts[id]!.enabled });
      }
      case 'order': {
        if (!isId(query.accountId)) return fail(Code.INVALID_REQUEST, 'accountId');
        const view = query.orderId !== undefined ? e.getOrder(query.orderId) : typeof query.clOrdId === 'string' ? e.getOrderByClOrdId(query.accountId, query.clOrdId) : null;
        // another account's order is as unknown as a missing one (SPEC §3)
        if (view === null || view.accountId !== query.accountId) return fail(Code.NOT_FOUND, 'order not found');
        return ok(view);
      }
      case 'openOrders': {
        if (!isId(query.accountId)) return fail(Code.INVALID_REQUEST, 'accountId');
        const limit = bounded(query.limit, QUERY_LIMITS.maxOrders, QUERY_LIMITS.maxOrders);
        const after = isId(query.afterOrderId) ? query.afterOrderId : 0;
        const symbol = typeof query.symbol === 'string' ? query.symbol : undefined;
        return ok(this.openOrders(query.accountId, symbol, after, limit));
      }
      case 'account': {
        const a = isId(query.accountId) ? e.account(query.accountId) : null;
        if (a === null) return fail(Code.NOT_FOUND, 'account not found');
        const acct = e.accounts[a.accountId]!;
        const dailyQtyLimits: Record<string, number> = {};
        if (acct.dailyLimits !== null) for (const [symIdx, lots] of acct.dailyLimits) dailyQtyLimits[e.symbols[symIdx]!.name] = lots;
        return ok({
          accountId: a.accountId,
          name: a.name,
          enabled: a.enabled,
          maxOpenOrders: a.maxOpenOrders,
          openOrders: a.openOrders,
          dailyQtyLimitsLots: dailyQtyLimits,
          balances: e.balances(a.accountId),
        });
      }
      case 'book': {
        if (typeof query.symbol !== 'string') return fail(Code.INVALID_REQUEST, 'symbol');
        const sym = e.symbol(query.symbol);
        if (sym === null) return fail(Code.UNKNOWN_SYMBOL, `unknown symbol ${query.symbol}`);
        if (query.l3 === true) {
          const book = e.bookL3(query.symbol, bounded(query.depth, QUERY_LIMITS.maxL3Orders, QUERY_LIMITS.maxL3Orders))!;
          return ok({ symbol: sym.name, lastPxTicks: sym.lastPxTicks, state: sym.state, ...book });
        }
        const book = e.bookL2(query.symbol, bounded(query.depth, QUERY_LIMITS.maxLevels, QUERY_LIMITS.maxLevels))!;
        return ok({ symbol: sym.name, lastPxTicks: sym.lastPxTicks, state: sym.state, ...book });
      }
      default:
        return fail(Code.INVALID_REQUEST, 'unknown query');
    }
  }

  private indexAccounts(): void {
    const accounts = this.engine.accounts;
    for (; this.indexedAccounts < accounts.length; this.indexedAccounts++) {
      const a = accounts[this.indexedAccounts]!;
      if (a.apiKeyHash !== '') this.byKeyHash.set(a.apiKeyHash, a.id);
    }
  }

  private symbols(fromAsset: number, fromSymbol: number): unknown {
    const e = this.engine;
    return {
      assets: e.assets.slice(fromAsset).map((a) => ({ asset: a.name, decimals: a.decimals })),
      symbols: e.symbols.slice(fromSymbol).map((s) => ({ idx: s.idx, ...s.config, symbol: s.name, state: s.state, lastPxTicks: s.lastPxTicks })),
    };
  }

  private openOrders(accountId: number, symbol: string | undefined, afterOrderId: number, limit: number): { orders: OrderView[]; more: boolean } {
    // paged by orderId (a replace may move an order in the account's list)
    const all = this.engine.openOrders(accountId, symbol).sort((a, b) => a.orderId - b.orderId);
    const orders: OrderView[] = [];
    for (const o of all) {
      if (o.orderId <= afterOrderId) continue;
      if (orders.length === limit) return { orders, more: true };
      orders.push(o);
    }
    return { orders, more: false };
  }
}

function ok(value: unknown): QueryAnswer {
  return { code: Code.OK, json: JSON.stringify(value) };
}

function fail(code: Code, message: string): QueryAnswer {
  return { code, json: JSON.stringify({ message }) };
}
