import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import { archiveCoveredSegments } from '../../src/journal/archive.js';
import { ARCHIVE_DIR, JournalWriter, listAllSegments, listSegments, segmentFirstSeq } from '../../src/journal/journal.js';
import { writeSnapshotFile } from '../../src/journal/snapshotFile.js';
import { encodeCommand, MAX_COMMAND_BYTES } from '../../src/sequencer/codec.js';
import { EXIT_CORRUPT, EXIT_OK, EXIT_TORN, EXIT_USAGE, journalInfoMain, replayMain } from '../../tools/cli/replay.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A journal of a small trading session; returns the dir and the live engine's hash per seq. */
function session(segmentBytes = 4096, snapshotAt = -1): { dir: string; hashAt: Map<number, string>; lastSeq: number } {
  const dir = mkdtempSync(join(tmpdir(), 'seqex-replay-'));
  dirs.push(dir);
  const live = new Engine();
  const w = new JournalWriter({ dir, durability: 'none', segmentBytes });
  const buf = new Uint8Array(MAX_COMMAND_BYTES);
  const hashAt = new Map<number, string>();
  let seq = 0;
  const run = (c: object) => {
    const cmd = { ...c, seq: ++seq, tsUs: Date.UTC(2024, 0, 3, 12) * 1000 + seq } as Command;
    const [type, n] = encodeCommand(cmd, buf);
    w.append(seq, cmd.tsUs, type, buf.subarray(0, n));
    live.apply(cmd);
    if (seq % 25 === 0) {
      hashAt.set(seq, live.stateHash());
      w.commit(); // group commits, so small segments rotate
    }
    if (seq === snapshotAt) writeSnapshotFile(dir, seq, live.stateHash(), live.snapshot());
  };
  run({ type: 'addAsset', asset: 'USD', decimals: 2 });
  run({ type: 'addAsset', asset: 'AAPL', decimals: 0 });
  run({ type: 'addSymbol', config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1000', maxNotional: '1000000' } });
  for (let a = 1; a <= 3; a++) {
    run({ type: 'createAccount', name: `a${a}` });
    run({ type: 'deposit', accountId: a, asset: 'USD', amountMinor: 10_000_000, transferId: `u${a}` });
    run({ type: 'deposit', accountId: a, asset: 'AAPL', amountMinor: 1_000, transferId: `x${a}` });
  }
  for (let i = 0; i < 300; i++) run({ type: 'newOrder', accountId: 1 + (i % 3), symbol: 'AAPL', side: 1 + (i % 2), ordType: 1, qtyLots: 1 + (i % 7), priceTicks: 10000 + (i % 5) - 2 });
  while (seq % 25 !== 0) run({ type: 'tick' });
  w.close();
  hashAt.set(seq, live.stateHash());
  return { dir, hashAt, lastSeq: seq };
}

function cli(fn: typeof replayMain, argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = fn(argv, (t) => (out += t), (t) => (err += t));
  return { code, out, err };
}

describe('seqex replay', () => {
  it('--from-snapshot starts from the snapshot and ends with the same hash; --verify checks the journal reproduces it', () => {
    const { dir, hashAt, lastSeq } = session(4096, 200);
    const fromSnap = cli(replayMain, ['--data-dir', dir, '--from-snapshot']);
    expect(fromSnap.code).toBe(EXIT_OK);
    expect(fromSnap.out).toContain('(seq 200, hash checked)');
    expect(fromSnap.out).toContain(`applied       ${lastSeq - 200}`);
    expect(fromSnap.out).toContain(`state hash    ${hashAt.get(lastSeq)}`);
    const verify = cli(replayMain, ['--data-dir', dir, '--verify']);
    expect(verify.code).toBe(EXIT_OK);
    expect(verify.out).toContain('snapshot      ok (seq 200)');
    expect(verify.out).toContain(`state hash    ${hashAt.get(lastSeq)}`);
  });

  it('--verify fails when the snapshot does not match what the journal rebuilds', () => {
    const { dir } = session(4096);
    writeSnapshotFile(dir, 200, 'f'.repeat(64), new Engine().snapshot());
    const r = cli(replayMain, ['--data-dir', dir, '--verify']);
    expect(r.code).toBe(EXIT_CORRUPT);
    expect(r.out).toContain('MISMATCH at seq 200');
    const s = cli(replayMain, ['--data-dir', dir, '--from-snapshot']);
    expect(s.code).toBe(EXIT_CORRUPT);
    expect(s.err).toContain('restored state hash');
  });

  it('rebuilds the exact state: the printed hash equals the live engine hash, at the end and --to-seq', () => {
    const { dir, hashAt, lastSeq } = session();
    const all = cli(replayMain, ['--data-dir', dir, '--verify']);
    expect(all.code).toBe(EXIT_OK);
    expect(all.out).toContain(`last seq      ${lastSeq}`);
    expect(all.out).toContain(`state hash    ${hashAt.get(lastSeq)}`);
    expect(all.out).toContain('invariants    ok');
    const part = cli(replayMain, ['--data-dir', dir, '--to-seq', '150']);
    expect(part.out).toContain(`state hash    ${hashAt.get(150)}`);
  });

  it('a torn tail: reported with exit 3, cut with --repair (exit 0), nothing acknowledged lost', () => {
    const { dir } = session();
    const segs = listSegments(dir);
    const newest = join(dir, segs[segs.length - 1]!);
    truncateSync(newest, statSync(newest).size - 3);
    const seen = cli(replayMain, ['--data-dir', dir]);
    expect(seen.code).toBe(EXIT_TORN);
    expect(seen.out).toMatch(/torn tail     \d+ bytes found, not cut/);
    const size = statSync(newest).size;
    const fixed = cli(replayMain, ['--data-dir', dir, '--repair']);
    expect(fixed.code).toBe(EXIT_OK);
    expect(statSync(newest).size).toBeLessThan(size);
    expect(cli(replayMain, ['--data-dir', dir]).code).toBe(EXIT_OK);
  });

  it('corruption in the middle: exit 2 naming the file and offset; journal-info agrees', () => {
    const { dir } = session();
    const victim = join(dir, listSegments(dir)[0]!);
    const bytes = readFileSync(victim);
    bytes[100]! ^= 0x20;
    writeFileSync(victim, bytes);
    const r = cli(replayMain, ['--data-dir', dir]);
    expect(r.code).toBe(EXIT_CORRUPT);
    expect(r.err).toContain(`CORRUPT ${victim} at offset`);
    const info = cli(journalInfoMain, ['--data-dir', dir]);
    expect(info.code).toBe(EXIT_CORRUPT);
    expect(info.out).toMatch(/CORRUPT at \d+/);
  });

  it('journal-info lists segments with seq ranges; bad options are usage errors', () => {
    const { dir, lastSeq } = session();
    const info = cli(journalInfoMain, ['--data-dir', dir]);
    expect(info.code).toBe(EXIT_OK);
    expect(info.out).toContain(`..${lastSeq}`);
    expect(cli(replayMain, ['--to-seq', 'x']).code).toBe(EXIT_USAGE);
    expect(cli(replayMain, ['--bogus']).code).toBe(EXIT_USAGE);
  });

  it('--events: snapshot + tail replay regenerates exactly the tail of the full replay (same events, same hash)', () => {
    const { dir, hashAt, lastSeq } = session(4096, 150);
    const fullFile = join(dir, 'full.jsonl');
    const tailFile = join(dir, 'tail.jsonl');
    const full = cli(replayMain, ['--data-dir', dir, '--events', fullFile]);
    const tail = cli(replayMain, ['--data-dir', dir, '--from-snapshot', '--events', tailFile]);
    expect(full.code).toBe(EXIT_OK);
    expect(tail.code).toBe(EXIT_OK);
    const hashOf = (out: string) => /state hash\s+(\w+)/.exec(out)![1];
    expect(hashOf(full.out)).toBe(hashAt.get(lastSeq));
    expect(hashOf(tail.out)).toBe(hashAt.get(lastSeq));
    const fullLines = readFileSync(fullFile, 'utf8').trim().split('\n');
    const tailLines = readFileSync(tailFile, 'utf8').trim().split('\n');
    const after150 = fullLines.filter((l) => (JSON.parse(l) as { seq: number }).seq > 150);
    expect(tailLines.length).toBeGreaterThan(100);
    expect(tailLines).toEqual(after150);
    // fills happened in the tail: the events are the market's, not just acks
    expect(tailLines.some((l) => l.includes('"event":"trade"'))).toBe(true);
    expect(cli(replayMain, ['--data-dir', dir, '--events']).code).toBe(EXIT_USAGE);
  });

  it('refuses a journal whose first segments are missing when replaying from the journal alone', () => {
    const { dir } = session(4096, 200);
    const segs = listSegments(dir);
    expect(segs.length).toBeGreaterThan(2);
    rmSync(join(dir, segs[0]!));
    const r = cli(replayMain, ['--data-dir', dir]);
    expect(r.code).toBe(EXIT_CORRUPT);
    expect(r.err).toContain('segments missing');
  });
});

describe('archived segments (src/journal/archive.ts)', () => {
  it('moves only segments wholly covered, never the newest; replay, journal-info and appends read them where they are', () => {
    const { dir, hashAt, lastSeq } = session(4096, 200);
    const live = listSegments(dir);
    expect(live.length).toBeGreaterThan(4);
    const before = cli(replayMain, ['--data-dir', dir]);
    const moved = archiveCoveredSegments(dir, 200);
    // exactly the segments whose last record is at or before seq 200
    const expected = live.filter((_, i) => i + 1 < live.length && segmentFirstSeq(live[i + 1]!) - 1 <= 200);
    expect(moved).toEqual(expected);
    expect(moved.length).toBeGreaterThan(0);
    expect(listSegments(join(dir, ARCHIVE_DIR))).toEqual(moved);
    expect(listAllSegments(dir)).toEqual(live);
    expect(archiveCoveredSegments(dir, 200)).toEqual([]); // nothing more is covered
    // the newest segment stays even when everything is covered
    archiveCoveredSegments(dir, lastSeq);
    expect(listSegments(dir)).toEqual([live[live.length - 1]]);
    const after = cli(replayMain, ['--data-dir', dir]);
    expect(after.code).toBe(EXIT_OK);
    expect(after.out).toContain(`state hash    ${hashAt.get(lastSeq)}`);
    expect(after.out.replace(/rate .*\n/, '')).toBe(before.out.replace(/rate .*\n/, ''));
    const info = cli(journalInfoMain, ['--data-dir', dir]);
    expect(info.code).toBe(EXIT_OK);
    expect(info.out).toContain(`${live.length} segment(s) in ${dir} (${live.length - 1} in archive/)`);
    expect(info.out).toContain(`archive/${live[0]}`);
    // the writer appends to the newest (live) segment after reopening
    const w = new JournalWriter({ dir, durability: 'none', segmentBytes: 4096 });
    expect(w.lastSeq).toBe(lastSeq);
    w.close();
  });
});
