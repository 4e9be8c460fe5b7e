/**
 * Drives seqex's Engine in-process with a generated workload: risk and wallets on (every account
 * funded by deposits), events cleared after every apply as a consumer would.
 *
 * Commands are not pre-built one object per op: the driver keeps one mutable command object per
 * type (limit, market, cancel), sets its fields from the workload's typed arrays and applies it;
 * the engine keeps no reference to a command. The orderId of every accepted order is read from the
 * first event of its command (the `exec` report, field `orderId`), which is what a gateway does.
 */
import { Engine } from '../../src/engine/engine.js';
import type { CancelOrderCmd, Command, NewOrderCmd } from '../../src/engine/commands.js';
import { Ev } from '../../src/engine/events.js';
import { OrdType, Side, Code } from '../../src/domain/codes.js';
import { OpKind, type Workload, type WorkloadSpec, clOrdIdFor } from './workload.js';

/** 2024-01-02T01:00:00Z: commands advance 1 µs each, so a run never crosses a UTC midnight. */
export const T0_US = Date.UTC(2024, 0, 2, 1, 0, 0) * 1000;

/** exec record: [type, seq, tsUs, execId, orderId, ...] */
const EXEC_ORDER_ID = 4;

export function symbolName(spec: WorkloadSpec, s: number): string {
  return spec.symbols === 1 ? 'XYZ' : `S${s}`;
}
function baseAsset(spec: WorkloadSpec, s: number): string {
  return spec.symbols === 1 ? 'XYZ' : `B${s}`;
}

export interface SeqexRun {
  engine: Engine;
  /** engine orderId per generator order index g (0 = rejected / not yet placed) */
  ids: Float64Array;
  seq: number;
  ts: number;
  /** reject counts by Code, over every op applied through `applyOps` */
  rejects: Int32Array;
  symNames: string[];
  /** clOrdIds for every new order (index g), or null when the orders carry none */
  clOrdIds: (string | undefined)[] | null;
}

export interface SetupOptions {
  /** clOrdIds per order index g (from `buildClOrdIds`), or null / absent for orders without one */
  clOrdIds?: (string | undefined)[] | null;
  engineOptions?: ConstructorParameters<typeof Engine>[0];
}

/**
 * The setup commands of a workload, in order (without seq / tsUs): assets, symbols, accounts,
 * deposits. `setupSeqex` applies them; tools that journal a run (restart-bench) encode them too.
 */
export function setupCommands(spec: WorkloadSpec): { commands: Record<string, unknown>[]; symNames: string[] } {
  const commands: Record<string, unknown>[] = [];
  const apply = (c: Record<string, unknown>) => commands.push(c);
  apply({ type: 'addAsset', asset: 'USD', decimals: 2 });
  const symNames: string[] = [];
  for (let s = 0; s < spec.symbols; s++) {
    apply({ type: 'addAsset', asset: baseAsset(spec, s), decimals: 0 });
    const name = symbolName(spec, s);
    symNames.push(name);
    apply({
      type: 'addSymbol',
      config: {
        symbol: name,
        base: baseAsset(spec, s),
        quote: 'USD',
        tickSize: '0.01',
        lotSize: '1',
        maxQty: '1000000',
        maxNotional: '100000000',
      },
    });
  }
  // Total supply per asset must stay <= 2^53 - 1: fund generously but within that.
  const perSym = spec.accounts / spec.symbols;
  const usd = Math.min(100_000_000_000, Math.floor(4e15 / spec.accounts));
  const base = Math.min(1_000_000_000, Math.floor(4e15 / perSym));
  for (let a = 1; a <= spec.accounts; a++) apply({ type: 'createAccount', name: `acct${a}` });
  for (let a = 1; a <= spec.accounts; a++) {
    const s = (a - 1) % spec.symbols;
    apply({ type: 'deposit', accountId: a, asset: 'USD', amountMinor: usd, transferId: `u${a}` });
    apply({ type: 'deposit', accountId: a, asset: baseAsset(spec, s), amountMinor: base, transferId: `b${a}` });
  }
  return { commands, symNames };
}

