/** Commands shared by the host and crash tests (bodies: the sequencer stamps seq and tsUs). */
import type { Command } from '../../src/engine/commands.js';

export type Body<C = Command> = C extends Command ? Omit<C, 'seq' | 'tsUs'> : never;

/** USD, AAPL and an AAPL book; alice (account 1) and bob (account 2), each funded with both assets. */
export function twoTraderSetup(usdMinor: number, aaplMinor: number): Body[] {
  return [
    { type: 'addAsset', asset: 'USD', decimals: 2 },
    { type: 'addAsset', asset: 'AAPL', decimals: 0 },
    { type: 'addSymbol', config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1000000', maxNotional: '100000000' } },
    { type: 'createAccount', name: 'alice' },
    { type: 'createAccount', name: 'bob' },
    { type: 'deposit', accountId: 1, asset: 'USD', amountMinor: usdMinor, transferId: 'a-usd' },
    { type: 'deposit', accountId: 1, asset: 'AAPL', amountMinor: aaplMinor, transferId: 'a-aapl' },
    { type: 'deposit', accountId: 2, asset: 'USD', amountMinor: usdMinor, transferId: 'b-usd' },
    { type: 'deposit', accountId: 2, asset: 'AAPL', amountMinor: aaplMinor, transferId: 'b-aapl' },
  ];
}
