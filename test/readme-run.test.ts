/**
 * `make run`'s default and the README's curl example, exactly as the README shows it: the block
 * between the readme-run-example markers runs in a shell against `seqex serve` on the default
 * configuration (only the port and the data directory moved, so tests can run beside a real one).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'seqex-readme-'));
let server: ReturnType<typeof spawn> | null = null;

afterAll(async () => {
  if (server !== null && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

it('the README example places an order on the default exchange and sees it in the book', async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /<!-- readme-run-example -->\n```sh\n([\s\S]*?)```\n<!-- \/readme-run-example -->/.exec(readme);
  expect(block, 'README has the run example block').not.toBeNull();
  // the default configuration, started from a scratch directory (journal/ relative to it) on a free port
  server = spawn(process.execPath, [join(root, 'dist/tools/cli/seqex.js'), 'serve', '--port', '0', '--host', '127.0.0.1'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    server!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /seqex is running: http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null && /API key: sk_\S+\n/.test(out)) resolve(Number(m[1]));
    });
    server!.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  expect(out).toMatch(/native binary uws_linux_x64_115\.node loaded/);
  expect(out).toMatch(/demo account \d+, API key: sk_/);
  const script = block![1]!.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`);
  const r = spawnSync('sh', ['-c', script], { cwd: work, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const [orderLine, bookLine] = r.stdout.replace('}{', '}\n{').split('\n');
  const order = JSON.parse(orderLine!);
  expect(order).toMatchObject({ symbol: 'AAPL', side: 'buy', status: 'new', qty: '10', leavesQty: '10', price: '189.50', clOrdId: 'readme-1' });
  expect(JSON.parse(bookLine!)).toMatchObject({ symbol: 'AAPL', bids: [['189.50', '10', 1]], asks: [] });
  // a clean stop: SIGTERM → exit 0
  const exited = new Promise<number | null>((r2) => server!.once('exit', (code) => r2(code)));
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
});
