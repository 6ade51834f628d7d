import { createHash } from 'node:crypto';

import type { DataSource } from 'typeorm';

import type { BlobStore } from '../storage/blob-store';
import { inspectDicom, scanIdFor } from './dicom';
import type { AcceptanceRule } from './dicom';

export interface IngestDeps {
  store: BlobStore;
  dataSource: DataSource;
  deidSecret: string;
  maxDicomBytes: number;
  acceptance?: AcceptanceRule;
}

/**
 * Stores an uploaded file in `incoming` (content-addressed) and computes its scanId from the SOP Instance UID read
 * from the header (or from the SHA-256 when the file has none). Never throws on bad DICOM.
 */
export async function stageIncoming(
  deps: Pick<IngestDeps, 'store' | 'deidSecret' | 'maxDicomBytes'>,
  data: Buffer,
  _filename?: string,
): Promise<{ sourceKey: string; sha256: string; scanId: string; sopInstanceUid?: string }> {
  const sha256 = createHash('sha256').update(data).digest('hex');
  const { key } = await deps.store.put('incoming', data);
  const inspected = inspectDicom(data, { maxBytes: deps.maxDicomBytes });
  const sopInstanceUid = inspected.ok ? inspected.sopInstanceUid : undefined;
  return { sourceKey: key, sha256, scanId: scanIdFor({ sopInstanceUid, sha256 }, deps.deidSecret), ...(sopInstanceUid ? { sopInstanceUid } : {}) };
}
