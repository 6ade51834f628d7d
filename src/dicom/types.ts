/**
 * Machine-readable quarantine reasons: `not-dicom`, `truncated`, `unsupported-transfer-syntax`, `not-chest-radiograph`,
 * `burned-in-annotation`, `multi-frame`, `too-large`, `decompression-limit` (a deflated data set inflating past its
 * ratio/size limit), `image-too-large` (more Rows × Columns than the acceptance rule's pixel cap), `missing-required-attribute:(gggg,eeee)`.
 */
export type QuarantineReason = string;

export const QUARANTINE_REASONS = [
  'not-dicom',
  'truncated',
  'unsupported-transfer-syntax',
  'not-chest-radiograph',
  'burned-in-annotation',
  'multi-frame',
  'too-large',
  'decompression-limit',
  'image-too-large',
] as const;

/** True for one of the listed reasons or `missing-required-attribute:(gggg,eeee)`. */
export function isQuarantineReason(r: string): boolean {
  return (QUARANTINE_REASONS as readonly string[]).includes(r) || /^missing-required-attribute:\([0-9A-F]{4},[0-9A-F]{4}\)$/.test(r);
}

export type Refusal = { ok: false; reason: QuarantineReason; detail: string };

/** What readers (and the viewer) need to know about the image. */
export interface ImageMeta {
  rows: number;
  columns: number;
  pixelSpacing?: [number, number];
  modality: string;
  viewPosition?: string;
  bodyPartExamined?: string;
  photometricInterpretation: string;
  bitsStored: number;
  bitsAllocated: number;
  pixelRepresentation: number;
  samplesPerPixel: number;
  transferSyntax: string;
  windowCenter?: number;
  windowWidth?: number;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  patientSex?: string;
  patientAge?: string;
}

/** Thrown inside the DICOM module for refused input; converted to `{ ok: false, reason, detail }` at the API surface. */
export class DicomInputError extends Error {
  constructor(
    readonly reason: QuarantineReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'DicomInputError';
  }
}

/** `(gggg,eeee)` from dicom-parser's `xggggeeee`. */
export function formatTag(tag: string): string {
  return `(${tag.slice(1, 5).toUpperCase()},${tag.slice(5, 9).toUpperCase()})`;
}
