/**
 * `seqex serve`: starts the exchange (configuration: src/server/config.ts, docs/operations.md),
 * prints how to reach it, and stops cleanly on SIGINT / SIGTERM: stop accepting, answer what is in
 * flight, drain the sequencer, sync the journal, exit 0.
 */
import { ConfigError, loadConfig } from '../../src/server/config.js';
import { startExchange } from '../../src/server/exchange.js';

export async function serveMain(argv: string[]): Promise<number> {
  let cfg;
  try {
    cfg = loadConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`seqex serve: bad configuration: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  if (cfg.durability === 'none') log('WARNING: durability none: acknowledged orders can be lost in a crash (tests and benchmarks only)');
  let ex;
  try {
    ex = await startExchange(cfg, log);
  } catch (e) {
    process.stderr.write(`seqex serve: could not start: ${(e as Error).message}\n`);
    return 1;
  }
  const base = `http://127.0.0.1:${ex.port}`;
  const lines = [
    `seqex is running: ${base}  (data in ${cfg.dataDir}, durability ${cfg.durability})`,
    `admin token: ${ex.adminToken}`,
  ];
  if (ex.demo !== null) {
    lines.push(`demo account ${ex.demo.accountId}, API key: ${ex.demo.apiKey}`);
    lines.push(`try: curl -s -H 'Authorization: Bearer ${ex.demo.apiKey}' -H 'content-type: application/json' \\`);
    lines.push(`       -d '{"symbol":"AAPL","side":"buy","type":"limit","qty":"10","price":"189.50"}' ${base}/v1/order`);
  }
  for (const l of lines) log(l);
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: stopping (no new requests; answering those in flight; syncing the journal)`);
      ex.stop().then(
        () => {
          log('stopped cleanly');
          resolve(0);
        },
        (e: Error) => {
          log(`stop failed: ${e.message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });
}
