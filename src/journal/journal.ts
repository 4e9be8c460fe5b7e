/**
 * The journal on disk: segment files `seg-<firstSeq>.jrnl` in a data directory, appended with group
 * commit (one write and, in `fsync` mode, one fdatasync per batch), rotated at a size bound, and
 * recovered at open: every segment scanned, a torn tail of the newest one cut off (it was never
 * acknowledged), any other damage refused with the file and offset.
 *
 * This is the synchronous core; issue 3's sequencer runs it so the disk never stalls matching.
 * Durability modes (DESIGN.md rule 1): `fsync` (default: fdatasync per commit), `batch` (the caller
 * syncs every N ms with `sync()`; documented loss window), `none` (tests and benchmarks only).
 */
import { closeSync, existsSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import { fsyncDir, readBytes } from './durableFs.js';
import { join } from 'node:path';
import { MAX_RECORD_BYTES, writeRecordFrom } from './record.js';
import { scanSegment, SEGMENT_HEADER_BYTES, writeSegmentHeader } from './segment.js';

export type Durability = 'fsync' | 'batch' | 'none';

export interface JournalOptions {
  dir: string;
  durability?: Durability;
  /** rotate to a new segment once this many bytes are written to the current one */
  segmentBytes?: number;
  /** failover epoch written into new segments */
  epoch?: number;
  /** cut a torn tail found at open (the default at start-up; `seqex replay` asks for --repair) */
  repairTornTail?: boolean;
  /** the caller has just recovered the directory (and cut any torn tail): skip the scan at open */
  recovered?: Recovery;
  /**
   * Where new segments come from: a preallocated, zero-filled, synced file to rename (see
   * `preallocate.ts`), or null to create an empty one. Writing into blocks that already exist
   * lets fdatasync flush data only, not the file size (measured: 0.2 ms instead of 0.6-4 ms).
   */
  takePreparedSegment?: () => string | null;
}

export class JournalCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`journal corrupt: ${file} at offset ${offset}: ${reason}`);
  }
}

export interface Recovery {
  segments: string[];
  lastSeq: number;
  records: number;
  /** bytes cut from a torn tail (0 when the journal ended cleanly) */
  tornBytes: number;
  /** where the newest segment's records end (appends continue there; zeros may follow) */
  tailEnd: number;
  /** first seq of the first segment read (1 for a whole journal; 0 when there is none) */
  firstSeq: number;
}

const SEGMENT_RE = /^seg-(\d{20})\.jrnl$/;
export const segmentName = (firstSeq: number) => `seg-${String(firstSeq).padStart(20, '0')}.jrnl`;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const BATCH_BYTES = 4 * 1024 * 1024;

export const segmentFirstSeq = (name: string) => Number(SEGMENT_RE.exec(name)![1]);

/** Segment files of a directory, oldest first. */
export function listSegments(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => SEGMENT_RE.test(f))
    .sort();
}

/** Where segments that every kept snapshot covers are moved (archive.ts); read like live ones. */
export const ARCHIVE_DIR = 'archive';

/**
 * The path of a segment: in the data directory, else in its archive (a segment is renamed, never
 * copied, into the archive, so it is in one place; a copy put back by hand wins over the archive).
 */
export function segmentPath(dir: string, name: string): string {
  const live = join(dir, name);
  if (existsSync(live)) return live;
  const archived = join(dir, ARCHIVE_DIR, name);
  return existsSync(archived) ? archived : live;
}

/** A segment's path and bytes; a segment archived between listing and reading is read from the archive. */
export function readSegment(dir: string, name: string): [string, Uint8Array] {
  const path = segmentPath(dir, name);
  try {
    return [path, readBytes(path)];
  } catch (e) {
    const archived = join(dir, ARCHIVE_DIR, name);
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path === archived) throw e;
    return [archived, readBytes(archived)];
  }
}

/** Segment names of the data directory and its archive together, oldest first. */
export function listAllSegments(dir: string): string[] {
  const archive = join(dir, ARCHIVE_DIR);
  const names = new Set(listSegments(dir));
  if (existsSync(archive)) for (const n of listSegments(archive)) names.add(n);
  return [...names].sort();
}

