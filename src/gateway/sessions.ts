/**
 * Binary WebSocket order entry (`/v1/ws`, MessagePack, FIX semantics; docs/protocol.md).
 *
 * A session logs on with an API key and then sends orders; what it receives is its account's
 * message stream: every execution report and cancel reject of the account, numbered by the
 * engine (msgSeq, gap-free per account, part of the journaled state), so a session resumes after
 * any disconnect or restart with `nextExpectedSeq` and gets exactly what it missed. Live messages
 * come from this thread's event-ring reader; anything older (or anything the reader has not seen)
 * is fetched from the session store (main thread) and sent in order before live ones: a session
 * never sees a gap or a duplicate in `seqNum`.
 *
 * Session-level messages (Logon, Heartbeat, TestRequest, Reject, BusinessMessageReject, Logout,
 * answers to OrderStatusRequest and OrderMassCancelRequest) carry no seqNum: they are not part of
 * the account's stream and are not replayed.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { Code, CODE_NAMES, FIX_ORD_STATUS } from '../domain/codes.js';
import type { Command } from '../engine/commands.js';
import { Ev, EVENT_FIELDS, type DecodedEvent } from '../engine/events.js';
import type { OrderView } from '../engine/engine.js';
import type { KeyCache } from './auth.js';
import { RateLimiter } from './auth.js';
import type { Directory } from './directory.js';
import type { CommandReply, Dispatcher, Failure } from './dispatcher.js';
import { EventFeed, MESSAGE_ACCOUNT, MESSAGE_SEQ, messageEvent } from './eventFeed.js';
import { MessageWriter } from './messageWriter.js';
import { accountMessage, dropUndefined, FIX_ORD_TYPE, FIX_SIDE, FIX_TIF, FixReject, type Message, MsgType, newOrderCommand, newOrderSingle, orderCancelReject, orderCancelReplaceRequest, orderCancelRequest } from './fix.js';

export const SESSION_LIMITS = {
  /** largest inbound frame; uWS closes the connection on a bigger one */
  maxFrameBytes: 16 * 1024,
  /** bytes queued for a client that does not read; past it the session is dropped (its messages stay replayable) */
  maxBufferedBytes: 4 * 1024 * 1024,
  heartBtIntSecondsDefault: 30,
  heartBtIntSecondsMin: 1,
  heartBtIntSecondsMax: 120,
  /** inbound messages per second per session (burst twice that) */
  messagesPerSecond: 5000,
  /** seconds to log on after connecting */
  logonTimeoutSeconds: 10,
  /** inbound messages of a session waiting for the ones before them (handled in order); past it they are refused */
  maxQueuedInbound: 1000,
};

/** What the session store (main thread) answers: the account's messages from `from` on. */
export interface StoredRange {
  /** msgSeq of the oldest message still kept for the account (later ones are all there) */
  firstAvailable: number;
  /** the account's last msgSeq the store has seen */
  last: number;
  /** from `from` on, in order; bounded: fewer than up to `last` means ask again after the last one */
  events: DecodedEvent[];
  /** the journal seq up to which the store has read the event ring: it holds every message of a command up to it */
  seenSeq?: number;
}

export interface SessionStoreLink {
  range(accountId: number, from: number): Promise<StoredRange>;
}

interface Conn {
  session?: Session;
}

const EXEC_AT = (name: string) => 3 + EVENT_FIELDS[Ev.EXEC]!.indexOf(name);
const EXEC_SYMBOL = EXEC_AT('symbolIdx');
const EXEC_ORDER = EXEC_AT('orderId');
const EXEC_STATUS = EXEC_AT('ordStatus');
const EXEC_CLORDID = EXEC_AT('clOrdIdStr');

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

