/**
 * Archiving journal segments that snapshots cover (DESIGN.md, Journal: "old segments can be
 * archived once a snapshot covers them"). A covered segment is renamed into `<data dir>/archive/`:
 * the data directory keeps only what a restart reads, the full history stays on disk for `seqex
 * replay` and audits, and an operator can move the archive to cheaper storage. Recovery and
 * replay read archived segments like live ones (journal.ts `segmentPath`), so archiving never
 * changes what can be recovered; deleting the archive only removes the journal-alone fallback.
 *
 * A rename is atomic, so after a crash a segment is in one of the two places, never half in each.
 */
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir } from './durableFs.js';
import { ARCHIVE_DIR, listSegments, segmentFirstSeq } from './journal.js';

/**
 * Moves the live segments whose records are all at or before `coveredSeq` into the archive and
 * returns their names. The newest segment (the one being appended to) is never moved.
 */
export function archiveCoveredSegments(dir: string, coveredSeq: number): string[] {
  const live = listSegments(dir);
  const archive = join(dir, ARCHIVE_DIR);
  const moved: string[] = [];
  // segment i holds seqs [first(i), first(i + 1) - 1]: covered when first(i + 1) - 1 <= coveredSeq
  for (let i = 0; i + 1 < live.length && segmentFirstSeq(live[i + 1]!) - 1 <= coveredSeq; i++) {
    if (moved.length === 0) {
      mkdirSync(archive, { recursive: true });
      fsyncDir(dir); // the archive directory's entry first
    }
    renameSync(join(dir, live[i]!), join(archive, live[i]!));
    moved.push(live[i]!);
  }
  if (moved.length > 0) {
    fsyncDir(archive);
    fsyncDir(dir);
  }
  return moved;
}
