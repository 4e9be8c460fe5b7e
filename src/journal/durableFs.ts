/** Making file-system changes durable: a new or renamed file exists after a crash only once its directory is synced. */
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync } from 'node:fs';
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

/**
 * A file's bytes in a buffer of their own (never a slice of Node's shared Buffer pool); `shared`: a
 * SharedArrayBuffer, which two threads can read at once (snapshot files at start-up: host.ts).
 */
export function readOwnedBytes(path: string, shared = false): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = shared ? new Uint8Array(new SharedArrayBuffer(size)) : new Uint8Array(size);
    let at = 0;
    while (at < bytes.length) {
      const n = readSync(fd, bytes, at, bytes.length - at, at);
      if (n === 0) return bytes.subarray(0, at); // shrank meanwhile
      at += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}
