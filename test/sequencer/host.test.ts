/**
 * SequencerHost in-process, the happy path: a host in a temp dir, gateways on the test's thread.
 * Responses carry the gateway's correlation, codes and the sender's reports (fills included), seqs
 * run on by one (the only other journal records are the sequencer's clock ticks); nothing is
 * released before it is durable; a malformed frame is answered INVALID_REQUEST with seq 0 and never
 * journaled; snapshotNow writes the state a clean replay has at its seq; stop + restart recovers the
 * same state; `seqex replay` rebuilds it from the journal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ExecType, OrdStatus } from '../../src/domain/codes.js';
import type { Command } from '../../src/engine/commands.js';
import { Engine } from '../../src/engine/engine.js';
import type { DecodedEvent } from '../../src/engine/events.js';
import { readSnapshotFile } from '../../src/journal/snapshotFile.js';
import { EMPTY, LAPPED } from '../../src/ring/broadcastRing.js';
import { CmdType } from '../../src/sequencer/codec.js';
import { GatewayPort } from '../../src/sequencer/gatewayPort.js';
import { SequencerHost, type SequencerConfig } from '../../src/sequencer/host.js';
import { decodeOutput } from '../../src/sequencer/outputCodec.js';
import { EXIT_OK, replayMain } from '../../tools/cli/replay.js';
import { cleanReplay } from '../crash/verify.js';
import { type Body, twoTraderSetup } from './setup.js';


interface Response {
  corr: number;
  seq: number;
  code: number;
  tsUs: number;
  events: DecodedEvent[];
  /** control.durableSeq read just after the frame was seen */
  durableWhenSeen: number;
}

const ALICE = 1;
const BOB = 2;
const SETUP = twoTraderSetup(100_000_000_000, 1_000_000);

const limit = (accountId: number, side: 1 | 2, qtyLots: number, priceTicks: number, clOrdId: string): Body => ({
  type: 'newOrder',
  accountId,
  symbol: 'AAPL',
  side,
  ordType: 1,
  qtyLots,
  priceTicks,
  clOrdId,
});

let dir = '';
let host: SequencerHost | null = null;
const hosts: SequencerHost[] = [];
const dirs: string[] = [];
/** a temp dir removed after the file's tests (also when a test failed half way) */
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

async function start(extra: Partial<SequencerConfig> = {}): Promise<SequencerHost> {
  // one segment (rotation has its own test below)
  const h = await SequencerHost.start({ dataDir: dir, gateways: 2, segmentBytes: 8 << 20, snapshotEveryRecords: 0, snapshotEverySeconds: 0, hashOnStop: true, ...extra });
  hosts.push(h);
  return h;
}

function ports(h: SequencerHost): [GatewayPort, GatewayPort] {
  return [new GatewayPort(0, h.inbound.sab, h.outbound[0]!.sab), new GatewayPort(1, h.inbound.sab, h.outbound[1]!.sab)];
}

/** Polls until `n` responses arrived on `port` (or the timeout); checks each was durable when seen. */
async function collect(h: SequencerHost, port: GatewayPort, n: number, timeoutMs = 20_000): Promise<Response[]> {
  const out: Response[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    if (Date.now() > deadline || h.failure !== null)
      throw new Error(`${out.length} of ${n} responses on gateway ${port.source}; host failure: ${h.failure?.stack ?? 'none'}`);
    await port.waitForResponseAsync(20);
    port.poll((corr, seq, code, more, at) => {
      expect(more).toBe(false);
      const o = port.decode(at);
      out.push({ corr, seq, code, tsUs: o.tsUs, events: o.events, durableWhenSeen: h.control.durableSeq });
    });
  }
  expect(port.laps).toBe(0);
  return out;
}

/** Submits all (retrying while the ring is full) with correlations from `firstCorr`. */
function submitAll(port: GatewayPort, cmds: Body[], firstCorr: number): void {
  cmds.forEach((c, i) => {
    if (!port.submit(c as Command, firstCorr + i)) throw new Error('inbound ring full');
  });
}