/** Fresh engine: assets, symbols, accounts, deposits. Throws if any setup command is rejected. */
export function setupSeqex(w: Workload, opts: SetupOptions = {}): SeqexRun {
  // preallocated as a production configuration would be (2M order slots: the dedupe window of
  // 1M closed orders plus the book), so no growth copy lands inside the timed loop
  const e = new Engine(opts.engineOptions ?? { initialOrderCapacity: 1 << 21 });
  let seq = 0;
  const { commands, symNames } = setupCommands(w.spec);
  for (const c of commands) {
    seq++;
    const code = e.apply({ ...c, seq, tsUs: T0_US + seq } as unknown as Command);
    e.events.clear();
    if (code !== Code.OK) throw new Error(`setup command rejected (${code}): ${JSON.stringify(c)}`);
  }
  return { engine: e, ids: new Float64Array(w.orders), seq, ts: T0_US + seq, rejects: new Int32Array(32), symNames, clOrdIds: opts.clOrdIds ?? null };
}

/**
 * Turns op i of a workload into an engine command, reusing one object per command type (no
 * allocation per op, one object shape per type, as a ring decoder would give the engine).
 */
export class OpCommands {
  private readonly lim: NewOrderCmd = { type: 'newOrder', seq: 0, tsUs: 0, accountId: 0, symbol: '', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 0, priceTicks: 0, clOrdId: undefined };
  // same shape as `lim`
  private readonly mkt: NewOrderCmd = { type: 'newOrder', seq: 0, tsUs: 0, accountId: 0, symbol: '', side: Side.BUY, ordType: OrdType.MARKET, qtyLots: 0, priceTicks: undefined, clOrdId: undefined };
  private readonly cxl: CancelOrderCmd = { type: 'cancelOrder', seq: 0, tsUs: 0, accountId: 0, orderId: 0 };

  constructor(
    private readonly w: Workload,
    private readonly symNames: string[],
  ) {}

  /** `ids` maps the workload's order index to the engine's orderId (cancels need it). */
  at(i: number, seq: number, tsUs: number, ids: Float64Array, clOrdId: string | undefined): Command {
    const w = this.w;
    const k = w.kind[i]!;
    if (k === OpKind.CANCEL) {
      const c = this.cxl;
      c.seq = seq;
      c.tsUs = tsUs;
      c.accountId = w.acct[i]!;
      c.orderId = ids[w.ref[i]!]!;
      return c;
    }
    const c = k === OpKind.MARKET ? this.mkt : this.lim;
    c.seq = seq;
    c.tsUs = tsUs;
    c.accountId = w.acct[i]!;
    c.symbol = this.symNames[w.sym[i]!]!;
    c.side = w.side[i]! as Side;
    c.qtyLots = w.qty[i]!;
    if (k !== OpKind.MARKET) c.priceTicks = w.price[i]!;
    c.clOrdId = clOrdId;
    return c;
  }
}

/** A 17-character clOrdId for every new order of the workload (built once, before timing). */
export function buildClOrdIds(w: Workload): (string | undefined)[] {
  const ids = new Array<string | undefined>(w.orders).fill(undefined);
  for (let i = 0; i < w.n; i++) if (w.kind[i] !== OpKind.CANCEL) ids[w.ref[i]!] = clOrdIdFor(w.ref[i]!, w.acct[i]!);
  return ids;
}

/**
 * Applies ops [from, to). With `lat`, each apply is timed with performance.now() into lat[i - from]
 * (milliseconds). Returns the elapsed milliseconds of the whole loop.
 */
export function applyOps(r: SeqexRun, w: Workload, from: number, to: number, lat?: Float64Array): number {
  const e = r.engine;
  const ev = e.events;
  const ids = r.ids;
  const rejects = r.rejects;
  const symNames = r.symNames;
  const clOrdIds = r.clOrdIds;
  const { kind, ref } = w;
  const commands = new OpCommands(w, symNames);
  let seq = r.seq;
  let ts = r.ts;
  const now = performance.now.bind(performance);
  const t0 = now();
  for (let i = from; i < to; i++) {
    const k = kind[i]!;
    seq++;
    ts++;
    let code: Code;
    const cmd = commands.at(i, seq, ts, ids, clOrdIds === null ? undefined : clOrdIds[ref[i]!]);
    if (lat === undefined) {
      code = e.apply(cmd);
    } else {
      const a = now();
      code = e.apply(cmd);
      lat[i - from] = now() - a;
    }
    if (k !== OpKind.CANCEL) {
      const b = ev.buf;
      if (code === Code.OK && b[0] === Ev.EXEC) ids[ref[i]!] = b[EXEC_ORDER_ID]!;
    }
    if (code !== Code.OK) rejects[code]++;
    ev.clear();
  }
  const elapsed = now() - t0;
  r.seq = seq;
  r.ts = ts;
  return elapsed;
}
