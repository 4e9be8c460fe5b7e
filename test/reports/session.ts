/**
 * A random engine session for the report tests, from a seed: three symbols (two with maker /
 * taker fees, so both fee assets occur), five funded accounts, limit (GTC / DAY / GTD / IOC / FOK,
 * post-only), market, stop and stop-limit orders, cancels, replaces, mass cancels, deposits and
 * withdrawals (some refused), kill switches and time jumps from 1 ms to hours (days roll over: DAY
 * expiry; candles of every resolution). Every command from seq 1 is kept (the report database
 * needs the whole stream), with the events the engine made for it.
 */
import { Side, Stp, Tif } from '../../src/domain/codes.js';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { decodeEvents, type DecodedEvent } from '../../src/engine/events.js';
import { rng } from '../crash/verify.js';
import { AAPL_CFG, BTC_CFG, OrdType, T0, type CmdBody } from '../helpers.js';

export const ACCOUNTS = [1, 2, 3, 4, 5];
export const SYMBOLS = [
  { name: 'AAPL', mid: 10_000, qtyMax: 40 },
  { name: 'BTC-USD', mid: 40_000, qtyMax: 60 },
  { name: 'ETH-USD', mid: 30_000, qtyMax: 30 },
] as const;
export const ASSETS = ['USD', 'AAPL', 'BTC', 'ETH'] as const;
const FUND: Record<string, number> = { USD: 500_000_000, AAPL: 20_000, BTC: 20_000_000_000, ETH: 500_000_000_000 };

export interface Session {
  commands: Command[];
  /** the events of each command, same index */
  events: DecodedEvent[][];
  /** the engine after the last command */
  engine: Engine;
}

export function setupCommands(): CmdBody[] {
  return [
    { type: 'addAsset', asset: 'USD', decimals: 2 },
    { type: 'addAsset', asset: 'AAPL', decimals: 0 },
    { type: 'addAsset', asset: 'BTC', decimals: 8 },
    { type: 'addAsset', asset: 'ETH', decimals: 8 },
    { type: 'addSymbol', config: { ...AAPL_CFG, makerFeeBps: 5, takerFeeBps: 20 } },
    { type: 'addSymbol', config: { ...BTC_CFG, makerFeeBps: 10, takerFeeBps: 25 } },
    { type: 'addSymbol', config: { symbol: 'ETH-USD', base: 'ETH', quote: 'USD', tickSize: '0.1', lotSize: '0.1', maxQty: '1000', maxNotional: '100000000' } },
    ...ACCOUNTS.map((a) => ({ type: 'createAccount', name: `trader${a}` }) as CmdBody),
    ...ACCOUNTS.flatMap((a) => ASSETS.map((asset) => ({ type: 'deposit', accountId: a, asset, amountMinor: FUND[asset]!, transferId: `fund-${a}-${asset}` }) as CmdBody)),
  ];
}

