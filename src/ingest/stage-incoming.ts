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

/**
 * Stores an uploaded file in `incoming` (content-addressed) and computes its scanId from the SOP Instance UID read
 * from the header (or from the SHA-256 when the file has none). Never throws on bad DICOM.
 */
export async function stageIncoming(deps: StagingDeps, data: Buffer, _filename?: string): Promise<StagedFile> {
  const sha256 = createHash('sha256').update(data).digest('hex');
  const { key } = await deps.store.put('incoming', data);
  const inspected = inspectDicom(data, { maxBytes: deps.maxDicomBytes });
  const sopInstanceUid = inspected.ok ? inspected.sopInstanceUid : undefined;
  return { sourceKey: key, sha256, scanId: scanIdFor({ sopInstanceUid, sha256 }, deps.deidSecret), ...(sopInstanceUid ? { sopInstanceUid } : {}) };
}
