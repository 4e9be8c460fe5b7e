#!/usr/bin/env node
/**
 * The `seqex` command line. Subcommands arrive with the issues that build them (serve, standby
 * come with issues 3 and 4); today: replay, journal-info, version and the engine benchmark.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { journalInfoMain, replayMain } from './replay.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

const USAGE = `usage: seqex <command>

commands:
  replay [--data-dir DIR] [--to-seq N] [--from-snapshot] [--verify] [--repair] [--events FILE]
                 rebuild the engine from snapshot + journal: records, last seq, rate, state hash;
                 --verify checks invariants and that the journal reproduces the snapshot's hash;
                 --events writes the regenerated events (JSON lines) to FILE
                 exit 0 whole, 2 corruption (file and offset), 3 torn tail not cut
  journal-info [--data-dir DIR]
                 segments, seq ranges, sizes, damage
  version        print the seqex version
  bench [args]   run the engine benchmark (same as make bench)
  help           this text
`;

function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'version':
    case '--version': {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(`seqex ${pkg.version}\n`);
      return 0;
    }
    case 'replay':
      return replayMain(rest, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
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

process.exitCode = main(process.argv.slice(2));