/** `n` commands (setup included) from `seed`, applied to a fresh engine as they are made. */
export function generateSession(seed: number, n: number): Session {
  const r = rng(seed);
  const engine = new Engine();
  const commands: Command[] = [];
  const events: DecodedEvent[][] = [];
  const orders: { id: number; acct: number; sym: number }[] = [];
  const live = new Map<number, { id: number; acct: number; sym: number }>();
  const disabled = new Set<number>();
  let now = T0;
  const run = (c: CmdBody) => {
    const cmd = { ...c, seq: commands.length + 1, tsUs: now } as Command;
    engine.events.clear();
    engine.apply(cmd);
    const ev = decodeEvents(engine.events);
    commands.push(cmd);
    events.push(ev);
    for (const x of ev) {
      if (x.event !== 'exec' || (x.orderId as number) <= 0) continue;
      const o = { id: x.orderId as number, acct: x.accountId as number, sym: x.symbolIdx as number };
      if (x.execType === 1 /* NEW */) orders.push(o);
      const st = x.ordStatus as number;
      if (st === 1 || st === 2 || st === 7) live.set(o.id, o);
      else live.delete(o.id);
    }
  };
  for (const c of setupCommands()) {
    now += 1000;
    run(c);
  }
  const someOrder = () => {
    if (live.size > 0 && r.next() < 0.85) {
      const xs = [...live.values()];
      return xs[r.int(0, xs.length - 1)]!;
    }
    return orders[Math.max(0, orders.length - 1 - r.int(0, 100))]!;
  };
  let transfer = 0;
  while (commands.length < n) {
    const u = r.next();
    now += u < 0.75 ? r.int(1, 400_000) : u < 0.96 ? r.int(1, 40_000_000) : u < 0.995 ? r.int(1, 900_000_000) : r.int(1, 8 * 3_600_000_000);
    const s = r.int(0, SYMBOLS.length - 1);
    const sym = SYMBOLS[s]!;
    const acct = r.pick(ACCOUNTS);
    const side = r.next() < 0.5 ? Side.BUY : Side.SELL;
    const qty = r.int(1, sym.qtyMax);
    const px = sym.mid + (side === Side.BUY ? 1 : -1) * r.int(-8, 5);
    const stp = r.pick([undefined, undefined, undefined, Stp.CANCEL_OLDEST, Stp.CANCEL_BOTH, Stp.DECREMENT]);
    const k = r.next() * 100;
    let c: CmdBody;
    if (k < 45) {
      const tif = r.pick([undefined, Tif.GTC, Tif.GTC, Tif.DAY, Tif.GTD, Tif.IOC, Tif.FOK]);
      const body: Record<string, unknown> = { type: 'newOrder', accountId: acct, symbol: sym.name, side, ordType: OrdType.LIMIT, qtyLots: qty, priceTicks: px };
      if (tif !== undefined) body.tif = tif;
      if (stp !== undefined) body.stp = stp;
      if (tif === Tif.GTD) body.expireTimeUs = now + r.int(1, 3_600_000_000);
      if ((tif === undefined || tif === Tif.GTC) && r.next() < 0.1) body.postOnly = true;
      if (r.next() < 0.3) body.clOrdId = `c${commands.length}`;
      c = body as CmdBody;
    } else if (k < 52) {
      c = { type: 'newOrder', accountId: acct, symbol: sym.name, side, ordType: OrdType.MARKET, qtyLots: qty, ...(r.next() < 0.3 ? { tif: Tif.FOK } : {}) } as CmdBody;
    } else if (k < 56) {
      const stop = sym.mid + r.int(-6, 6);
      const limit = r.next() < 0.5;
      c = {
        type: 'newOrder',
        accountId: acct,
        symbol: sym.name,
        side,
        ordType: limit ? OrdType.STOP_LIMIT : OrdType.STOP,
        qtyLots: qty,
        stopPriceTicks: stop,
        ...(limit ? { priceTicks: stop + (side === Side.BUY ? 2 : -2) } : {}),
      } as CmdBody;
    } else if (k < 68 && orders.length > 0) {
      const o = someOrder();
      c = { type: 'cancelOrder', accountId: o.acct, orderId: o.id };
    } else if (k < 76 && orders.length > 0) {
      const o = someOrder();
      const m = SYMBOLS[o.sym] ?? sym;
      const v = r.next();
      const body: Record<string, unknown> = { type: 'replaceOrder', accountId: o.acct, orderId: o.id };
      if (v < 0.4) body.qtyLots = r.int(1, m.qtyMax);
      else if (v < 0.7) body.priceTicks = m.mid + r.int(-10, 10);
      else {
        body.qtyLots = r.int(1, m.qtyMax);
        body.priceTicks = m.mid + r.int(-10, 10);
      }
      c = body as CmdBody;
    } else if (k < 78) {
      c = { type: 'massCancel', accountId: acct, ...(r.next() < 0.7 ? { symbol: sym.name } : {}) } as CmdBody;
    } else if (k < 83) {
      const asset = r.pick(ASSETS);
      c = { type: 'deposit', accountId: acct, asset, amountMinor: r.int(1, FUND[asset]! / 10), transferId: `d${transfer++}` };
    } else if (k < 88) {
      // sometimes more than is available: refused
      const asset = r.pick(ASSETS);
      c = { type: 'withdraw', accountId: acct, asset, amountMinor: r.int(1, FUND[asset]! / (r.next() < 0.8 ? 20 : 1)), transferId: `w${transfer++}` };
    } else if (k < 88.5) {
      disabled.add(acct);
      c = { type: 'setAccountEnabled', accountId: acct, enabled: false };
    } else if (k < 91) {
      const a = [...disabled][0];
      if (a !== undefined) disabled.delete(a);
      c = a === undefined ? { type: 'tick' } : { type: 'setAccountEnabled', accountId: a, enabled: true };
    } else if (k < 92) {
      c = { type: 'tick' };
    } else {
      // resting liquidity away from the touch
      c = { type: 'newOrder', accountId: acct, symbol: sym.name, side, ordType: OrdType.LIMIT, qtyLots: qty, priceTicks: sym.mid + (side === Side.BUY ? -1 : 1) * r.int(3, 20) } as CmdBody;
    }
    run(c);
  }
  return { commands, events, engine };
}
