/**
 * `seqex replay` and `seqex journal-info`: rebuild the engine from the journal and prove it.
 *
 * Exit codes: 0 the journal is whole; 1 usage error; 2 corruption (file and offset printed);
 * 3 a torn tail was found and not repaired (run again with --repair to cut it).
 */
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { decodeEvents } from '../../src/engine/events.js';
import { ARCHIVE_DIR, JournalCorruptError, listAllSegments, readSegment, recoverJournal, segmentPath } from '../../src/journal/journal.js';
import { readSegmentHeader, scanSegment } from '../../src/journal/segment.js';
import { newestSnapshot } from '../../src/journal/snapshotFile.js';
import { tuneV8ForEngine } from '../../src/platform/v8.js';
import { decodeCommand } from '../../src/sequencer/codec.js';
import { ReportRebuild } from '../../src/reports/rebuild.js';
import { DEFAULT_REPORTS_FILE } from '../../src/reports/schema.js';

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_CORRUPT = 2;
export const EXIT_TORN = 3;

interface Args {
  dataDir: string;
  toSeq: number;
  repair: boolean;
  verify: boolean;
  fromSnapshot: boolean;
  /** write the regenerated events here, one JSON object per line */
  events: string | null;
  /** rebuild the report database from the whole journal */
  rebuildReports: boolean;
  /** the report database (default <data-dir>/reports.sqlite) */
  reports: string | null;
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { dataDir: 'journal', toSeq: Number.MAX_SAFE_INTEGER, repair: false, verify: false, fromSnapshot: false, events: null, rebuildReports: false, reports: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (k === '--data-dir') a.dataDir = argv[++i] ?? '';
    else if (k === '--to-seq') {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) return '--to-seq needs a non-negative integer';
      a.toSeq = v;
    } else if (k === '--repair') a.repair = true;
    else if (k === '--verify') a.verify = true;
    else if (k === '--from-snapshot') a.fromSnapshot = true;
    else if (k === '--events') {
      a.events = argv[++i] ?? '';
      if (a.events === '') return '--events needs a file';
    }
    else if (k === '--rebuild-reports') a.rebuildReports = true;
    else if (k === '--reports') {
      a.reports = argv[++i] ?? '';
      if (a.reports === '') return '--reports needs a file';
    }
    else return `unknown option ${k}`;
  }
  if (a.dataDir === '') return '--data-dir needs a directory';
  if (a.reports !== null && !a.rebuildReports) return '--reports goes with --rebuild-reports';
  // the report database needs every event from seq 1, not the state of a snapshot
  if (a.rebuildReports && a.fromSnapshot) return '--rebuild-reports replays the whole journal: it cannot start --from-snapshot';
  return a;
}