const execs = (r: Response, clOrdId?: string) => r.events.filter((e) => e.event === 'exec' && (clOrdId === undefined || e.clOrdId === clOrdId));

beforeAll(() => {
  dir = tempDir('seqex-host-');
});
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const debugLog = (line: string) => {
  if (process.env.SEQEX_HOST_DEBUG) console.log(line);
};
/** stop(), but never hang the suite (a host whose thread died may not stop: see the failure test) */
const stopWithin = (h: SequencerHost, ms: number) => Promise.race([h.stop().then(() => 'stopped' as const), sleep(ms).then(() => 'hung' as const)]);

/** stop(), or an error saying why it did not return */
async function stopOrThrow(h: SequencerHost): Promise<{ lastSeq: number; stateHash: string | null }> {
  const r = await Promise.race([h.stop(), sleep(15_000).then(() => null)]);
  if (r === null)
    throw new Error(
      `stop() did not return in 15 s; host failure: ${h.failure?.stack ?? 'none (the segment preparer exited before stop() listened for it: see the SequencerHost stop test)'}`,
    );
  return r;
}

afterAll(async () => {
  try {
    await Promise.all(hosts.map((h) => stopWithin(h, 3000).catch(() => {})));
  } finally {
    while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
  }
}, 30_000);

describe('SequencerHost', () => {
  const seen: Response[] = [];
  /** [a, b]: b came right after a; checked at the stop: only clock ticks may lie between */
  const consecutive: [number, number][] = [];
  let orderA = 0;
  let snapSeq = 0;
  let stopped: { lastSeq: number; stateHash: string | null } = { lastSeq: 0, stateHash: null };

  it('starts on an empty dir and answers setup commands in order, each durable before it is released', async () => {
    host = await start();
    expect(host.recovery.lastSeq).toBe(0);
    expect(host.recovery.snapshotSeq).toBe(0);
    const [g0] = ports(host);
    submitAll(g0, SETUP, 1);
    const res = await collect(host, g0, SETUP.length);
    expect(res.map((r) => r.corr)).toEqual(SETUP.map((_, i) => i + 1));
    expect(res.map((r) => r.code)).toEqual(SETUP.map(() => Code.OK));
    for (let i = 1; i < res.length; i++) {
      expect(res[i]!.seq).toBeGreaterThan(res[i - 1]!.seq);
      consecutive.push([res[i - 1]!.seq, res[i]!.seq]);
    }
    for (const r of res) expect(r.seq).toBeLessThanOrEqual(r.durableWhenSeen);
    expect(res[0]!.events.map((e) => e.event)).toEqual(['asset']);
    expect(res[3]!.events.find((e) => e.event === 'account')?.accountId).toBe(ALICE);
    seen.push(...res);
  });

  it('crossing orders from two gateways: each gateway gets only its own responses, with its fills; the event ring gets every event', async () => {
    const h = host!;
    const [g0, g1] = ports(h);
    const evReader = h.events.reader(0);
    submitAll(g0, [limit(ALICE, 1, 10, 10_000, 'a1')], 100);
    const [ra] = await collect(h, g0, 1);
    expect(ra!.corr).toBe(100);
    expect(ra!.code).toBe(Code.OK);
    const newA = execs(ra!, 'a1');
    expect(newA.map((e) => e.execType)).toEqual([ExecType.NEW]);
    orderA = newA[0]!.orderId as number;
    expect(orderA).toBeGreaterThan(0);

    submitAll(g1, [limit(BOB, 2, 4, 9_990, 'b1')], 200);
    const [rb] = await collect(h, g1, 1);
    expect(rb!.corr).toBe(200);
    expect(rb!.code).toBe(Code.OK);
    expect(rb!.seq).toBeGreaterThan(ra!.seq);
    consecutive.push([ra!.seq, rb!.seq]);
    // bob's response: his own execution reports, the fill included
    const bob = execs(rb!, 'b1');
    expect(bob.map((e) => e.execType)).toEqual([ExecType.NEW, ExecType.TRADE]);
    expect(bob[1]).toMatchObject({ ordStatus: OrdStatus.FILLED, lastQtyLots: 4, lastPxTicks: 10_000, cumQtyLots: 4, leavesQtyLots: 0 });

    // gateway 0 did not get bob's response
    await sleep(30);
    expect(g0.poll(() => {})).toBe(0);

    // the event ring: both commands, in seq order, tagged with the command type, with every event
    const frames: { tag: number; seq: number; events: DecodedEvent[] }[] = [];
    for (let at = evReader.next(); at !== EMPTY; at = evReader.next()) {
      expect(at).not.toBe(LAPPED);
      const o = decodeOutput(h.events.v, at, evReader.payloadBytes);
      expect(evReader.intact()).toBe(true);
      frames.push({ tag: evReader.tag, seq: o.seq, events: o.events });
      evReader.advance();
    }
    expect(frames.map((f) => [f.tag, f.seq])).toEqual([
      [CmdType.NEW_ORDER, ra!.seq],
      [CmdType.NEW_ORDER, rb!.seq],
    ]);
    expect(frames[0]!.events.some((e) => e.event === 'bookAdd' && e.orderId === orderA)).toBe(true);
    const trades = frames[1]!.events.filter((e) => e.event === 'trade');
    expect(trades).toHaveLength(1);
    expect(trades[0]).toMatchObject({ qtyLots: 4, priceTicks: 10_000, makerOrderId: orderA });
    // the maker's report (alice, partially filled) is on the event ring
    const maker = frames[1]!.events.filter((e) => e.event === 'exec' && e.orderId === orderA);
    expect(maker).toHaveLength(1);
    expect(maker[0]).toMatchObject({ execType: ExecType.TRADE, ordStatus: OrdStatus.PARTIALLY_FILLED, lastQtyLots: 4, cumQtyLots: 4, leavesQtyLots: 6 });
    // everything a gateway was told is on the event ring too
    for (const [r, f] of [
      [ra!, frames[0]!],
      [rb!, frames[1]!],
    ] as const) {
      const all = f.events.map((e) => JSON.stringify(e));
      for (const e of r.events) expect(all).toContain(JSON.stringify(e));
    }
    seen.push(ra!, rb!);
  });

  it('under load from both gateways: released <= durable at every moment, every response durable when seen', async () => {
    const h = host!;
    const [g0, g1] = ports(h);
    const N = 1500;
    // alice buys at 10095.., bob sells at 10100..: they trade with each other, never with a1 (a bid at 10000)
    const cmds = (g: number) =>
      Array.from({ length: N }, (_, i) => limit(g === 0 ? ALICE : BOB, g === 0 ? 1 : 2, 1 + (i % 3), (g === 0 ? 10_095 : 10_100) + (i % 11), `g${g}n${i}`));
    // released is read first: durable only grows, so released <= durable must hold for the pair
    const samples: [number, number][] = [];
    const sampler = setInterval(() => {
      const released = h.control.releasedSeq;
      samples.push([released, h.control.durableSeq]);
    }, 1);
    try {
      submitAll(g0, cmds(0), 1000);
      submitAll(g1, cmds(1), 1000);
      const [r0, r1] = await Promise.all([collect(h, g0, N), collect(h, g1, N)]);
      for (const [g, rs] of [
        [0, r0],
        [1, r1],
      ] as const) {
        expect(rs.map((r) => r.corr)).toEqual(Array.from({ length: N }, (_, i) => 1000 + i));
        for (let i = 0; i < rs.length; i++) {
          const r = rs[i]!;
          expect(r.code, `gateway ${g} order ${i}`).toBe(Code.OK);
          expect(r.seq).toBeLessThanOrEqual(r.durableWhenSeen);
          if (i > 0) expect(r.seq).toBeGreaterThan(rs[i - 1]!.seq);
          expect(execs(r, `g${g}n${i}`)[0]?.execType).toBe(ExecType.NEW);
        }
        seen.push(...rs);
      }
    } finally {
      clearInterval(sampler);
    }
    expect(samples.length).toBeGreaterThan(0);
    for (const [released, durable] of samples) expect(released).toBeLessThanOrEqual(durable);
    // (sequencedSeq is published once per turn: within a turn durableSeq may run ahead of it)
    const s = h.control.stats();
    expect(s.releasedSeq).toBeLessThanOrEqual(s.durableSeq);
    expect(s.durableSeq).toBeLessThanOrEqual(s.sequencedSeq);
    expect(s.fsyncs).toBeGreaterThan(0);
  });

  it('a malformed inbound frame is answered INVALID_REQUEST with seq 0 and is not journaled', async () => {
    const h = host!;
    const [, g1] = ports(h);
    const before = h.control.stats();
    expect(g1.submitEncoded(CmdType.NEW_ORDER, new Uint8Array([1, 2, 3]), 3, 77)).toBe(true);
    expect(g1.submitEncoded(99, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]), 8, 78)).toBe(true);
    const badJson = new TextEncoder().encode('{"asset":');
    expect(g1.submitEncoded(CmdType.ADD_ASSET, badJson, badJson.length, 79)).toBe(true);
    submitAll(g1, [limit(BOB, 1, 1, 9_000, 'b2')], 80);
    const res = await collect(h, g1, 4);
    expect(res.map((r) => [r.corr, r.seq, r.code])).toEqual([
      [77, 0, Code.INVALID_REQUEST],
      [78, 0, Code.INVALID_REQUEST],
      [79, 0, Code.INVALID_REQUEST],
      [80, res[3]!.seq, Code.OK],
    ]);
    for (const r of res.slice(0, 3)) expect(r.events).toEqual([]);
    // no seq was spent on them
    expect(res[3]!.seq).toBeGreaterThan(before.sequencedSeq);
    consecutive.push([before.sequencedSeq, res[3]!.seq]);
    const after = h.control.stats();
    expect(after.malformed - before.malformed).toBe(3);
    expect(after.sequencedSeq).toBeGreaterThanOrEqual(res[3]!.seq);
    seen.push(res[3]!);
  });

  it('snapshotNow writes the state a clean replay of the journal has at that seq', async () => {
    const h = host!;
    const durable = h.control.durableSeq;
    const snap = await h.snapshotNow();
    expect(snap.seq).toBe(durable);
    expect(h.control.snapshotSeq).toBe(snap.seq);
    const file = readSnapshotFile(snap.path);
    if (typeof file === 'string') throw new Error(file);
    expect(file.seq).toBe(snap.seq);
    const clean = cleanReplay(dir, { hashAt: new Set([snap.seq]) });
    expect(file.stateHash).toBe(clean.hashAt.get(snap.seq));
    expect(Engine.restore(file.body).stateHash()).toBe(file.stateHash);
    snapSeq = snap.seq;
  });

  it('stops cleanly: everything durable and released, the journal holds exactly the answered commands and clock ticks, state = clean replay', async () => {
    const h = host!;
    host = null;
    stopped = await stopOrThrow(h);
    expect(stopped.lastSeq).toBe(h.control.sequencedSeq);
    expect(h.control.durableSeq).toBe(stopped.lastSeq);
    expect(h.control.releasedSeq).toBe(stopped.lastSeq);
    expect(h.failure).toBeNull();

    const bySeq = new Map(seen.map((r) => [r.seq, r]));
    expect(bySeq.size).toBe(seen.length);
    const clean = cleanReplay(dir, { keep: new Set(bySeq.keys()) });
    expect(clean.records).toBe(clean.lastSeq);
    expect(clean.lastSeq).toBe(stopped.lastSeq);
    expect(clean.hash).toBe(stopped.stateHash);
    // every seq is an answered command or a tick; an answered command is its journal record
    expect(seen.length + clean.ticks.length).toBe(clean.lastSeq);
    for (const t of clean.ticks) expect(bySeq.has(t)).toBe(false);
    // seqs run on by one: only ticks between commands answered one after the other
    const ticks = new Set(clean.ticks);
    for (const [a, b] of consecutive) for (let q = a + 1; q < b; q++) expect(ticks.has(q), `seq ${q} between ${a} and ${b}`).toBe(true);
    for (const r of seen) {
      const rec = clean.kept.get(r.seq)!;
      expect(rec.tsUs).toBe(r.tsUs);
      expect(rec.code).toBe(r.code);
      // the response holds events of that command, and at least all of the sender's own reports
      const all = rec.events.map((e) => JSON.stringify(e));
      for (const e of r.events) expect(all, `seq ${r.seq}`).toContain(JSON.stringify(e));
      const account = (rec.cmd as { accountId?: number }).accountId;
      const own = rec.events.filter((e) => e.event === 'reject' || ((e.event === 'exec' || e.event === 'cancelReject') && e.accountId === account));
      const got = r.events.map((e) => JSON.stringify(e));
      for (const e of own) expect(got, `seq ${r.seq}`).toContain(JSON.stringify(e));
    }
    expect(() => clean.engine.checkInvariants()).not.toThrow();
  });

  it('restarts from the snapshot and the journal tail to the same state, and goes on from there', async () => {
    const h = await start();
    expect(h.recovery.lastSeq).toBe(stopped.lastSeq);
    expect(h.recovery.snapshotSeq).toBe(snapSeq);
    expect(h.recovery.replayed).toBe(stopped.lastSeq - snapSeq);
    expect(h.recovery.journal.tornBytes).toBe(0);
    const again = await stopOrThrow(h);
    // nothing was submitted: the state is the one at the stop (a clock tick could only come at UTC midnight)
    if (again.lastSeq === stopped.lastSeq) expect(again.stateHash).toBe(stopped.stateHash);
    else expect(cleanReplay(dir).ticks.filter((t) => t > stopped.lastSeq)).toHaveLength(again.lastSeq - stopped.lastSeq);

    // the recovered book still holds alice's order a1: 10 - 4 (b1) = 6 left to cancel
    const h2 = await start();
    const [g0] = ports(h2);
    submitAll(g0, [{ type: 'cancelOrder', accountId: ALICE, clOrdId: 'a1' }], 500);
    const [rc] = await collect(h2, g0, 1);
    expect(rc!.code).toBe(Code.OK);
    expect(rc!.seq).toBeGreaterThan(again.lastSeq);
    const x = execs(rc!).find((e) => e.orderId === orderA);
    expect(x).toMatchObject({ execType: ExecType.CANCELED, ordStatus: OrdStatus.CANCELED, cumQtyLots: 4, leavesQtyLots: 0 });
    stopped = await stopOrThrow(h2);
    expect(stopped.stateHash).toBe(cleanReplay(dir).hash);
  });

  it('seqex replay rebuilds the same state from the journal and checks the snapshot against it', () => {
    let out = '';
    let err = '';
    const code = replayMain(['--data-dir', dir, '--verify'], (s) => (out += s), (s) => (err += s));
    expect(err).toBe('');
    expect(code).toBe(EXIT_OK);
    expect(out).toContain(`last seq      ${stopped.lastSeq}`);
    expect(out).toContain(`state hash    ${stopped.stateHash}`);
    expect(out).toContain('invariants    ok');
    expect(out).toContain(`snapshot      ok (seq ${snapSeq})`);
    expect(out).toContain('torn tail     none');
    let out2 = '';
    expect(replayMain(['--data-dir', dir, '--from-snapshot'], (s) => (out2 += s), () => {})).toBe(EXIT_OK);
    expect(out2).toContain(`state hash    ${stopped.stateHash}`);
  });
});

