/**
 * The engine's whole state as canonical bytes (snapshot / restore) and its hash.
 *
 * Canonical = independent of slot numbering and of how the state was reached: orders by orderId,
 * books as orderIds in priority order, table rows sorted, all-zero rows left out. Format:
 *   "SEQXSNAP" | u32 version | u32 header length | header JSON | pad to 8 | float64 sections | clOrdIds
 * The header holds the small, string-bearing state (assets, symbols, accounts, transfers); the
 * sections hold the bulk as little-endian float64 columns: orders (ORDER_FIELDS each), book and
 * stop orderIds, wallet rows, daily rows, the dedupe queue; then each order's clOrdId as a length
 * byte (0: none) and its ASCII bytes (version 3: a million clOrdIds as JSON cost 0.3 s to parse at
 * restart). `stateHash()` is SHA-256 over the same content without the clock (last seq, time, next
 * timer, current UTC day).
 */
import { createHash } from 'node:crypto';
import { clOrdHashBytes, ClOrdIndex, type PrebuiltClOrdTable } from './clOrdIndex.js';
import { Engine, type EngineOptions } from './engine.js';
import { NIL } from './orderStore.js';
import type { PairTable } from './pairTable.js';
import { parseSymbolConfig } from './symbols.js';

const MAGIC = 'SEQXSNAP';
/** 4: the clock holds each account's message number (msgSeqs); a version-3 snapshot is skipped and the journal replayed, which numbers correctly */
const VERSION = 4;
/** orderId, accountIdx, symbolIdx, enums, price, stopPrice, qty, filled, cumNotional, expire, created, updated, seq, origQty, origPrice */
const ORDER_FIELDS = 15;

/** Derived from time, not business state: left out of the hash. */
interface Clock {
  lastSeq: number;
  nowUs: number;
  nextTimerUs: number;
  currentDay: number;
  /**
   * per account (by id) the last outbound session message number (msgSeq on its execution reports
   * and cancel rejects): kept like the clock, outside the state hash, so a rejected order, which
   * sends its sender a numbered report, still leaves the business state unchanged
   */
  msgSeqs: number[];
}

interface Header {
  counters: { nextOrderId: number; nextTradeId: number };
  assets: [string, number, number][];
  symbols: {
    config: unknown;
    state: number;
    lastPxTicks: number;
    sessionDay: number;
    nextBoundaryUs: number;
    /** lengths of the symbol's bids, asks, buy stops, sell stops in the books section */
    lengths: [number, number, number, number];
  }[];
  accounts: [number, string, string, boolean, number, number[][]][];
  aliases: [string, number][];
  transfers: [string, number, number, number, number][];
  /** bytes of the clOrdId section (one length byte + ASCII per order of the orders section) */
  clOrdIdBytes: number;
  /** float64 counts of each section */
  sections: { orders: number; books: number; wallets: number; dailies: number; retained: number };
}

interface Canonical {
  header: Header;
  sections: Float64Array[];
  ids: Uint8Array;
}

