/**
 * The words the sequencer's threads share besides the rings: durable and sequenced positions, the
 * stop flag, snapshot requests and counters for /metrics. One SharedArrayBuffer, each word on its
 * own cache line. Seqs are BigInt64 words (they pass 2^31 within days at full rate).
 */
const LINE_BIG = 8; // BigInt64 slots per 64-byte line
const BIG_WORDS = 12;
const INT_BASE = BIG_WORDS * LINE_BIG * 8;
const LINE_INT = 16;
const INT_WORDS = 8;
const HIST_BASE = INT_BASE + INT_WORDS * LINE_INT * 4;
/** fsync latency histogram: bucket k counts syncs of [2^k, 2^(k+1)) µs (bucket 0 also < 1 µs), up to ~16 s */
export const FSYNC_BUCKETS = 24;

/** BigInt64 words */
const enum Big {
  /** last seq whose record the journal thread made durable (fsync) or wrote (batch, none) */
  DURABLE_SEQ = 0,
  /** last seq stamped by the sequencer */
  SEQUENCED_SEQ = 1,
  /** last seq whose outputs were released to the rings */
  RELEASED_SEQ = 2,
  JOURNAL_BYTES = 3,
  FSYNC_COUNT = 4,
  FSYNC_US_TOTAL = 5,
  /** the newest snapshot file's seq */
  SNAPSHOT_SEQ = 6,
  COMMANDS = 7,
  BATCHES = 8,
  /** commands refused before sequencing (undecodable payloads) */
  MALFORMED = 9,
  FSYNC_US_MAX = 10,
}

/** Int32 words */
const enum Int {
  STOP = 0,
  JOURNAL_READY = 1,
  /** bumped by the journal thread when durability advances (the sequencer may sleep on it) */
  DURABLE_SIGNAL = 2,
  JOURNAL_FAILED = 3,
  /** the sequencer has sequenced its last command and seen it released (clean stop) */
  SEQUENCER_DONE = 4,
  /** a preallocated segment is ready to be taken (preparer sets, journal thread clears) */
  PREPARED_READY = 5,
  /** bumped by the journal thread to ask the preparer for the next segment */
  PREPARE_REQUESTS = 6,
}

export class SequencerControl {
  private readonly big: BigInt64Array;
  private readonly int: Int32Array;
  private readonly fsyncHist: BigInt64Array;

  static create(): SequencerControl {
    return new SequencerControl(new SharedArrayBuffer(HIST_BASE + FSYNC_BUCKETS * 8));
  }

  constructor(readonly sab: SharedArrayBuffer) {
    this.big = new BigInt64Array(sab, 0, BIG_WORDS * LINE_BIG);
    this.int = new Int32Array(sab, INT_BASE, INT_WORDS * LINE_INT);
    this.fsyncHist = new BigInt64Array(sab, HIST_BASE, FSYNC_BUCKETS);
  }

  private getBig(w: Big): number {
    return Number(Atomics.load(this.big, w * LINE_BIG));
  }
  private setBig(w: Big, v: number): void {
    Atomics.store(this.big, w * LINE_BIG, BigInt(v));
  }
  private addBig(w: Big, v: number): void {
    Atomics.add(this.big, w * LINE_BIG, BigInt(v));
  }

  get durableSeq(): number {
    return this.getBig(Big.DURABLE_SEQ);
  }
  /** journal thread: records up to `seq` are durable; wakes a sequencer waiting for it */
  setDurable(seq: number): void {
    this.setBig(Big.DURABLE_SEQ, seq);
    Atomics.add(this.int, Int.DURABLE_SIGNAL * LINE_INT, 1);
    Atomics.notify(this.int, Int.DURABLE_SIGNAL * LINE_INT);
  }
  /** Blocks until durability moves past `seq` or the timeout (sequencer, when its rings are full). */
  waitDurableAfter(seq: number, timeoutMs: number): void {
    const seen = Atomics.load(this.int, Int.DURABLE_SIGNAL * LINE_INT);
    if (this.durableSeq > seq) return;
    Atomics.wait(this.int, Int.DURABLE_SIGNAL * LINE_INT, seen, timeoutMs);
  }

  get sequencedSeq(): number {
    return this.getBig(Big.SEQUENCED_SEQ);
  }
  set sequencedSeq(v: number) {
    this.setBig(Big.SEQUENCED_SEQ, v);
  }
  get releasedSeq(): number {
    return this.getBig(Big.RELEASED_SEQ);
  }
  set releasedSeq(v: number) {
    this.setBig(Big.RELEASED_SEQ, v);
  }
  get snapshotSeq(): number {
    return this.getBig(Big.SNAPSHOT_SEQ);
  }
  set snapshotSeq(v: number) {
    this.setBig(Big.SNAPSHOT_SEQ, v);
  }