describe('SequencerHost segment rotation', () => {
  /**
   * Many rotations, each with a small batch: every rotation takes the preallocated segment the
   * preparer thread made and asks for the next. (Found by this test: the journal thread asks for
   * the next preparation before it has renamed the current one away, so the preparer can find the
   * old file still there, report it ready, and the next rotation fails with ENOENT on rename:
   * the journal thread dies and the exchange stops answering.)
   */
  it('rotates dozens of small segments under a trickle of commands without failing the journal', async () => {
    const rdir = tempDir('seqex-rotate-');
    try {
      const h = await SequencerHost.start({ dataDir: rdir, gateways: 2, segmentBytes: 2048, snapshotEveryRecords: 0, snapshotEverySeconds: 0, hashOnStop: true });
      hosts.push(h);
      const [g0] = ports(h);
      submitAll(g0, SETUP, 1);
      await collect(h, g0, SETUP.length);
      let corr = 100;
      for (let i = 0; i < 60; i++) {
        const batch = Array.from({ length: 8 }, (_, j) => limit(ALICE, 1, 1, 9_000 + j, `r${i}x${j}`));
        submitAll(g0, batch, corr);
        corr += batch.length;
        const res = await collect(h, g0, batch.length);
        expect(res.map((r) => r.code)).toEqual(batch.map(() => Code.OK));
      }
      const stopped = await stopOrThrow(h);
      expect(h.failure).toBeNull();
      const clean = cleanReplay(rdir);
      expect(clean.segments.length).toBeGreaterThan(20);
      expect(clean.records).toBe(clean.lastSeq);
      expect(clean.hash).toBe(stopped.stateHash);
    } finally {
      rmSync(rdir, { recursive: true, force: true });
    }
  });
});