export function replayMain(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    err(`seqex replay: ${args}\nusage: seqex replay [--data-dir DIR] [--to-seq N] [--from-snapshot] [--verify] [--repair] [--events FILE] [--rebuild-reports [--reports FILE]]\n`);
    return EXIT_USAGE;
  }
  if (!isDir(args.dataDir)) {
    err(`seqex replay: no data directory ${args.dataDir}\n`);
    return EXIT_USAGE;
  }
  tuneV8ForEngine();
  const t0 = performance.now();
  // the newest snapshot at or before --to-seq: the starting point (--from-snapshot) or the hash
  // the journal replay must reproduce (--verify)
  const snap = newestSnapshot(args.dataDir, args.toSeq, (path, why) => err(`seqex replay: skipping snapshot ${path}: ${why}\n`));
  let engine = new Engine();
  let fromSeq = 0;
  if (args.fromSnapshot && snap !== null) {
    engine = Engine.restore(snap.body);
    if (engine.stateHash() !== snap.stateHash) {
      err(`seqex replay: CORRUPT ${snap.path}: restored state hash ${engine.stateHash()} != recorded ${snap.stateHash}\n`);
      return EXIT_CORRUPT;
    }
    fromSeq = snap.seq;
  }
  const events = args.events === null ? null : new EventsFile(args.events);
  const reportsFile = args.reports ?? join(args.dataDir, DEFAULT_REPORTS_FILE);
  const reports = args.rebuildReports ? new ReportRebuild(reportsFile) : null;
  let snapshotCheck = 'no snapshot';
  let applied = 0;
  let undecodable = 0;
  let rec;
  try {
    rec = recoverJournal(
      args.dataDir,
      args.repair,
      (seq, tsUs, type, bytes, from, to) => {
        if (seq > args.toSeq || seq <= fromSeq) return;
        const cmd = decodeCommand(type, seq, tsUs, bytes, from, to);
        if (cmd === null) {
          undecodable++;
          return;
        }
        engine.events.clear();
        engine.apply(cmd);
        if (events !== null) events.write(engine);
        reports?.onEvents(seq, engine.events);
        applied++;
        if (args.verify && !args.fromSnapshot && snap !== null && seq === snap.seq)
          snapshotCheck = engine.stateHash() === snap.stateHash ? `ok (seq ${snap.seq})` : `MISMATCH at seq ${snap.seq}`;
      },
      // from a snapshot, segments wholly before it are not read (`seqex replay` without it checks them all)
      { afterSeq: fromSeq },
    );
  } catch (e) {
    reports?.abort();
    if (e instanceof JournalCorruptError) {
      err(`seqex replay: CORRUPT ${e.file} at offset ${e.offset}: ${e.reason}\n`);
      return EXIT_CORRUPT;
    }
    throw e;
  }
  events?.close();
  if (rec.firstSeq > fromSeq + 1) {
    reports?.abort();
    err(`seqex replay: the journal starts at seq ${rec.firstSeq}, the state needs seq ${fromSeq + 1} (segments missing${fromSeq === 0 ? '; try --from-snapshot' : ''})\n`);
    return EXIT_CORRUPT;
  }
  let reportsLine = '';
  if (reports !== null) {
    if (undecodable > 0) {
      reports.abort();
      reportsLine = `reports       not rebuilt: ${undecodable} records do not decode (${reportsFile} unchanged)`;
    } else {
      const r = reports.finish();
      reportsLine =
        `reports       ${r.totalRows} rows (${r.rows.fills} fills, ${r.rows.trades} trades, ${r.rows.ledger} ledger, ${r.rows.orders} orders) ` +
        `to seq ${r.lastSeq} in ${reportsFile}, ${Math.round(r.totalRows / Math.max(r.seconds, 1e-9))} rows/s (${r.seconds.toFixed(3)} s)`;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (args.verify) engine.checkInvariants();
  if (args.fromSnapshot) snapshotCheck = snap === null ? 'none found: replayed from the journal alone' : `started from ${snap.path} (seq ${snap.seq}, hash checked)`;
  out(
    [
      `data dir      ${args.dataDir}`,
      `segments      ${rec.segments.length}`,
      `records       ${rec.records}`,
      `applied       ${applied}${args.toSeq < Number.MAX_SAFE_INTEGER ? ` (to seq ${args.toSeq})` : ''}`,
      `last seq      ${rec.lastSeq}`,
      `rate          ${Math.round(applied / Math.max(seconds, 1e-9))} records/s (${seconds.toFixed(3)} s)`,
      `state hash    ${engine.stateHash()}`,
      `invariants    ${args.verify ? 'ok' : 'not checked (use --verify)'}`,
      `snapshot      ${snapshotCheck}`,
      ...(events !== null ? [`events        ${events.count} written to ${args.events}`] : []),
      ...(reportsLine !== '' ? [reportsLine] : []),
      `torn tail     ${rec.tornBytes === 0 ? 'none' : `${rec.tornBytes} bytes ${args.repair ? 'cut' : 'found, not cut (use --repair)'}`}`,
      ...(undecodable > 0 ? [`undecodable   ${undecodable} records`] : []),
      '',
    ].join('\n'),
  );
  if (undecodable > 0 || snapshotCheck.startsWith('MISMATCH')) return EXIT_CORRUPT;
  return rec.tornBytes > 0 && !args.repair ? EXIT_TORN : EXIT_OK;
}

/** The regenerated event stream as JSON lines, buffered (replay of millions of records). */
class EventsFile {
  private readonly fd: number;
  private buf: string[] = [];
  private bytes = 0;
  count = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  write(engine: Engine): void {
    for (const e of decodeEvents(engine.events)) {
      const line = JSON.stringify(e);
      this.buf.push(line);
      this.bytes += line.length;
      this.count++;
    }
    if (this.bytes > 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.buf.length === 0) return;
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.bytes = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export function journalInfoMain(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  const dir = argv[0] === '--data-dir' ? argv[1] : (argv[0] ?? 'journal');
  if (dir === undefined || dir === '' || !isDir(dir)) {
    err(`seqex journal-info: no data directory ${dir ?? ''}\nusage: seqex journal-info [--data-dir DIR]\n`);
    return EXIT_USAGE;
  }
  let worst = EXIT_OK;
  const segments = listAllSegments(dir);
  const archived = segments.filter((name) => segmentPath(dir, name) !== join(dir, name)).length;
  out(`${segments.length} segment(s) in ${dir}${archived > 0 ? ` (${archived} in ${ARCHIVE_DIR}/)` : ''}\n`);
  segments.forEach((name, i) => {
    const [path, bytes] = readSegment(dir, name);
    const header = readSegmentHeader(bytes);
    const r = scanSegment(bytes, i === segments.length - 1);
    const first = typeof header === 'string' ? '?' : header.firstSeq;
    const epoch = typeof header === 'string' ? '?' : header.epoch;
    const state = r.error !== null ? `CORRUPT at ${r.error.offset}: ${r.error.reason}` : r.tornTail ? `torn tail at ${r.validEnd}` : 'ok';
    if (r.error !== null) worst = EXIT_CORRUPT;
    else if (r.tornTail && worst === EXIT_OK) worst = EXIT_TORN;
    out(`${path === join(dir, name) ? name : `${ARCHIVE_DIR}/${name}`}  epoch ${epoch}  seq ${first}..${r.lastSeq}  records ${r.records}  bytes ${statSync(path).size}  ${state}\n`);
  });
  return worst;
}
