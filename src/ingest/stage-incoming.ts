/**
 * src/ingest — staging of incoming files, shared by the API (uploads) and the batch activities.
 * May import: src/dicom, src/storage, node:crypto. Knows nothing of Temporal, NestJS or the database.
 */
import { createHash } from 'node:crypto';

import { inspectDicom, scanIdFor } from '../dicom';
import type { BlobStore } from '../storage/blob-store';

export interface StagingDeps {
  store: BlobStore;
  deidSecret: string;
  maxDicomBytes: number;
}

export interface StagedFile {
  sourceKey: string;
  sha256: string;
  scanId: string;
  sopInstanceUid?: string;
}

/** Key, in the restricted `originals/` store, of the original file name(s) of the bytes with this SHA-256. */
export function originalNameKey(sha256: string): string {
  return `${sha256}.filename.json`;
}

/**
 * Stores an uploaded file in `incoming` (content-addressed) and computes its scanId from the SOP Instance UID read
 * from the header (or from the SHA-256 when the file has none). Never throws on bad DICOM.
 *
 * The original file name may identify the patient (`DOE_JOHN_MRN555.dcm`, or a file named by its SOP Instance UID):
 * it is kept only in the restricted `originals/` store (`originalNameKey`), never in the workflow input, the audit
 * trail or the quarantine list, which know the file by its SHA-256 and its scan id.
 */
export async function stageIncoming(deps: StagingDeps, data: Buffer, filename?: string): Promise<StagedFile> {
  const sha256 = createHash('sha256').update(data).digest('hex');
  const { key } = await deps.store.put('incoming', data);
  if (filename) await rememberOriginalName(deps.store, sha256, filename);
  const inspected = inspectDicom(data, { maxBytes: deps.maxDicomBytes });
  const sopInstanceUid = inspected.ok ? inspected.sopInstanceUid : undefined;
  return { sourceKey: key, sha256, scanId: scanIdFor({ sopInstanceUid, sha256 }, deps.deidSecret), ...(sopInstanceUid ? { sopInstanceUid } : {}) };
}

/** Adds a file name to the restricted record of the names the bytes were uploaded under (at most 20 kept). */
async function rememberOriginalName(store: BlobStore, sha256: string, filename: string): Promise<void> {
  const key = originalNameKey(sha256);
  let names: string[] = [];
  if (await store.stat('originals', key)) {
    try {
      const prev = JSON.parse((await store.get('originals', key)).toString('utf8')) as { names?: unknown };
      if (Array.isArray(prev.names)) names = prev.names.filter((n): n is string => typeof n === 'string');
    } catch {
      names = [];
    }
  }
  if (names.includes(filename)) return;
  await store.putJson('originals', key, { sha256, names: [...names, filename].slice(-20) });
}