describe('SequencerHost journal failure', () => {
  /**
   * The data dir disappears under a running exchange, so the next segment cannot be created: the
   * journal thread fails, the sequencer stops releasing (fail-stop), `failure` says why, and stop()
   * still returns. (Found by this test: stop() waits for 'exit' / 'stopped' events of threads that
   * already exited, so it never resolves after a thread failure.)
   */
  it('stops answering when the journal cannot write, names the failure, and stop() still resolves', async () => {
    const fdir = tempDir('seqex-fail-');
    const h = await SequencerHost.start({ dataDir: fdir, gateways: 2, segmentBytes: 4096, snapshotEveryRecords: 0, snapshotEverySeconds: 0 });
    hosts.push(h);
    const [g0] = ports(h);
    submitAll(g0, SETUP, 1);
    await collect(h, g0, SETUP.length);
    // the journal and preparer threads may create a file while the tree is removed: rmSync's own
    // retries only retry the final rmdir, so remove the whole tree again until it is gone
    for (let attempt = 1; ; attempt++) {
      try {
        rmSync(fdir, { recursive: true, force: true });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt === 100) throw e;
        await sleep(5);
      }
    }
    let corr = 100;
    const deadline = Date.now() + 15_000;
    while (h.failure === null && Date.now() < deadline) {
      submitAll(g0, Array.from({ length: 8 }, (_, j) => limit(ALICE, 1, 1, 9_000 + j, `f${corr}x${j}`)), corr);
      corr += 8;
      await g0.waitForResponseAsync(20);
      g0.poll((_c, seq) => expect(seq).toBeLessThanOrEqual(h.control.durableSeq));
    }
    expect(h.failure, 'the failure is reported').not.toBeNull();
    // nothing is released beyond what was durable
    await sleep(100);
    const durable = h.control.durableSeq;
    expect(h.control.releasedSeq).toBeLessThanOrEqual(durable);
    g0.poll((_c, seq) => expect(seq).toBeLessThanOrEqual(durable));
    expect(await stopWithin(h, 5000), 'stop() after a thread failure').toBe('stopped');
  });
});

