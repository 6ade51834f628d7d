import { createHash } from 'node:crypto';

import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';

import type { BlobStore } from '../storage/blob-store';
import { deidentifyDicom, inspectDicom, scanIdFor, sopInstanceUidHash, validateDicom } from './dicom';
import type { AcceptanceRule, ImageMeta, QuarantineReason } from './dicom';

export interface IngestDeps {
  store: BlobStore;
  dataSource: DataSource;
  deidSecret: string;
  maxDicomBytes: number;
  acceptance?: AcceptanceRule;
}

export interface ValidateScanInput {
  scanId: string;
  sourceKey: string;
  filename?: string;
}

export interface ValidateScanResult {
  /** Keyed hash of the source SOP Instance UID (the UID itself stays in the restricted store). */
  sopInstanceUidHash: string;
  transferSyntax: string;
  sizeBytes: number;
}

export interface DeidentifyScanInput {
  scanId: string;
  sourceKey: string;
}

export interface DeidentifyScanResult {
  imageId: string;
  deidentifiedKey: string;
  image: ImageMeta;
}

/** Details of the non-retryable `QuarantinedInput` ApplicationFailure. */
export interface QuarantineDetails {
  reason: QuarantineReason;
  detail: string;
}

export const QUARANTINED_INPUT = 'QuarantinedInput';
export const SOURCE_MISSING = 'SourceMissing';

/** Key of the restricted source-UID ↔ new-UID mapping sidecar in `originals/`. */
export function mappingKey(scanId: string): string {
  return `${scanId}.uids.json`;
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

async function sha256OfStream(stream: NodeJS.ReadableStream): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream as AsyncIterable<Buffer>) h.update(chunk);
  return h.digest('hex');
}

export function createIngestActivities(deps: IngestDeps) {
  const { store, dataSource, deidSecret, maxDicomBytes } = deps;
  if (!deidSecret) throw new Error('createIngestActivities: deidSecret is required');

  /** Reads the incoming file after checking its size; quarantines (and throws) when it is over the cap. */
  async function readSource(scanId: string, sourceKey: string, filename?: string): Promise<Buffer> {
    const st = await store.stat('incoming', sourceKey);
    if (!st) throw ApplicationFailure.nonRetryable(`incoming/${sourceKey} does not exist`, SOURCE_MISSING, { sourceKey });
    if (st.size > maxDicomBytes) {
      const sha256 = /^[0-9a-f]{64}$/.test(sourceKey) ? sourceKey : await sha256OfStream(store.createReadStream('incoming', sourceKey));
      // Too large to hold in memory: recorded, but the bytes stay in incoming/ rather than being copied.
      await recordQuarantine({
        sha256,
        scanId,
        filename,
        size: st.size,
        reason: 'too-large',
        detail: `${st.size} bytes exceeds the cap of ${maxDicomBytes} (bytes left in incoming/${sourceKey})`,
      });
      throw quarantineFailure('too-large', `${st.size} bytes exceeds the cap of ${maxDicomBytes}`);
    }
    return store.get('incoming', sourceKey);
  }

  async function recordQuarantine(q: {
    sha256: string;
    scanId: string;
    filename?: string;
    size: number;
    reason: string;
    detail: string;
    data?: Buffer;
  }): Promise<void> {
    if (q.data) await store.put('quarantine', q.data, { key: q.sha256 });
    await dataSource.query(
      `INSERT INTO quarantined_inputs (sha256, scan_id, filename, reason, detail, size_bytes)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (sha256) DO UPDATE SET
         scan_id = COALESCE(quarantined_inputs.scan_id, EXCLUDED.scan_id),
         filename = COALESCE(quarantined_inputs.filename, EXCLUDED.filename),
         reason = EXCLUDED.reason,
         detail = EXCLUDED.detail`,
      [q.sha256, q.scanId, q.filename ?? null, q.reason, q.detail.slice(0, 2000), String(q.size)],
    );
  }

  function quarantineFailure(reason: string, detail: string): ApplicationFailure {
    const details: QuarantineDetails = { reason, detail };
    return ApplicationFailure.nonRetryable(`input quarantined: ${reason}`, QUARANTINED_INPUT, details);
  }

  async function quarantine(scanId: string, data: Buffer, reason: string, detail: string, filename?: string): Promise<never> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    await recordQuarantine({ sha256, scanId, filename, size: data.length, reason, detail, data });
    throw quarantineFailure(reason, detail);
  }

  /** Parses, checks the size cap and the acceptance rule, and keeps the original in the restricted `originals/`. */
  async function validateScan(input: ValidateScanInput): Promise<ValidateScanResult> {
    const data = await readSource(input.scanId, input.sourceKey, input.filename);
    const v = validateDicom(data, { acceptance: deps.acceptance, maxBytes: maxDicomBytes });
    if (!v.ok) return quarantine(input.scanId, data, v.reason, v.detail, input.filename);
    await store.put('originals', data);
    return {
      sopInstanceUidHash: sopInstanceUidHash(v.summary.sopInstanceUid, deidSecret),
      transferSyntax: v.summary.transferSyntax,
      sizeBytes: data.length,
    };
  }

  /** De-identifies (PS3.15 basic profile) into `deidentified/<imageId>.dcm` and writes the restricted UID mapping. */
  async function deidentifyScan(input: DeidentifyScanInput): Promise<DeidentifyScanResult> {
    const data = await readSource(input.scanId, input.sourceKey);
    const r = deidentifyDicom(data, { secret: deidSecret, acceptance: deps.acceptance, maxBytes: maxDicomBytes });
    if (!r.ok) return quarantine(input.scanId, data, r.reason, r.detail);
    const deidentifiedKey = `${r.imageId}.dcm`;
    const stored = await store.put('deidentified', r.output, { key: deidentifiedKey });
    const sourceSha256 = createHash('sha256').update(data).digest('hex');
    await store.put('originals', data);
    await store.putJson('originals', mappingKey(input.scanId), {
      scanId: input.scanId,
      imageId: r.imageId,
      sourceKey: sourceSha256,
      deidentifiedKey,
      deidentifiedSha256: stored.sha256,
      sourceUids: r.sourceUids,
      newUids: { sop: r.uidMap[r.sourceUids.sop], study: r.uidMap[r.sourceUids.study], series: r.uidMap[r.sourceUids.series] },
      uidMap: r.uidMap,
      profile: 'DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile (ReadFlow)',
    });
    return { imageId: r.imageId, deidentifiedKey, image: r.image };
  }

  return { validateScan, deidentifyScan };
}
