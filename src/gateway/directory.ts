/**
 * The gateway's copy of the reference data it needs to translate decimals: assets (decimals) and
 * symbols (tick and lot size, base and quote). Tick size, lot size and decimals never change for
 * a symbol's or an asset's life (docs/engine.md), so a cached entry can never be read with the
 * wrong scale; a name or index not yet known is fetched from the sequencer (at most one fetch in
 * flight, and not more often than every REFRESH_MIN_MS, so a flood of unknown names costs nothing).
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
  config: Omit<SymbolConfig, 'state'>;
}

interface SymbolsAnswer {
  assets: { asset: string; decimals: number }[];
  symbols: (Omit<SymbolConfig, 'state'> & { idx: number; state: number; lastPxTicks: number })[];
}

const REFRESH_MIN_MS = 200;

export class Directory {
  private readonly assets = new Map<string, AssetInfo>();
  private readonly symbols = new Map<string, SymbolInfo>();
  private readonly byIdx: SymbolInfo[] = [];
  private loading: Promise<void> | null = null;
  private lastLoadMs = -Infinity;

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

  /** The symbol, fetching the reference data once if it is not known yet. */
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

  async symbolAtIdx(idx: number): Promise<SymbolInfo | undefined> {
    if (this.byIdx[idx] === undefined) await this.refresh(true);
    return this.byIdx[idx];
  }

  /** Fetches the reference data (`force`: even if fetched a moment ago, e.g. after an admin change). */
  refresh(force = false): Promise<void> {
    if (this.loading !== null) return this.loading;
    if (!force && performance.now() - this.lastLoadMs < REFRESH_MIN_MS) return Promise.resolve();
    this.loading = this.load().finally(() => {
      this.loading = null;
      this.lastLoadMs = performance.now();
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const r = await this.dispatcher.query({ q: 'symbols' });
    if (r.kind !== 'answer' || r.code !== 0) return;
    const answer = JSON.parse(r.json) as SymbolsAnswer;
    for (const a of answer.assets) if (!this.assets.has(a.asset)) this.assets.set(a.asset, { ...a, unit: new Unit(minorUnit(a.decimals)) });
    for (const s of answer.symbols) {
      const base = this.assets.get(s.base)!;
      const quote = this.assets.get(s.quote)!;
      const { idx, state: _state, lastPxTicks: _px, ...config } = s;
      const known = this.symbols.get(s.symbol);
      const info: SymbolInfo = known ?? { idx, symbol: s.symbol, base, quote, tick: new Unit(s.tickSize), lot: new Unit(s.lotSize), config };
      info.config = config; // mutable fields (limits, band) may have changed
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