describe('SequencerHost stop', () => {
  /**
   * stop() must return however its threads interleave. Each cycle restarts the host on the same dir,
   * waits a different part of the segment preparer's 500 ms poll, submits a burst and stops at once,
   * so the sequencer and the journal thread are still busy when the preparer sees the stop; in some
   * cycles it exits first. (Found by this suite: stop() attaches its listener for the preparer's
   * 'exit' only after the sequencer and journal threads have exited; when the preparer exited
   * before that, stop() never returns. After a fix every cycle must pass.) Large segments: no
   * rotation.
   */
  it('returns when asked to stop while a burst is still being sequenced and journaled', async () => {
    const sdir = tempDir('seqex-stop-');
    try {
      // the preparer's poll runs from its start: stopping at different points of the period
      const pauses = [0, 250, 300, 350, 400, 450];
      for (let cycle = 0; cycle < pauses.length; cycle++) {
        const h = await SequencerHost.start({ dataDir: sdir, gateways: 2, segmentBytes: 8 << 20, snapshotEveryRecords: 0, snapshotEverySeconds: 0 });
        hosts.push(h);
        const [g0] = ports(h);
        if (cycle === 0) {
          submitAll(g0, SETUP, 1);
          await collect(h, g0, SETUP.length);
        }
        await sleep(pauses[cycle]!);
        submitAll(
          g0,
          Array.from({ length: 4000 }, (_, i) => limit(ALICE, 1, 1, 9_000 + (i % 50), `s${cycle}x${i}`)),
          100,
        );
        const t0 = performance.now();
        const how = await stopWithin(h, 10_000);
        debugLog(`stop cycle ${cycle}: ${how} after ${(performance.now() - t0).toFixed(0)} ms`);
        expect(how, `cycle ${cycle}: stop() (host failure: ${h.failure?.stack ?? 'none'})`).toBe('stopped');
        expect(h.failure).toBeNull();
        const clean = cleanReplay(sdir);
        expect(clean.records).toBe(clean.lastSeq);
        expect(clean.lastSeq).toBe(h.control.durableSeq);
      }
    } finally {
      rmSync(sdir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('SequencerHost under output back-pressure', () => {
  /**
   * When more output waits for the disk than a gateway's (or the event) ring holds, the sequencer
   * waits for durability in the middle of a turn. The journal thread must see the records it waits
   * for at once. (Found by this suite: the journal ring's exclusive producer commits quietly and
   * wakes the journal thread only at the end of a turn (endExclusiveBatch), but roomIn() and
   * checkpoint() in src/sequencer/sequencer.ts wait for durability without ending the batch, so the
   * journal thread sleeps out its 50 ms poll at every step: ~20 group commits a second, and a
   * burst of a few thousand orders takes seconds to release.)
   */
  it('keeps group-committing at disk speed when the output rings are full', async () => {
    const bdir = tempDir('seqex-bp-');
    try {
      const h = await SequencerHost.start({
        dataDir: bdir,
        gateways: 2,
        segmentBytes: 8 << 20,
        snapshotEveryRecords: 0,
        snapshotEverySeconds: 0,
        eventRingBytes: 1 << 14,
        outboundRingBytes: 1 << 14,
      });
      hosts.push(h);
      const [g0] = ports(h);
      submitAll(g0, SETUP, 1);
      await collect(h, g0, SETUP.length);
      const before = h.control.stats();
      const N = 2000;
      const t0 = performance.now();
      submitAll(
        g0,
        Array.from({ length: N }, (_, i) => limit(ALICE, 1, 1, 9_000 + (i % 50), `bp${i}`)),
        100,
      );
      // nobody reads the rings (a reader of a 16 KiB ring would be lapped): wait for the release
      const target = before.sequencedSeq + N;
      while (h.control.releasedSeq < target && performance.now() - t0 < 60_000) await sleep(5);
      const ms = performance.now() - t0;
      const groups = h.control.stats().fsyncs - before.fsyncs;
      debugLog(`back-pressure: ${N} orders in ${ms.toFixed(0)} ms, ${groups} group commits, ${(ms / groups).toFixed(1)} ms per group`);
      expect(h.control.releasedSeq, 'everything released').toBeGreaterThanOrEqual(target);
      expect(groups).toBeGreaterThan(10);
      expect(ms / groups, `ms per group commit (${groups} groups in ${ms.toFixed(0)} ms)`).toBeLessThan(20);
      expect(await stopWithin(h, 10_000)).toBe('stopped');
    } finally {
      rmSync(bdir, { recursive: true, force: true });
    }
  }, 90_000);
});