class Session {
  accountId = 0;
  loggedOn = false;
  closed = false;
  heartBtMs = SESSION_LIMITS.heartBtIntSecondsDefault * 1000;
  cancelOnDisconnect = false;
  readonly openedMs = performance.now();
  lastRecvMs = performance.now();
  lastSentMs = performance.now();
  testRequestSentMs = 0;
  /** the next seqNum this session must get */
  next = 1;
  /** live messages that arrived ahead of `next` (while a fetch from the store fills the gap) */
  readonly ahead = new Map<number, Message>();
  fetching = false;
  /**
   * the journal seq this thread's feed had read when the session joined its account's stream:
   * messages up to it can only come from the store, so a fill goes on until the store has read that far
   */
  syncSeq = 0;
  /** inbound messages are handled one after the other (a cancel must not overtake its order) */
  inbox: Promise<void> = Promise.resolve();
  inboxDepth = 0;
  /** orders this session entered and that may still be open (cancel-on-disconnect) */
  readonly orders = new Set<number>();
  /** clOrdIds this session sent, until the order's id is known */
  readonly pendingClOrdIds = new Set<string>();
  /** this session's rate-limit bucket */
  limiterKey = '';
  /** asked when a command's answer comes: its events are needed only if the line dropped meanwhile */
  readonly lineDropped = (): boolean => this.closed;
  /** messages of the current feed poll, written in one cork after it */
  queued: Uint8Array[] = [];

  constructor(readonly ws: WebSocket<Conn>) {}
}

export class SessionGateway {
  private readonly byAccount = new Map<number, Set<Session>>();
  private readonly all = new Set<Session>();
  private readonly feed: EventFeed;
  private readonly limiter = new RateLimiter(SESSION_LIMITS.messagesPerSecond, 2 * SESSION_LIMITS.messagesPerSecond);
  private running = true;
  private readonly timer: NodeJS.Timeout;
  private sessionIds = 0;
  /** inside a feed poll: sends are queued per session and written after it */
  private batching = false;
  private dirty: Session[] = [];
  private readonly writer = new MessageWriter();

  constructor(
    app: TemplatedApp,
    eventsSab: SharedArrayBuffer,
    feedConsumer: number,
    private readonly dispatcher: Dispatcher,
    private readonly directory: Directory,
    private readonly keys: KeyCache,
    private readonly store: SessionStoreLink,
    private readonly log: (line: string) => void,
    /** told the number of open sessions once a second (metrics) */
    private readonly onCount?: (sessions: number) => void,
  ) {
    this.feed = new EventFeed(eventsSab, feedConsumer);
    app.ws<Conn>('/v1/ws', {
      maxPayloadLength: SESSION_LIMITS.maxFrameBytes,
      idleTimeout: 0, // our own heartbeats (FIX HeartBtInt) watch the line
      maxBackpressure: SESSION_LIMITS.maxBufferedBytes * 2,
      open: (ws) => {
        // an upgrade on a kept-alive connection after the stop began: nothing would ever close it
        if (!this.running) return ws.end(1001, 'the exchange is stopping');
        const s = new Session(ws);
        ws.getUserData().session = s;
        this.all.add(s);
        s.limiterKey = `s${++this.sessionIds}`;
      },
      message: (ws, data, isBinary) => {
        const s = ws.getUserData().session;
        if (s === undefined || s.closed) return;
        s.lastRecvMs = performance.now();
        s.testRequestSentMs = 0;
        if (!isBinary) return this.reject(s, 'text frames are not accepted: send MessagePack in binary frames');
        let m: unknown;
        try {
          m = unpackr.unpack(Buffer.from(data));
        } catch {
          return this.reject(s, 'not MessagePack');
        }
        // in order: a message waits for the ones before it to reach the exchange (not for their
        // answers). Most are handed over at once (orders for symbols this thread knows, cancels);
        // one that must wait (a lookup first) holds the ones behind it in the inbox
        if (s.inboxDepth === 0) {
          let waiting: Promise<void> | void;
          try {
            waiting = this.onMessage(s, m);
          } catch (e) {
            return this.messageFailed(e);
          }
          if (waiting !== undefined) this.queue(s, () => waiting);
          return;
        }
        if (s.inboxDepth >= SESSION_LIMITS.maxQueuedInbound) return this.reject(s, 'too many messages waiting for the ones before them: slow down');
        this.queue(s, () => this.onMessage(s, m));
      },
      close: (ws) => {
        const s = ws.getUserData().session;
        if (s !== undefined) this.closed(s);
      },
    });
    this.timer = setInterval(() => this.watch(), 1000);
    void this.pump();
  }

  get sessions(): number {
    return this.all.size;
  }

  // ---------------------------------------------------------------- inbound

  private queue(s: Session, next: () => Promise<void> | void): void {
    s.inboxDepth++;
    s.inbox = s.inbox
      .then(next)
      .catch((e: unknown) => this.messageFailed(e))
      .finally(() => s.inboxDepth--);
  }

