/** `seqex serve` configuration (SPEC §5): file < environment < flags; bad values stop the start with a clear message. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from '../../src/server/config.js';

const dir = mkdtempSync(join(tmpdir(), 'seqex-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('serve configuration', () => {
  it('defaults are the embedded demo: port 8080, data in journal/, fsync, demo symbols and account', () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({ port: 8080, dataDir: 'journal', durability: 'fsync', adminToken: null });
    expect(c.symbols.map((s) => s.symbol)).toEqual(['AAPL', 'META', 'MSFT', 'BTC-USD']);
    expect(c.demoAccount?.funds.USD).toBe('1000000.00');
    expect(c).toEqual(defaultConfig());
  });

  it('a file overrides defaults, the environment overrides the file, flags override both', () => {
    const f = file('a.json', JSON.stringify({ port: 7000, durability: 'batch', gateways: 2, demoAccount: null }));
    expect(loadConfig(['--config', f], {})).toMatchObject({ port: 7000, durability: 'batch', gateways: 2, demoAccount: null });
    expect(loadConfig(['--config', f], { SEQEX_PORT: '7100', SEQEX_ADMIN_TOKEN: 'x'.repeat(20) })).toMatchObject({ port: 7100, durability: 'batch', adminToken: 'x'.repeat(20) });
    expect(loadConfig(['--config', f, '--port', '7200', '--durability', 'none'], { SEQEX_PORT: '7100' })).toMatchObject({ port: 7200, durability: 'none' });
    expect(loadConfig([], { SEQEX_RATE_LIMIT: '50000' }).rateLimit).toEqual({ perSec: 50000, burst: 100000 });
  });

  it.each([
    [['--port', '70000'], {}, /port must be 0..65535/],
    [['--port', 'abc'], {}, /port must be an integer/],
    [['--durability', 'sometimes'], {}, /durability must be fsync, batch or none/],
    [['--gateways', '0'], {}, /gateways must be 1\.\./],
    [['--bogus'], {}, /unknown option --bogus/],
    [['--port'], {}, /--port needs a value/],
    [['--role', 'standby'], {}, /standby role is not built yet/],
    [[], { SEQEX_ADMIN_TOKEN: 'short' }, /adminToken must be at least 16 characters/],
    [[], { SEQEX_RATE_LIMIT: '-1' }, /SEQEX_RATE_LIMIT must be a positive integer/],
  ] as [string[], Record<string, string>, RegExp][])('refuses %j %j', (argv, env, why) => {
    expect(() => loadConfig(argv, env)).toThrow(ConfigError);
    expect(() => loadConfig(argv, env)).toThrow(why);
  });

  it('refuses a file that is missing, not JSON, not an object, or has an unknown or ill-typed key', () => {
    expect(() => loadConfig(['--config', join(dir, 'none.json')], {})).toThrow(/cannot read config file/);
    expect(() => loadConfig(['--config', file('b.json', '{port: 1}')], {})).toThrow(/is not JSON/);
    expect(() => loadConfig(['--config', file('c.json', '[1]')], {})).toThrow(/top level must be an object/);
    expect(() => loadConfig(['--config', file('d.json', '{"prot": 1}')], {})).toThrow(/unknown key "prot"/);
    expect(() => loadConfig(['--config', file('e.json', '{"symbols": {}}')], {})).toThrow(/symbols must be a list/);
    expect(() => loadConfig(['--config', file('f.json', '{"rateLimit": {"perSec": 0, "burst": 1}}')], {})).toThrow(/rateLimit/);
  });

  it('mdConnectionsPerAddress: 100 by default; file, environment and flag set it; out of range refused', () => {
    expect(loadConfig([], {}).mdConnectionsPerAddress).toBe(100);
    expect(loadConfig(['--config', file('m1.json', '{"mdConnectionsPerAddress": 5}')], {}).mdConnectionsPerAddress).toBe(5);
    expect(loadConfig([], { SEQEX_MD_CONNECTIONS_PER_ADDRESS: '2000' }).mdConnectionsPerAddress).toBe(2000);
    expect(loadConfig(['--md-connections-per-address', '7'], { SEQEX_MD_CONNECTIONS_PER_ADDRESS: '2000' }).mdConnectionsPerAddress).toBe(7);
    expect(() => loadConfig(['--md-connections-per-address', '0'], {})).toThrow(/mdConnectionsPerAddress must be an integer 1\.\.1000000/);
    expect(() => loadConfig([], { SEQEX_MD_CONNECTIONS_PER_ADDRESS: '1e3' })).toThrow(/mdConnectionsPerAddress must be an integer/);
    expect(() => loadConfig(['--config', file('m2.json', '{"mdConnectionsPerAddress": 2000000}')], {})).toThrow(/mdConnectionsPerAddress must be an integer 1\.\./);
    expect(() => loadConfig(['--config', file('m3.json', '{"mdConnectionsPerAddress": "10"}')], {})).toThrow(/mdConnectionsPerAddress/);
  });

  it('workerRestart: a partial policy keeps the other defaults; bad or unknown fields are refused', () => {
    expect(loadConfig(['--config', file('w1.json', '{"workerRestart": {"maxFastFailures": 3}}')], {}).workerRestart).toEqual({ firstDelayMs: 100, maxDelayMs: 5000, healthyAfterMs: 60000, maxFastFailures: 3 });
    expect(() => loadConfig(['--config', file('w2.json', '{"workerRestart": {"firstDelayMs": -1}}')], {})).toThrow(/workerRestart.firstDelayMs must be an integer >= 1/);
    expect(() => loadConfig(['--config', file('w3.json', '{"workerRestart": {"delay": 5}}')], {})).toThrow(/workerRestart must be/);
    expect(() => loadConfig(['--config', file('w4.json', '{"workerRestart": {"firstDelayMs": 9000}}')], {})).toThrow(/maxDelayMs must be >= firstDelayMs/);
    expect(() => loadConfig(['--config', file('w5.json', '{"workerRestart": null}')], {})).toThrow(/workerRestart must be/);
  });
});
