import { createHash } from 'node:crypto';

import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';

import { QuarantinedInputsRepository } from '../db/repositories';
import type { BlobStore } from '../storage/blob-store';
import { checkDeflatedSize, deidentifyDicom, sopInstanceUidHash, validateDicom } from '../dicom';
import type { AcceptanceRule, ImageMeta, QuarantineReason } from '../dicom';
import { tesseractTextCheck } from '../ingest/burned-in-text';
import type { BurnedInTextCheck } from '../ingest/burned-in-text';

export interface IngestDeps {
  store: BlobStore;
  dataSource: DataSource;
  deidSecret: string;
  maxDicomBytes: number;
  acceptance?: AcceptanceRule;
  /**
   * OCR check of the pixels for burned-in text (default: tesseract, see src/ingest/burned-in-text.ts); `false` turns
   * it off (tests of other behaviour). Images with identifying-looking text, or whose pixels cannot be decoded, are
   * quarantined (`burned-in-annotation`); an OCR engine that cannot run fails the activity (retried, then
   * needs-attention), never the scan.
   */
  burnedInText?: BurnedInTextCheck | false;
}

export const BURNED_IN_TEXT_CHECK_UNAVAILABLE = 'BurnedInTextCheckUnavailable';

export interface ValidateScanInput {
  scanId: string;
  sourceKey: string;
  /** Ignored (older workflow inputs carry it): file names stay in the restricted originals store, never in records. */
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

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The ingest activities. Where the source bytes of a scan live (`sourceKey` = the SHA-256 of the staged bytes):
 * - `incoming/<sourceKey>` from staging until they are stored elsewhere: `validateScan` copies accepted bytes to
 *   the restricted `originals/<sha256>` and refused bytes to `quarantine/<sha256>`, then deletes the incoming blob
 *   (`incoming/` is a transit area: identified bytes never stay there once an ingest activity handled them);
 * - `deidentifyScan` reads `originals/<sourceKey>` (falling back to `incoming/` for a scan staged but never validated).
 * Every step is safe to retry after a crash at any point: the copy is written (atomically) before the incoming blob is
 * deleted, and a retry that finds no incoming blob uses `originals/` (accepted), or the recorded quarantine (refused).
 * Only when neither exists does an activity fail with the non-retryable `SourceMissing`.
 */
export function createIngestActivities(deps: IngestDeps) {
  const { store, dataSource, deidSecret, maxDicomBytes } = deps;
  const quarantined = new QuarantinedInputsRepository(dataSource);
  if (!deidSecret) throw new Error('createIngestActivities: deidSecret is required');
  const textCheck = deps.burnedInText === false ? undefined : (deps.burnedInText ?? tesseractTextCheck());

  /** Burned-in text in the pixels (OCR): undefined when clean, else the refusal detail. */
  async function burnedInText(data: Buffer): Promise<string | undefined> {
    if (!textCheck) return undefined;
    const r = await textCheck.check(data);
    if (!r.ok) {
      if (/^OCR engine/.test(r.detail)) throw ApplicationFailure.retryable(r.detail, BURNED_IN_TEXT_CHECK_UNAVAILABLE);
      return `burned-in text cannot be ruled out: ${r.detail}`;
    }
    if (!r.verdict.identifying) return undefined;
    // The words themselves may identify: the detail names only the kinds of text found.
    const kinds = [...new Set(r.verdict.reasons.map((x) => x.split(' ')[0]))].join(', ');
    return `text that looks identifying is burned into the pixels (OCR: ${kinds})`;
  }

  /**
   * The incoming bytes after checking their size. Over the cap, they are streamed (never held in memory) into
   * `quarantine/`, recorded, deleted from `incoming/`, and a `QuarantinedInput` failure is thrown.
   */
  async function readIncoming(scanId: string, sourceKey: string, size: number): Promise<Buffer> {
    if (size > maxDicomBytes) {
      const detail = `${size} bytes exceeds the cap of ${maxDicomBytes}`;
      const moved = await store.putStream('quarantine', store.createReadStream('incoming', sourceKey));
      await recordQuarantine({ sha256: moved.sha256, scanId, size: moved.size, reason: 'too-large', detail });
      await store.delete('incoming', sourceKey);
      throw quarantineFailure('too-large', detail);
    }
    return store.get('incoming', sourceKey);
  }

  /** The quarantine recorded for these bytes, if any (a retry after the incoming blob was deleted). */
  async function recordedQuarantine(sha256: string): Promise<QuarantineDetails | undefined> {
    return quarantined.recorded(sha256);
  }

  /**
   * Neither `incoming/` nor `originals/` holds the source: a retry after a quarantine, or a source that never
   * existed. Re-throws the recorded quarantine; re-records bytes left in `quarantine/` without a record (a crash
   * between the two writes); otherwise fails with the non-retryable `SourceMissing`.
   */
  async function sourceGone(input: { scanId: string; sourceKey: string }): Promise<never> {
    const { scanId, sourceKey } = input;
    if (SHA256_HEX.test(sourceKey)) {
      const recorded = await recordedQuarantine(sourceKey);
      if (recorded) throw quarantineFailure(recorded.reason, recorded.detail);
      if (await store.stat('quarantine', sourceKey)) {
        const data = await store.get('quarantine', sourceKey);
        const v = validateDicom(data, { acceptance: deps.acceptance, maxBytes: maxDicomBytes });
        if (!v.ok) return quarantine(input, data, v.reason, v.detail);
      }
    }
    throw ApplicationFailure.nonRetryable(
      `the source of ${scanId} is gone: neither incoming/${sourceKey} nor originals/${sourceKey} exists`,
      SOURCE_MISSING,
      { sourceKey },
    );
  }

  async function recordQuarantine(q: {
    sha256: string;
    scanId: string;
    size: number;
    reason: string;
    detail: string;
    data?: Buffer;
  }): Promise<void> {
    if (q.data) await store.put('quarantine', q.data, { key: q.sha256 });
    await quarantined.record(q);
  }

  function quarantineFailure(reason: string, detail: string): ApplicationFailure {
    const details: QuarantineDetails = { reason, detail };
    return ApplicationFailure.nonRetryable(`input quarantined: ${reason}`, QUARANTINED_INPUT, details);
  }

  /** Stores refused bytes in `quarantine/`, records them, deletes the incoming copy, and throws `QuarantinedInput`. */
  async function quarantine(input: { scanId: string; sourceKey: string }, data: Buffer, reason: string, detail: string): Promise<never> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    await recordQuarantine({ sha256, scanId: input.scanId, size: data.length, reason, detail, data });
    await store.delete('incoming', input.sourceKey);
    throw quarantineFailure(reason, detail);
  }

