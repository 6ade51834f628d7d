/**
 * Batch ingest activities: list a manifest directory page by page, and stage one file of a batch into the
 * `incoming` store (content-addressed, so a retry stores nothing new) with its scan id.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { ApplicationFailure } from '@temporalio/common';

import type { BlobStore } from '../storage/blob-store';
import { stageIncoming } from './ingest.activities';

export interface BatchActivityDeps {
  store: BlobStore;
  deidSecret: string;
  maxDicomBytes: number;
}

/** A staged batch file: the input of its `scanLifecycle`, or why it could not be staged. */
export type StagedBatchFile =
  | { ok: true; scanId: string; sourceKey: string; filename: string }
  | { ok: false; path: string; reason: 'unreadable' | 'not-a-file' | 'too-large'; detail: string };

export interface BatchActivities {
  /** One page of the regular files under `directory` (recursive, sorted by path); `done` on the last page. */
  listBatchFiles(input: { directory: string; offset: number; limit: number }): Promise<{ files: string[]; done: boolean }>;
  /** Reads a file and stages it in `incoming`; never throws for a bad file (returns `ok: false`). */
  stageBatchFile(input: { path: string; batchId: string }): Promise<StagedBatchFile>;
}

async function listRecursive(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listRecursive(full)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

export function createBatchActivities(deps: BatchActivityDeps): BatchActivities {
  return {
    async listBatchFiles({ directory, offset, limit }) {
      let all: string[];
      try {
        all = (await listRecursive(directory)).sort();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') {
          throw ApplicationFailure.nonRetryable(`cannot list ${directory}: ${code}`, 'InvalidManifest', { directory, code });
        }
        throw err;
      }
      const files = all.slice(offset, offset + limit);
      return { files, done: offset + files.length >= all.length };
    },

    async stageBatchFile({ path: file }) {
      let size: number;
      try {
        const st = await fsp.stat(file);
        if (!st.isFile()) return { ok: false, path: file, reason: 'not-a-file', detail: 'not a regular file' };
        size = st.size;
      } catch (err) {
        return { ok: false, path: file, reason: 'unreadable', detail: (err as Error).message };
      }
      // Far over the DICOM limit: refuse without reading it into memory (validateScan quarantines the rest).
      if (size > deps.maxDicomBytes * 2) {
        return { ok: false, path: file, reason: 'too-large', detail: `${size} bytes` };
      }
      let bytes: Buffer;
      try {
        bytes = await fsp.readFile(file);
      } catch (err) {
        return { ok: false, path: file, reason: 'unreadable', detail: (err as Error).message };
      }
      const filename = path.basename(file);
      const staged = await stageIncoming(deps, bytes, filename);
      return { ok: true, scanId: staged.scanId, sourceKey: staged.sourceKey, filename };
    },
  };
}
