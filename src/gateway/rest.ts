/**
 * The REST API of SPEC §3. Orders, account, reference data, admin, health and metrics come from
 * the engine: each handler validates (strictly: unknown fields are errors), turns decimals into
 * integers with the symbol's grid, sends one command or query to the sequencer and answers only
 * when that answer is released, i.e. durable. Market data (ticker, L2, L3, trades, candles) comes
 * from the market-data worker, history (fills, closed orders) from the report database; both
 * include whatever the client was answered before asking.
 */
import { Code, OrdStatus, TRADING_STATE_NAMES, TradingState } from '../domain/codes.js';
import type { Command, SymbolConfig } from '../engine/commands.js';
import type { DecodedEvent } from '../engine/events.js';
import { TRANSFER_ID_RE, type OrderView } from '../engine/engine.js';
import { adminTokenMatches, type KeyCache, newApiKey, hashKey, type RateLimiter } from './auth.js';
import type { CommandReply, Dispatcher, Failure, QueryReply } from './dispatcher.js';
import type { Directory, SymbolInfo } from './directory.js';
import { ApiError } from './errors.js';
import type { Answer, Request, Router } from './http.js';
import { JsonError, JsonNumber, parseJson, type JsonValue } from './json.js';
import { asObject, cancelCommand, clOrdIdField, codeName, isoUs, orderFromReports, orderFromView, parseNewOrder, parseOrderId, parseReplace, type OrderObject } from './orders.js';
import type { Query } from '../sequencer/queries.js';
import type { MarketDataGateway } from './marketData.js';
import type { MdRequest } from '../mdworker/requests.js';
import type { ReportQuery, ReportResult } from '../reportworker/queryTask.js';
import type { CandleRow, Fill, OrderRow, Page, TradeRow } from '../reports/queries.js';
import { RESOLUTIONS, type Resolution } from '../marketdata/types.js';
import { MAX_COMMAND_BYTES } from '../sequencer/codec.js';

/** What the REST handlers need from the process around them (the main thread owns these). */
export interface HostLink {
  status(): Promise<Record<string, unknown>>;
  snapshot(): Promise<Record<string, unknown>>;
  metrics(): Promise<string>;
  /** a history query on the report database (src/server/reports.ts) */
  report(q: ReportQuery): Promise<ReportResult>;
  healthy(): boolean;
}

export interface RestContext {
  marketData: MarketDataGateway;
  dispatcher: Dispatcher;
  directory: Directory;
  keys: KeyCache;
  limiter: RateLimiter;
  adminTokenHash: Buffer;
  host: HostLink;
}

const ORDERS_PAGE_MAX = 1000;

