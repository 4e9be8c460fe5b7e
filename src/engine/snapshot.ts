/**
 * The engine's whole state as canonical bytes (snapshot / restore), its hash, and the invariant
 * checker. Canonical = independent of slot numbering and of how the state was reached: orders by
 * orderId, books as orderIds in priority order, maps sorted. Format: "SEQXSNAP" + version line +
 * JSON. (A binary column format is the planned upgrade for 10M-order snapshots: docs/engine.md.)
 */
import { createHash } from 'node:crypto';
import { OrdStatus, Side } from '../domain/codes.js';
import { Engine, type EngineOptions, type RestoredOrder } from './engine.js';
import { NIL } from './orderStore.js';
import type { PairTable } from './pairTable.js';
import { parseSymbolConfig } from './symbols.js';

const MAGIC = 'SEQXSNAP 1\n';

interface CanonicalState {
  clock: { lastSeq: number; nowUs: number; nextTimerUs: number } | null;
  counters: { nextOrderId: number; nextTradeId: number; currentDay: number };
  assets: [string, number, number][];
  symbols: {
    config: unknown;
    state: number;
    lastPxTicks: number;
    sessionDay: number;
    nextBoundaryUs: number;
    bids: number[];
    asks: number[];
    buyStops: number[];
    sellStops: number[];
  }[];
  accounts: [number, string, string, boolean, number, number[][]][];
  /** [accountId, assetIdx, total, reserved], sorted */
  wallets: number[][];
  /** [accountId, symbolIdx, day, filled, working], sorted */
  dailies: number[][];
  orders: (number | string | null | number[])[][];
  retained: number[];
  aliases: [string, number][];
  transfers: [string, number, number, number, number][];
}

function isLive(status: number): boolean {
  return status === OrdStatus.NEW || status === OrdStatus.PARTIALLY_FILLED || status === OrdStatus.PENDING_TRIGGER;
}

function canonical(e: Engine, withClock: boolean): CanonicalState {
  const s = e.store;
  const slots: number[] = [];
  for (let slot = 0; slot < s.highWater(); slot++) if (s.orderId(slot) > 0) slots.push(slot);
  slots.sort((x, y) => s.orderId(x) - s.orderId(y));
  const bookIds = (side: Engine['symbols'][number]['bids']) => {
    const ids: number[] = [];
    for (let k = 0; k < side.n; k++) for (let o = e.levels.head[side.levelAt(k)]!; o !== NIL; o = s.next(o)) ids.push(s.orderId(o));
    return ids;
  };
  return {
    clock: withClock ? { lastSeq: e.lastSeq, nowUs: e.nowUs, nextTimerUs: e.timerDueUs() } : null,
    counters: { nextOrderId: e.nextOrderId, nextTradeId: e.nextTradeId, currentDay: e.currentDay },
    assets: e.assets.map((a) => [a.name, a.decimals, a.supplyMinor]),
    symbols: e.symbols.map((sym) => ({
      config: sym.config,
      state: sym.state,
      lastPxTicks: sym.lastPxTicks,
      sessionDay: sym.sessionDay,
      nextBoundaryUs: sym.nextBoundaryUs,
      bids: bookIds(sym.bids),
      asks: bookIds(sym.asks),
      buyStops: sym.buyStops.map((o) => s.orderId(o)),
      sellStops: sym.sellStops.map((o) => s.orderId(o)),
    })),
    accounts: e.accounts.map((a) => [
      a.id,
      a.name,
      a.apiKeyHash,
      a.enabled,
      a.maxOpenOrders,
      a.dailyLimits === null ? [] : [...a.dailyLimits.entries()].sort((x, y) => x[0] - y[0]),
    ]),
    wallets: tableRows(e.wallets),
    dailies: tableRows(e.dailies),
    orders: slots.map((slot) => [
      s.orderId(slot),
      s.clOrdIdOf(slot) ?? null,
      s.accountIdx(slot),
      s.symbolIdx(slot),
      s.side(slot),
      s.ordType(slot),
      s.tif(slot),
      s.status(slot),
      s.postOnly(slot),
      s.stp(slot),
      s.priceTicks(slot),
      s.stopPriceTicks.get(slot) ?? 0,
      s.qtyLots(slot),
      s.filledLots(slot),
      s.cumNotional(slot),
      s.expireTimeUs.get(slot) ?? 0,
      s.createdAtUs(slot),
      s.updatedAtUs(slot),
      s.seq(slot),
      s.original.get(slot) ?? null,
    ]),
    retained: e.retained.toArray(),
    aliases: [...e.clOrd.aliases.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)),
    transfers: [...e.transfers.entries()].map(([id, t]) => [id, t.accountId, t.assetIdx, t.amountMinor, t.kind]),
  };
}