  recordFsync(micros: number, bytes: number): void {
    this.addBig(Big.FSYNC_COUNT, 1);
    this.addBig(Big.FSYNC_US_TOTAL, micros);
    if (micros > this.getBig(Big.FSYNC_US_MAX)) this.setBig(Big.FSYNC_US_MAX, micros);
    this.addBig(Big.JOURNAL_BYTES, bytes);
    const bucket = micros < 2 ? 0 : Math.min(FSYNC_BUCKETS - 1, Math.floor(Math.log2(micros)));
    Atomics.add(this.fsyncHist, bucket, 1n);
  }
  /** Syncs so far per latency bucket (bucket k: [2^k, 2^(k+1)) µs), for /metrics and benchmarks. */
  fsyncHistogram(): number[] {
    return Array.from({ length: FSYNC_BUCKETS }, (_, k) => Number(Atomics.load(this.fsyncHist, k)));
  }
  recordBatch(commands: number): void {
    this.addBig(Big.BATCHES, 1);
    this.addBig(Big.COMMANDS, commands);
  }
  recordMalformed(): void {
    this.addBig(Big.MALFORMED, 1);
  }

  get stopRequested(): boolean {
    return Atomics.load(this.int, Int.STOP * LINE_INT) !== 0;
  }
  requestStop(): void {
    Atomics.store(this.int, Int.STOP * LINE_INT, 1);
  }
  get journalReady(): boolean {
    return Atomics.load(this.int, Int.JOURNAL_READY * LINE_INT) !== 0;
  }
  setJournalReady(): void {
    Atomics.store(this.int, Int.JOURNAL_READY * LINE_INT, 1);
    Atomics.notify(this.int, Int.JOURNAL_READY * LINE_INT);
  }
  get sequencerDone(): boolean {
    return Atomics.load(this.int, Int.SEQUENCER_DONE * LINE_INT) !== 0;
  }
  setSequencerDone(): void {
    Atomics.store(this.int, Int.SEQUENCER_DONE * LINE_INT, 1);
  }
  get preparedReady(): boolean {
    return Atomics.load(this.int, Int.PREPARED_READY * LINE_INT) !== 0;
  }
  setPreparedReady(ready: boolean): void {
    Atomics.store(this.int, Int.PREPARED_READY * LINE_INT, ready ? 1 : 0);
    Atomics.notify(this.int, Int.PREPARED_READY * LINE_INT);
  }
  /** Blocks until a prepared segment is ready or the timeout (the journal thread at start-up). */
  waitPreparedReady(timeoutMs: number): boolean {
    Atomics.wait(this.int, Int.PREPARED_READY * LINE_INT, 0, timeoutMs);
    return this.preparedReady;
  }
  requestPrepare(): void {
    Atomics.add(this.int, Int.PREPARE_REQUESTS * LINE_INT, 1);
    Atomics.notify(this.int, Int.PREPARE_REQUESTS * LINE_INT);
  }
  /** Preparer: waits until asked for more than `served` segments (or the timeout); returns the count asked. */
  waitPrepareRequest(served: number, timeoutMs: number): number {
    Atomics.wait(this.int, Int.PREPARE_REQUESTS * LINE_INT, served, timeoutMs);
    return Atomics.load(this.int, Int.PREPARE_REQUESTS * LINE_INT);
  }

  /** Blocks until the journal thread is ready (start-up). */
  waitJournalReady(timeoutMs: number): boolean {
    Atomics.wait(this.int, Int.JOURNAL_READY * LINE_INT, 0, timeoutMs);
    return this.journalReady;
  }
  get journalFailed(): boolean {
    return Atomics.load(this.int, Int.JOURNAL_FAILED * LINE_INT) !== 0;
  }
  setJournalFailed(): void {
    Atomics.store(this.int, Int.JOURNAL_FAILED * LINE_INT, 1);
    this.setDurable(this.durableSeq); // wake waiters so they see it
  }

  stats(): { durableSeq: number; sequencedSeq: number; releasedSeq: number; snapshotSeq: number; journalBytes: number; fsyncs: number; fsyncUsMean: number; fsyncUsMax: number; commands: number; batches: number; malformed: number } {
    const fsyncs = this.getBig(Big.FSYNC_COUNT);
    return {
      durableSeq: this.durableSeq,
      sequencedSeq: this.sequencedSeq,
      releasedSeq: this.releasedSeq,
      snapshotSeq: this.snapshotSeq,
      journalBytes: this.getBig(Big.JOURNAL_BYTES),
      fsyncs,
      fsyncUsMean: fsyncs === 0 ? 0 : this.getBig(Big.FSYNC_US_TOTAL) / fsyncs,
      fsyncUsMax: this.getBig(Big.FSYNC_US_MAX),
      commands: this.getBig(Big.COMMANDS),
      batches: this.getBig(Big.BATCHES),
      malformed: this.getBig(Big.MALFORMED),
    };
  }
}
