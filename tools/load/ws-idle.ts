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
import { loadavg } from 'node:os';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { cpuBetween, cpuSample, describeServer, makeAccounts, nofileLimit, parseCli, procRssKiB, referenceData, runMain, serverChoice, SERVER_OPTIONS, startServer, startWatchdog, stopServer, type Target } from './common.js';

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

const { opt, cli } = parseCli('ws-idle', HELP, {
  sessions: { type: 'string', default: '10000' },
  accounts: { type: 'string', default: '100' },
  hold: { type: 'string', default: '15' },
  concurrency: { type: 'string', default: '200' },
  heartbeat: { type: 'string', default: '30' },
  nofile: { type: 'string', default: '65536' },
  ...SERVER_OPTIONS,
});
const { say, fail, intOpt } = cli;
const SESSIONS = intOpt('sessions', opt.sessions, 1, 200_000);
const ACCOUNTS = intOpt('accounts', opt.accounts, 0, 10_000);
const HOLD_S = intOpt('hold', opt.hold, 0, 3600);
const CONCURRENCY = intOpt('concurrency', opt.concurrency, 1, 10_000);
const HEARTBEAT = intOpt('heartbeat', opt.heartbeat, 1, 120);
const NOFILE = intOpt('nofile', opt.nofile, 0, 10_000_000);
const SERVER = serverChoice(cli, opt);
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
  say(`ws-idle: starting seqex serve (${describeServer(SERVER)}${NOFILE > 0 ? `, ulimit -n ${NOFILE}` : ''}) ...`);
  const t = await startServer({ ...SERVER, nofile: NOFILE > 0 ? NOFILE : null, tag: 'wsidle' });
  const pid = t.child!.pid!;
  const serverLimit = nofileLimit(pid);
  say(`ws-idle: server pid ${pid} on ${t.base}, its open-files limit ${serverLimit}, this process's ${ownLimit}`);
  const watchdog = startWatchdog(cli, WATCHDOG_MS, t);
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
    say(`${open.length} idle authenticated binary WebSocket sessions on ${keys.length} account(s), self-started server (${describeServer(SERVER)})`);
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

runMain(cli, main);
