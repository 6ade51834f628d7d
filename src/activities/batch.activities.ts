/**
 * Batch ingest activities: list a manifest directory page by page, and stage one file of a batch into the
 * `incoming` store (content-addressed, so a retry stores nothing new) with its scan id.
 *
 * Batch paths come from API callers, so they are confined to the import root (`READFLOW_IMPORT_DIR`): a path is
 * resolved against the root (relative paths) and refused unless it lies inside the root lexically — before any file
 * system access, so nothing is learnt about files elsewhere — and again after resolving symlinks (`realpath`), so
 * neither `..` nor a symlink pointing out reaches another file of the worker host. The file is then opened without
 * following a final symlink and, on Linux, the path of the opened descriptor is checked once more (a symlink swapped
 * in between the check and the open is caught).
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

import { ApplicationFailure } from '@temporalio/common';

import type { BlobStore } from '../storage/blob-store';
import { stageIncoming } from '../ingest/stage-incoming';

export interface BatchActivityDeps {
  store: BlobStore;
  deidSecret: string;
  maxDicomBytes: number;
  /** Root of the files a batch may read (`READFLOW_IMPORT_DIR`); unset: every batch path is refused. */
  importDir?: string;
}

/** `ApplicationFailure` type of a batch directory outside the import root (non-retryable). */
export const IMPORT_PATH_REFUSED = 'ImportPathRefused';

/** A staged batch file: the input of its `scanLifecycle`, or why it could not be staged. */
export type StagedBatchFile =
  /** `filename` is no longer set: the name stays in the restricted originals store (kept optional for old histories). */
  | { ok: true; scanId: string; sourceKey: string; filename?: string }
  | { ok: false; path: string; reason: 'unreadable' | 'not-a-file' | 'too-large' | 'outside-import-dir'; detail: string };

export interface BatchActivities {
  /**
   * One page of the regular files under `directory` (recursive, sorted by path; relative to the import root unless
   * absolute); `done` on the last page. Throws a non-retryable `ImportPathRefused` for a directory outside the root.
   */
  listBatchFiles(input: { directory: string; offset: number; limit: number }): Promise<{ files: string[]; done: boolean }>;
  /**
   * Reads a file and stages it in `incoming`; never throws for a bad file (returns `ok: false`, with reason
   * `outside-import-dir` for a path outside the import root: the batch counts it as failed).
   */
  stageBatchFile(input: { path: string; batchId: string }): Promise<StagedBatchFile>;
}

async function listRecursive(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = path.join(dir, e.name);
    // Symlinks are neither files nor directories here: a listing never follows them.
    if (e.isDirectory()) out.push(...(await listRecursive(full)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

const isInside = (root: string, p: string): boolean => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

type Confined = { ok: true; real: string; root: string } | { ok: false; refused: boolean; detail: string; code?: string };

/** Resolves `p` inside the import root (see the module comment); `refused` when it lies outside. */
async function confine(importDir: string | undefined, p: string): Promise<Confined> {
  if (!importDir) return { ok: false, refused: true, detail: 'no import directory is configured (READFLOW_IMPORT_DIR)' };
  if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) return { ok: false, refused: true, detail: 'not a path' };
  const configured = path.resolve(importDir);
  let root: string;
  try {
    await fsp.mkdir(configured, { recursive: true });
    root = await fsp.realpath(configured);
  } catch (err) {
    return { ok: false, refused: true, detail: `import directory ${configured} is not usable: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const outside = { ok: false as const, refused: true, detail: `${JSON.stringify(p)} is not inside the import directory ${configured} (READFLOW_IMPORT_DIR)` };
  const candidate = path.resolve(configured, p);
  if (!isInside(configured, candidate) && !isInside(root, candidate)) return outside;
  let real: string;
  try {
    real = await fsp.realpath(candidate);
  } catch (err) {
    return { ok: false, refused: false, detail: (err as Error).message, code: (err as NodeJS.ErrnoException).code };
  }
  if (!isInside(root, real)) return { ...outside, detail: `${outside.detail}: it resolves (through a symlink) to a path outside it` };
  return { ok: true, real, root };
}

/** On Linux, the path the open descriptor really refers to (undefined where /proc is not available). */
async function openedPath(fh: FileHandle): Promise<string | undefined> {
  try {
    return await fsp.readlink(`/proc/self/fd/${fh.fd}`);
  } catch {
    return undefined;
  }
}

export function createBatchActivities(deps: BatchActivityDeps): BatchActivities {
  return {
    async listBatchFiles({ directory, offset, limit }) {
      const c = await confine(deps.importDir, directory);
      if (!c.ok && c.refused) throw ApplicationFailure.nonRetryable(`batch directory refused: ${c.detail}`, IMPORT_PATH_REFUSED, { directory, detail: c.detail });
      let all: string[];
      try {
        if (!c.ok) throw Object.assign(new Error(c.detail), { code: c.code });
        all = (await listRecursive(c.real)).sort();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'ELOOP') {
          throw ApplicationFailure.nonRetryable(`cannot list ${directory}: ${code}`, 'InvalidManifest', { directory, code });
        }
        throw err;
      }
      const files = all.slice(offset, offset + limit);
      return { files, done: offset + files.length >= all.length };
    },

    async stageBatchFile({ path: file }) {
      const c = await confine(deps.importDir, file);
      if (!c.ok) return { ok: false, path: file, reason: c.refused ? 'outside-import-dir' : 'unreadable', detail: c.detail };
      let fh: FileHandle;
      try {
        // No final symlink (the real path has none unless one was swapped in), and no blocking on a FIFO.
        fh = await fsp.open(c.real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
      } catch (err) {
        return { ok: false, path: file, reason: 'unreadable', detail: (err as Error).message };
      }
      let bytes: Buffer;
      try {
        const opened = await openedPath(fh);
        if (opened !== undefined && !isInside(c.root, opened)) {
          return { ok: false, path: file, reason: 'outside-import-dir', detail: `${JSON.stringify(file)} changed to a path outside the import directory while it was opened` };
        }
        const st = await fh.stat();
        if (!st.isFile()) return { ok: false, path: file, reason: 'not-a-file', detail: 'not a regular file' };
        // Far over the DICOM limit: refuse without reading it into memory (validateScan quarantines the rest).
        if (st.size > deps.maxDicomBytes * 2) return { ok: false, path: file, reason: 'too-large', detail: `${st.size} bytes` };
        bytes = await fh.readFile();
      } catch (err) {
        return { ok: false, path: file, reason: 'unreadable', detail: (err as Error).message };
      } finally {
        await fh.close();
      }
      const staged = await stageIncoming(deps, bytes, path.basename(file));
      return { ok: true, scanId: staged.scanId, sourceKey: staged.sourceKey };
    },
  };
}
