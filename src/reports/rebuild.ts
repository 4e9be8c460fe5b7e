/**
 * A report database built anew beside the old one and swapped in only when complete
 * (`seqex replay --rebuild-reports`): written to `<file>.rebuild` in bulk mode (no WAL, no syncs:
 * nobody reads it before it is complete), synced, then renamed over `<file>` (atomically). A
 * rebuild that fails leaves the old file as it was. The old file's -wal and -shm are removed just
 * before the rename: SQLite would otherwise apply a stale WAL to the new file. Run it with the
 * server stopped (the server's report worker holds the file open).
 */
import { closeSync, fsyncSync, openSync, rmSync } from 'node:fs';
import { renameDurably } from '../journal/durableFs.js';
import type { EventLog } from '../engine/events.js';
import { type RowCounts, ReportWriter } from './writer.js';

function removeDb(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(p, { force: true });
}

export class ReportRebuild {
  readonly file: string;
  readonly tempFile: string;
  private readonly writer: ReportWriter;
  private readonly t0 = performance.now();

  constructor(file: string) {
    this.file = file;
    this.tempFile = `${file}.rebuild`;
    removeDb(this.tempFile);
    this.writer = new ReportWriter(this.tempFile, { bulk: true });
  }

  /** The events of one command, in seq order from seq 1. */
  onEvents(seq: number, events: EventLog): void {
    this.writer.applyLog(events, seq);
  }

  /** Completes the file and swaps it in. */
  finish(): { rows: RowCounts; totalRows: number; lastSeq: number; seconds: number } {
    this.writer.close();
    // written without syncs (bulk): synced once, whole, before it replaces anything
    const fd = openSync(this.tempFile, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // the old file's WAL must not outlive it; the main file itself is replaced atomically
    for (const p of [`${this.file}-wal`, `${this.file}-shm`, `${this.file}-journal`]) rmSync(p, { force: true });
    renameDurably(this.tempFile, this.file);
    const rows = { ...this.writer.written };
    return { rows, totalRows: rows.orders + rows.fills + rows.trades + rows.ledger, lastSeq: this.writer.lastSeq, seconds: (performance.now() - this.t0) / 1000 };
  }

  /** Gives up: the temporary file goes, the old one stays. */
  abort(): void {
    try {
      this.writer.closeWithoutFlush();
    } finally {
      removeDb(this.tempFile);
    }
  }
}
