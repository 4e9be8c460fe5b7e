/**
 * A real exchange for gateway tests: `startExchange` in this process (its threads run the compiled
 * code in dist/, built by `make test`), on a random loopback port, with a fresh data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type ServeConfig } from '../../src/server/config.js';
import { startExchange, type RunningExchange } from '../../src/server/exchange.js';

export interface TestExchange {
  url: string;
  port: number;
  dataDir: string;
  adminToken: string;
  /** the demo account (funded per defaultConfig().demoAccount) */
  demo: { accountId: number; apiKey: string };
  running: RunningExchange;
  logs: string[];
  /** stops the exchange (the data directory stays, for a restart) */
  stop(): Promise<void>;
  /** stops and removes the data directory */
  close(): Promise<void>;
}

export async function startTestExchange(overrides: Partial<ServeConfig> = {}, dataDir?: string): Promise<TestExchange> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'seqex-gw-'));
  const cfg: ServeConfig = {
    ...defaultConfig(),
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    gateways: 1,
    adminToken: 'test-admin-token-0123456789',
    snapshotEverySeconds: 0,
    ...overrides,
  };
  const logs: string[] = [];
  const running = await startExchange(cfg, (l) => logs.push(l));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await running.stop();
  };
  return {
    url: `http://127.0.0.1:${running.port}`,
    port: running.port,
    dataDir: dir,
    adminToken: cfg.adminToken!,
    demo: running.demo!,
    running,
    logs,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One HTTP request on its own connection (closed after: a kept-alive idle connection would hold a
 * stopping gateway for uWS's 10 s idle timeout), JSON in and out; never throws on an error status.
 */
export function call(
  base: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; rawBody?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: IncomingHttpHeaders }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== undefined) headers.authorization = `Bearer ${opts.key}`;
  let body: string | Uint8Array | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  if (body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // metrics and other text answers
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Waits until `cond()` holds (polling every 10 ms); throws after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
