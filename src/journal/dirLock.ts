/**
 * One exchange per data directory: two sequencers appending to the same journal would interleave
 * seqs and destroy it. `LOCK` holds the owner's pid; a lock whose process is gone (a crash, a
 * SIGKILL) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_NAME = 'LOCK';
/** locks this process holds (a second exchange in the same process must be refused too) */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory's lock or throws naming the process that holds it; returns the release function. */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      held.add(path);
      return () => {
        held.delete(path);
        rmSync(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(path, 'utf8').trim());
      const live = pid === process.pid ? held.has(path) : Number.isInteger(pid) && pid > 0 && alive(pid);
      if (live) throw new Error(`data directory ${dir} is in use by process ${pid} (${path})`);
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new Error(`could not lock data directory ${dir}`);
}
