/**
 * `seqex serve` configuration (SPEC §5): one JSON file, overridden by `SEQEX_*` environment
 * variables, overridden by flags. Every value is checked here and a bad one stops the start with
 * a message naming it; the defaults are the embedded demo set-up (docs/operations.md).
 */
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import type { SymbolConfig } from '../engine/commands.js';
import type { Durability } from '../journal/journal.js';
import { MAX_GATEWAYS } from '../gateway/eventFeed.js';
import { type RestartPolicy, WORKER_RESTART } from './supervisor.js';

export interface AssetConfig {
  asset: string;
  decimals: number;
}

export interface DemoAccountConfig {
  name: string;
  /** asset → decimal amount deposited once, when the demo account is created */
  funds: Record<string, string>;
}

export interface ServeConfig {
  dataDir: string;
  host: string;
  port: number;
  /** gateway threads (each a uWS App on the same port) */
  gateways: number;
  durability: Durability;
  /** null: read `<dataDir>/admin-token`, or make one there at the first start */
  adminToken: string | null;
  rateLimit: { perSec: number; burst: number };
  /**
   * market-data connections (WebSocket `/v1/md` and SSE `/v1/stream` together) one remote address
   * may hold at once, over all gateway threads (docs/market-data.md); loopback counts like any address
   */
  mdConnectionsPerAddress: number;
  /** how a failed market-data or report worker is restarted (src/server/supervisor.ts) */
  workerRestart: RestartPolicy;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  snapshotEveryRecords: number;
  snapshotEverySeconds: number;
  /** reference data made sure of at every start (added if missing; existing ones are left as they are) */
  assets: AssetConfig[];
  symbols: SymbolConfig[];
  /** a demo account created at the first start, its key kept in `<dataDir>/demo-account.json`; null for none */
  demoAccount: DemoAccountConfig | null;
}

export const DEMO_ASSETS: AssetConfig[] = [
  { asset: 'USD', decimals: 2 },
  { asset: 'AAPL', decimals: 0 },
  { asset: 'META', decimals: 0 },
  { asset: 'MSFT', decimals: 0 },
  { asset: 'BTC', decimals: 8 },
];

const stock = (symbol: string, referencePrice: string): SymbolConfig => ({
  symbol,
  base: symbol,
  quote: 'USD',
  tickSize: '0.01',
  lotSize: '1',
  minQty: '1',
  maxQty: '100000',
  maxNotional: '10000000',
  priceBandPct: '10',
  dailyAccountQtyLimit: '1000000',
  referencePrice,
});

export const DEMO_SYMBOLS: SymbolConfig[] = [
  stock('AAPL', '190.00'),
  stock('META', '480.00'),
  stock('MSFT', '420.00'),
  {
    symbol: 'BTC-USD',
    base: 'BTC',
    quote: 'USD',
    // tick × lot must be whole cents (exact notionals): $1 ticks, 0.01 BTC lots
    tickSize: '1',
    lotSize: '0.01',
    minQty: '0.01',
    maxQty: '100',
    maxNotional: '10000000',
    priceBandPct: '10',
    referencePrice: '60000.00',
  },
];

export function defaultConfig(): ServeConfig {
  return {
    dataDir: 'journal',
    host: '0.0.0.0',
    port: 8080,
    gateways: defaultGateways(),
    durability: 'fsync',
    adminToken: null,
    rateLimit: { perSec: 1000, burst: 2000 },
    mdConnectionsPerAddress: 100,
    workerRestart: { ...WORKER_RESTART },
    maxBodyBytes: 64 * 1024,
    requestTimeoutMs: 10_000,
    snapshotEveryRecords: 2_000_000,
    snapshotEverySeconds: 300,
    assets: DEMO_ASSETS,
    symbols: DEMO_SYMBOLS,
    demoAccount: { name: 'demo', funds: { USD: '1000000.00', AAPL: '10000', META: '10000', MSFT: '10000', BTC: '10' } },
  };
}