export function registerRest(router: Router, ctx: RestContext): void {
  const { dispatcher, directory } = ctx;

  // ---------------------------------------------------------------- helpers bound to ctx

  const account = async (req: Request): Promise<number> => {
    const key = bearer(req);
    // a key this thread has not seen costs a sequencer query: those count against the client's address
    if (!ctx.keys.isCached(key)) limit(ctx, `ip${req.remote}`);
    const id = await ctx.keys.account(key);
    if (id === undefined) throw new ApiError('OVERLOADED', 'the exchange did not answer in time');
    if (id === null) throw new ApiError(Code.UNAUTHORIZED, 'missing or unknown API key (Authorization: Bearer <apiKey>)');
    limit(ctx, `k${id}`);
    return id;
  };

  const admin = (req: Request): void => {
    const token = bearer(req);
    if (!adminTokenMatches(token, ctx.adminTokenHash)) throw new ApiError(Code.UNAUTHORIZED, 'missing or wrong admin token');
    limit(ctx, 'admin');
  };

  const command = async (cmd: Command): Promise<CommandReply> => settle(await dispatcher.command(cmd));
  const query = async (q: Query): Promise<QueryReply> => settle(await dispatcher.query(q));

  // ---------------------------------------------------------------- orders

  router.post('/v1/order', async (req) => {
    const accountId = await account(req);
    const cmd = await parseNewOrder(body(req), accountId, directory);
    const r = await command(cmd);
    const orderId = newestOrderId(r.events);
    const order = orderFromReports(r.events, orderId, r.seq, directory, r.code);
    if (r.code !== Code.OK) throw new ApiError(r.code, rejectMessage(r), order === null ? undefined : { order });
    if (order === null) throw new Error('accepted order without an execution report');
    const replay = r.events.some((e) => e.event === 'exec' && e.orderId === orderId && e.execType === 9);
    return replay ? { status: 200, body: order, headers: { 'idempotent-replay': 'true' } } : { status: 201, body: order };
  });

  const cancel = async (accountId: number, orderId: number | undefined, clOrdId: string | undefined): Promise<Answer> => {
    const r = await command(cancelCommand(accountId, orderId, clOrdId));
    if (r.code === Code.NOT_FOUND && orderId !== undefined && (await closedOrder(accountId, orderId, r.seq, false)) !== null)
      throw new ApiError(Code.TOO_LATE_TO_CANCEL, 'the order is already final');
    if (r.code !== Code.OK) throw new ApiError(r.code, rejectMessage(r));
    const target = orderId ?? newestOrderId(r.events);
    // the order may be of a symbol this thread has not loaded yet (placed through another gateway thread, or before a restart)
    const exec = r.events.find((e) => e.event === 'exec' && e.orderId === target);
    if (exec !== undefined) await directory.symbolAtIdx(exec.symbolIdx as number);
    const order = orderFromReports(r.events, target, r.seq, directory);
    if (order === null) throw new Error('canceled order without an execution report');
    return { status: 200, body: order };
  };

  router.del('/v1/order/:orderId', async (req) => {
    const accountId = await account(req);
    const orderId = pathOrderId(req);
    return cancel(accountId, orderId, undefined);
  });

  router.del('/v1/order', async (req) => {
    const accountId = await account(req);
    const clOrdId = clOrdIdField(req.query.get('clOrdId') ?? undefined);
    if (clOrdId === undefined) throw new ApiError(Code.INVALID_REQUEST, 'give the order id in the path or ?clOrdId=');
    return cancel(accountId, undefined, clOrdId);
  });

  router.patch('/v1/order/:orderId', async (req) => {
    const accountId = await account(req);
    const orderId = pathOrderId(req);
    const raw = body(req);
    // the symbol's grid reads the new qty / price: ask the order's symbol first (it never changes)
    const found = await query({ q: 'order', accountId, orderId });
    if (found.code !== Code.OK && (await closedOrder(accountId, orderId, found.seq, false)) !== null) throw new ApiError(Code.TOO_LATE_TO_CANCEL, 'the order is already final');
    if (found.code !== Code.OK) throw new ApiError(found.code, 'order not found');
    const sym = await directory.findSymbol((JSON.parse(found.json) as OrderView).symbol);
    if (sym === undefined) throw new Error('order of an unknown symbol');
    const r = await command(parseReplace(raw, accountId, orderId, sym));
    if (r.code !== Code.OK) throw new ApiError(r.code, rejectMessage(r));
    return { status: 200, body: orderFromReports(r.events, orderId, r.seq, directory) };
  });

  router.del('/v1/orders', async (req) => {
    const accountId = await account(req);
    const symbol = optionalSymbol(req);
    if (symbol !== undefined && (await directory.findSymbol(symbol)) === undefined) throw new ApiError(Code.UNKNOWN_SYMBOL, `unknown symbol ${symbol}`);
    const r = await command({ type: 'massCancel', seq: 0, tsUs: 0, accountId, symbol });
    if (r.code !== Code.OK) throw new ApiError(r.code, rejectMessage(r));
    const canceled = r.events.filter((e) => e.event === 'exec' && e.execType === 3).map((e) => e.orderId as number);
    return { status: 200, body: { canceled: canceled.length, orderIds: canceled, seq: r.seq } };
  });

  const getOrder = async (accountId: number, q: Query & { q: 'order' }): Promise<Answer> => {
    const r = await query(q);
    if (r.code !== Code.OK && q.orderId !== undefined) {
      const row = await closedOrder(accountId, q.orderId, r.seq, true);
      if (row !== null) return { status: 200, body: await orderOfRow(row, directory) };
    }
    if (r.code !== Code.OK) throw new ApiError(Code.NOT_FOUND, 'order not found');
    const view = JSON.parse(r.json) as OrderView;
    if (view.accountId !== accountId) throw new ApiError(Code.NOT_FOUND, 'order not found');
    await directory.findSymbol(view.symbol);
    return { status: 200, body: orderFromView(view, directory) };
  };

  router.get('/v1/order/:orderId', async (req) => {
    const accountId = await account(req);
    return getOrder(accountId, { q: 'order', accountId, orderId: pathOrderId(req) });
  });

  router.get('/v1/order', async (req) => {
    const accountId = await account(req);
    const clOrdId = clOrdIdField(req.query.get('clOrdId') ?? undefined);
    if (clOrdId === undefined) throw new ApiError(Code.INVALID_REQUEST, 'give the order id in the path or ?clOrdId=');
    return getOrder(accountId, { q: 'order', accountId, clOrdId });
  });

  /** a history query on the report database; its QueryError is a 400, an unavailable database a 503 */
  const report = async (q: ReportQuery): Promise<{ value: unknown; seq: number }> => {
    const r = await ctx.host.report(q);
    if (!r.ok) throw 'unavailable' in r ? new ApiError('OVERLOADED', r.message) : new ApiError(Code.INVALID_REQUEST, r.message);
    return { value: r.value, seq: r.seq };
  };
  /**
   * An order the engine no longer holds: it forgets a final order without a clOrdId at once (and
   * the others after the dedupe window), the report database keeps it. null: never this account's.
   * `engineSeq`: the seq of the engine's answer that did not have it. The database waits for it only
   * so long (FRESH_WAIT_MS): one still behind it may not have written the order yet, or only an
   * earlier state of it, so "not there" (and, for `wantState`, a state not final) is a 503 (retry)
   * rather than a 404 NOT_FOUND for an order the account has, or a stale order.
   */
  const closedOrder = async (accountId: number, orderId: number, engineSeq: number, wantState: boolean): Promise<ClosedOrder | null> => {
    const r = await report({ what: 'order', accountId, orderId });
    const row = r.value as ClosedOrder | null;
    if (r.seq < engineSeq && (row === null || (wantState && !isFinalStatus(row.status))))
      throw new ApiError('OVERLOADED', 'the report database is behind the exchange: retry shortly');
    return row;
  };
  const pageLimit = (req: Request): number => {
    const t = req.query.get('limit');
    const limit = t === null ? 100 : /^[1-9]\d{0,3}$/.test(t) && Number(t) <= ORDERS_PAGE_MAX ? Number(t) : -1;
    if (limit < 0) throw new ApiError(Code.INVALID_REQUEST, `limit must be 1..${ORDERS_PAGE_MAX}`);
    return limit;
  };
  const knownSymbol = async (req: Request): Promise<SymbolInfo | undefined> => {
    const symbol = optionalSymbol(req);
    if (symbol === undefined) return undefined;
    const sym = await directory.findSymbol(symbol);
    if (sym === undefined) throw new ApiError(Code.UNKNOWN_SYMBOL, `unknown symbol ${symbol.slice(0, 40)}`);
    return sym;
  };
  const timeUs = (req: Request, key: string): number | undefined => {
    const t = req.query.get(key);
    if (t === null) return undefined;
    if (!/^\d{1,15}$/.test(t)) throw new ApiError(Code.INVALID_REQUEST, `${key} must be epoch milliseconds`);
    return Number(t) * 1000;
  };
  const cursorOf = (req: Request): string | null => {
    const c = req.query.get('cursor');
    if (c !== null && !/^[A-Za-z0-9_-]{1,64}$/.test(c)) throw new ApiError(Code.INVALID_REQUEST, 'bad cursor');
    return c === '' ? null : c;
  };

  router.get('/v1/orders', async (req) => {
    const accountId = await account(req);
    const status = req.query.get('status') ?? 'open';
    if (status !== 'open' && status !== 'closed' && status !== 'all') throw new ApiError(Code.INVALID_REQUEST, 'status must be open, closed or all');
    const sym = await knownSymbol(req);
    const limit = pageLimit(req);
    if (status === 'open') {
      const cursor = req.query.get('cursor');
      const after = cursor === null || cursor === '' ? 0 : parseOrderId(cursor);
      if (after === null) throw new ApiError(Code.INVALID_REQUEST, 'bad cursor');
      const r = await query({ q: 'openOrders', accountId, symbol: sym?.symbol, afterOrderId: after, limit });
      const page = JSON.parse(r.json) as { orders: OrderView[]; more: boolean };
      for (const o of page.orders) await directory.findSymbol(o.symbol);
      const orders = page.orders.map((o) => orderFromView(o, directory));
      const last = page.orders[page.orders.length - 1];
      return { status: 200, body: { orders, nextCursor: page.more && last !== undefined ? String(last.orderId) : null, seq: r.seq } };
    }
    // closed orders from the report database, the most recently closed first; `all` puts the open
    // ones (from the engine, at most `limit`) before the first page of closed ones. The engine is
    // read first: the database read after it waits until it holds at least that seq, so an order
    // that closes in between is in the closed page (and shown once: as open if it was then)
    const cursor = cursorOf(req);
    const orders: unknown[] = [];
    const openIds = new Set<number>();
    if (status === 'all' && cursor === null) {
      const r = await query({ q: 'openOrders', accountId, symbol: sym?.symbol, afterOrderId: 0, limit });
      const open = JSON.parse(r.json) as { orders: OrderView[] };
      for (const o of open.orders) {
        await directory.findSymbol(o.symbol);
        openIds.add(o.orderId);
        orders.push(orderFromView(o, directory));
      }
    }
    const closed = await report({ what: 'closedOrders', accountId, symbolIdx: sym?.idx, limit, cursor });
    const page = closed.value as Page<OrderRow>;
    for (const row of page.rows) if (!openIds.has(row.orderId)) orders.push(orderFromView(await viewOfRow(row, directory), directory));
    return { status: 200, body: { orders, nextCursor: page.nextCursor, seq: closed.seq } };
  });

  router.get('/v1/execution', async (req) => {
    const accountId = await account(req);
    const sym = await knownSymbol(req);
    const orderText = req.query.get('orderId');
    const orderId = orderText === null ? undefined : parseOrderId(orderText);
    if (orderId === null) throw new ApiError(Code.INVALID_REQUEST, 'orderId must be a positive integer');
    const r = await report({ what: 'executions', accountId, symbolIdx: sym?.idx, orderId, startUs: timeUs(req, 'startTime'), endUs: timeUs(req, 'endTime'), limit: pageLimit(req), cursor: cursorOf(req) });
    const page = r.value as Page<Fill>;
    const fills = [];
    for (const f of page.rows) fills.push(await fillObject(f, directory));
    return { status: 200, body: { fills, nextCursor: page.nextCursor, seq: r.seq } };
  });

  router.get('/v1/account', async (req) => {
    const accountId = await account(req);
    const r = await query({ q: 'account', accountId });
    if (r.code !== Code.OK) throw new ApiError(r.code, 'account not found');
    const a = JSON.parse(r.json) as {
      accountId: number;
      name: string;
      enabled: boolean;
      maxOpenOrders: number;
      openOrders: number;
      dailyQtyLimitsLots: Record<string, number>;
      balances: { asset: string; totalMinor: number; reservedMinor: number; availableMinor: number }[];
    };
    const balances = [];
    for (const b of a.balances) {
      const asset = await directory.findAsset(b.asset);
      if (asset === undefined) continue;
      balances.push({ asset: b.asset, total: asset.unit.format(b.totalMinor), available: asset.unit.format(b.availableMinor), reserved: asset.unit.format(b.reservedMinor) });
    }
    const dailyQtyLimits: Record<string, string> = {};
    for (const [s, lots] of Object.entries(a.dailyQtyLimitsLots)) {
      const sym = await directory.findSymbol(s);
      if (sym !== undefined) dailyQtyLimits[s] = sym.lot.format(lots);
    }
    return {
      status: 200,
      body: { accountId: a.accountId, name: a.name, enabled: a.enabled, balances, limits: { maxOpenOrders: a.maxOpenOrders, openOrders: a.openOrders, dailyQtyLimits }, seq: r.seq },
    };
  });

  // ---------------------------------------------------------------- reference and market data (no auth)

  router.get('/v1/symbols', async (req) => {
    limit(ctx, `ip${req.remote}`);
    const r = await query({ q: 'symbols' });
    const answer = JSON.parse(r.json) as { assets: { asset: string; decimals: number }[]; symbols: Record<string, unknown>[] };
    const symbols = answer.symbols.map(({ idx: _idx, lastPxTicks: _px, state, ...config }) => ({ ...config, state: TRADING_STATE_NAMES[state as number] }));
    return { status: 200, body: { assets: answer.assets, symbols, seq: r.seq } };
  });

  /** a snapshot from the market-data worker (docs/market-data.md, REST snapshots) */
  const marketData = async (req: Request, r: Omit<MdRequest, 'id' | 'symbol'>): Promise<Answer> => {
    limit(ctx, `ip${req.remote}`);
    const name = req.query.get('symbol');
    if (name === null || name === '') throw new ApiError(Code.INVALID_REQUEST, 'symbol is required');
    const sym = await directory.findSymbol(name);
    if (sym === undefined) throw new ApiError(Code.UNKNOWN_SYMBOL, `unknown symbol ${name.slice(0, 40)}`);
    const a = await ctx.marketData.ask({ ...r, symbol: sym.symbol });
    if (a === null) throw new ApiError('TIMEOUT', 'the market-data worker did not answer in time');
    if (a.status >= 500) throw new ApiError('OVERLOADED', a.message ?? 'market data not available'); // stopping, or the worker failed: not the request's fault
    if (a.status !== 200) throw new ApiError(a.code ?? Code.INVALID_REQUEST, a.message ?? 'market data not available');
    return { status: 200, body: a.body };
  };
  const count = (req: Request, key: string, max: number, dflt: number): number => {
    const t = req.query.get(key);
    if (t === null) return dflt;
    if (!/^[1-9]\d{0,6}$/.test(t) || Number(t) > max) throw new ApiError(Code.INVALID_REQUEST, `${key} must be 1..${max}`);
    return Number(t);
  };
  const epochMs = (req: Request, key: string): number | undefined => {
    const t = req.query.get(key);
    if (t === null) return undefined;
    if (!/^\d{1,15}$/.test(t)) throw new ApiError(Code.INVALID_REQUEST, `${key} must be epoch milliseconds`);
    return Number(t);
  };

  router.get('/v1/marketdata/ticker', (req) => marketData(req, { what: 'ticker', channel: 'l1' }));
  router.get('/v1/marketdata/orderBook/L2', (req) => marketData(req, { what: 'l2', channel: 'l2', depth: count(req, 'depth', 9999, 100) }));
  router.get('/v1/marketdata/orderBook/L3', (req) => marketData(req, { what: 'l3', channel: 'l3' }));
  // the recent ones from the market-data worker; with a time range (or a cursor), history from the report database
  router.get('/v1/marketdata/trades', async (req) => {
    const limitN = count(req, 'limit', 1000, 100);
    const startMs = epochMs(req, 'startTime');
    const endMs = epochMs(req, 'endTime');
    const cursor = req.query.get('cursor');
    if (startMs === undefined && endMs === undefined && cursor === null) return marketData(req, { what: 'trades', channel: 'trades', limit: limitN });
    const sym = await historySymbol(req);
    const r = await report({ what: 'trades', symbolIdx: sym.idx, startUs: startMs === undefined ? undefined : startMs * 1000, endUs: endMs === undefined ? undefined : endMs * 1000 + 999, limit: limitN, cursor: cursorOf(req) });
    const page = r.value as Page<TradeRow>;
    const trades = page.rows.map((t) => ({ tradeId: t.tradeId, px: sym.tick.format(t.priceTicks), qty: sym.lot.format(t.qtyLots), side: t.takerSide === 1 ? 'buy' : 'sell', ts: Math.floor(t.tsUs / 1000) }));
    return { status: 200, body: { symbol: sym.symbol, seq: r.seq, trades, nextCursor: page.nextCursor } };
  });
  router.get('/v1/marketdata/candles', async (req) => {
    const res = req.query.get('resolution') ?? '1m';
    const startMs = epochMs(req, 'startTime');
    const endMs = epochMs(req, 'endTime');
    const limitN = count(req, 'limit', 1000, 1000);
    if (startMs === undefined && endMs === undefined) return marketData(req, { what: 'candles', channel: `candles:${res}`, limit: limitN });
    if (!(RESOLUTIONS as readonly string[]).includes(res)) throw new ApiError(Code.INVALID_REQUEST, `resolution must be one of ${RESOLUTIONS.join(', ')}`);
    const sym = await historySymbol(req);
    const r = await report({ what: 'candles', symbolIdx: sym.idx, resolution: res as Resolution, startUs: (startMs ?? 0) * 1000, endUs: (endMs ?? Math.floor(Date.now())) * 1000, limit: limitN });
    const fmt = (t: number) => sym.tick.format(t);
    return { status: 200, body: (r.value as CandleRow[]).map((c) => ({ t: c.t, o: fmt(c.o), h: fmt(c.h), l: fmt(c.l), c: fmt(c.c), v: sym.lot.format(c.v), n: c.n, closed: c.closed })) };
  });
  const historySymbol = async (req: Request): Promise<SymbolInfo> => {
    limit(ctx, `ip${req.remote}`);
    const name = req.query.get('symbol');
    if (name === null || name === '') throw new ApiError(Code.INVALID_REQUEST, 'symbol is required');
    const sym = await directory.findSymbol(name);
    if (sym === undefined) throw new ApiError(Code.UNKNOWN_SYMBOL, `unknown symbol ${name.slice(0, 40)}`);
    return sym;
  };

  // ---------------------------------------------------------------- admin

  const adminCommand = async (cmd: Command, okStatus = 200): Promise<{ r: CommandReply; status: number }> => {
    // admin commands cross the ring as JSON of at most MAX_COMMAND_BYTES: refuse a bigger one here
    // (the encoder would throw, and a 5xx means "outcome unknown")
    const { seq: _seq, tsUs: _ts, type: _type, ...fields } = cmd as Command & Record<string, unknown>;
    if (Buffer.byteLength(JSON.stringify(fields), 'utf8') > MAX_COMMAND_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', `the command is larger than ${MAX_COMMAND_BYTES} bytes`);
    const r = await command(cmd);
    if (r.code !== Code.OK) throw new ApiError(r.code, rejectMessage(r));
    return { r, status: okStatus };
  };

  router.post('/v1/admin/accounts', async (req) => {
    admin(req);
    const b = asObject(body(req));
    only(b, ['name']);
    if (typeof b.name !== 'string' || b.name.length < 1 || b.name.length > 64) throw new ApiError(Code.INVALID_REQUEST, 'name must be 1..64 characters');
    const apiKey = newApiKey();
    const { r } = await adminCommand({ type: 'createAccount', seq: 0, tsUs: 0, name: b.name, apiKeyHash: hashKey(apiKey) });
    const created = r.events.find((e) => e.event === 'account');
    return { status: 201, body: { accountId: created?.accountId, name: b.name, apiKey, seq: r.seq } };
  });

  router.post('/v1/admin/accounts/:id/:action', async (req) => {
    admin(req);
    const accountId = pathAccountId(req);
    const action = req.params[1];
    if (action === 'deposit' || action === 'withdraw') {
      const b = asObject(body(req));
      only(b, ['asset', 'amount', 'transferId']);
      if (typeof b.asset !== 'string') throw new ApiError(Code.INVALID_REQUEST, 'asset is required');
      const asset = await directory.findAsset(b.asset);
      if (asset === undefined) throw new ApiError(Code.INVALID_REQUEST, `unknown asset ${b.asset.slice(0, 40)}`);
      const amountMinor = asset.unit.parse(b.amount);
      if (amountMinor === null || amountMinor <= 0) throw new ApiError(Code.INVALID_QUANTITY, `amount must be a positive decimal with at most ${asset.decimals} places`);
      if (typeof b.transferId !== 'string' || !TRANSFER_ID_RE.test(b.transferId)) throw new ApiError(Code.INVALID_REQUEST, 'transferId must be 1 to 64 characters of A-Z a-z 0-9 _ . : -');
      const { r } = await adminCommand({ type: action, seq: 0, tsUs: 0, accountId, asset: asset.asset, amountMinor, transferId: b.transferId });
      const t = r.events.find((e) => e.event === 'transfer');
      const bal = r.events.filter((e) => e.event === 'balance').pop();
      const replay = t?.replay === 1;
      return {
        status: 200,
        body: { accountId, asset: asset.asset, amount: asset.unit.format(amountMinor), transferId: b.transferId, total: bal === undefined ? undefined : asset.unit.format(bal.total as number), seq: r.seq },
        headers: replay ? { 'idempotent-replay': 'true' } : undefined,
      };
    }
    if (action === 'disable' || action === 'enable') {
      const { r } = await adminCommand({ type: 'setAccountEnabled', seq: 0, tsUs: 0, accountId, enabled: action === 'enable' });
      const canceled = r.events.filter((e) => e.event === 'exec' && e.execType === 3).length;
      return { status: 200, body: { accountId, enabled: action === 'enable', canceled, seq: r.seq } };
    }
    throw new ApiError(Code.NOT_FOUND, `no admin action ${action}`);
  });

  router.put('/v1/admin/accounts/:id/limits', async (req) => {
    admin(req);
    const accountId = pathAccountId(req);
    const b = asObject(body(req));
    only(b, ['maxOpenOrders', 'dailyQtyLimits']);
    const plain = toPlain(b) as { maxOpenOrders?: number | null; dailyQtyLimits?: Record<string, string | null> };
    const { r } = await adminCommand({ type: 'setAccountLimits', seq: 0, tsUs: 0, accountId, maxOpenOrders: plain.maxOpenOrders, dailyQtyLimits: plain.dailyQtyLimits });
    return { status: 200, body: { accountId, seq: r.seq } };
  });

  router.post('/v1/admin/assets', async (req) => {
    admin(req);
    const raw = asObject(body(req));
    only(raw, ['asset', 'decimals']);
    const b = toPlain(raw) as { asset?: unknown; decimals?: unknown };
    const { r } = await adminCommand({ type: 'addAsset', seq: 0, tsUs: 0, asset: b.asset as string, decimals: b.decimals as number });
    await directory.refresh();
    return { status: 201, body: { asset: b.asset, decimals: b.decimals, seq: r.seq } };
  });

  router.post('/v1/admin/symbols', async (req) => {
    admin(req);
    const raw = asObject(body(req));
    only(raw, SYMBOL_FIELDS);
    const config = toPlain(raw) as never;
    const { r } = await adminCommand({ type: 'addSymbol', seq: 0, tsUs: 0, config });
    await directory.refresh();
    return { status: 201, body: { symbol: (config as { symbol: string }).symbol, seq: r.seq } };
  });

  router.patch('/v1/admin/symbols/:symbol', async (req) => {
    admin(req);
    const raw = asObject(body(req));
    only(raw, SYMBOL_FIELDS); // the engine refuses the immutable ones with a message that says why
    const changes = toPlain(raw) as never;
    const { r } = await adminCommand({ type: 'updateSymbol', seq: 0, tsUs: 0, symbol: req.params[0]!, changes });
    await directory.refresh();
    return { status: 200, body: { symbol: req.params[0], seq: r.seq } };
  });

  router.post('/v1/admin/symbols/:symbol/state', async (req) => {
    admin(req);
    const b = asObject(body(req));
    only(b, ['state']);
    const state = typeof b.state === 'string' && Object.hasOwn(STATE_WORDS, b.state) ? STATE_WORDS[b.state] : undefined;
    if (state === undefined) throw new ApiError(Code.INVALID_REQUEST, `state must be one of ${Object.keys(STATE_WORDS).join(', ')}`);
    const { r } = await adminCommand({ type: 'setSymbolState', seq: 0, tsUs: 0, symbol: req.params[0]!, state });
    return { status: 200, body: { symbol: req.params[0], state: TRADING_STATE_NAMES[state], seq: r.seq } };
  });

  router.post('/v1/admin/snapshot', async (req) => {
    admin(req);
    return { status: 200, body: await ctx.host.snapshot() };
  });

  router.get('/v1/admin/status', async (req) => {
    admin(req);
    return { status: 200, body: await ctx.host.status() };
  });

  // ---------------------------------------------------------------- operations

  router.get('/healthz', () => (ctx.host.healthy() ? { status: 200, body: { status: 'ok' } } : { status: 503, body: { status: 'failing' } }));
  router.get('/metrics', async () => ({ status: 200, body: await ctx.host.metrics(), contentType: 'text/plain; version=0.0.4' }));

  router.any('/*', (req) => {
    throw new ApiError(Code.NOT_FOUND, `no route ${req.method.toUpperCase()} ${req.url}`);
  });
}


/** every field of a SymbolConfig: a misspelt optional field (a price band, a limit) must not pass silently */
const SYMBOL_FIELDS: (keyof SymbolConfig)[] = [
  'symbol',
  'base',
  'quote',
  'tickSize',
  'lotSize',
  'minQty',
  'maxQty',
  'maxNotional',
  'priceBandPct',
  'marketProtectionPct',
  'dailyAccountQtyLimit',
  'makerFeeBps',
  'takerFeeBps',
  'referencePrice',
  'session',
  'state',
];

const STATE_WORDS: Record<string, TradingState> = {
  open: TradingState.OPEN,
  halt: TradingState.HALTED,
  halted: TradingState.HALTED,
  close: TradingState.CLOSED,
  closed: TradingState.CLOSED,
  pre_open: TradingState.PRE_OPEN,
  cancel_only: TradingState.CANCEL_ONLY,
};

function settle<T extends CommandReply | QueryReply>(r: T | Failure): T {
  switch (r.kind) {
    case 'overloaded':
      throw new ApiError('OVERLOADED', 'the exchange is overloaded: retry later', undefined, { 'retry-after': '1' });
    case 'timeout':
      throw new ApiError('TIMEOUT', 'no answer in time: the outcome is unknown, query by clOrdId');
    case 'stopped':
      throw new ApiError('OVERLOADED', 'the exchange is stopping');
    default:
      return r;
  }
}

function bearer(req: Request): string {
  const h = req.authorization;
  return h.startsWith('Bearer ') ? h.slice(7).trim() : '';
}

function limit(ctx: RestContext, key: string): void {
  const waitMs = ctx.limiter.take(key);
  if (waitMs > 0) throw new ApiError('RATE_LIMITED', 'too many requests', undefined, { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) });
}