/** A PairTable's non-empty rows as [account, minor, ...fields], sorted by (account, minor): canonical. */
function tableRows(t: PairTable): number[][] {
  const rows: number[][] = [];
  for (const [account, minor, rec] of t.entries()) {
    const fields = Array.from(t.data.subarray(rec * t.width, (rec + 1) * t.width));
    // an all-zero row means the same as no row (wallets: [total, reserved]; dailies: [day, filled,
    // working] with nothing filled or working), so it is not state: lookups may create such rows
    if (fields.every((v, i) => v === 0 || (t.width === 3 && i === 0))) continue;
    rows.push([account, minor, ...fields]);
  }
  return rows.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
}

function loadRows(t: PairTable, rows: number[][]): void {
  for (const row of rows) {
    const rec = t.findOrAdd(row[0]!, row[1]!);
    t.data.set(row.slice(2), rec * t.width);
  }
}

export function writeSnapshot(e: Engine): Uint8Array {
  return Buffer.from(MAGIC + JSON.stringify(canonical(e, true)));
}

/** SHA-256 of the business state: everything but the clock, so a rejected command changes nothing. */
export function stateHashOf(e: Engine): string {
  return createHash('sha256').update(JSON.stringify(canonical(e, false))).digest('hex');
}

export function readSnapshot(bytes: Uint8Array, options: EngineOptions): Engine {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (!text.startsWith(MAGIC)) throw new Error('not a seqex snapshot (bad magic or version)');
  const st = JSON.parse(text.slice(MAGIC.length)) as CanonicalState;
  const e = new Engine(options);
  for (const [name, decimals, supply] of st.assets) {
    e.assets.push({ idx: e.assets.length, name, decimals, supplyMinor: supply });
    e.assetByName.set(name, e.assets.length - 1);
  }
  e.accounts.length = 0;
  for (const [id, name, keyHash, enabled, maxOpen, limits] of st.accounts) {
    const a = e.newAccountRecord(id, name, keyHash);
    a.enabled = enabled;
    a.maxOpenOrders = maxOpen;
    for (const [k, v] of limits) (a.dailyLimits ??= new Map()).set(k!, v!);
    e.accounts.push(a);
  }
  loadRows(e.wallets, st.wallets);
  loadRows(e.dailies, st.dailies);
  st.symbols.forEach((x, idx) => {
    const cfg = x.config as Parameters<typeof parseSymbolConfig>[0];
    const baseIdx = e.assetByName.get(cfg.base)!;
    const quoteIdx = e.assetByName.get(cfg.quote)!;
    const parsed = parseSymbolConfig(cfg, e.assets[baseIdx]!, e.assets[quoteIdx]!);
    if (!parsed.ok) throw new Error(`snapshot symbol ${cfg.symbol}: ${parsed.message}`);
    const sym = e.newSymbolRecord(idx, cfg, parsed.params, baseIdx, quoteIdx);
    sym.state = x.state;
    sym.lastPxTicks = x.lastPxTicks;
    sym.sessionDay = x.sessionDay;
    sym.nextBoundaryUs = x.nextBoundaryUs;
    e.symbols.push(sym);
    e.symbolByName.set(sym.name, idx);
  });
  for (const o of st.orders) {
    const [orderId, clOrdId, accountIdx, symbolIdx, side, ordType, tif, status, postOnly, stp, priceTicks, stopPriceTicks, qtyLots, filledLots, cumNotional, expireTimeUs, createdAtUs, updatedAtUs, seq, original] = o as [
      number, string | null, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, [number, number] | null,
    ];
    const r: RestoredOrder = { orderId, clOrdId, accountIdx, symbolIdx, side, ordType, tif, status, postOnly, stp, priceTicks, stopPriceTicks, qtyLots, filledLots, cumNotional, expireTimeUs, createdAtUs, updatedAtUs, seq, original };
    e.restoreOrder(r);
  }
  const s = e.store;
  st.symbols.forEach((x, idx) => {
    const sym = e.symbols[idx]!;
    for (const [ids, book] of [
      [x.bids, sym.bids],
      [x.asks, sym.asks],
    ] as const)
      for (const id of ids) {
        const slot = e.byOrderId.get(id);
        book.append(slot, s.priceTicks(slot), s.qtyLots(slot) - s.filledLots(slot));
      }
    sym.buyStops = x.buyStops.map((id) => e.byOrderId.get(id));
    sym.sellStops = x.sellStops.map((id) => e.byOrderId.get(id));
  });
  for (let i = 0; i < st.retained.length; i += 2) e.retained.push(st.retained[i]!, st.retained[i + 1]!);
  for (const [k, v] of st.aliases) e.clOrd.aliases.set(k, v);
  for (const [id, accountId, assetIdx, amountMinor, kind] of st.transfers)
    e.transfers.set(id, { accountId, assetIdx, amountMinor, kind: kind as 1 | 2 });
  e.nextOrderId = st.counters.nextOrderId;
  e.nextTradeId = st.counters.nextTradeId;
  e.currentDay = st.counters.currentDay;
  if (st.clock !== null) {
    e.lastSeq = st.clock.lastSeq;
    e.nowUs = st.clock.nowUs;
    e.restoreFinish(st.clock.nextTimerUs);
  }
  return e;
}