export interface RecoverJournalOptions {
  /**
   * Records up to this seq are already covered (by a snapshot): segments that hold nothing after
   * it are not read at all (start-up reads only the tail). Every record of a segment that is read
   * is checked (DESIGN.md: damage in the middle stops start-up, covered by a snapshot or not) and
   * passed to `onRecord`. 0 scans everything.
   */
  afterSeq?: number;
}

/** The segments holding records after `afterSeq` (all with 0), oldest first, archived ones included. */
function segmentsAfter(dir: string, afterSeq: number): string[] {
  const all = listAllSegments(dir);
  let skip = 0;
  while (skip + 1 < all.length && segmentFirstSeq(all[skip + 1]!) <= afterSeq + 1) skip++;
  return all.slice(skip);
}

/**
 * Scans every segment of `dir` in order, calling onRecord for each good record; checks that seqs
 * run on across segments. Throws JournalCorruptError on damage; reports (and with `repair`, cuts)
 * a torn tail.
 */
export function recoverJournal(
  dir: string,
  repair: boolean,
  /** payload is bytes[from, to) (no view is made per record: replay runs at millions a second) */
  onRecord?: (seq: number, tsUs: number, type: number, bytes: Uint8Array, from: number, to: number) => void,
  options: RecoverJournalOptions = {},
): Recovery {
  const afterSeq = options.afterSeq ?? 0;
  const segments = segmentsAfter(dir, afterSeq);
  let lastSeq = 0;
  let records = 0;
  let tornBytes = 0;
  let tailEnd = 0;
  let firstSeq = 0;
  segments.forEach((name, i) => {
    const [path, bytes] = readSegment(dir, name);
    const newest = i === segments.length - 1;
    const r = scanSegment(bytes, newest, onRecord && ((seq, ts, type, from, to) => onRecord(seq, ts, type, bytes, from, to)));
    if (r.error !== null) {
      // a newest segment whose header never made it to disk was being created when we crashed
      // (or a preallocated, zero-filled one renamed into place before its header was written)
      if (newest && r.header === null && r.error.offset === 0 && (bytes.length <= SEGMENT_HEADER_BYTES || allZeroBytes(bytes))) {
        tornBytes += bytes.length;
        if (repair) truncate(path, 0);
        tailEnd = 0;
        // the journal ends where the previous segment ended (also when that one was skipped for a snapshot)
        if (lastSeq === 0) lastSeq = segmentFirstSeq(name) - 1;
        if (firstSeq === 0) firstSeq = segmentFirstSeq(name);
        return;
      }
      throw new JournalCorruptError(path, r.error.offset, r.error.reason);
    }
    if (firstSeq === 0) firstSeq = r.header!.firstSeq;
    if (lastSeq !== 0 && r.header!.firstSeq !== lastSeq + 1)
      throw new JournalCorruptError(path, 0, `segment starts at seq ${r.header!.firstSeq}, the previous one ended at ${lastSeq}`);
    if (r.records > 0 || lastSeq === 0) lastSeq = r.lastSeq;
    records += r.records;
    if (r.tornTail) {
      tornBytes += bytes.length - r.validEnd;
      if (repair) truncate(path, r.validEnd);
    }
    if (newest) tailEnd = r.validEnd;
  });
  return { segments, lastSeq, records, tornBytes, tailEnd, firstSeq };
}