function body(req: Request): JsonValue {
  if (req.body === '') throw new ApiError(Code.INVALID_REQUEST, 'a JSON body is required');
  try {
    return parseJson(req.body);
  } catch (e) {
    if (e instanceof JsonError) throw new ApiError(Code.INVALID_REQUEST, `malformed JSON: ${e.message}`);
    throw e;
  }
}

function only(b: { [k: string]: JsonValue }, fields: readonly string[]): void {
  for (const k of Object.keys(b)) if (!fields.includes(k)) throw new ApiError(Code.INVALID_REQUEST, `unknown field "${k.slice(0, 40)}"`);
}

function pathOrderId(req: Request): number {
  const id = parseOrderId(req.params[0] ?? '');
  if (id === null) throw new ApiError(Code.NOT_FOUND, 'order not found');
  return id;
}

function pathAccountId(req: Request): number {
  const text = req.params[0] ?? '';
  if (!/^\d{1,12}$/.test(text)) throw new ApiError(Code.NOT_FOUND, 'account not found');
  return Number(text);
}

function optionalSymbol(req: Request): string | undefined {
  const s = req.query.get('symbol');
  return s === null || s === '' ? undefined : s;
}

/** the newest order among a reply's execution reports (a new order's id is the highest) */
function newestOrderId(events: DecodedEvent[]): number {
  let id = 0;
  for (const e of events) if (e.event === 'exec' && (e.orderId as number) > id) id = e.orderId as number;
  return id;
}

