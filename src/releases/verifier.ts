/**
 * The publication gate's check of one released DICOM file, behind a small interface so that the de-identification
 * verifier being written in `src/dicom/` can replace the local check without touching the release code.
 *
 * The local check (`localImageVerifier`) compares the file to be published with what ReadFlow recorded at
 * de-identification (the restricted `originals/<scan>.uids.json` sidecar, the source in `originals/`, the
 * de-identified file in `deidentified/`):
 * - `not-deidentified-file`: its SHA-256 differs from the de-identified file's recorded at de-identification;
 * - `pixel-data-differs`: its Pixel Data (7FE0,0010) bytes differ from the de-identified file's;
 * - `original-uid`: it contains a UID of the source (any UID the de-identification mapped);
 * - `identifying-value`: it contains the text of an attribute of the source that PS3.15 Table E.1-1 removes or
 *   replaces (names, ids, dates, addresses, institution…; values shorter than 4 characters are not searched);
 * - `unreadable`: it does not parse as DICOM.
 * Problems name the attribute, never the identifying value itself.
 */
import { createHash } from 'node:crypto';

import { parseDicomBytes, PIXEL_DATA } from '../dicom/parse';
import { PROFILE, RETAINED_BY_READFLOW } from '../dicom/profile';
import { verifyDeidentified } from '../dicom/verify';

export const GATE_PROBLEM_CODES = [
  'not-deidentified-file',
  'pixel-data-differs',
  'original-uid',
  'identifying-value',
  'unreadable',
  'profile-action',
  'missing-file',
  'missing-labels',
  'labels-outside-taxonomy',
  'pseudonym-moved',
  'no-images',
] as const;
export type GateProblemCode = (typeof GATE_PROBLEM_CODES)[number];

/** One finding of the gate: what failed, for which image (or release-wide), in words. */
export interface GateProblem {
  code: GateProblemCode;
  imageId?: string;
  detail: string;
}

/** What the verifier is given for one image. */
export interface ImageToVerify {
  imageId: string;
  /** Bytes about to be published. */
  candidate: Buffer;
  /** The de-identified file in the store. */
  deidentified: Buffer;
  /** SHA-256 of the de-identified file recorded at de-identification. */
  deidentifiedSha256: string;
  /** The source as received (restricted store). */
  original: Buffer;
  /** Every UID of the source the de-identification replaced. */
  sourceUids: string[];
}

export interface ReleaseImageVerifier {
  readonly name: string;
  verify(image: ImageToVerify): GateProblem[];
}

/** VRs whose values are text that can be searched for in the output. */
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UT', 'UR']);
const MIN_SEARCHED = 4;

function pixelBytes(buf: Buffer): Buffer | undefined {
  const p = parseDicomBytes(buf);
  const el = p.dataSet.elements[PIXEL_DATA];
  if (!el) return undefined;
  const end = el.length !== undefined && el.length >= 0 && el.length !== 0xffffffff ? el.dataOffset + el.length : buf.length;
  return buf.subarray(el.dataOffset, Math.min(end, buf.length));
}

/** Text values of the source's attributes that the basic profile does not keep (top level), with their names. */
function identifyingValues(original: Buffer): { name: string; value: string }[] {
  const p = parseDicomBytes(original);
  const out: { name: string; value: string }[] = [];
  for (const [tag, el] of Object.entries(p.dataSet.elements)) {
    const row = PROFILE.get(tag);
    if (!row || row.action === 'K' || RETAINED_BY_READFLOW.has(tag) || row.vr === 'UI') continue;
    const vr = el.vr ?? row.vr;
    if (!TEXT_VRS.has(vr) || !el.length) continue;
    const raw = p.dataSet.string(tag);
    if (!raw) continue;
    for (const part of raw.split('\\')) {
      const value = part.replace(/\0/g, '').trim();
      if (value.length >= MIN_SEARCHED) out.push({ name: `${row.name} (${tag.slice(1, 5).toUpperCase()},${tag.slice(5).toUpperCase()})`, value });
    }
  }
  return out;
}

/** The local check described above. */
export const localImageVerifier: ReleaseImageVerifier = {
  name: 'readflow-local-v1',
  verify(image: ImageToVerify): GateProblem[] {
    const problems: GateProblem[] = [];
    const { imageId, candidate } = image;
    if (createHash('sha256').update(candidate).digest('hex') !== image.deidentifiedSha256) {
      problems.push({ code: 'not-deidentified-file', imageId, detail: 'the file differs from the de-identified file recorded at de-identification' });
    }
    let candidatePixels: Buffer | undefined;
    try {
      candidatePixels = pixelBytes(candidate);
    } catch (e) {
      return [...problems, { code: 'unreadable', imageId, detail: `does not parse as DICOM: ${(e as Error).message}` }];
    }
    const deidPixels = pixelBytes(image.deidentified);
    if (!candidatePixels || !deidPixels || !candidatePixels.equals(deidPixels)) {
      problems.push({ code: 'pixel-data-differs', imageId, detail: 'Pixel Data (7FE0,0010) is not identical to the de-identified file' });
    }
    const text = candidate.toString('latin1');
    const uids = image.sourceUids.filter((u) => u.length >= 8 && text.includes(u));
    if (uids.length > 0) problems.push({ code: 'original-uid', imageId, detail: `contains ${uids.length} UID(s) of the source` });
    const seen = new Set<string>();
    for (const { name, value } of identifyingValues(image.original)) {
      if (!seen.has(name) && text.includes(value)) {
        seen.add(name);
        problems.push({ code: 'identifying-value', imageId, detail: `contains the source's ${name}` });
      }
    }
    // The de-identification verifier (src/dicom/verify.ts, issue 11): every string value at any depth (private and UN
    // data included), every original UID, every Table E.1-1 attribute not treated as its action requires.
    for (const f of verifyDeidentified(image.original, candidate)) {
      const code: GateProblemCode = f.kind === 'table-action' || f.kind === 'iod-error' ? 'profile-action' : f.kind;
      if (code === 'identifying-value' && seen.size > 0) continue; // already named above
      problems.push({ code, imageId, detail: `${f.where}: ${f.kind}` });
    }
    return problems;
  },
};
