#!/usr/bin/env node
/**
 * The `seqex` command line: serve, replay, audit, journal-info, version and the engine benchmark
 * (standby comes with the replication issue).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditMain } from './audit.js';
import { journalInfoMain, replayMain } from './replay.js';
import { serveMain } from './serve.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

const USAGE = `usage: seqex <command>

commands:
  serve [--config FILE] [--data-dir DIR] [--port N] [--host ADDR] [--gateways N] [--durability fsync|batch|none]
                 run the exchange (REST on port 8080 by default, data in journal/); SEQEX_* env
                 variables override the file, flags override both; prints the admin token and
                 the demo account's API key; SIGINT / SIGTERM stop it cleanly
  replay [--data-dir DIR] [--to-seq N] [--from-snapshot] [--verify] [--repair] [--events FILE]
         [--rebuild-reports [--reports FILE]]
                 rebuild the engine from snapshot + journal: records, last seq, rate, state hash;
                 --verify checks invariants and that the journal reproduces the snapshot's hash;
                 --events writes the regenerated events (JSON lines) to FILE;
                 --rebuild-reports rebuilds the report database (default <data-dir>/reports.sqlite)
                 from the whole journal into a new file swapped in at the end (server stopped)
                 exit 0 whole, 2 corruption (file and offset), 3 torn tail not cut
  audit [--data-dir DIR] [--reports FILE] [--no-snapshot]
                 reconcile the report database's ledger with the engine rebuilt from the journal
                 (balances, reservations, conservation, open orders, lag); exit 0 clean,
                 1 differences (named), 2 usage / unreadable (seqex audit --help)
  journal-info [--data-dir DIR]
                 segments, seq ranges, sizes, damage
  version        print the seqex version
  bench [args]   run the engine benchmark (same as make bench)
  help           this text
`;

function main(argv: string[]): number | Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serveMain(rest);
    case 'version':
    case '--version': {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(`seqex ${pkg.version}\n`);
      return 0;
    }
    case 'replay':
      return replayMain(rest, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
    case 'audit':
      return auditMain(rest, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
    case 'journal-info':
      return journalInfoMain(rest, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
    case 'bench': {
      const r = spawnSync(process.execPath, ['--expose-gc', join(here, '..', 'bench', 'engine-bench.js'), ...rest], { stdio: 'inherit' });
      return r.status ?? 1;
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`seqex: unknown command '${cmd}'\n\n${USAGE}`);
      return 2;
  }
}

void Promise.resolve(main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
  // serve leaves threads behind only if a stop failed: do not hang on them
  if (process.argv[2] === 'serve') process.exit(code);
});
