/**
 * The seqex SDK for the binary session (docs/protocol.md): logon, heartbeats, reconnect with
 * resume, promise helpers for new / cancel / replace / mass cancel / status, and the account's
 * message stream (execution reports and cancel rejects, in seqNum order, never a gap or a
 * duplicate: the client checks).
 *
 *   const s = await SessionClient.connect({ url: 'ws://127.0.0.1:8080/v1/ws', apiKey });
 *   s.onMessage((m) => console.log(m.seqNum, m.execType, m.ordStatus));
 *   const ack = await s.newOrder({ clOrdId: 'c1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '10', price: '189.50' });
 *
 * Keep `lastSeqNum` somewhere durable and pass `nextExpectedSeq: lastSeqNum + 1` when you start
 * again: the exchange replays everything you missed, also across its own restarts.
 */
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';

export type FixMessage = Record<string, unknown> & { msgType: string; seqNum?: number };

export interface SessionOptions {
  /** ws://host:port/v1/ws */
  url: string;
  apiKey: string;
  /** seconds (1..120); the client sends heartbeats at this interval */
  heartBtInt?: number;
  /** resume: the first seqNum wanted (omit: only messages from now on) */
  nextExpectedSeq?: number;
  cancelOnDisconnect?: boolean;
  /** reconnect (with resume) when the connection drops; default true */
  reconnect?: boolean;
  /** ms to wait for an answer to a request; default 10,000 */
  requestTimeoutMs?: number;
}

export interface NewOrder {
  clOrdId: string;
  symbol: string;
  /** '1' buy, '2' sell */
  side: '1' | '2';
  /** '1' market, '2' limit, '3' stop, '4' stop limit */
  ordType: '1' | '2' | '3' | '4';
  orderQty: string;
  price?: string;
  stopPx?: string;
  /** '0' day, '1' GTC, '3' IOC, '4' FOK, '6' GTD */
  timeInForce?: '0' | '1' | '3' | '4' | '6';
  expireTime?: number;
  postOnly?: boolean;
  stp?: 'cancel_newest' | 'cancel_oldest' | 'cancel_both' | 'decrement';
}

export class SessionError extends Error {
  constructor(
    message: string,
    /** the reject message (BusinessMessageReject, Reject, Logout) when there is one */
    readonly reply?: FixMessage,
  ) {
    super(message);
  }
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface Waiter {
  match: (m: FixMessage) => boolean;
  resolve: (m: FixMessage) => void;
  reject: (e: Error) => void;
  /** what to send again after a reconnect (idempotent by clOrdId) */
  resend?: FixMessage;
  timer: NodeJS.Timeout;
}

export class SessionClient {
  /** the highest seqNum received (all before it were received too) */
  lastSeqNum = 0;
  accountId = 0;
  private ws: WebSocket | null = null;
  private readonly listeners: ((m: FixMessage) => void)[] = [];
  /** sequenced messages received before any listener was attached */
  private readonly early: FixMessage[] = [];
  private readonly sessionListeners: ((m: FixMessage) => void)[] = [];
  private readonly waiters = new Set<Waiter>();
  /** sequenced messages that came ahead of a gap (held until the gap is filled) */
  private readonly ahead = new Map<number, FixMessage>();
  private heartbeat: NodeJS.Timeout | null = null;
  private closing = false;
  private reconnecting: Promise<void> | null = null;
  /** messages seen by type (tests and tools) */
  readonly counts = new Map<string, number>();

  private constructor(private readonly opts: SessionOptions) {
    if (opts.nextExpectedSeq !== undefined) this.lastSeqNum = opts.nextExpectedSeq - 1;
  }

  static async connect(opts: SessionOptions): Promise<SessionClient> {
    const c = new SessionClient(opts);
    await c.open(opts.nextExpectedSeq);
    return c;
  }

  /**
   * every sequenced message (ExecutionReport 8, OrderCancelReject 9), in seqNum order; those that
   * arrived before the first listener (a resume's replay comes right behind the Logon answer) are
   * handed to it first
   */
  onMessage(fn: (m: FixMessage) => void): void {
    this.listeners.push(fn);
    const early = this.early.splice(0);
    for (const m of early) fn(m);
  }

  /** every unsequenced message (Logon, Heartbeat, rejects, status answers, Logout) */
  onSessionMessage(fn: (m: FixMessage) => void): void {
    this.sessionListeners.push(fn);
  }

