import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEvents } from '../src/engine/events.js';
import { Engine } from '../src/engine/engine.js';

// The README's library example, step for step: if this breaks, the README is wrong.
describe('README example', () => {
  it('the README still shows this example', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain("qtyLots: 10, priceTicks: 18925 /* 189.25 */ }));");
    expect(readme).toContain("amountMinor: 1_000_000, transferId: 'd1' }));");
  });

  it('a buy of 10 AAPL at 189.25 rests and reserves 1892.50 USD', () => {
    const e = new Engine();
    let seq = 0;
    const at = <T extends object>(c: T) => ({ ...c, seq: ++seq, tsUs: 1_700_000_000_000_000 + seq });
    e.apply(at({ type: 'addAsset', asset: 'USD', decimals: 2 }));
    e.apply(at({ type: 'addAsset', asset: 'AAPL', decimals: 0 }));
    e.apply(at({ type: 'addSymbol', config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1000000', maxNotional: '100000000' } }));
    e.apply(at({ type: 'createAccount', name: 'alice' }));
    e.apply(at({ type: 'deposit', accountId: 1, asset: 'USD', amountMinor: 1_000_000, transferId: 'd1' }));
    e.events.clear();
    expect(e.apply(at({ type: 'newOrder', accountId: 1, symbol: 'AAPL', side: 1, ordType: 1, qtyLots: 10, priceTicks: 18925 }))).toBe(0);
    expect(decodeEvents(e.events).map((x) => x.event)).toEqual(['exec', 'balance', 'bookAdd']);
    expect(e.balances(1)[0]).toEqual({ asset: 'USD', totalMinor: 1_000_000, reservedMinor: 189_250, availableMinor: 810_750 });
    expect(e.stateHash()).toMatch(/^[0-9a-f]{64}$/);
  });
});

// The README's embedded-sequencer example, run as written (imports pointed at the built tree, the
// data directory at a temp dir): it must start, answer the command durably and stop.
describe('README sequencer example', () => {
  it('runs and prints the durable answer to its command', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## The sequencer in your own process'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'seqex-readme-'));
    try {
      const root = new URL('../', import.meta.url).href;
      const script = code!.replaceAll("'./dist/", `'${root}dist/`).replace("dataDir: 'journal'", `dataDir: ${JSON.stringify(dir)}`);
      const file = join(dir, 'example.mjs');
      writeFileSync(file, script);
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/\{ corr: 1, seq: \d+, code: 0 \}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
