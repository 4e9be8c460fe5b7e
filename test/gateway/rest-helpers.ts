/**
 * Helpers shared by the REST and hostile-input suites: admin calls, fresh funded accounts and
 * fresh symbols (each test trades its own symbol between its own accounts, so tests sharing one
 * exchange never see each other's orders), balances as a map, and the replayed state hash of a
 * stopped exchange's journal.
 */
import { expect } from 'vitest';
import { replayMain } from '../../tools/cli/replay.js';
import { call, type TestExchange } from './server.js';

export interface Acct {
  accountId: number;
  apiKey: string;
}

export type Balances = Record<string, { total: string; available: string; reserved: string }>;

export function admin(ex: TestExchange, method: string, path: string, body?: unknown) {
  return call(ex.url, method, path, { key: ex.adminToken, body });
}

/** A new account with `funds` deposited (asset → decimal text). */
export async function newAccount(ex: TestExchange, name: string, funds: Record<string, string> = {}): Promise<Acct> {
  const r = await admin(ex, 'POST', '/v1/admin/accounts', { name });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const acct = { accountId: r.body.accountId as number, apiKey: r.body.apiKey as string };
  for (const [asset, amount] of Object.entries(funds)) {
    const d = await admin(ex, 'POST', `/v1/admin/accounts/${acct.accountId}/deposit`, { asset, amount, transferId: `fund-${name}-${asset}-${acct.accountId}` });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
  }
  return acct;
}

let symbolCounter = 0;

/**
 * A new symbol quoted in USD with its own base asset (decimals 0): tick 0.01, lot 1, no price
 * collar (so any price on the grid is accepted), open.
 */
export async function newSymbol(ex: TestExchange, prefix = 'T', extra: Record<string, unknown> = {}): Promise<string> {
  const name = `${prefix}${process.pid % 1000}X${++symbolCounter}`;
  const a = await admin(ex, 'POST', '/v1/admin/assets', { asset: name, decimals: 0 });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  const s = await admin(ex, 'POST', '/v1/admin/symbols', {
    symbol: name,
    base: name,
    quote: 'USD',
    tickSize: '0.01',
    lotSize: '1',
    minQty: '1',
    maxQty: '100000',
    maxNotional: '10000000',
    ...extra,
  });
  expect(s.status, JSON.stringify(s.body)).toBe(201);
  return name;
}

export async function balances(ex: TestExchange, key: string): Promise<Balances> {
  const r = await call(ex.url, 'GET', '/v1/account', { key });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const out: Balances = {};
  for (const b of r.body.balances as { asset: string; total: string; available: string; reserved: string }[])
    out[b.asset] = { total: b.total, available: b.available, reserved: b.reserved };
  return out;
}

export function order(ex: TestExchange, key: string, body: Record<string, unknown>) {
  return call(ex.url, 'POST', '/v1/order', { key, body });
}

/** `seqex replay --data-dir dir [--to-seq n]` → {hash, lastSeq, applied} (the exchange must be stopped). */
export function replayHash(dataDir: string, toSeq?: number): { hash: string; lastSeq: number; applied: number } {
  let out = '';
  let err = '';
  const argv = ['--data-dir', dataDir, '--verify'];
  if (toSeq !== undefined) argv.push('--to-seq', String(toSeq));
  const code = replayMain(argv, (t) => (out += t), (t) => (err += t));
  expect(code, err + out).toBe(0);
  const field = (name: string) => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '';
  return { hash: field('state hash'), lastSeq: Number(field('last seq')), applied: Number(field('applied')) };
}
