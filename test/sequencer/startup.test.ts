/**
 * Start-up guards of SequencerHost: one exchange per data directory, and the snapshot the
 * sequencer started from is proven in the background (restored state hash = recorded hash), with
 * the exchange stopped when it is not.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSnapshots, readSnapshotFile, writeSnapshotFile } from '../../src/journal/snapshotFile.js';
import { GatewayPort } from '../../src/sequencer/gatewayPort.js';
import { SequencerHost } from '../../src/sequencer/host.js';
import { recoverEngine } from '../../src/sequencer/recovery.js';
import { ARCHIVE_DIR, listAllSegments, listSegments, recoverJournal } from '../../src/journal/journal.js';
import { CmdType } from '../../src/sequencer/codec.js';

const dirs: string[] = [];
const hosts: SequencerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'seqex-startup-'));
  dirs.push(d);
  return d;
}

const config = (dataDir: string) => ({ dataDir, gateways: 1, durability: 'none' as const, segmentBytes: 64 * 1024, snapshotEveryRecords: 0, snapshotEverySeconds: 0 });

async function start(dataDir: string): Promise<SequencerHost> {
  const h = await SequencerHost.start(config(dataDir));
  hosts.push(h);
  return h;
}

/** A data dir with a few journaled commands and a snapshot of them. */
async function journalWithSnapshot(): Promise<{ dir: string; seq: number }> {
  const dir = tempDir();
  const h = await start(dir);
  const port = new GatewayPort(0, h.inbound.sab, h.outbound[0]!.sab);
  const cmds = [
    { type: 'addAsset', asset: 'USD', decimals: 2 },
    { type: 'createAccount', name: 'alice' },
    { type: 'deposit', accountId: 1, asset: 'USD', amountMinor: 12_345, transferId: 't1' },
  ];
  cmds.forEach((c, i) => expect(port.submit({ ...c, seq: 0, tsUs: 0 } as never, i + 1)).toBe(true));
  let answered = 0;
  const until = Date.now() + 10_000;
  while (answered < cmds.length && Date.now() < until) {
    answered += port.poll((_corr, _seq, code) => expect(code).toBe(0));
    if (answered < cmds.length) await port.waitForResponseAsync(20);
  }
  expect(answered).toBe(cmds.length);
  const snap = await h.snapshotNow();
  await h.stop();
  hosts.splice(hosts.indexOf(h), 1);
  return { dir, seq: snap.seq };
}

describe('SequencerHost start-up', () => {
  it('refuses a data directory another live exchange holds, and takes over the lock of a dead one', async () => {
    const dir = tempDir();
    await start(dir);
    await expect(SequencerHost.start(config(dir))).rejects.toThrow(/in use by process \d+/);
    const other = tempDir();
    writeFileSync(join(other, 'LOCK'), '999999999\n'); // no such process
    const h = await start(other);
    expect(h.recovery.lastSeq).toBe(0);
  });

  it('proves the start snapshot in the background: a good one passes and the exchange serves', async () => {
    const { dir, seq } = await journalWithSnapshot();
    const h = await start(dir);
    expect(h.recovery.snapshotSeq).toBe(seq);
    await expect(h.startSnapshotVerified).resolves.toBe(true);
    expect(h.failure).toBeNull();
  });

  it('a snapshot whose recorded hash does not match its restored state stops the exchange', async () => {
    const { dir, seq } = await journalWithSnapshot();
    // a well-formed file (good CRC) that lies about its state: what a broken restore would look like
    const [name] = listSnapshots(dir);
    const snap = readSnapshotFile(join(dir, name!));
    if (typeof snap === 'string') throw new Error(snap);
    rmSync(snap.path);
    writeSnapshotFile(dir, seq, 'f'.repeat(64), snap.body);
    const h = await start(dir);
    await expect(h.startSnapshotVerified).resolves.toBe(false);
    expect(h.failure?.message).toMatch(/start snapshot check failed: .*differs from the recorded/);
    expect(h.control.stopRequested).toBe(true);
  });
});

