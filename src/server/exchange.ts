/**
 * The running exchange: the sequencer host (sequencer, journal, snapshot threads), N gateway
 * threads on one port, and this (main) thread, which seeds the reference data and the demo
 * account through its own gateway port, answers the gateways' questions (status, snapshot,
 * metrics) and stops everything in order: stop accepting, answer what is in flight, drain the
 * sequencer, sync the journal.
 */
import { Worker } from 'node:worker_threads';
import { createServer, type AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from '../domain/codes.js';
import type { Command } from '../engine/commands.js';
import { hashKey, newApiKey } from '../gateway/auth.js';
import { Dispatcher } from '../gateway/dispatcher.js';
import type { FromGateway, GatewayThreadData, ToGateway } from '../gateway/gatewayThread.js';
import { GatewayMetrics, renderMetrics } from '../gateway/metrics.js';
import { AddressConnections } from '../gateway/addressConnections.js';
import { Unit } from '../gateway/units.js';
import { minorUnit } from '../domain/decimal.js';
import { workerUrl } from '../platform/workers.js';
import { SequencerHost } from '../sequencer/host.js';
import type { ServeConfig } from './config.js';
import { loadUws } from '../gateway/uws.js';
import { SessionStore } from './sessionStore.js';
import { ReportService } from './reports.js';
import type { ReportQuery } from '../reportworker/queryTask.js';
import { MarketDataService } from './marketData.js';

export interface RunningExchange {
  port: number;
  adminToken: string;
  demo: { accountId: number; apiKey: string } | null;
  host: SequencerHost;
  stop(): Promise<void>;
  /**
   * tests only: make a supervised worker fail as a bug would (`throw`: an uncaught error in it;
   * `terminate`: killed); false when it is not running. The supervisors show what followed.
   */
  testHooks: {
    crashWorker(worker: 'md' | 'reports', how: 'throw' | 'terminate'): boolean;
    supervisors: { md: MarketDataService['supervisor']; reports: ReportService['supervisor'] };
  };
}

export async function startExchange(cfg: ServeConfig, log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<RunningExchange> {
  const { binary } = loadUws(); // refuse to start on the JavaScript fallback, before anything else
  log(`uWebSockets.js: native binary ${binary} loaded`);
  mkdirSync(cfg.dataDir, { recursive: true });
  const adminToken = cfg.adminToken ?? persistedSecret(join(cfg.dataDir, 'admin-token'), () => `adm_${randomBytes(24).toString('base64url')}`);
  const startedMs = performance.now();
  const store = new SessionStore(cfg.dataDir, { log });
  const host = await SequencerHost.start({
    dataDir: cfg.dataDir,
    durability: cfg.durability,
    gateways: cfg.gateways + 1, // the last port is this thread's (seeding)
    snapshotEveryRecords: cfg.snapshotEveryRecords,
    snapshotEverySeconds: cfg.snapshotEverySeconds,
    // from the store's last command on, not after it: its files may end inside that command's messages
    // (a write cut by a crash); what the store already holds is skipped when added again
    recoverMessagesAfterSeq: Math.max(0, store.lastSeq - 1),
    log,
  });
  store.addRecovered(host.recovery.messages);
  store.setLastMsgSeqs(host.recovery.msgSeqs ?? []);
  store.start(host.events.sab);
  const own = new Dispatcher(cfg.gateways, host.inbound.sab, host.outbound[cfg.gateways]!.sab, cfg.requestTimeoutMs);
  const workers: Worker[] = [];
  // the market-data worker: reads the event ring from its start, so it is started before any command
  // both are supervised: one that fails is restarted (src/server/supervisor.ts), the order path never waits for them
  const md = new MarketDataService(cfg.gateways, host, cfg.dataDir, log, cfg.workerRestart);
  const reports = ReportService.start(cfg.dataDir, host, log, cfg.workerRestart);
  const stopAll = async () => {
    await Promise.all(workers.map((w) => stopGateway(w, log)));
    await md.stop();
    own.stop();
    await host.stop();
    await reports.stop();
    await store.stop();
  };
  try {
    await seedReferenceData(own, cfg, log);
    const demo = cfg.demoAccount === null ? null : await seedDemoAccount(own, cfg, log);
    const metricsSab = GatewayMetrics.create(cfg.gateways);
    // market-data connections per remote address, counted over every gateway thread
    const mdConnectionsSab = AddressConnections.create();
    const mdConnections = new AddressConnections(mdConnectionsSab, cfg.mdConnectionsPerAddress);
    const gatewayMetrics = Array.from({ length: cfg.gateways }, (_, i) => new GatewayMetrics(metricsSab, i));
    const answer = async (what: string, m: { accountId?: number; from?: number; query?: ReportQuery; minSeq?: number }): Promise<unknown> => {
      if (what === 'range') return store.range(m.accountId!, m.from!);
      if (what === 'report') return reports.query(m.query!, m.minSeq ?? 0);
      if (what === 'metrics')
        return renderMetrics(host.control, gatewayMetrics, { role: 'primary', uptimeSeconds: Math.round((performance.now() - startedMs) / 1000), workers: [md.supervisor.facts(), reports.supervisor.facts()], mdConnections: mdConnections.totals() }, { inbound: host.inbound, journal: host.journalRing, events: host.events });
      if (what === 'snapshot') {
        try {
          const s = await host.snapshotNow();
          return { seq: s.seq, path: s.path, replayMs: Math.round(s.replayMs), writeMs: Math.round(s.writeMs), archived: s.archived.length };
        } catch (e) {
          return { error: (e as Error).message };
        }
      }
      const s = host.control.stats();
      return {
        role: 'primary',
        lastSeq: s.sequencedSeq,
        durableSeq: s.durableSeq,
        releasedSeq: s.releasedSeq,
        replicaSeq: null,
        snapshotSeq: s.snapshotSeq,
        uptimeSeconds: Math.round((performance.now() - startedMs) / 1000),
        journalBytes: dirBytes(cfg.dataDir),
        gateways: cfg.gateways,
        durability: cfg.durability,
      };
    };
    // uWS sets SO_REUSEPORT only on a socket bound to a given port, so a socket bound to port 0
    // cannot be shared: with several gateways, pick a free port first
    let port = cfg.port === 0 && cfg.gateways > 1 ? await freePort(cfg.host) : cfg.port;
    for (let i = 0; i < cfg.gateways; i++) {
      const mdLink = md.forGateway(i);
      const data: GatewayThreadData = {
        index: i,
        source: i,
        host: cfg.host,
        port,
        inboundSab: host.inbound.sab,
        outboundSab: host.outbound[i]!.sab,
        eventsSab: host.events.sab,
        mdSab: mdLink.sab,
        mdPort: mdLink.port,
        mdAvailability: mdLink.availability,
        mdConnectionsSab,
        mdConnectionsPerAddress: cfg.mdConnectionsPerAddress,
        controlSab: host.control.sab,
        metricsSab,
        adminTokenHashHex: createHash('sha256').update(adminToken).digest('hex'),
        rateLimitPerSec: cfg.rateLimit.perSec / cfg.gateways,
        rateLimitBurst: Math.max(1, cfg.rateLimit.burst / cfg.gateways),
        maxBodyBytes: cfg.maxBodyBytes,
        requestTimeoutMs: cfg.requestTimeoutMs,
      };
      const w = new Worker(workerUrl(import.meta.url, '../gateway/gatewayThread.js'), { workerData: data, transferList: [data.mdPort], name: `seqex-gateway-${i}` });
      workers.push(w);
      md.attach(i, w);
      w.on('message', (m: FromGateway) => {
        if (m.type === 'log') log(m.line);
        else if (m.type === 'ask')
          void answer(m.what, m as { accountId?: number; from?: number }).then(
            (value) => w.postMessage({ type: 'reply', id: m.id, value } satisfies ToGateway),
            (e: unknown) => {
              log(`answering a gateway's '${m.what}' failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
              w.postMessage({ type: 'reply', id: m.id, value: { ok: false, message: 'internal error' } } satisfies ToGateway);
            },
          );
      });
      w.on('error', (e) => log(`gateway ${i} failed: ${e.stack ?? e.message}`));
      // the first gateway binds (port 0 = any free one); the others share its port
      port = await listening(w);
    }
    log(`gateways: ${cfg.gateways} thread(s) listening on http://${cfg.host}:${port} (REST) and ws://${cfg.host}:${port}/v1/ws (binary sessions)`);
    const testHooks: RunningExchange['testHooks'] = {
      crashWorker: (worker, how) => (worker === 'md' ? md.crashForTest(how) : reports.crashForTest(how)),
      supervisors: { md: md.supervisor, reports: reports.supervisor },
    };
    return { port, adminToken, demo, host, stop: stopAll, testHooks };
  } catch (e) {
    await stopAll().catch(() => {});
    throw e;
  }
}

/** A port free on `host` right now (the kernel's choice for port 0). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function listening(w: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: FromGateway) => {
      if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'listenFailed') reject(new Error(m.message));
      else return;
      w.off('message', onMsg);
    };
    w.on('message', onMsg);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`gateway thread exited (${code}) before listening`)));
  });
}

/**
 * Asks a gateway thread to stop and waits for it to end by itself (never `terminate`: uWS v20.30
 * aborts the process when a worker dies with sockets open). Idle keep-alive clients hold it for at
 * most uWS's 10 s idle timeout.
 */
async function stopGateway(w: Worker, log: (line: string) => void): Promise<void> {
  const exited = new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 15_000);
    w.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
  w.postMessage({ type: 'stop' } satisfies ToGateway);
  if (!(await exited)) {
    log('a gateway thread still has connections after 15 s; leaving it to the process exit');
    w.unref();
  }
}

/** A secret kept in a file only the owner can read; made on first use. */
function persistedSecret(path: string, make: () => string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const s = make();
  writeFileSync(path, `${s}\n`, { mode: 0o600 });
  return s;
}

async function run(d: Dispatcher, cmd: Command): Promise<{ code: number; events: Record<string, unknown>[] }> {
  const r = await d.command(cmd);
  if (r.kind !== 'reply') throw new Error(`start-up: the sequencer did not answer ${cmd.type} (${r.kind})`);
  return r;
}

/** Adds the configured assets and symbols that are not there yet (a restart finds them in the journal). */
async function seedReferenceData(d: Dispatcher, cfg: ServeConfig, log: (line: string) => void): Promise<void> {
  let added = 0;
  for (const a of cfg.assets) {
    const r = await run(d, { type: 'addAsset', seq: 0, tsUs: 0, asset: a.asset, decimals: a.decimals });
    if (r.code === Code.OK) added++;
    else if (r.code !== Code.ALREADY_EXISTS) throw new Error(`config: asset ${a.asset} refused: ${reason(r)}`);
  }
  for (const s of cfg.symbols) {
    const r = await run(d, { type: 'addSymbol', seq: 0, tsUs: 0, config: s });
    if (r.code === Code.OK) added++;
    else if (r.code !== Code.ALREADY_EXISTS) throw new Error(`config: symbol ${s.symbol} refused: ${reason(r)}`);
  }
  if (added > 0) log(`reference data: added ${added} asset(s) / symbol(s) from the configuration`);
}

async function seedDemoAccount(d: Dispatcher, cfg: ServeConfig, log: (line: string) => void): Promise<{ accountId: number; apiKey: string }> {
  const file = join(cfg.dataDir, 'demo-account.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { accountId: number; apiKey: string };
  const demo = cfg.demoAccount!;
  const apiKey = newApiKey();
  const r = await run(d, { type: 'createAccount', seq: 0, tsUs: 0, name: demo.name, apiKeyHash: hashKey(apiKey) });
  const created = r.events.find((e) => e.event === 'account');
  if (r.code !== Code.OK || created === undefined) throw new Error(`demo account refused: ${reason(r)}`);
  const accountId = created.accountId as number;
  for (const [asset, amount] of Object.entries(demo.funds)) {
    const decimals = cfg.assets.find((a) => a.asset === asset)?.decimals;
    if (decimals === undefined) throw new Error(`demoAccount.funds: unknown asset ${asset}`);
    const amountMinor = new Unit(minorUnit(decimals)).parse(amount);
    if (amountMinor === null || amountMinor <= 0) throw new Error(`demoAccount.funds.${asset}: bad amount ${amount}`);
    const t = await run(d, { type: 'deposit', seq: 0, tsUs: 0, accountId, asset, amountMinor, transferId: `demo-funding-${asset}` });
    if (t.code !== Code.OK) throw new Error(`demo deposit of ${asset} refused: ${reason(t)}`);
  }
  writeFileSync(file, `${JSON.stringify({ accountId, apiKey })}\n`, { mode: 0o600 });
  log(`demo account ${accountId} created and funded`);
  return { accountId, apiKey };
}

function reason(r: { code: number; events: Record<string, unknown>[] }): string {
  const rej = r.events.find((e) => e.event === 'reject');
  return `code ${r.code}${rej !== undefined ? `: ${String(rej.message)}` : ''}`;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const sub of [dir, join(dir, 'archive')]) {
    if (!existsSync(sub)) continue;
    for (const f of readdirSync(sub)) {
      try {
        const st = statSync(join(sub, f));
        if (st.isFile()) n += st.size;
      } catch {
        // a file archived or removed meanwhile
      }
    }
  }
  return n;
}