  private open(nextExpectedSeq: number | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.opts.url);
      ws.binaryType = 'nodebuffer';
      this.ws = ws;
      let loggedOn = false;
      ws.on('open', () => {
        this.sendRaw({ msgType: 'A', apiKey: this.opts.apiKey, heartBtInt: this.opts.heartBtInt ?? 30, nextExpectedSeq, cancelOnDisconnect: this.opts.cancelOnDisconnect ?? false });
      });
      ws.on('message', (data: Buffer) => {
        let m: FixMessage;
        try {
          m = unpackr.unpack(data) as FixMessage;
        } catch {
          return;
        }
        if (!loggedOn) {
          if (m.msgType === 'A') {
            loggedOn = true;
            this.accountId = m.accountId as number;
            // no resume asked: the stream starts at the exchange's next number
            if (nextExpectedSeq === undefined) this.lastSeqNum = (m.nextSeqNum as number) - 1;
            this.startHeartbeats();
            resolve();
          } else if (m.msgType === '5') reject(new SessionError(`logon refused: ${String(m.text)}`, m));
          else this.dispatch(m);
          return;
        }
        this.dispatch(m);
      });
      ws.on('error', (e) => {
        if (!loggedOn) reject(e);
      });
      ws.on('close', () => {
        if (this.heartbeat !== null) clearInterval(this.heartbeat);
        this.heartbeat = null;
        if (!loggedOn) reject(new SessionError('connection closed before logon'));
        else if (!this.closing && (this.opts.reconnect ?? true)) void this.reconnect();
        else if (!this.closing) this.failAll(new SessionError('connection lost'));
      });
    });
  }

  /** Reconnects with nextExpectedSeq = lastSeqNum + 1 and sends again what had no answer. */
  reconnect(): Promise<void> {
    this.reconnecting ??= (async () => {
      for (let attempt = 0; !this.closing; attempt++) {
        try {
          await this.open(this.lastSeqNum + 1);
          for (const w of this.waiters) if (w.resend !== undefined) this.sendRaw(w.resend);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.reconnecting = null;
    });
    return this.reconnecting;
  }

  /** Drops the connection without logging out (tests: a network failure). */
  dropConnection(): void {
    this.ws?.terminate();
  }

  private startHeartbeats(): void {
    const ms = (this.opts.heartBtInt ?? 30) * 1000;
    this.heartbeat = setInterval(() => this.sendRaw({ msgType: '0' }), ms);
    this.heartbeat.unref();
  }

  private dispatch(m: FixMessage): void {
    this.counts.set(m.msgType, (this.counts.get(m.msgType) ?? 0) + 1);
    if (m.msgType === '1') this.sendRaw({ msgType: '0', testReqId: m.testReqId });
    if (typeof m.seqNum === 'number' && (m.msgType === '8' || m.msgType === '9')) {
      if (m.seqNum <= this.lastSeqNum) return; // a duplicate (possDup after a resend we already had)
      if (m.seqNum !== this.lastSeqNum + 1) {
        // never expected (the exchange sends in order): hold it and ask for the gap
        if (this.ahead.size === 0) this.sendRaw({ msgType: '2', beginSeqNo: this.lastSeqNum + 1, endSeqNo: m.seqNum - 1 });
        this.ahead.set(m.seqNum, m);
        return;
      }
      this.accept(m);
      this.acceptHeld();
      return;
    }
    if (m.msgType === '4' && m.gapFill === true && typeof m.newSeqNo === 'number') {
      // messages before newSeqNo are no longer kept by the exchange
      this.lastSeqNum = Math.max(this.lastSeqNum, m.newSeqNo - 1);
      for (const k of this.ahead.keys()) if (k <= this.lastSeqNum) this.ahead.delete(k);
      this.acceptHeld();
    }
    for (const l of this.sessionListeners) l(m);
    this.settleWaiters(m);
  }

  private acceptHeld(): void {
    for (let next = this.ahead.get(this.lastSeqNum + 1); next !== undefined; next = this.ahead.get(this.lastSeqNum + 1)) {
      this.ahead.delete(next.seqNum!);
      this.accept(next);
    }
  }

  private settleWaiters(m: FixMessage): void {
    for (const w of [...this.waiters])
      if (w.match(m)) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        if (m.msgType === 'j' || m.msgType === '3') w.reject(new SessionError(`rejected: ${String(m.rejectCode ?? '')} ${String(m.text ?? '')}`.trim(), m));
        else w.resolve(m);
      }
  }

  private accept(m: FixMessage): void {
    this.lastSeqNum = m.seqNum!;
    if (this.listeners.length === 0) this.early.push(m);
    for (const l of this.listeners) l(m);
    this.settleWaiters(m);
  }

  private sendRaw(m: Record<string, unknown>): void {
    for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(packr.pack(m));
  }

  /** Sends `m` and waits for the first message `match` accepts (or a reject naming its clOrdId). */
  request(m: FixMessage, match: (r: FixMessage) => boolean, resendable: boolean): Promise<FixMessage> {
    return new Promise((resolve, reject) => {
      const clOrdId = m.clOrdId;
      const w: Waiter = {
        match: (r) => match(r) || (r.msgType === 'j' && clOrdId !== undefined && r.refClOrdId === clOrdId),
        resolve,
        reject,
        resend: resendable ? m : undefined,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          reject(new SessionError(`no answer to ${m.msgType} ${String(clOrdId ?? '')} in time`));
        }, this.opts.requestTimeoutMs ?? 10_000),
      };
      this.waiters.add(w);
      this.sendRaw(m);
    });
  }

  /** NewOrderSingle; resolves with its first execution report (New, Trade, Rejected, or the status of an order already entered with this clOrdId). */
  newOrder(o: NewOrder): Promise<FixMessage> {
    return this.request({ msgType: 'D', ...o }, (r) => r.msgType === '8' && r.clOrdId === o.clOrdId && r.seqNum !== undefined, true);
  }

  /** OrderCancelRequest by orderId or origClOrdId; resolves with the Canceled report or the OrderCancelReject. */
  cancel(c: { orderId?: number; origClOrdId?: string; clOrdId?: string }): Promise<FixMessage> {
    const mine = (r: FixMessage) => (c.orderId !== undefined ? r.orderId === c.orderId : r.clOrdId === c.origClOrdId);
    return this.request({ msgType: 'F', ...c }, (r) => (r.msgType === '8' && r.execType === '4' && mine(r)) || (r.msgType === '9' && r.cxlRejResponseTo === '1' && (mine(r) || r.clOrdId === c.origClOrdId)), true);
  }

  /** OrderCancelReplaceRequest; resolves with the Replaced report or the OrderCancelReject. */
  async replace(c: { orderId?: number; origClOrdId?: string; clOrdId?: string; orderQty?: string; price?: string }): Promise<FixMessage> {
    if (c.orderId === undefined && c.origClOrdId !== undefined && c.clOrdId === undefined) {
      // an OrderCancelReject carries the order's id and the request's clOrdId (none here): know the id to recognise it
      const st = await this.status({ origClOrdId: c.origClOrdId });
      c = { ...c, orderId: st.orderId as number, origClOrdId: undefined };
    }
    const mine = (r: FixMessage) => (c.orderId !== undefined ? r.orderId === c.orderId : r.clOrdId === c.origClOrdId || (c.clOrdId !== undefined && r.clOrdId === c.clOrdId));
    return this.request({ msgType: 'G', ...c }, (r) => (r.msgType === '8' && r.execType === '5' && mine(r)) || (r.msgType === '9' && r.cxlRejResponseTo === '2' && mine(r)), true);
  }

  /** OrderMassCancelRequest; resolves with the OrderMassCancelReport (r). */
  massCancel(c: { clOrdId: string; symbol?: string }): Promise<FixMessage> {
    return this.request({ msgType: 'q', ...c }, (r) => r.msgType === 'r' && r.clOrdId === c.clOrdId, false);
  }

  /** OrderStatusRequest; resolves with an unsequenced ExecutionReport (execType I). */
  status(c: { orderId?: number; origClOrdId?: string }): Promise<FixMessage> {
    return this.request({ msgType: 'H', ...c }, (r) => r.msgType === '8' && r.execType === 'I' && (c.orderId !== undefined ? r.orderId === c.orderId : r.clOrdId === c.origClOrdId), false);
  }

  /** Logs out and closes (no reconnect). */
  async close(): Promise<void> {
    this.closing = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    const ws = this.ws;
    this.failAll(new SessionError('session closed'));
    if (ws === null || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      if (ws.readyState === WebSocket.OPEN) this.sendRaw({ msgType: '5' });
      setTimeout(() => ws.terminate(), 2000).unref();
    });
  }

  private failAll(e: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
  }
}