describe('SequencerHost start-up from snapshots the host reads while the threads boot', () => {
  /** journalWithSnapshot, then one more deposit and a second snapshot: [older seq, newer seq] */
  async function twoSnapshots(): Promise<{ dir: string; older: number; newer: number; hash: string }> {
    const { dir, seq: older } = await journalWithSnapshot();
    const h = await start(dir);
    const port = new GatewayPort(0, h.inbound.sab, h.outbound[0]!.sab);
    expect(port.submit({ type: 'deposit', accountId: 1, asset: 'USD', amountMinor: 5, transferId: 't2', seq: 0, tsUs: 0 } as never, 9)).toBe(true);
    let answered = 0;
    for (const until = Date.now() + 10_000; answered === 0 && Date.now() < until; ) {
      answered += port.poll((_c, _s, code) => expect(code).toBe(0));
      if (answered === 0) await port.waitForResponseAsync(20);
    }
    const newer = (await h.snapshotNow()).seq;
    await h.stop();
    hosts.splice(hosts.indexOf(h), 1);
    return { dir, older, newer, hash: recoverEngine(dir, {}).engine.stateHash() };
  }

  it('a damaged newest snapshot is skipped (logged) for the older one; the state is the same', async () => {
    const { dir, older, newer, hash } = await twoSnapshots();
    expect(newer).toBeGreaterThan(older);
    const path = join(dir, listSnapshots(dir)[0]!);
    const bytes = readFileSync(path);
    bytes[bytes.length - 5]! ^= 0x20;
    writeFileSync(path, bytes);
    const lines: string[] = [];
    const h = await SequencerHost.start({ ...config(dir), hashOnStop: true, log: (l) => lines.push(l) });
    hosts.push(h);
    expect(h.recovery.snapshotSeq).toBe(older);
    expect(lines.join('\n')).toMatch(/skipping snapshot .*body checksum mismatch/);
    await expect(h.startSnapshotVerified).resolves.toBe(true);
    const stopped = await h.stop();
    expect(stopped.stateHash).toBe(hash);
  });

  it('a newest snapshot this build cannot restore falls back to the older one; the state is the same', async () => {
    const { dir, older, newer, hash } = await twoSnapshots();
    const snap = readSnapshotFile(join(dir, listSnapshots(dir)[0]!));
    if (typeof snap === 'string') throw new Error(snap);
    const body = Uint8Array.from(snap.body);
    new DataView(body.buffer).setUint32(8, 99, true); // engine snapshot format 99
    rmSync(snap.path);
    writeSnapshotFile(dir, newer, snap.stateHash, body);
    const lines: string[] = [];
    const h = await SequencerHost.start({ ...config(dir), hashOnStop: true, log: (l) => lines.push(l) });
    hosts.push(h);
    expect(h.recovery.snapshotSeq).toBe(older);
    expect(lines.join('\n')).toMatch(/skipping snapshot .*format version 99/);
    const stopped = await h.stop();
    expect(stopped.stateHash).toBe(hash);
  });
});

describe('recovery and snapshot formats', () => {
  it('a snapshot this build cannot restore (another format version) is skipped: the journal alone gives the state', async () => {
    const { dir, seq } = await journalWithSnapshot();
    const [name] = listSnapshots(dir);
    const snap = readSnapshotFile(join(dir, name!));
    if (typeof snap === 'string') throw new Error(snap);
    const expected = recoverEngine(dir, {}).engine.stateHash();
    const body = Uint8Array.from(snap.body);
    new DataView(body.buffer).setUint32(8, 2, true); // format version 2: an older build's
    rmSync(snap.path);
    writeSnapshotFile(dir, seq, snap.stateHash, body);
    const lines: string[] = [];
    const r = recoverEngine(dir, {}, (l) => lines.push(l));
    expect(r.snapshotSeq).toBe(0);
    expect(r.replayed).toBe(r.journal.lastSeq);
    expect(r.engine.stateHash()).toBe(expected);
    expect(lines.join('\n')).toMatch(/skipping snapshot .*format version 2/);
  });
});