  /** Parses, checks the size cap and the acceptance rule, and keeps the original in the restricted `originals/`. */
  async function validateScan(input: ValidateScanInput): Promise<ValidateScanResult> {
    const { scanId, sourceKey } = input;
    const check = async (data: Buffer): Promise<ValidateScanResult> => {
      // A deflated data set is first inflated as a stream that stops at the size/ratio limit (deflate bombs).
      const bomb = await checkDeflatedSize(data, { maxBytes: maxDicomBytes });
      if (bomb) return quarantine(input, data, bomb.reason, bomb.detail);
      const v = validateDicom(data, { acceptance: deps.acceptance, maxBytes: maxDicomBytes });
      if (!v.ok) return quarantine(input, data, v.reason, v.detail);
      const text = await burnedInText(data);
      if (text) return quarantine(input, data, 'burned-in-annotation', text);
      return {
        sopInstanceUidHash: sopInstanceUidHash(v.summary.sopInstanceUid, deidSecret),
        transferSyntax: v.summary.transferSyntax,
        sizeBytes: data.length,
      };
    };
    const incoming = await store.stat('incoming', sourceKey);
    if (incoming) {
      const data = await readIncoming(scanId, sourceKey, incoming.size);
      const result = await check(data);
      await store.put('originals', data); // durable (atomic, fsynced) before the incoming copy goes
      await store.delete('incoming', sourceKey);
      return result;
    }
    // A retry after an attempt that kept the original and deleted the incoming copy.
    if (SHA256_HEX.test(sourceKey) && (await store.stat('originals', sourceKey))) return check(await store.get('originals', sourceKey));
    return sourceGone(input);
  }

  /**
   * De-identifies (PS3.15 basic profile) the original kept by `validateScan` into `deidentified/<imageId>.dcm`
   * and writes the restricted UID mapping.
   */
  async function deidentifyScan(input: DeidentifyScanInput): Promise<DeidentifyScanResult> {
    const { scanId, sourceKey } = input;
    let data: Buffer;
    let fromIncoming = false;
    if (SHA256_HEX.test(sourceKey) && (await store.stat('originals', sourceKey))) {
      data = await store.get('originals', sourceKey);
    } else {
      // Staged but not validated (validateScan keeps the original): take the incoming copy, and keep it as the original.
      const incoming = await store.stat('incoming', sourceKey);
      if (!incoming) return sourceGone(input);
      data = await readIncoming(scanId, sourceKey, incoming.size);
      fromIncoming = true;
    }
    const r = deidentifyDicom(data, { secret: deidSecret, acceptance: deps.acceptance, maxBytes: maxDicomBytes });
    if (!r.ok) return quarantine(input, data, r.reason, r.detail);
    const deidentifiedKey = `${r.imageId}.dcm`;
    const stored = await store.put('deidentified', r.output, { key: deidentifiedKey });
    const sourceSha256 = createHash('sha256').update(data).digest('hex');
    if (fromIncoming) await store.put('originals', data);
    await store.putJson('originals', mappingKey(scanId), {
      scanId,
      imageId: r.imageId,
      sourceKey: sourceSha256,
      deidentifiedKey,
      deidentifiedSha256: stored.sha256,
      sourceUids: r.sourceUids,
      newUids: { sop: r.uidMap[r.sourceUids.sop], study: r.uidMap[r.sourceUids.study], series: r.uidMap[r.sourceUids.series] },
      uidMap: r.uidMap,
      profile: 'DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile (ReadFlow)',
      report: r.report,
    });
    await store.delete('incoming', sourceKey);
    return { imageId: r.imageId, deidentifiedKey, image: r.image };
  }

  /**
   * `validateScan` then `deidentifyScan`, as one activity (the scan workflow since `BATCHED_SCAN_STEPS`). A retry
   * after either step is safe for the same reasons as a retry of each (see above).
   */
  async function ingestScan(input: DeidentifyScanInput): Promise<DeidentifyScanResult> {
    await validateScan(input);
    return deidentifyScan(input);
  }

  return { validateScan, deidentifyScan, ingestScan };
}