function canonical(e: Engine): Canonical {
  const s = e.store;
  const n = e.byOrderId.size;
  const orders = new Float64Array(n * ORDER_FIELDS);
  const clOrdIds: (string | undefined)[] = new Array(n);
  let clOrdIdBytes = n;
  let k = 0;
  e.byOrderId.forEach((_id, slot) => {
    const o = k * ORDER_FIELDS;
    const orig = s.original.size === 0 ? undefined : s.original.get(slot);
    orders[o] = s.orderId(slot);
    orders[o + 1] = s.accountIdx(slot);
    orders[o + 2] = s.symbolIdx(slot);
    orders[o + 3] = s.enums(slot);
    orders[o + 4] = s.priceTicks(slot);
    orders[o + 5] = s.stopPriceTicks.get(slot) ?? 0;
    orders[o + 6] = s.qtyLots(slot);
    orders[o + 7] = s.filledLots(slot);
    orders[o + 8] = s.cumNotional(slot);
    orders[o + 9] = s.expireTimeUs.get(slot) ?? 0;
    orders[o + 10] = s.createdAtUs(slot);
    orders[o + 11] = s.updatedAtUs(slot);
    orders[o + 12] = s.seq(slot);
    orders[o + 13] = orig === undefined ? -1 : orig[0];
    orders[o + 14] = orig === undefined ? -1 : orig[1];
    const id = s.clOrdIdOf(slot);
    if (id !== undefined) clOrdIdBytes += id.length;
    clOrdIds[k++] = id;
  });
  // clOrdIds are ASCII, 1..36 characters (CLORDID_RE): a length byte and the characters
  const ids = new Uint8Array(clOrdIdBytes);
  let p = 0;
  for (const id of clOrdIds) {
    if (id === undefined) {
      ids[p++] = 0;
      continue;
    }
    ids[p++] = id.length;
    for (let c = 0; c < id.length; c++) {
      const code = id.charCodeAt(c);
      // CLORDID_RE admits ASCII only, 1..36 long: anything else is a bug upstream, not data to mangle
      if (code > 0x7f || id.length > 0xff) throw new Error(`clOrdId ${JSON.stringify(id)} is not short ASCII: cannot snapshot it`);
      ids[p++] = code;
    }
  }
  const books: number[] = [];
  const symbols = e.symbols.map((sym) => {
    const lengths: [number, number, number, number] = [0, 0, 0, 0];
    [sym.bids, sym.asks].forEach((side, i) => {
      for (let k = 0; k < side.n; k++)
        for (let o = e.levels.head[side.levelAt(k)]!; o !== NIL; o = s.next(o)) {
          books.push(s.orderId(o));
          lengths[i]!++;
        }
    });
    for (const o of sym.buyStops) books.push(s.orderId(o));
    for (const o of sym.sellStops) books.push(s.orderId(o));
    lengths[2] = sym.buyStops.length;
    lengths[3] = sym.sellStops.length;
    return { config: sym.config, state: sym.state, lastPxTicks: sym.lastPxTicks, sessionDay: sym.sessionDay, nextBoundaryUs: sym.nextBoundaryUs, lengths };
  });
  const wallets = tableRows(e.wallets);
  const dailies = tableRows(e.dailies);
  const retained = e.retained.toArray();
  const header: Header = {
    counters: { nextOrderId: e.nextOrderId, nextTradeId: e.nextTradeId },
    assets: e.assets.map((a) => [a.name, a.decimals, a.supplyMinor]),
    symbols,
    accounts: e.accounts.map((a) => [
      a.id,
      a.name,
      a.apiKeyHash,
      a.enabled,
      a.maxOpenOrders,
      a.dailyLimits === null ? [] : [...a.dailyLimits.entries()].sort((x, y) => x[0] - y[0]),
    ]),
    aliases: [...e.clOrd.aliases.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)),
    transfers: [...e.transfers.entries()].map(([id, t]) => [id, t.accountId, t.assetIdx, t.amountMinor, t.kind]),
    clOrdIdBytes,
    sections: { orders: orders.length, books: books.length, wallets: wallets.length, dailies: dailies.length, retained: retained.length },
  };
  return { header, sections: [orders, Float64Array.from(books), wallets, dailies, retained], ids };
}

/** A PairTable's non-empty rows as [account, minor, ...fields], sorted by (account, minor). */
function tableRows(t: PairTable): Float64Array {
  const rows: number[][] = [];
  for (const [account, minor, rec] of t.entries()) {
    const fields = Array.from(t.data.subarray(rec * t.width, (rec + 1) * t.width));
    // an all-zero row means the same as no row (wallets: [total, reserved]; dailies: [day, filled,
    // working] with nothing filled or working), so it is not state: lookups may create such rows
    if (fields.every((v, i) => v === 0 || (t.width === 3 && i === 0))) continue;
    rows.push([account, minor, ...fields]);
  }
  rows.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
  return Float64Array.from(rows.flat());
}

function loadRows(t: PairTable, flat: Float64Array): void {
  const w = t.width + 2;
  for (let i = 0; i < flat.length; i += w) {
    const rec = t.findOrAdd(flat[i]!, flat[i + 1]!);
    t.data.set(flat.subarray(i + 2, i + w), rec * t.width);
  }
}