function rejectMessage(r: CommandReply): string {
  const rej = r.events.find((e) => e.event === 'reject');
  if (rej !== undefined && typeof rej.message === 'string') return rej.message;
  return codeName(r.code).toLowerCase().replace(/_/g, ' ');
}

/** Admin bodies for the engine's own validation: JSON numbers as numbers when integral, else as their decimal text. */
function toPlain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return /^-?\d+$/.test(v.text) ? Number(v.text) : v.text;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}

/** a report-database order row as the engine's order view (the REST order object is built from it) */
async function viewOfRow(r: OrderRow, dir: Directory): Promise<OrderView> {
  const sym = await dir.symbolAtIdx(r.symbolIdx);
  return {
    orderId: r.orderId,
    clOrdId: r.clOrdId,
    accountId: r.accountId,
    symbol: sym?.symbol ?? `#${r.symbolIdx}`,
    side: r.side,
    ordType: r.ordType,
    tif: r.tif,
    priceTicks: r.priceTicks,
    stopPriceTicks: r.stopPriceTicks,
    qtyLots: r.qtyLots,
    filledLots: r.cumQtyLots,
    leavesLots: r.leavesQtyLots,
    cumNotionalTickLots: r.cumNotionalTickLots,
    status: r.status,
    postOnly: r.postOnly === 1,
    stp: r.stp,
    expireTimeUs: r.expireTimeUs,
    createdAtUs: r.createdAtUs,
    updatedAtUs: r.updatedAtUs,
    seq: r.seq,
  } as OrderView;
}

