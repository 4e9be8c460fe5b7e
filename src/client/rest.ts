/**
 * A small typed client for the REST API (SPEC §3) on the platform's fetch. Business rejects and
 * other errors throw `RestError` with the HTTP status and the stable code; a 5xx means the outcome
 * is unknown (ask again by clOrdId).
 *
 *   const api = new RestClient({ baseUrl: 'http://127.0.0.1:8080', apiKey });
 *   const order = await api.newOrder({ symbol: 'AAPL', side: 'buy', type: 'limit', qty: '10', price: '189.50', clOrdId: 'c1' });
 */

export interface OrderRequest {
  symbol: string;
  side: 'buy' | 'sell';
  type: 'limit' | 'market' | 'stop' | 'stop_limit';
  qty: string;
  price?: string;
  stopPrice?: string;
  tif?: 'GTC' | 'DAY' | 'IOC' | 'FOK' | 'GTD';
  expireTime?: string | number;
  postOnly?: boolean;
  stp?: 'cancel_newest' | 'cancel_oldest' | 'cancel_both' | 'decrement';
  clOrdId?: string;
}

export interface Fill {
  tradeId: number;
  price: string;
  qty: string;
  liquidity: 'maker' | 'taker';
  ts: string;
}

export interface Order {
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
  seq: number;
  fills?: Fill[];
  [k: string]: unknown;
}

export interface Balance {
  asset: string;
  total: string;
  available: string;
  reserved: string;
}

export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

export class RestClient {
  constructor(private readonly opts: { baseUrl: string; apiKey?: string; adminToken?: string }) {}

  private async call<T>(method: string, path: string, body?: unknown, admin = false): Promise<{ body: T; headers: Headers; status: number }> {
    const headers: Record<string, string> = {};
    const token = admin ? this.opts.adminToken : this.opts.apiKey;
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.opts.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a non-JSON answer (metrics)
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new RestError(res.status, err?.code ?? 'HTTP_ERROR', err?.message ?? text, parsed);
    }
    return { body: parsed as T, headers: res.headers, status: res.status };
  }

  /** The order as placed (with the fills made on arrival); `replay` is true for an idempotent repeat. */
  async newOrder(o: OrderRequest): Promise<Order & { replay: boolean }> {
    const r = await this.call<Order>('POST', '/v1/order', o);
    return { ...r.body, replay: r.headers.get('idempotent-replay') === 'true' };
  }

  async cancel(orderId: number): Promise<Order> {
    return (await this.call<Order>('DELETE', `/v1/order/${orderId}`)).body;
  }

  async cancelByClOrdId(clOrdId: string): Promise<Order> {
    return (await this.call<Order>('DELETE', `/v1/order?clOrdId=${encodeURIComponent(clOrdId)}`)).body;
  }

  async replace(orderId: number, change: { qty?: string; price?: string; clOrdId?: string }): Promise<Order> {
    return (await this.call<Order>('PATCH', `/v1/order/${orderId}`, change)).body;
  }

  async massCancel(symbol?: string): Promise<{ canceled: number; orderIds: number[] }> {
    return (await this.call<{ canceled: number; orderIds: number[] }>('DELETE', `/v1/orders${symbol === undefined ? '' : `?symbol=${encodeURIComponent(symbol)}`}`)).body;
  }

  async order(orderId: number): Promise<Order> {
    return (await this.call<Order>('GET', `/v1/order/${orderId}`)).body;
  }

  async orderByClOrdId(clOrdId: string): Promise<Order> {
    return (await this.call<Order>('GET', `/v1/order?clOrdId=${encodeURIComponent(clOrdId)}`)).body;
  }

  async openOrders(q: { symbol?: string; limit?: number; cursor?: string } = {}): Promise<{ orders: Order[]; nextCursor: string | null }> {
    const params = new URLSearchParams({ status: 'open' });
    if (q.symbol !== undefined) params.set('symbol', q.symbol);
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    if (q.cursor !== undefined) params.set('cursor', q.cursor);
    return (await this.call<{ orders: Order[]; nextCursor: string | null }>('GET', `/v1/orders?${params}`)).body;
  }

  async account(): Promise<{ accountId: number; balances: Balance[]; limits: Record<string, unknown> }> {
    return (await this.call<{ accountId: number; balances: Balance[]; limits: Record<string, unknown> }>('GET', '/v1/account')).body;
  }

  async symbols(): Promise<{ assets: { asset: string; decimals: number }[]; symbols: Record<string, unknown>[] }> {
    return (await this.call<{ assets: { asset: string; decimals: number }[]; symbols: Record<string, unknown>[] }>('GET', '/v1/symbols')).body;
  }

  async ticker(symbol: string): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('GET', `/v1/marketdata/ticker?symbol=${encodeURIComponent(symbol)}`)).body;
  }

  async l2(symbol: string, depth?: number): Promise<{ seq: number; bids: [string, string, number][]; asks: [string, string, number][] }> {
    const d = depth === undefined ? '' : `&depth=${depth}`;
    return (await this.call<{ seq: number; bids: [string, string, number][]; asks: [string, string, number][] }>('GET', `/v1/marketdata/orderBook/L2?symbol=${encodeURIComponent(symbol)}${d}`)).body;
  }

  async l3(symbol: string): Promise<{ seq: number; bids: { orderId: number; px: string; qty: string }[]; asks: { orderId: number; px: string; qty: string }[] }> {
    return (await this.call<{ seq: number; bids: { orderId: number; px: string; qty: string }[]; asks: { orderId: number; px: string; qty: string }[] }>('GET', `/v1/marketdata/orderBook/L3?symbol=${encodeURIComponent(symbol)}`)).body;
  }

  // ------------------------------------------------------------ admin (needs adminToken)

  async createAccount(name: string): Promise<{ accountId: number; apiKey: string }> {
    return (await this.call<{ accountId: number; apiKey: string }>('POST', '/v1/admin/accounts', { name }, true)).body;
  }

  async deposit(accountId: number, asset: string, amount: string, transferId: string): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('POST', `/v1/admin/accounts/${accountId}/deposit`, { asset, amount, transferId }, true)).body;
  }

  async withdraw(accountId: number, asset: string, amount: string, transferId: string): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('POST', `/v1/admin/accounts/${accountId}/withdraw`, { asset, amount, transferId }, true)).body;
  }

  async setAccountEnabled(accountId: number, enabled: boolean): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('POST', `/v1/admin/accounts/${accountId}/${enabled ? 'enable' : 'disable'}`, {}, true)).body;
  }

  async status(): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('GET', '/v1/admin/status', undefined, true)).body;
  }
}