const bytesOf = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export function writeSnapshot(e: Engine): Uint8Array {
  const { header, sections, ids } = canonical(e);
  const clock: Clock = { lastSeq: e.lastSeq, nowUs: e.nowUs, nextTimerUs: e.timerDueUs(), currentDay: e.currentDay, msgSeqs: e.accounts.map((a) => a.msgSeq) };
  const json = Buffer.from(JSON.stringify({ clock, ...header }));
  const pad = (8 - ((16 + json.length) % 8)) % 8;
  const fixed = Buffer.alloc(16);
  fixed.write(MAGIC, 0, 'latin1');
  fixed.writeUInt32LE(VERSION, 8);
  fixed.writeUInt32LE(json.length + pad, 12);
  return Buffer.concat([fixed, json, Buffer.alloc(pad, 0x20), ...sections.map(bytesOf), ids]);
}

/** SHA-256 of the business state: everything but the clock, so a rejected command changes nothing. */
export function stateHashOf(e: Engine): string {
  const { header, sections, ids } = canonical(e);
  const h = createHash('sha256').update(JSON.stringify(header));
  for (const sec of sections) h.update(bytesOf(sec));
  h.update(ids);
  return h.digest('hex');
}

/** A snapshot's header and sections, located (float sections read in place when 8-aligned). */
interface Layout {
  buf: Buffer;
  st: Header & { clock: Clock };
  orders: Float64Array;
  books: Float64Array;
  wallets: Float64Array;
  dailies: Float64Array;
  retained: Float64Array;
  /** byte offset of the clOrdId section ([length byte, latin1 id] per order, 0 = none) */
  idsAt: number;
}

function layoutOf(bytes: Uint8Array): Layout {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error('not a seqex snapshot (bad magic)');
  const version = buf.readUInt32LE(8);
  if (version !== VERSION) throw new Error(`snapshot format version ${version}, this build reads ${VERSION}`);
  const jsonLen = buf.readUInt32LE(12);
  const st = JSON.parse(buf.toString('utf8', 16, 16 + jsonLen)) as Header & { clock: Clock };
  let off = 16 + jsonLen;
  // read in place when 8-aligned (snapshot files put the body so); only read during restore, never kept
  const section = (count: number): Float64Array => {
    const at = buf.byteOffset + off;
    if (off + count * 8 > buf.length) throw new Error(`snapshot length ${buf.length}, sections end past it`);
    off += count * 8;
    if (at % 8 === 0) return new Float64Array(buf.buffer, at, count);
    const out = new Float64Array(count);
    new Uint8Array(out.buffer).set(buf.subarray(at - buf.byteOffset, off));
    return out;
  };
  const orders = section(st.sections.orders);
  const books = section(st.sections.books);
  const wallets = section(st.sections.wallets);
  const dailies = section(st.sections.dailies);
  const retained = section(st.sections.retained);
  const idsAt = off;
  off += st.clOrdIdBytes;
  if (off !== buf.length) throw new Error(`snapshot length ${buf.length}, sections end at ${off}`);
  return { buf, st, orders, books, wallets, dailies, retained, idsAt };
}

/** Order slots a restored engine starts with: the orders plus a quarter of headroom (no growth copy in the tail). */
function restoredCapacity(orders: number, options: EngineOptions): number {
  return Math.max(options.initialOrderCapacity ?? 0, orders + Math.max(1024, orders >> 2));
}

/**
 * The clOrdId index of the engine `readSnapshot(bytes, options)` builds, built from the bytes
 * alone, so another thread can build it while the sequencer thread restores everything else
 * (restore gives the i-th order slot i, and the index hashes each id where it lies). In a
 * SharedArrayBuffer: the restoring thread adopts it as is.
 */
export function buildClOrdTable(bytes: Uint8Array, options: EngineOptions): PrebuiltClOrdTable {
  const { buf, orders, idsAt, st } = layoutOf(bytes);
  const count = orders.length / ORDER_FIELDS;
  const index = ClOrdIndex.forCapacity(restoredCapacity(count, options), true);
  let p = idsAt;
  const end = idsAt + st.clOrdIdBytes;
  for (let k = 0; k < count; k++) {
    const n = buf[p]!;
    if (p + 1 + n > end) throw new Error(`snapshot clOrdId section ends inside order ${k}`);
    if (n !== 0) index.placeHashed(k, clOrdHashBytes(orders[k * ORDER_FIELDS + 1]!, buf, p + 1, p + 1 + n));
    p += 1 + n;
  }
  return index.exportTable();
}

