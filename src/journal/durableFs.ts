/** Making file-system changes durable: a new or renamed file exists after a crash only once its directory is synced. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Renames a fully written and synced `tmp` to `path` atomically and durably. */
export function renameDurably(tmp: string, path: string): void {
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** A file's bytes as a plain Uint8Array view of the read buffer (no copy; one element type for the scanners). */
export function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}
