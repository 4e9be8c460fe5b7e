/**
 * The invariant checker (docs/engine.md, Invariants): recomputes from scratch what the engine
 * keeps incrementally and compares. Used by tests after every command and by the replay CLI.
 */
import { OrdStatus, Side } from '../domain/codes.js';
import type { Engine } from './engine.js';
import { NIL } from './orderStore.js';

function isLive(status: number): boolean {
  return status === OrdStatus.NEW || status === OrdStatus.PARTIALLY_FILLED || status === OrdStatus.PENDING_TRIGGER;
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