type ClosedOrder = OrderRow & { fills: Fill[] };

const isFinalStatus = (s: number): boolean => s === OrdStatus.FILLED || s === OrdStatus.CANCELED || s === OrdStatus.EXPIRED || s === OrdStatus.REJECTED;

/** an order of the report database as GET /v1/order shows it, with its fills */
async function orderOfRow(row: ClosedOrder, dir: Directory): Promise<OrderObject | null> {
  const order = orderFromView(await viewOfRow(row, dir), dir);
  const sym = dir.symbolAt(row.symbolIdx);
  if (order === null || sym === undefined) return order;
  order.fills = row.fills.map((f) => ({ tradeId: f.tradeId, price: sym.tick.format(f.priceTicks), qty: sym.lot.format(f.qtyLots), liquidity: f.liquidity === 1 ? 'maker' : 'taker', ts: isoUs(f.tsUs) }));
  return order;
}

/** a fill as GET /v1/execution shows it */
async function fillObject(f: Fill, dir: Directory): Promise<Record<string, unknown>> {
  const sym = await dir.symbolAtIdx(f.symbolIdx);
  const feeAsset = f.feeAssetIdx >= 0 ? await dir.assetAtIdx(f.feeAssetIdx) : undefined;
  return {
    tradeId: f.tradeId,
    orderId: f.orderId,
    symbol: sym?.symbol ?? null,
    side: f.side === 1 ? 'buy' : 'sell',
    price: sym === undefined ? null : sym.tick.format(f.priceTicks),
    qty: sym === undefined ? null : sym.lot.format(f.qtyLots),
    liquidity: f.liquidity === 1 ? 'maker' : 'taker',
    fee: feeAsset === undefined ? '0' : feeAsset.unit.format(f.feeMinor),
    feeAsset: feeAsset?.asset ?? null,
    ts: isoUs(f.tsUs),
    seq: f.seq,
  };
}