function allZeroBytes(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function truncate(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, length);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class JournalWriter {
  readonly dir: string;
  readonly durability: Durability;
  private readonly segmentBytes: number;
  private readonly epoch: number;
  private fd = -1;
  private segmentWritten = 0;
  private batch = new Uint8Array(BATCH_BYTES);
  private batchLen = 0;
  private readonly takePrepared: (() => string | null) | undefined;
  /** seq of the last record appended (in the batch or on disk) */
  lastSeq: number;
  /** seq of the last record written to the file (and synced, in fsync mode) */
  durableSeq: number;
  readonly recovery: Recovery;

  constructor(opts: JournalOptions) {
    this.dir = opts.dir;
    this.durability = opts.durability ?? 'fsync';
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.epoch = opts.epoch ?? 0;
    this.takePrepared = opts.takePreparedSegment;
    mkdirSync(this.dir, { recursive: true });
    const repair = opts.repairTornTail ?? true;
    this.recovery = opts.recovered ?? recoverJournal(this.dir, repair);
    if (!repair && this.recovery.tornBytes > 0) throw new Error(`journal ${this.dir} ends in a torn record: open it with repair to cut ${this.recovery.tornBytes} bytes`);
    this.lastSeq = this.durableSeq = this.recovery.lastSeq;
    const segments = listSegments(this.dir);
    const newest = segments[segments.length - 1];
    if (newest !== undefined) {
      const path = join(this.dir, newest);
      const size = statSync(path).size;
      if (size === 0) this.startSegmentFile(path); // its header was torn and cut
      else {
        // writes go at explicit offsets: a preallocated segment has zeros after its records
        this.fd = openSync(path, 'r+');
        this.segmentWritten = this.recovery.tailEnd > 0 ? this.recovery.tailEnd : size;
      }
    }
  }

  /** Adds a record to the current batch (not yet durable). seq must be lastSeq + 1. */
  append(seq: number, tsUs: number, type: number, payload: Uint8Array): void {
    this.appendFrom(seq, tsUs, type, payload, 0, payload.length);
  }

  /** `append` with the payload taken from src[from, to). */
  appendFrom(seq: number, tsUs: number, type: number, src: Uint8Array, from: number, to: number): void {
    if (seq !== this.lastSeq + 1) throw new Error(`journal append: seq ${seq} after ${this.lastSeq}`);
    if (this.batchLen + MAX_RECORD_BYTES > this.batch.length) this.flush();
    this.batchLen = writeRecordFrom(this.batch, this.batchLen, seq, tsUs, type, src, from, to);
    this.lastSeq = seq;
  }

  /** Writes the batch to the file without syncing (for `batch` and `none`); returns the last seq written. */
  write(): number {
    this.flush();
    return this.lastSeq;
  }

  /** Group commit: writes the batch and, in fsync mode, syncs. Returns the durable seq. */
  commit(): number {
    this.flush();
    if (this.durability === 'fsync' && this.fd >= 0) fdatasyncSync(this.fd);
    if (this.durability !== 'batch') this.durableSeq = this.lastSeq;
    return this.durableSeq;
  }

  /** For `batch` mode: sync what was written so far (call every N ms). */
  sync(): number {
    this.flush();
    if (this.fd >= 0 && this.durability !== 'none') fdatasyncSync(this.fd);
    this.durableSeq = this.lastSeq;
    return this.durableSeq;
  }

  close(): void {
    if (this.durability === 'none') this.commit();
    else this.sync();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private flush(): void {
    if (this.batchLen === 0) return;
    // rotate before a batch would run past the segment's (preallocated) size
    if (this.fd < 0 || (this.segmentWritten > SEGMENT_HEADER_BYTES && this.segmentWritten + this.batchLen > this.segmentBytes)) this.rotate(this.firstSeqInBatch());
    let off = 0;
    while (off < this.batchLen) off += writeSync(this.fd, this.batch, off, this.batchLen - off, this.segmentWritten + off);
    this.segmentWritten += this.batchLen;
    this.batchLen = 0;
  }

  private firstSeqInBatch(): number {
    return new DataView(this.batch.buffer).getFloat64(8, true);
  }

  private rotate(firstSeq: number): void {
    if (this.fd >= 0) {
      if (this.durability !== 'none') fdatasyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
    }
    this.startSegmentFile(join(this.dir, segmentName(firstSeq)));
  }

  private startSegmentFile(path: string): void {
    if (this.fd >= 0) closeSync(this.fd);
    const prepared = this.durability === 'none' ? null : (this.takePrepared?.() ?? null);
    if (prepared !== null) renameSync(prepared, path);
    this.fd = openSync(path, prepared !== null ? 'r+' : 'w');
    const header = new Uint8Array(SEGMENT_HEADER_BYTES);
    const firstSeq = Number(/seg-(\d+)\.jrnl$/.exec(path)![1]);
    writeSegmentHeader(header, this.epoch, firstSeq === 0 ? this.lastSeq + 1 : firstSeq);
    writeSync(this.fd, header, 0, header.length, 0);
    this.segmentWritten = SEGMENT_HEADER_BYTES;
    if (this.durability !== 'none') {
      // the new file's directory entry must be durable too, or a crash could lose the segment
      fdatasyncSync(this.fd);
      fsyncDir(this.dir);
    }
  }
}