/** Throws an Error naming the first broken invariant (docs/engine.md, Invariants). */
export function checkInvariants(e: Engine): void {
  const s = e.store;
  const fail = (msg: string): never => {
    throw new Error(`invariant broken: ${msg}`);
  };
  const nAssets = e.assets.length;
  const key = (account: number, asset: number) => account * 2 ** 20 + asset;
  const needReserved = new Map<number, number>();
  const openCount = e.accounts.map(() => 0);
  for (let slot = 0; slot < s.highWater(); slot++) {
    const id = s.orderId(slot);
    if (id === 0 || !isLive(s.status(slot))) continue;
    const sym = e.symbols[s.symbolIdx(slot)]!;
    const leaves = s.qtyLots(slot) - s.filledLots(slot);
    if (!(leaves > 0)) fail(`order ${id} is live with leaves ${leaves}`);
    if (s.filledLots(slot) < 0) fail(`order ${id} has negative filled`);
    const acct = s.accountIdx(slot);
    openCount[acct]!++;
    const k = s.side(slot) === Side.BUY ? key(acct, sym.quoteIdx) : key(acct, sym.baseIdx);
    const need = s.side(slot) === Side.BUY ? s.priceTicks(slot) * leaves * sym.p.k : leaves * sym.p.lotMinor;
    needReserved.set(k, (needReserved.get(k) ?? 0) + need);
    if (s.status(slot) !== OrdStatus.PENDING_TRIGGER && s.level(slot) === NIL) fail(`order ${id} is live but not on the book`);
  }
  for (const a of e.accounts) if (a.openCount !== openCount[a.id]) fail(`account ${a.id} open count ${a.openCount} != ${openCount[a.id]}`);
  const supply = new Array<number>(nAssets).fill(0);
  const w = e.wallets;
  for (const [account, asset, rec] of w.entries()) {
    const total = w.data[rec * 2]!;
    const reserved = w.data[rec * 2 + 1]!;
    const name = `account ${account} ${e.assets[asset]?.name}`;
    if (!Number.isSafeInteger(total) || !Number.isSafeInteger(reserved)) fail(`${name} not an exact integer`);
    if (reserved < 0 || total < reserved) fail(`${name}: total ${total} reserved ${reserved}`);
    const need = needReserved.get(key(account, asset)) ?? 0;
    if (reserved !== need) fail(`${name}: reserved ${reserved} but open orders need ${need}`);
    needReserved.delete(key(account, asset));
    supply[asset]! += total;
  }
  for (const [k, need] of needReserved) if (need !== 0) fail(`account ${Math.floor(k / 2 ** 20)} has open orders needing ${need} of an asset it never held`);
  for (let i = 0; i < nAssets; i++)
    if (supply[i] !== e.assets[i]!.supplyMinor) fail(`asset ${e.assets[i]!.name}: balances sum ${supply[i]} != deposits - withdrawals ${e.assets[i]!.supplyMinor}`);
  for (const sym of e.symbols) {
    for (const side of [sym.bids, sym.asks]) {
      let prevPx = -1;
      for (let k = 0; k < side.n; k++) {
        const l = side.levelAt(k);
        const px = e.levels.priceTicks[l]!;
        if (prevPx >= 0 && (side.isBid ? px >= prevPx : px <= prevPx)) fail(`${sym.name} levels out of order at ${px}`);
        prevPx = px;
        let qty = 0;
        let count = 0;
        let prevId = 0;
        for (let o = e.levels.head[l]!; o !== NIL; o = s.next(o)) {
          if (s.priceTicks(o) !== px) fail(`${sym.name} order ${s.orderId(o)} at wrong level`);
          if ((s.side(o) === Side.BUY) !== side.isBid) fail(`${sym.name} order ${s.orderId(o)} on the wrong side`);
          qty += s.qtyLots(o) - s.filledLots(o);
          count++;
          prevId = s.orderId(o);
        }
        void prevId;
        if (qty !== e.levels.qtyLots[l] || count !== e.levels.count[l]) fail(`${sym.name} level ${px} totals ${e.levels.qtyLots[l]}/${e.levels.count[l]} != ${qty}/${count}`);
      }
    }
    if (sym.bids.n > 0 && sym.asks.n > 0 && sym.bids.bestPrice() >= sym.asks.bestPrice())
      fail(`${sym.name} book crossed: bid ${sym.bids.bestPrice()} >= ask ${sym.asks.bestPrice()}`);
  }
}