/** Up to `n` slots with a clOrdId, spread evenly over the first `count` slots (for adopt's spot checks). */
function sampleSlotsWithIds(e: Engine, count: number, n: number): Int32Array {
  const out: number[] = [];
  const step = Math.max(1, Math.floor(count / n));
  for (let k = 0; k < count && out.length < n; k += step) {
    let j = k;
    while (j < Math.min(count, k + step) && !e.store.hasClOrdId(j)) j++;
    if (j < count && e.store.hasClOrdId(j)) out.push(j);
  }
  return Int32Array.from(out);
}

/**
 * Restores an engine. `prebuilt`, when given, returns the clOrdId index built by
 * `buildClOrdTable` from the same bytes (waiting for it if need be), or null to build it here.
 */
export function readSnapshot(bytes: Uint8Array, options: EngineOptions, prebuilt?: () => PrebuiltClOrdTable | null): Engine {
  const { buf, st, orders, books, wallets, dailies, retained, idsAt } = layoutOf(bytes);

  // headroom of a quarter: the journal tail replayed after a restore must not start with a growth copy
  const count = orders.length / ORDER_FIELDS;
  const e = new Engine({ ...options, initialOrderCapacity: restoredCapacity(count, options) });
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
  loadRows(e.wallets, wallets);
  loadRows(e.dailies, dailies);
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
  // One string for the whole ids section; each order keeps the offset of its id in it and makes a
  // string only when the id is read (orderStore.ts): 1M ids restore with no allocation per id. The
  // text (~18 MB for 1M ids) lives while an order refers to it.
  const idText = buf.toString('latin1', idsAt, idsAt + st.clOrdIdBytes);
  let p = 0;
  let ids = 0;
  const indexHere = prebuilt === undefined;
  for (let i = 0; i < orders.length; i += ORDER_FIELDS) {
    const n = idText.charCodeAt(p);
    if (!(p + 1 + n <= idText.length)) throw new Error(`snapshot clOrdId section ends inside order ${i / ORDER_FIELDS}`);
    const slot = e.restoreOrderAt(orders, i, n === 0 ? -1 : p, idText, indexHere);
    if (slot !== i / ORDER_FIELDS) throw new Error('restore: order slots are not in snapshot order'); // buildClOrdTable relies on it
    if (n !== 0) ids++;
    p += 1 + n;
  }
  if (p !== idText.length) throw new Error(`snapshot clOrdId section is ${idText.length} bytes, its ids ${p}`);
  if (!indexHere) {
    // the prebuilt index, or (none came, or it does not fit) the inserts done here
    const table = prebuilt();
    if (table === null || !e.clOrd.adopt(table, ids, sampleSlotsWithIds(e, count, 32))) for (let k = 0; k < count; k++) if (e.store.hasClOrdId(k)) e.clOrd.insert(k);
  }
  const s = e.store;
  let b = 0;
  st.symbols.forEach((x, idx) => {
    const sym = e.symbols[idx]!;
    for (const [n, book] of [
      [x.lengths[0], sym.bids],
      [x.lengths[1], sym.asks],
    ] as const)
      for (let k = 0; k < n; k++) {
        const slot = e.byOrderId.get(books[b++]!);
        book.append(slot, s.priceTicks(slot), s.qtyLots(slot) - s.filledLots(slot));
      }
    for (let k = 0; k < x.lengths[2]; k++) sym.buyStops.push(e.byOrderId.get(books[b++]!));
    for (let k = 0; k < x.lengths[3]; k++) sym.sellStops.push(e.byOrderId.get(books[b++]!));
  });
  e.retained.load(retained);
  for (const [k, v] of st.aliases) e.clOrd.addAlias(k, v);
  for (const [id, accountId, assetIdx, amountMinor, kind] of st.transfers)
    e.transfers.set(id, { accountId, assetIdx, amountMinor, kind: kind as 1 | 2 });
  e.nextOrderId = st.counters.nextOrderId;
  e.nextTradeId = st.counters.nextTradeId;
  e.currentDay = st.clock.currentDay;
  const msgSeqs = st.clock.msgSeqs!;
  e.accounts.forEach((a, i) => (a.msgSeq = msgSeqs[i] ?? 0));
  e.lastSeq = st.clock.lastSeq;
  e.nowUs = st.clock.nowUs;
  e.restoreFinish(st.clock.nextTimerUs);
  return e;
}
