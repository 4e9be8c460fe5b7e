/**
 * Idle binary WebSocket sessions (issue 4: 10,000 idle authenticated sessions under 1 GiB):
 * starts `seqex serve` as a child process (temporary data directory, removed after), opens
 * `--sessions` connections to `/v1/ws`, logs each on (on `--accounts` funded accounts made through
 * the admin API, or all on the demo account with `--accounts 0`), holds them idle for `--hold`
 * seconds (answering TestRequests, as a broker would), and reports the server process's RSS
 * (/proc/PID/status VmRSS) before the sessions, after they are all logged on and after the hold,
 * the growth per session, and the server's CPU while it holds them idle. Then closes them all and
 * stops the server (SIGTERM, wait for the exit). Prints one JSON line {"bench":"ws.idleSessions"}.
 *
 * File descriptors: the server and this tool each need one per session. The server child is
 * started under `ulimit -n --nofile` (raised by its shell; root may raise the hard limit); this
 * process's own limit is checked first and the tool stops with a clear message if it is too low
 * (run it as `ulimit -n 65536; node dist/tools/load/ws-idle.js`, as `make loadtest-idle` does).
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { cpuBetween, cpuSample, makeAccounts, nofileLimit, procRssKiB, referenceData, startServer, stopServer, type Target } from './ws-common.js';

const HELP = `usage: node dist/tools/load/ws-idle.js [options]
  --sessions N         idle sessions (default 10000)
  --accounts N         accounts to spread them over (default 100; 0: all on the demo account)
  --hold S             seconds to hold them idle after the last logon (default 15)
  --concurrency N      connections being opened at once (default 200)
  --heartbeat S        the sessions' heartBtInt (default 30)
  --nofile N           the server's open-files limit (default 65536; 0: leave it)
  --durability D       fsync | batch | none (default fsync)
  --gateways N         gateway threads (default: the server's own)
  --server-node-args=S extra node flags for the server
  --json-only          print only the JSON line`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        sessions: { type: 'string', default: '10000' },
        accounts: { type: 'string', default: '100' },
        hold: { type: 'string', default: '15' },
        concurrency: { type: 'string', default: '200' },
        heartbeat: { type: 'string', default: '30' },
        nofile: { type: 'string', default: '65536' },
        durability: { type: 'string', default: 'fsync' },
        gateways: { type: 'string' },
        'server-node-args': { type: 'string', default: '' },
        'json-only': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (e) {
    process.stderr.write(`ws-idle: ${(e as Error).message}\n${HELP}\n`);
    process.exit(2);
  }
}
const { values: opt } = parseOptions();
if (opt.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
function fail(message: string): never {
  process.stderr.write(`ws-idle: ${message}\n`);
  process.exit(2);
}
function intOpt(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in ${min}..${max}, got "${text}"`);
  return n;
}
const SESSIONS = intOpt('sessions', opt.sessions!, 1, 200_000);
const ACCOUNTS = intOpt('accounts', opt.accounts!, 0, 10_000);
const HOLD_S = intOpt('hold', opt.hold!, 0, 3600);
const CONCURRENCY = intOpt('concurrency', opt.concurrency!, 1, 10_000);
const HEARTBEAT = intOpt('heartbeat', opt.heartbeat!, 1, 120);
const NOFILE = intOpt('nofile', opt.nofile!, 0, 10_000_000);
if (!['fsync', 'batch', 'none'].includes(opt.durability!)) fail('--durability must be fsync, batch or none');
const GATEWAYS = opt.gateways === undefined ? null : intOpt('gateways', opt.gateways, 1, 64);
const quiet = opt['json-only']!;
const say = (line = '') => {
  if (!quiet) process.stdout.write(`${line}\n`);
};
const WATCHDOG_MS = (HOLD_S + 240 + Math.ceil(SESSIONS / 100)) * 1000;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

const mib = (kib: number) => Number((kib / 1024).toFixed(1));

let testRequests = 0;
let closedByServer = 0;
let stopping = false;

function openSession(t: Target, apiKey: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(t.wsUrl, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    let loggedOn = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no logon answer within 30 s'));
    }, 30_000);
    ws.on('open', () => ws.send(packr.pack({ msgType: 'A', apiKey, heartBtInt: HEARTBEAT })));
    ws.on('message', (data: Buffer) => {
      const m = unpackr.unpack(data) as { msgType: string; text?: string; testReqId?: string };
      if (!loggedOn) {
        if (m.msgType === 'A') {
          loggedOn = true;
          clearTimeout(timer);
          resolve(ws);
        } else if (m.msgType === '5') {
          clearTimeout(timer);
          reject(new Error(`logon refused: ${m.text}`));
        }
        return;
      }
      if (m.msgType === '1') {
        testRequests++;
        ws.send(packr.pack({ msgType: '0', testReqId: m.testReqId }));
      }
    });
    ws.on('error', (e) => {
      if (!loggedOn) {
        clearTimeout(timer);
        reject(e);
      }
    });
    ws.on('close', () => {
      if (loggedOn && !stopping) closedByServer++;
    });
  });
}

async function main(): Promise<number> {
  const ownLimit = nofileLimit('self');
  if (ownLimit < SESSIONS + 200)
    fail(`this process may open ${ownLimit} files, ${SESSIONS} sessions need more: run it under a higher limit, e.g. \`ulimit -n ${Math.max(65536, SESSIONS + 1000)}; node dist/tools/load/ws-idle.js ...\``);
  say(`ws-idle: starting seqex serve (durability ${opt.durability}${GATEWAYS === null ? '' : `, ${GATEWAYS} gateway(s)`}${NOFILE > 0 ? `, ulimit -n ${NOFILE}` : ''}) ...`);
  const t = await startServer({
    durability: opt.durability!,
    gateways: GATEWAYS,
    nodeArgs: opt['server-node-args']!.split(' ').filter((a) => a !== ''),
    nofile: NOFILE > 0 ? NOFILE : null,
    tag: 'wsidle',
    say,
  });
  const pid = t.child!.pid!;
  const serverLimit = nofileLimit(pid);
  say(`ws-idle: server pid ${pid} on ${t.base}, its open-files limit ${serverLimit}, this process's ${ownLimit}`);
  const watchdog = setTimeout(() => {
    process.stderr.write(`ws-idle: watchdog: still running after ${WATCHDOG_MS / 1000} s: stopping\n`);
    t.child?.kill('SIGKILL');
    if (t.dataDir !== null) rmSync(t.dataDir, { recursive: true, force: true });
    process.exit(3);
  }, WATCHDOG_MS);
  watchdog.unref();
  const open: WebSocket[] = [];
  let ok = false;
  try {
    if (serverLimit < SESSIONS + 200) say(`ws-idle: WARNING: the server may open only ${serverLimit} files: sessions past that will fail`);
    let keys: string[];
    if (ACCOUNTS === 0) {
      if (t.demoKey === null) throw new Error('no demo account');
      keys = [t.demoKey];
    } else {
      const { syms, decimals } = await referenceData(t, ['AAPL']);
      keys = await makeAccounts(t, ACCOUNTS, syms, decimals, `wsidle-${Date.now().toString(36)}`);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const before = procRssKiB(pid);
    say(`ws-idle: server RSS before the sessions ${mib(before.rss)} MiB (${keys.length} account(s) made); opening ${SESSIONS} sessions, ${CONCURRENCY} at a time ...`);
    const t0 = performance.now();
    let failed = 0;
    let firstError: string | null = null;
    let next = 0;
    const worker = async () => {
      while (next < SESSIONS) {
        const i = next++;
        try {
          open.push(await openSession(t, keys[i % keys.length]!));
        } catch (e) {
          failed++;
          firstError ??= (e as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, SESSIONS) }, worker));
    const openS = (performance.now() - t0) / 1000;
    const afterOpen = procRssKiB(pid);
    say(`ws-idle: ${open.length} sessions logged on in ${openS.toFixed(1)} s (${(open.length / openS).toFixed(0)}/s), ${failed} failed${firstError === null ? '' : ` (first: ${firstError})`}; server RSS ${mib(afterOpen.rss)} MiB`);
    say(`ws-idle: holding them idle ${HOLD_S} s ...`);
    const cpuA = cpuSample(pid);
    const samples: number[] = [];
    for (let s = 0; s < HOLD_S; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(procRssKiB(pid).rss);
    }
    const cpuB = cpuSample(pid);
    const afterHold = procRssKiB(pid);
    const cpu = cpuBetween(cpuA, cpuB);
    const stillOpen = open.filter((w) => w.readyState === WebSocket.OPEN).length;
    const perSessionKiB = open.length > 0 ? (afterHold.rss - before.rss) / open.length : NaN;
    say('');
    say(`${open.length} idle authenticated binary WebSocket sessions on ${keys.length} account(s), self-started server (durability ${opt.durability}${GATEWAYS === null ? '' : `, ${GATEWAYS} gateway(s)`})`);
    say(`  server RSS    before ${mib(before.rss)} MiB, all logged on ${mib(afterOpen.rss)} MiB, after ${HOLD_S} s idle ${mib(afterHold.rss)} MiB (peak ${mib(afterHold.hwm)} MiB)`);
    say(`  per session   ${(perSessionKiB).toFixed(1)} KiB (RSS growth / sessions)`);
    say(`  target        10,000 sessions under 1 GiB: ${afterHold.rss < 1024 * 1024 ? 'met' : 'NOT met'} (${mib(afterHold.rss)} MiB for ${open.length})`);
    say(`  during hold   ${stillOpen} still open, ${closedByServer} closed by the server, ${testRequests} TestRequests answered; server CPU ${cpu.serverPct?.toFixed(1)} % of a core, this tool ${cpu.selfPct.toFixed(1)} %`);
    say(`  load average  ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'ws.idleSessions',
        sessions: open.length,
        requested: SESSIONS,
        failed,
        accounts: keys.length,
        serverRssMiB: mib(afterHold.rss),
        serverRssBeforeMiB: mib(before.rss),
        serverRssAfterLogonMiB: mib(afterOpen.rss),
        serverRssPeakMiB: mib(afterHold.hwm),
        perSessionKiB: Number(perSessionKiB.toFixed(1)),
        rssSamplesMiB: samples.map(mib),
        underOneGiB: afterHold.rss < 1024 * 1024,
        openSeconds: Number(openS.toFixed(1)),
        holdSeconds: HOLD_S,
        stillOpen,
        closedByServer,
        serverIdleCpuPct: cpu.serverPct === null ? null : Number(cpu.serverPct.toFixed(1)),
        serverNofile: serverLimit,
        toolNofile: ownLimit,
      })}\n`,
    );
    ok = failed === 0;
  } catch (e) {
    process.stderr.write(`ws-idle: ${(e as Error).stack ?? String(e)}\n`);
    process.stderr.write(`server log (last lines):\n${t.log.slice(-20).join('\n')}\n`);
  } finally {
    stopping = true;
    for (const w of open) w.terminate();
    const code = await stopServer(t, say);
    say(`ws-idle: server stopped (${String(code)}), data directory removed`);
    clearTimeout(watchdog);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ws-idle: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