describe('inbound frames from no known gateway', () => {
  it('are refused: not journaled, not applied, counted as malformed; the real gateway still works', async () => {
    const dir = tempDir();
    const h = await start(dir);
    const stranger = new GatewayPort(7, h.inbound.sab, h.outbound[0]!.sab); // there is no outbound ring 7
    const before = h.control.stats();
    expect(stranger.submit({ type: 'addAsset', asset: 'USD', decimals: 2, seq: 0, tsUs: 0 }, 1)).toBe(true);
    const until = Date.now() + 5_000;
    while (h.control.stats().malformed === before.malformed && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    const after = h.control.stats();
    expect(after.malformed).toBe(before.malformed + 1);
    const port = new GatewayPort(0, h.inbound.sab, h.outbound[0]!.sab);
    expect(port.submit({ type: 'addAsset', asset: 'USD', decimals: 2, seq: 0, tsUs: 0 }, 2)).toBe(true);
    const codes: number[] = [];
    while (codes.length === 0 && Date.now() < until + 5_000) {
      port.poll((corr, _seq, code) => codes.push(corr, code));
      if (codes.length === 0) await port.waitForResponseAsync(20);
    }
    expect(codes).toEqual([2, 0]); // USD did not exist yet: the stranger's addAsset was not applied
    await h.stop();
    hosts.splice(hosts.indexOf(h), 1);
    const types: number[] = [];
    recoverJournal(dir, false, (_s, _t, type) => types.push(type));
    expect(types.filter((t) => t === CmdType.ADD_ASSET)).toHaveLength(1); // only the real gateway's
  });
});

describe('SequencerHost archives the segments every kept snapshot covers', () => {
  async function run(archiveSegments: boolean): Promise<{ dir: string; archived: string[]; hash: string | null }> {
    const dir = tempDir();
    const cfg = { ...config(dir), segmentBytes: 4096, keepSnapshots: 1, archiveSegments, hashOnStop: true };
    const h = await SequencerHost.start(cfg);
    hosts.push(h);
    const port = new GatewayPort(0, h.inbound.sab, h.outbound[0]!.sab);
    const cmds = [
      { type: 'addAsset', asset: 'USD', decimals: 2 },
      { type: 'createAccount', name: 'alice' },
      ...Array.from({ length: 300 }, (_, i) => ({ type: 'deposit', accountId: 1, asset: 'USD', amountMinor: 1 + i, transferId: `t${i}` })),
    ];
    // in rounds, each answered before the next: one journal batch each at least, so the journal
    // rotates into several 4 KiB segments (a batch is never split: all of it at once made one)
    let answered = 0;
    for (let from = 0; from < cmds.length; from += 50) {
      const round = cmds.slice(from, from + 50);
      round.forEach((c, i) => expect(port.submit({ ...c, seq: 0, tsUs: 0 } as never, from + i + 1)).toBe(true));
      for (const until = Date.now() + 10_000; answered < from + round.length && Date.now() < until; ) {
        answered += port.poll((_c, _s, code) => expect(code).toBe(0));
        if (answered < from + round.length) await port.waitForResponseAsync(20);
      }
    }
    expect(answered).toBe(cmds.length);
    expect(listSegments(dir).length).toBeGreaterThan(1);
    const snap = await h.snapshotNow();
    const stopped = await h.stop();
    hosts.splice(hosts.indexOf(h), 1);
    expect(snap.archived.length === 0).toBe(!archiveSegments);
    return { dir, archived: snap.archived, hash: stopped.stateHash };
  }

  it('after a snapshot, covered segments move to archive/; a restart and a replay from the journal alone give the same state', async () => {
    const { dir, archived, hash } = await run(true);
    expect(listSegments(join(dir, ARCHIVE_DIR))).toEqual(archived);
    expect(listSegments(dir).length).toBeGreaterThan(0);
    // from the journal alone (archived segments included) and from the snapshot
    expect(recoverJournal(dir, false).firstSeq).toBe(1);
    const h = await SequencerHost.start({ ...config(dir), hashOnStop: true });
    hosts.push(h);
    expect(h.recovery.snapshotSeq).toBeGreaterThan(0);
    expect((await h.stop()).stateHash).toBe(hash);
    hosts.splice(hosts.indexOf(h), 1);
    rmSync(join(dir, listSnapshots(dir)[0]!)); // no snapshot: the archive is read
    const h2 = await SequencerHost.start({ ...config(dir), hashOnStop: true });
    hosts.push(h2);
    expect(h2.recovery.snapshotSeq).toBe(0);
    expect((await h2.stop()).stateHash).toBe(hash);
  });

  it('refuses keepSnapshots below 1 (it would delete the snapshot just written)', async () => {
    await expect(SequencerHost.start({ ...config(tempDir()), keepSnapshots: 0 })).rejects.toThrow(/keepSnapshots must be an integer >= 1/);
  });

  it('archiveSegments: false leaves every segment in place', async () => {
    const { dir } = await run(false);
    expect(listAllSegments(dir)).toEqual(listSegments(dir));
  });
});