  private messageFailed(e: unknown): void {
    this.log(`session: a message failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }

  /** Handles one inbound message; a promise when its handover to the exchange must wait for something. */
  private onMessage(s: Session, raw: unknown): Promise<void> | void {
    if (s.closed) return;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Uint8Array) return this.reject(s, 'a message is a MessagePack map');
    const m = raw as Message;
    if (typeof m.msgType !== 'string') return this.reject(s, 'msgType (a string) is required');
    if (!s.loggedOn) {
      if (m.msgType !== MsgType.LOGON) return this.logout(s, 'the first message must be a Logon (A)');
      return this.logon(s, m);
    }
    if (this.limiter.take(s.limiterKey) > 0) return this.businessReject(s, m, 'RATE_LIMITED', 'too many messages: slow down');
    try {
      switch (m.msgType) {
        case MsgType.HEARTBEAT:
          return;
        case MsgType.TEST_REQUEST:
          return this.send(s, { msgType: MsgType.HEARTBEAT, testReqId: typeof m.testReqId === 'string' ? m.testReqId : undefined, lastSeqNum: s.next - 1 });
        case MsgType.RESEND_REQUEST:
          return this.resendRequest(s, m).catch((e: unknown) => this.failed(s, m, e));
        case MsgType.LOGOUT:
          return this.logout(s, 'logout requested');
        case MsgType.LOGON:
          return this.reject(s, 'already logged on');
        // each call below hands its command or query to the exchange before its first await; the
        // answer is waited for off the inbound queue (a callback, or detach), so the session's next message goes on
        case MsgType.NEW_ORDER_SINGLE: {
          const sym = typeof m.symbol === 'string' ? this.directory.symbol(m.symbol) : undefined;
          if (sym === undefined) return this.newOrderAfterLookup(s, m).catch((e: unknown) => this.failed(s, m, e));
          return this.enter(s, m, newOrderCommand(m, s.accountId, sym));
        }
        case MsgType.ORDER_CANCEL_REQUEST:
          return this.submit(s, m, orderCancelRequest(m, s.accountId));
        case MsgType.ORDER_CANCEL_REPLACE_REQUEST:
          return this.replace(s, m).catch((e: unknown) => this.failed(s, m, e));
        case MsgType.ORDER_MASS_CANCEL_REQUEST:
          return this.detach(s, m, this.massCancel(s, m));
        case MsgType.ORDER_STATUS_REQUEST:
          return this.detach(s, m, this.orderStatus(s, m));
        default:
          return this.reject(s, `unknown msgType ${String(m.msgType).slice(0, 8)}`);
      }
    } catch (e) {
      return this.failed(s, m, e);
    }
  }

  /** a NewOrderSingle for a symbol this thread has not loaded: the reference data first */
  private async newOrderAfterLookup(s: Session, m: Message): Promise<void> {
    const cmd = await newOrderSingle(m, s.accountId, this.directory);
    if (!s.closed) this.enter(s, m, cmd);
  }

  private enter(s: Session, m: Message, cmd: Command): void {
    s.pendingClOrdIds.add((cmd as { clOrdId: string }).clOrdId);
    this.submit(s, m, cmd);
  }

  private async replace(s: Session, m: Message): Promise<void> {
    const view = await this.findOrder(s, m);
    if (view === null) return this.send(s, unsequencedCancelReject(m, '2', Code.NOT_FOUND));
    const sym = await this.directory.findSymbol(view.symbol);
    if (sym === undefined) throw new FixReject(Code.UNKNOWN_SYMBOL, 'unknown symbol');
    this.submit(s, m, orderCancelReplaceRequest({ ...m, orderId: view.orderId, origClOrdId: undefined }, s.accountId, sym));
  }

  private detach(s: Session, m: Message, p: Promise<void>): void {
    p.catch((e: unknown) => this.failed(s, m, e));
  }

  private failed(s: Session, m: Message, e: unknown): void {
    if (e instanceof FixReject) return this.businessReject(s, m, CODE_NAMES[e.code] ?? 'INVALID_REQUEST', e.message);
    this.log(`session: ${m.msgType} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return this.businessReject(s, m, 'INTERNAL', 'internal error: the outcome is unknown, ask OrderStatusRequest');
  }

  private async logon(s: Session, m: Message): Promise<void> {
    const key = typeof m.apiKey === 'string' ? m.apiKey : '';
    const hb = m.heartBtInt ?? SESSION_LIMITS.heartBtIntSecondsDefault;
    if (typeof hb !== 'number' || !Number.isInteger(hb) || hb < SESSION_LIMITS.heartBtIntSecondsMin || hb > SESSION_LIMITS.heartBtIntSecondsMax)
      return this.logout(s, `heartBtInt must be ${SESSION_LIMITS.heartBtIntSecondsMin}..${SESSION_LIMITS.heartBtIntSecondsMax} seconds`);
    const nextExpected = m.nextExpectedSeq;
    if (nextExpected !== undefined && !(typeof nextExpected === 'number' && Number.isSafeInteger(nextExpected) && nextExpected >= 1))
      return this.logout(s, 'nextExpectedSeq must be a positive integer');
    const accountId = await this.keys.account(key);
    if (s.closed) return;
    if (accountId === undefined) return this.logout(s, 'the exchange did not answer in time: retry');
    if (accountId === null) return this.logout(s, 'unknown API key');
    const stored = await this.store.range(accountId, Number.MAX_SAFE_INTEGER);
    if (s.closed) return;
    if (nextExpected !== undefined && nextExpected > stored.last + 1) return this.logout(s, `nextExpectedSeq ${nextExpected} is past the last message sent to this account (${stored.last})`);
    s.accountId = accountId;
    s.loggedOn = true;
    s.heartBtMs = hb * 1000;
    s.cancelOnDisconnect = m.cancelOnDisconnect === true;
    s.next = nextExpected ?? stored.last + 1;
    let set = this.byAccount.get(accountId);
    if (set === undefined) this.byAccount.set(accountId, (set = new Set()));
    set.add(s);
    // what this thread's feed read before now never reaches the session live: the store must have read as far
    s.syncSeq = this.feed.lastSeq;
    this.send(s, { msgType: MsgType.LOGON, accountId, heartBtInt: hb, nextSeqNum: stored.last + 1, cancelOnDisconnect: s.cancelOnDisconnect });
    if (s.next <= stored.last || (stored.seenSeq ?? s.syncSeq) < s.syncSeq) await this.fill(s);
  }

  /** hands `cmd` to the exchange; its outcome comes back to `submitted` */
  private submit(s: Session, m: Message, cmd: Command): void {
    // reports reach the session through the event feed, in seqNum order, and the feed tracks the
    // session's open orders; the reply's events are needed only for a line that dropped meanwhile
    this.dispatcher.commandThen(cmd, s.lineDropped, (r) => {
      try {
        this.submitted(s, m, r);
      } catch (e) {
        this.failed(s, m, e);
      }
    });
  }

  private submitted(s: Session, m: Message, r: CommandReply | Failure): void {
    if (r.kind === 'reply') {
      for (const e of r.events) this.track(s, e);
      // the line dropped while the order was on its way: cancel-on-disconnect covers it too
      if (s.closed) return this.cancelOnDisconnect(s);
      const rej = r.events.find((e) => e.event === 'reject');
      if (rej !== undefined && r.events.every((e) => e.event !== 'exec' && e.event !== 'cancelReject')) this.businessReject(s, m, CODE_NAMES[r.code] ?? 'INVALID_REQUEST', String(rej.message));
      return;
    }
    const why = r.kind === 'overloaded' ? 'OVERLOADED' : r.kind === 'timeout' ? 'TIMEOUT' : 'STOPPING';
    this.businessReject(s, m, why, r.kind === 'overloaded' ? 'the exchange is overloaded: resend later (same clOrdId)' : 'no answer in time: the outcome is unknown, ask OrderStatusRequest or resend with the same clOrdId');
  }

  /** remembers the orders this session entered (cancel-on-disconnect) while they are open */
  private track(s: Session, e: DecodedEvent): void {
    if (e.event === 'exec') this.trackOrder(s, e.orderId as number, e.clOrdId as string | null, e.ordStatus as number);
  }

  private trackRecord(s: Session, rec: Float64Array, o: number, clOrdId: string | null): void {
    this.trackOrder(s, rec[o + EXEC_ORDER]!, rec[o + EXEC_CLORDID]! >= 0 ? clOrdId : null, rec[o + EXEC_STATUS]!);
  }

  private trackOrder(s: Session, orderId: number, clOrdId: string | null, ordStatus: number): void {
    if (clOrdId !== null && s.pendingClOrdIds.size > 0 && s.pendingClOrdIds.delete(clOrdId) && orderId > 0) s.orders.add(orderId);
    // open statuses: new, partially filled, pending new
    if (ordStatus !== 1 && ordStatus !== 2 && ordStatus !== 7) s.orders.delete(orderId);
  }

  private async findOrder(s: Session, m: Message): Promise<OrderView | null> {
    const orderId = typeof m.orderId === 'number' ? m.orderId : undefined;
    const clOrdId = typeof m.origClOrdId === 'string' ? m.origClOrdId : typeof m.clOrdId === 'string' && m.msgType === MsgType.ORDER_STATUS_REQUEST ? m.clOrdId : undefined;
    if (orderId === undefined && clOrdId === undefined) throw new FixReject(Code.INVALID_REQUEST, 'give orderId or origClOrdId');
    const r = await this.dispatcher.query({ q: 'order', accountId: s.accountId, orderId, clOrdId: orderId === undefined ? clOrdId : undefined });
    if (r.kind !== 'answer') throw new FixReject(Code.INVALID_REQUEST, 'the exchange did not answer in time');
    return r.code === Code.OK ? (JSON.parse(r.json) as OrderView) : null;
  }

  private async orderStatus(s: Session, m: Message): Promise<void> {
    const v = await this.findOrder(s, m);
    if (v === null) return this.businessReject(s, m, 'NOT_FOUND', 'unknown order');
    const sym = await this.directory.findSymbol(v.symbol);
    if (sym === undefined) return this.businessReject(s, m, 'NOT_FOUND', 'unknown order');
    this.send(s, dropUndefined({
      msgType: MsgType.EXECUTION_REPORT,
      execType: 'I',
      execId: `status.${v.seq}.${v.orderId}`,
      orderId: v.orderId,
      clOrdId: v.clOrdId ?? undefined,
      symbol: v.symbol,
      side: FIX_SIDE[v.side],
      ordType: FIX_ORD_TYPE[v.ordType],
      timeInForce: FIX_TIF[v.tif],
      ordStatus: FIX_ORD_STATUS[v.status],
      orderQty: sym.lot.format(v.qtyLots),
      price: v.priceTicks > 0 ? sym.tick.format(v.priceTicks) : undefined,
      cumQty: sym.lot.format(v.filledLots),
      leavesQty: sym.lot.format(v.leavesLots),
      avgPx: v.filledLots > 0 ? sym.tick.ratio(v.cumNotionalTickLots, v.filledLots, 4) : '0',
      seq: v.seq,
    }));
  }

  private async massCancel(s: Session, m: Message): Promise<void> {
    const symbol = m.symbol === undefined ? undefined : typeof m.symbol === 'string' ? m.symbol : null;
    if (symbol === null) throw new FixReject(Code.INVALID_REQUEST, 'symbol must be a string');
    const r = await this.dispatcher.command({ type: 'massCancel', seq: 0, tsUs: 0, accountId: s.accountId, symbol });
    if (r.kind !== 'reply') return this.businessReject(s, m, 'OVERLOADED', 'the exchange did not take the request: resend');
    const canceled = r.events.filter((e) => e.event === 'exec' && e.execType === 3).length;
    this.send(s, {
      msgType: MsgType.ORDER_MASS_CANCEL_REPORT,
      clOrdId: typeof m.clOrdId === 'string' ? m.clOrdId : undefined,
      massCancelRequestType: symbol === undefined ? '7' : '1',
      massCancelResponse: r.code === Code.OK ? (symbol === undefined ? '7' : '1') : '0',
      totalAffectedOrders: canceled,
      rejectCode: r.code === Code.OK ? undefined : CODE_NAMES[r.code],
    });
  }

  private async resendRequest(s: Session, m: Message): Promise<void> {
    const begin = m.beginSeqNo;
    const end = m.endSeqNo ?? 0;
    if (typeof begin !== 'number' || !Number.isSafeInteger(begin) || begin < 1 || typeof end !== 'number' || !Number.isSafeInteger(end) || end < 0)
      return this.reject(s, 'ResendRequest needs beginSeqNo >= 1 and endSeqNo >= 0 (0 = to the last)');
    // the store answers in bounded parts: ask again after the last message of each
    for (let from = begin; ; ) {
      const got = await this.store.range(s.accountId, from);
      await this.loadSymbols(got.events);
      if (s.closed) return;
      const last = Math.min(end === 0 ? s.next - 1 : end, s.next - 1);
      if (from === begin && begin < got.firstAvailable) this.send(s, { msgType: MsgType.SEQUENCE_RESET, gapFill: true, seqNum: begin, newSeqNo: Math.min(got.firstAvailable, last + 1) });
      let upTo = 0;
      for (const e of got.events) {
        const msg = accountMessage(e, this.directory);
        upTo = e.msgSeq as number;
        if (msg !== null && (msg.seqNum as number) <= last) this.send(s, { ...msg, possDup: true });
      }
      if (got.events.length === 0 || upTo >= last || upTo < from) return;
      from = upTo + 1;
    }
  }

  // ---------------------------------------------------------------- outbound: the account stream

  private async pump(): Promise<void> {
    const onMessage = (rec: Float64Array, at: number, _len: number, clOrdId: string | null) => this.onAccountRecord(rec, at, clOrdId);
    const onLapped = () => {
      // this reader lost events: every session fetches what it is missing from the store
      this.log('session feed fell a whole event ring behind: sessions resync from the store');
      for (const s of this.all) if (s.loggedOn) void this.fill(s);
    };
    const wants = (accountId: number) => this.byAccount.has(accountId);
    while (this.running) {
      this.batching = true;
      this.writer.reset(); // what the last poll wrote went out in its flush
      let frames: number;
      try {
        frames = this.feed.poll(onMessage, onLapped, 256, wants);
      } finally {
        this.batching = false;
        this.flushBatched();
      }
      // yield to the event loop between polls so socket reads and answers are not starved
      if (frames > 0) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      await this.feed.waitAsync(100);
    }
  }

  /**
   * The hot path: an account message record from the feed. A session that expects exactly this
   * seqNum gets it written straight from the record (messageWriter.ts), once for all the
   * account's sessions; anything else (a symbol not loaded yet, a session filling a gap, a
   * message ahead) goes the object path below.
   */
  private onAccountRecord(rec: Float64Array, o: number, clOrdId: string | null): void {
    const type = rec[o]!;
    const sessions = this.byAccount.get(rec[o + MESSAGE_ACCOUNT[type]!]!);
    if (sessions === undefined) return;
    const isExec = type === Ev.EXEC;
    const sym = isExec ? this.directory.symbolAt(rec[o + EXEC_SYMBOL]!) : undefined;
    if (isExec && rec[o + EXEC_SYMBOL]! >= 0 && sym === undefined) return this.onAccountEvent(messageEvent(rec, clOrdId, o));
    const msgSeq = rec[o + MESSAGE_SEQ[type]!]!;
    let bytes: Buffer | null = null;
    for (const s of sessions) {
      if (isExec) this.trackRecord(s, rec, o, clOrdId);
      if (msgSeq !== s.next || s.fetching || s.closed) {
        this.deliver(s, accountMessage(messageEvent(rec, clOrdId, o), this.directory)!);
        continue;
      }
      if (bytes === null) {
        const w = this.writer;
        const start = isExec ? w.executionReport(rec, o, clOrdId, sym, Date.now()) : w.orderCancelReject(rec, o, clOrdId, Date.now());
        bytes = w.buf.subarray(start, w.pos);
      }
      this.sendBytes(s, bytes);
      s.next = msgSeq + 1;
      if (s.ahead.size > 0) this.flushAhead(s);
    }
  }

  private onAccountEvent(e: DecodedEvent, refreshed = false): void {
    const sessions = this.byAccount.get(e.accountId as number);
    if (sessions === undefined) return;
    const idx = e.symbolIdx as number;
    if (!refreshed && e.event === 'exec' && idx >= 0 && this.directory.symbolAt(idx) === undefined) {
      // a symbol this thread has not loaded (added since, or nothing asked for it since a restart):
      // the report goes out once the reference data is here; later ones wait behind it (ahead)
      void this.directory.symbolAtIdx(idx).then(
        () => this.onAccountEvent(e, true),
        () => this.onAccountEvent(e, true),
      );
      return;
    }
    let msg: Message | null = null;
    for (const s of sessions) {
      msg ??= accountMessage(e, this.directory);
      if (msg === null) return;
      if (e.event === 'exec') this.track(s, e);
      this.deliver(s, msg);
    }
  }

  /** sends `msg` if it is the next one, holds it if it is ahead (and fetches the gap), drops a duplicate */
  private deliver(s: Session, msg: Message): void {
    const n = msg.seqNum as number;
    if (n < s.next || s.closed) return;
    if (n > s.next || s.fetching) {
      s.ahead.set(n, msg);
      if (!s.fetching) void this.fill(s);
      return;
    }
    this.send(s, msg);
    s.next = n + 1;
    this.flushAhead(s);
  }

  private flushAhead(s: Session): void {
    for (let m = s.ahead.get(s.next); m !== undefined; m = s.ahead.get(s.next)) {
      s.ahead.delete(s.next);
      this.send(s, m);
      s.next++;
    }
    for (const k of s.ahead.keys()) if (k < s.next) s.ahead.delete(k);
  }

  /** Fetches the account's messages from `s.next` from the store until the session has no gap. */
  private async fill(s: Session): Promise<void> {
    if (s.fetching) return;
    s.fetching = true;
    try {
      for (let attempt = 0; attempt < 200 && !s.closed; attempt++) {
        const from = s.next;
        const got = await this.store.range(s.accountId, s.next);
        await this.loadSymbols(got.events);
        if (s.closed) return;
        if (s.next < got.firstAvailable) {
          // older than anything kept: say so (FIX GapFill) and go on from the oldest kept
          this.send(s, { msgType: MsgType.SEQUENCE_RESET, gapFill: true, seqNum: s.next, newSeqNo: got.firstAvailable, text: 'messages before newSeqNo are no longer kept' });
          s.next = got.firstAvailable;
        }
        for (const e of got.events) {
          const msg = accountMessage(e, this.directory);
          if (msg === null || (msg.seqNum as number) !== s.next) continue;
          this.send(s, { ...msg, possDup: true });
          s.next++;
        }
        this.flushAhead(s);
        // a bounded answer that made progress: the store keeps more, ask again at once
        if (s.next > from && s.next <= got.last && got.events.length > 0) {
          attempt--;
          continue;
        }
        // done when nothing is held ahead and the store has read what the feed had read at logon
        if (s.ahead.size === 0 && (got.seenSeq ?? s.syncSeq) >= s.syncSeq) return;
        await new Promise((r) => setTimeout(r, 5));
      }
      if (!s.closed) this.logout(s, 'could not fill a gap in the message stream: log on again with nextExpectedSeq');
    } catch (e) {
      this.log(`session of account ${s.accountId}: filling from the store failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!s.closed) this.logout(s, 'could not fill a gap in the message stream: log on again with nextExpectedSeq');
    } finally {
      s.fetching = false;
    }
  }

  /** fetches the reference data of symbols this thread does not know yet (a report needs their tick and lot) */
  private async loadSymbols(events: DecodedEvent[]): Promise<void> {
    for (const e of events) {
      const idx = e.symbolIdx as number;
      if (e.event === 'exec' && idx >= 0 && this.directory.symbolAt(idx) === undefined) await this.directory.symbolAtIdx(idx);
    }
  }

  // ---------------------------------------------------------------- session upkeep

  private send(s: Session, m: Message): void {
    if (s.closed) return;
    // execution reports are built without undefined fields (fix.ts); others may carry some
    if (m.msgType !== MsgType.EXECUTION_REPORT) for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
    this.sendBytes(s, packr.pack(m));
  }

  /** `bytes` may be a view of the message writer's buffer: it is sent (copied by uWS) before the next poll */
  private sendBytes(s: Session, bytes: Uint8Array): void {
    if (s.closed) return;
    if (this.batching) {
      // inside a feed poll: written after it, all of a session's reports in one cork (one syscall)
      s.queued.push(bytes);
      if (s.queued.length === 1) this.dirty.push(s);
      return;
    }
    s.ws.cork(() => s.ws.send(bytes, true));
    this.afterSend(s);
  }

  private flushBatched(): void {
    if (this.dirty.length === 0) return;
    const dirty = this.dirty;
    this.dirty = [];
    for (const s of dirty) {
      const q = s.queued;
      s.queued = [];
      if (s.closed) continue;
      s.ws.cork(() => {
        for (const b of q) s.ws.send(b, true);
      });
      this.afterSend(s);
    }
  }

  private afterSend(s: Session): void {
    s.lastSentMs = performance.now();
    if (s.ws.getBufferedAmount() > SESSION_LIMITS.maxBufferedBytes) {
      // a client that does not read: drop it rather than grow memory; its messages stay replayable
      this.log(`session of account ${s.accountId}: ${s.ws.getBufferedAmount()} bytes unread, disconnected (slow consumer)`);
      this.close(s, 4008, 'slow consumer: reconnect with nextExpectedSeq');
    }
  }

  private reject(s: Session, text: string): void {
    this.send(s, { msgType: MsgType.REJECT, text });
  }

  private businessReject(s: Session, m: Message, code: string, text: string): void {
    this.send(s, {
      msgType: MsgType.BUSINESS_MESSAGE_REJECT,
      refMsgType: typeof m.msgType === 'string' ? m.msgType.slice(0, 8) : undefined,
      refClOrdId: typeof m.clOrdId === 'string' ? m.clOrdId.slice(0, 36) : undefined,
      businessRejectReason: code === 'NOT_FOUND' ? 1 : code === 'UNKNOWN_SYMBOL' ? 2 : code === 'RATE_LIMITED' || code === 'OVERLOADED' ? 4 : 0,
      rejectCode: code,
      text,
    });
  }

  private logout(s: Session, text: string): void {
    this.send(s, { msgType: MsgType.LOGOUT, text });
    this.close(s, 1000, text.slice(0, 100));
  }

  private close(s: Session, code: number, reason: string): void {
    if (s.closed) return;
    s.ws.end(code, reason);
    // uWS calls `close` (→ closed(s)) synchronously from end()
  }

  /** The connection is gone: forget the session; cancel its orders if it asked for that. */
  private closed(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    this.all.delete(s);
    const set = this.byAccount.get(s.accountId);
    set?.delete(s);
    if (set !== undefined && set.size === 0) this.byAccount.delete(s.accountId);
    this.cancelOnDisconnect(s);
  }

  /** cancels the open orders of a closed session that asked for it (once each: an order acknowledged later comes alone) */
  private cancelOnDisconnect(s: Session): void {
    if (!s.loggedOn || !s.cancelOnDisconnect || s.orders.size === 0) return;
    const ids = [...s.orders];
    s.orders.clear();
    void (async () => {
      for (const orderId of ids) await this.dispatcher.command({ type: 'cancelOrder', seq: 0, tsUs: 0, accountId: s.accountId, orderId });
    })();
  }

  /** Once a second: heartbeats, test requests, dead lines, logons that never came. */
  private watch(): void {
    const now = performance.now();
    this.onCount?.(this.all.size);
    for (const s of this.all) {
      if (!s.loggedOn) {
        if (now - s.openedMs > SESSION_LIMITS.logonTimeoutSeconds * 1000) this.logout(s, 'no Logon in time');
        continue;
      }
      if (now - s.lastSentMs >= s.heartBtMs) this.send(s, { msgType: MsgType.HEARTBEAT, lastSeqNum: s.next - 1 });
      const silentMs = now - s.lastRecvMs;
      if (s.testRequestSentMs > 0 && now - s.testRequestSentMs >= s.heartBtMs) this.logout(s, 'no answer to TestRequest: line considered dead');
      else if (s.testRequestSentMs === 0 && silentMs >= s.heartBtMs * 1.5) {
        s.testRequestSentMs = now;
        this.send(s, { msgType: MsgType.TEST_REQUEST, testReqId: `t${Math.floor(now)}` });
      }
    }
  }

  /** Closes every session (the gateway stops); cancel-on-disconnect runs for those that asked. */
  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    for (const s of [...this.all]) this.logout(s, 'the exchange is stopping');
  }
}

function unsequencedCancelReject(m: Message, responseTo: '1' | '2', code: Code): Message {
  const orderId = typeof m.orderId === 'number' && Number.isSafeInteger(m.orderId) && m.orderId > 0 ? m.orderId : 0;
  const e = { seq: 0, tsUs: Date.now() * 1000, rejectCode: code, responseTo: Number(responseTo), ordStatus: 0, orderId, clOrdId: typeof m.clOrdId === 'string' ? m.clOrdId : null } as unknown as DecodedEvent;
  const msg = orderCancelReject(e);
  delete msg.seqNum;
  return msg;
}
