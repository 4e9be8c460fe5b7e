// The process the crash suite kills: runs a SequencerHost (fsync durability, small segments so
// they rotate, a snapshot every 1000 records) on the data dir given in argv, under load from two
// worker-thread producers (producer.mjs), and prints to stdout one line per acknowledged command,
// only after the producer saw the response the sequencer released (so only after the command was
// durable).
//
//   node child.mjs <dataDir> setup               assets, symbol, accounts, deposits, a snapshot;
//                                                clean stop; exit 0
//   node child.mjs <dataDir> run <round> <seed>  run under load until killed
//
// stdout lines: `READY {json}` after start, `ACK {json}` per acknowledged command, `LOG text` for
// the host's log, `SETUP {json}` / `STOPPED {json}` in setup mode. Writes to a pipe are
// synchronous on Linux, so a line the parent read was written before the kill.
//
// The child never outlives its parent: it exits when stdin closes, and after MAX_LIFETIME_MS.
import { Worker } from 'node:worker_threads';
import { SequencerHost } from '../../dist/src/sequencer/host.js';
import { GatewayPort } from '../../dist/src/sequencer/gatewayPort.js';

const MAX_LIFETIME_MS = 60_000;
/** commands per second per producer (two producers) */
const RATE_PER_PRODUCER = 1500;
const [dataDir, mode = 'run', roundArg = '0', seedArg = '1'] = process.argv.slice(2);
if (dataDir === undefined) {
  process.stderr.write('usage: child.mjs <dataDir> setup|run [round] [seed]\n');
  process.exit(1);
}

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
setTimeout(() => {
  process.stderr.write(`child: still alive after ${MAX_LIFETIME_MS} ms: exiting\n`);
  process.exit(3);
}, MAX_LIFETIME_MS).unref();

const out = (line) => process.stdout.write(`${line}\n`);

/** 4 trading accounts (ids 1..4; 0 is the fee account), funded far beyond what a run can use. */
const ACCOUNTS = [1, 2, 3, 4];
const SETUP = [
  { type: 'addAsset', asset: 'USD', decimals: 2 },
  { type: 'addAsset', asset: 'AAPL', decimals: 0 },
  {
    type: 'addSymbol',
    config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1000000', maxNotional: '100000000' },
  },
  ...ACCOUNTS.map((a) => ({ type: 'createAccount', name: `trader${a}` })),
  ...ACCOUNTS.flatMap((a) => [
    { type: 'deposit', accountId: a, asset: 'USD', amountMinor: 1_000_000_000_000, transferId: `usd-${a}` },
    { type: 'deposit', accountId: a, asset: 'AAPL', amountMinor: 1_000_000_000, transferId: `aapl-${a}` },
  ]),
  ...ACCOUNTS.map((a) => ({ type: 'setAccountLimits', accountId: a, maxOpenOrders: 1_000_000 })),
];

const host = await SequencerHost.start({
  dataDir,
  gateways: 2,
  durability: 'fsync',
  segmentBytes: 256 * 1024,
  snapshotEveryRecords: 1000,
  snapshotEverySeconds: 0,
  hashOnStop: mode === 'setup',
  log: (line) => out(`LOG ${line}`),
});

if (mode === 'setup') {
  if (host.recovery.lastSeq !== 0) throw new Error(`setup on a journal that is not empty (last seq ${host.recovery.lastSeq})`);
  const port = new GatewayPort(0, host.inbound.sab, host.outbound[0].sab);
  let corr = 0;
  for (const c of SETUP) if (!port.submit(c, ++corr)) throw new Error('setup: inbound ring full');
  const codes = new Map();
  const deadline = Date.now() + 20_000;
  while (codes.size < SETUP.length) {
    if (Date.now() > deadline) throw new Error(`setup: ${codes.size} of ${SETUP.length} responses`);
    await port.waitForResponseAsync(50);
    port.poll((c, seq, code) => codes.set(c, { seq, code }));
  }
  for (const [c, r] of codes) if (r.code !== 0) throw new Error(`setup command ${JSON.stringify(SETUP[c - 1])} -> code ${r.code}`);
  out(`SETUP ${JSON.stringify({ accounts: ACCOUNTS, lastSeq: host.control.releasedSeq })}`);
  // a first snapshot, so the snapshot thread of a short-lived child has a base to replay from
  await host.snapshotNow();
  const stopped = await Promise.race([host.stop(), new Promise((r) => setTimeout(() => r(null), 15_000))]);
  if (stopped === null) {
    process.stderr.write(`setup: stop() did not return in 15 s (host failure: ${host.failure?.stack ?? 'none'})\n`);
    process.exit(4);
  }
  out(`STOPPED ${JSON.stringify(stopped)}`);
  process.exit(0);
}

const round = Number(roundArg);
const seed = Number(seedArg);
out(
  `READY ${JSON.stringify({
    lastSeq: host.recovery.lastSeq,
    snapshotSeq: host.recovery.snapshotSeq,
    replayed: host.recovery.replayed,
    tornBytes: host.recovery.journal.tornBytes,
  })}`,
);
for (let source = 0; source < 2; source++) {
  const w = new Worker(new URL('./producer.mjs', import.meta.url), {
    workerData: {
      source,
      inboundSab: host.inbound.sab,
      outboundSab: host.outbound[source].sab,
      round,
      seed: (seed ^ Math.imul(round, 0x9e3779b1) ^ (source + 1)) >>> 0,
      accounts: ACCOUNTS.slice(2 * source, 2 * source + 2),
      ratePerSecond: RATE_PER_PRODUCER,
    },
  });
  w.on('message', (lines) => {
    for (const l of lines) out(`ACK ${l}`);
  });
  w.on('error', (e) => {
    process.stderr.write(`producer ${source} failed: ${e.stack ?? e}\n`);
    process.exit(2);
  });
}
setInterval(() => {
  if (host.failure !== null) {
    process.stderr.write(`host failure: ${host.failure.stack ?? host.failure}\n`);
    process.exit(2);
  }
}, 50);