/** One gateway thread per core left after the sequencer's, at least one, at most four. */
export function defaultGateways(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export class ConfigError extends Error {}

/** the largest mdConnectionsPerAddress (the shared count table holds at most this per address) */
export const MAX_MD_CONNECTIONS_PER_ADDRESS = 1_000_000;

const FLAGS: Record<string, keyof ServeConfig> = {
  '--data-dir': 'dataDir',
  '--port': 'port',
  '--host': 'host',
  '--gateways': 'gateways',
  '--durability': 'durability',
  '--md-connections-per-address': 'mdConnectionsPerAddress',
};

const ENV: Record<string, keyof ServeConfig> = {
  SEQEX_DATA_DIR: 'dataDir',
  SEQEX_PORT: 'port',
  SEQEX_HOST: 'host',
  SEQEX_GATEWAYS: 'gateways',
  SEQEX_DURABILITY: 'durability',
  SEQEX_ADMIN_TOKEN: 'adminToken',
  SEQEX_MD_CONNECTIONS_PER_ADDRESS: 'mdConnectionsPerAddress',
};

/** The configuration from `argv` (after `serve`), the environment and the file `--config` names. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const flags: Partial<Record<keyof ServeConfig, string>> = {};
  let file: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--config') {
      if (v === undefined) throw new ConfigError('--config needs a file');
      file = v;
      i++;
    } else if (a in FLAGS) {
      if (v === undefined) throw new ConfigError(`${a} needs a value`);
      flags[FLAGS[a]!] = v;
      i++;
    } else if (a === '--role' || a === '--primary') {
      throw new ConfigError(`${a}: the standby role is not built yet (see docs/operations.md)`);
    } else throw new ConfigError(`unknown option ${a}`);
  }
  const cfg = defaultConfig();
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`config file ${file} is not JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file}: the top level must be an object`);
    for (const [k, v] of Object.entries(parsed)) {
      if (!(k in cfg)) throw new ConfigError(`config file ${file}: unknown key "${k}"`);
      (cfg as unknown as Record<string, unknown>)[k] = v;
    }
  }
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') (cfg as unknown as Record<string, unknown>)[key] = fromText(key, v, name);
  }
  for (const [key, v] of Object.entries(flags)) (cfg as unknown as Record<string, unknown>)[key] = fromText(key as keyof ServeConfig, v, key);
  const rate = env.SEQEX_RATE_LIMIT;
  if (rate !== undefined && rate !== '') {
    const n = Number(rate);
    if (!Number.isInteger(n) || n <= 0) throw new ConfigError('SEQEX_RATE_LIMIT must be a positive integer (requests per second per key)');
    cfg.rateLimit = { perSec: n, burst: 2 * n };
  }
  validate(cfg);
  return cfg;
}

function fromText(key: keyof ServeConfig, v: string, from: string): unknown {
  if (key === 'mdConnectionsPerAddress') {
    if (!/^\d{1,7}$/.test(v)) throw new ConfigError(`${from}: ${key} must be an integer, got "${v}"`);
    return Number(v);
  }
  if (key === 'port' || key === 'gateways') {
    if (!/^\d{1,5}$/.test(v)) throw new ConfigError(`${from}: ${key} must be an integer, got "${v}"`);
    return Number(v);
  }
  return v;
}

function validate(c: ServeConfig): void {
  const bad = (m: string): never => {
    throw new ConfigError(m);
  };
  if (typeof c.dataDir !== 'string' || c.dataDir === '') bad('dataDir must be a directory path');
  if (typeof c.host !== 'string' || c.host === '') bad('host must be an address');
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) bad(`port must be 0..65535, got ${String(c.port)}`);
  if (!Number.isInteger(c.gateways) || c.gateways < 1 || c.gateways > MAX_GATEWAYS) bad(`gateways must be 1..${MAX_GATEWAYS}, got ${String(c.gateways)}`);
  if (c.durability !== 'fsync' && c.durability !== 'batch' && c.durability !== 'none') bad(`durability must be fsync, batch or none, got ${String(c.durability)}`);
  if (c.adminToken !== null && (typeof c.adminToken !== 'string' || c.adminToken.length < 16)) bad('adminToken must be at least 16 characters');
  const r = c.rateLimit as unknown as { perSec: unknown; burst: unknown };
  if (r === null || typeof r !== 'object' || !(Number(r.perSec) > 0) || !(Number(r.burst) >= 1)) bad('rateLimit must be {perSec > 0, burst >= 1}');
  if (!Number.isInteger(c.mdConnectionsPerAddress) || c.mdConnectionsPerAddress < 1 || c.mdConnectionsPerAddress > MAX_MD_CONNECTIONS_PER_ADDRESS)
    bad(`mdConnectionsPerAddress must be an integer 1..${MAX_MD_CONNECTIONS_PER_ADDRESS}, got ${String(c.mdConnectionsPerAddress)}`);
  const w = c.workerRestart as unknown as Record<string, unknown>;
  if (w === null || typeof w !== 'object' || Array.isArray(w) || Object.keys(w).some((k) => !(k in WORKER_RESTART)))
    bad(`workerRestart must be {${Object.keys(WORKER_RESTART).join(', ')}}`);
  c.workerRestart = { ...WORKER_RESTART, ...c.workerRestart };
  for (const k of Object.keys(WORKER_RESTART) as (keyof RestartPolicy)[])
    if (!Number.isInteger(c.workerRestart[k]) || c.workerRestart[k] < (k === 'maxFastFailures' ? 0 : 1) || c.workerRestart[k] > 86_400_000) bad(`workerRestart.${k} must be an integer >= ${k === 'maxFastFailures' ? 0 : 1}`);
  if (c.workerRestart.maxDelayMs < c.workerRestart.firstDelayMs) bad('workerRestart.maxDelayMs must be >= firstDelayMs');
  for (const [k, min] of [['maxBodyBytes', 256], ['requestTimeoutMs', 100]] as const)
    if (!Number.isInteger(c[k]) || c[k] < min) bad(`${k} must be an integer >= ${min}`);
  for (const k of ['snapshotEveryRecords', 'snapshotEverySeconds'] as const) if (!Number.isInteger(c[k]) || c[k] < 0) bad(`${k} must be an integer >= 0`);
  if (!Array.isArray(c.assets) || !c.assets.every((a) => a !== null && typeof a === 'object' && typeof a.asset === 'string' && Number.isInteger(a.decimals)))
    bad('assets must be a list of {asset, decimals}');
  if (!Array.isArray(c.symbols) || !c.symbols.every((s) => s !== null && typeof s === 'object' && typeof s.symbol === 'string')) bad('symbols must be a list of symbol configurations');
  if (c.demoAccount !== null) {
    const d = c.demoAccount as unknown as { name: unknown; funds: unknown };
    if (typeof d !== 'object' || typeof d.name !== 'string' || d.funds === null || typeof d.funds !== 'object') bad('demoAccount must be null or {name, funds: {asset: amount}}');
  }
}
