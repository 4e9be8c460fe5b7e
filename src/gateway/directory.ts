/**
 * The gateway's copy of the reference data it needs to translate decimals: assets (decimals) and
 * symbols (tick and lot size, base and quote). Tick size, lot size and decimals never change for
 * a symbol's or an asset's life (docs/engine.md), so a cached entry can never be read with the
 * wrong scale. Assets and symbols are only ever appended (dense indexes), so a fetch asks only for
 * the entries after those already known: an answer is usually empty and costs next to nothing. A
 * name or index not yet known fetches at once (a symbol added a moment ago, maybe through another
 * gateway thread, must not be UNKNOWN_SYMBOL here); fetches are coalesced: one in flight, and at
 * most one queued behind it for callers that need a fetch started after their call, so a flood of
 * unknown names costs at most two small queries per round trip.
 */
import type { SymbolConfig } from '../engine/commands.js';
import type { Dispatcher } from './dispatcher.js';
import { Unit } from './units.js';
import { minorUnit } from '../domain/decimal.js';

export interface AssetInfo {
  asset: string;
  decimals: number;
  unit: Unit;
}

export interface SymbolInfo {
  idx: number;
  symbol: string;
  base: AssetInfo;
  quote: AssetInfo;
  tick: Unit;
  lot: Unit;
  /** as first fetched: the mutable fields (limits, band) may have changed since; only tick, lot, base and quote are used here */
  config: Omit<SymbolConfig, 'state'>;
}

interface SymbolsAnswer {
  assets: { asset: string; decimals: number }[];
  symbols: (Omit<SymbolConfig, 'state'> & { idx: number; state: number; lastPxTicks: number })[];
}

export class Directory {
  private readonly assets = new Map<string, AssetInfo>();
  private readonly symbols = new Map<string, SymbolInfo>();
  private readonly byIdx: SymbolInfo[] = [];
  private readonly assetList: AssetInfo[] = [];
  private loading: Promise<void> | null = null;
  /** a fetch queued to start when the one in flight ends */
  private queued: Promise<void> | null = null;

  constructor(private readonly dispatcher: Dispatcher) {}

  asset(name: string): AssetInfo | undefined {
    return this.assets.get(name);
  }

  symbol(name: string): SymbolInfo | undefined {
    return this.symbols.get(name);
  }

  symbolAt(idx: number): SymbolInfo | undefined {
    return this.byIdx[idx];
  }

  /** The symbol, fetching the new reference data once if it is not known yet. */
  async findSymbol(name: string): Promise<SymbolInfo | undefined> {
    const s = this.symbols.get(name);
    if (s !== undefined) return s;
    await this.refresh();
    return this.symbols.get(name);
  }

  async findAsset(name: string): Promise<AssetInfo | undefined> {
    const a = this.assets.get(name);
    if (a !== undefined) return a;
    await this.refresh();
    return this.assets.get(name);
  }

  /** assets are numbered in the order they were added, as the engine does */
  async assetAtIdx(idx: number): Promise<AssetInfo | undefined> {
    if (this.assetList[idx] === undefined) await this.refresh();
    return this.assetList[idx];
  }

  async symbolAtIdx(idx: number): Promise<SymbolInfo | undefined> {
    if (this.byIdx[idx] === undefined) await this.refresh();
    return this.byIdx[idx];
  }

  /**
   * Fetches the assets and symbols added since the last fetch; resolves once a fetch that started
   * after this call has ended (a fetch already in flight may have been asked before the change the
   * caller knows of).
   */
  refresh(): Promise<void> {
    if (this.loading === null) return this.start();
    const next = () => {
      this.queued = null;
      return this.loading ?? this.start();
    };
    this.queued ??= this.loading.then(next, next);
    return this.queued;
  }

  private start(): Promise<void> {
    const p = this.load().finally(() => {
      if (this.loading === p) this.loading = null;
    });
    this.loading = p;
    return p;
  }

  private async load(): Promise<void> {
    const r = await this.dispatcher.query({ q: 'symbols', fromAsset: this.assets.size, fromSymbol: this.byIdx.length });
    if (r.kind !== 'answer' || r.code !== 0) return;
    const answer = JSON.parse(r.json) as SymbolsAnswer;
    for (const a of answer.assets)
      if (!this.assets.has(a.asset)) {
        const info = { ...a, unit: new Unit(minorUnit(a.decimals)) };
        this.assets.set(a.asset, info);
        this.assetList.push(info);
      }
    for (const s of answer.symbols) {
      if (this.byIdx[s.idx] !== undefined) continue; // two fetches crossed
      const base = this.assets.get(s.base)!;
      const quote = this.assets.get(s.quote)!;
      const { idx, state: _state, lastPxTicks: _px, ...config } = s;
      const info: SymbolInfo = { idx, symbol: s.symbol, base, quote, tick: new Unit(s.tickSize), lot: new Unit(s.lotSize), config };
      this.symbols.set(s.symbol, info);
      this.byIdx[idx] = info;
    }
  }

  allSymbols(): SymbolInfo[] {
    return this.byIdx.filter((s) => s !== undefined);
  }

  allAssets(): AssetInfo[] {
    return [...this.assets.values()];
  }
}
