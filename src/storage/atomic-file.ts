/**
 * Crash-safe file writes: a temp file (`.tmp-<pid>-<random>`) in the target's directory, fsync, rename over the
 * target, fsync of the directory. A failure (a full disk, ENOSPC) leaves no temp file behind. Used by the blob store;
 * anything else that writes files it must not leave half-written (dataset releases) can use it too.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

/** A fresh temp file name in `dir` (the `.tmp-` prefix marks leftovers of interrupted writes). */
export function tempPathIn(dir: string): string {
  return path.join(dir, `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
}

/** Writes `data` to `target` atomically (parent directories created; `mode` of a new file, default 0o640). */
export async function writeFileAtomic(target: string, data: Buffer | string, mode = 0o640): Promise<void> {
  const dir = path.dirname(target);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = tempPathIn(dir);
  try {
    const fh = await fsp.open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
  } catch (e) {
    // A full disk (ENOSPC) or any other failure leaves no partial temp file behind.
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/** fsync of a directory (makes a rename in it durable); filesystems that refuse it are ignored. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}
