import type { DataSet } from 'dicom-parser';

import { parseDicomBytes, PIXEL_DATA } from './parse';
import type { ParsedDicom } from './parse';
import type { ImageMeta } from './types';
import { DicomInputError, formatTag } from './types';

/** Which inputs ReadFlow accepts. `null` lists mean "any value". */
export interface AcceptanceRule {
  modalities: string[] | null;
  bodyParts: string[] | null;
  allowMissingBodyPart: boolean;
  viewPositions: string[] | null;
  allowMissingViewPosition: boolean;
  allowMultiFrame: boolean;
  /** Most pixels (Rows × Columns) an image may have; larger ones are refused as `image-too-large`. `null`: no cap. */
  maxPixels: number | null;
}

/**
 * Default pixel cap: 25 million (5000 × 5000), above every CR/DX chest detector (43 cm at 0.1 mm is 4300 × 4300).
 * An image is decoded and rendered whole; the cap bounds what one preview costs (`READFLOW_MAX_IMAGE_PIXELS`).
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 25_000_000;

/**
 * The project default: a single-frame frontal chest radiograph (CR/DX, body part CHEST — or its synonym THORAX, which
 * many devices write — or absent, view PA — what VinDr-CXR kept — or absent). The accepted views are a setting
 * (`READFLOW_ACCEPTED_VIEWS`, see {@link acceptanceWithViews}).
 */
export const DEFAULT_ACCEPTANCE: AcceptanceRule = Object.freeze({
  modalities: ['CR', 'DX'],
  bodyParts: ['CHEST', 'THORAX'],
  allowMissingBodyPart: true,
  viewPositions: ['PA'],
  allowMissingViewPosition: true,
  allowMultiFrame: false,
  maxPixels: DEFAULT_MAX_IMAGE_PIXELS,
}) as AcceptanceRule;

/**
 * The default rule with other accepted view positions (upper-case ViewPosition values, e.g. `['PA', 'AP']`) and,
 * optionally, another pixel cap.
 */
export function acceptanceWithViews(viewPositions: readonly string[], maxPixels: number | null = DEFAULT_MAX_IMAGE_PIXELS): AcceptanceRule {
  return Object.freeze({ ...DEFAULT_ACCEPTANCE, viewPositions: [...viewPositions], maxPixels }) as AcceptanceRule;
}

/** Accepts any well-formed single- or multi-frame image (still refuses burned-in annotation). For tests and benchmarks. */
export const PERMISSIVE_ACCEPTANCE: AcceptanceRule = Object.freeze({
  modalities: null,
  bodyParts: null,
  allowMissingBodyPart: true,
  viewPositions: null,
  allowMissingViewPosition: true,
  allowMultiFrame: true,
  maxPixels: null,
}) as AcceptanceRule;

export interface DicomSummary {
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid?: string;
  modality: string;
  bodyPartExamined?: string;
  viewPosition?: string;
  /**
   * When ViewPosition is absent: the projection named by View Code Sequence (0054,0220) or by the image's
   * Acquisition Device Processing Description (0018,1400), if exactly one kind of view is named there.
   */
  describedView?: DescribedView;
  burnedInAnnotation?: string;
  numberOfFrames: number;
  transferSyntax: string;
  /** Present when the object has an image. */
  image?: ImageMeta;
}

/** A projection named in a text attribute (see `describeView`). */
export interface DescribedView {
  view: 'PA' | 'AP' | 'LATERAL' | 'OBLIQUE';
  /** Where it was read, e.g. `AcquisitionDeviceProcessingDescription (0018,1400)`. */
  source: string;
  text: string;
}

const VIEW_WORDS: Record<string, DescribedView['view']> = {
  PA: 'PA',
  POSTEROANTERIOR: 'PA',
  AP: 'AP',
  ANTEROPOSTERIOR: 'AP',
  LATERAL: 'LATERAL',
  LAT: 'LATERAL',
  LL: 'LATERAL',
  RL: 'LATERAL',
  LLD: 'LATERAL',
  RLD: 'LATERAL',
  OBLIQUE: 'OBLIQUE',
  OBL: 'OBLIQUE',
  LAO: 'OBLIQUE',
  RAO: 'OBLIQUE',
  LPO: 'OBLIQUE',
  RPO: 'OBLIQUE',
};

/**
 * The single projection a free-text view or processing description names ("CANINE LATERAL THORAX 0-15cm" →
 * LATERAL, "postero-anterior" → PA), or undefined when it names none, or several ("CHEST PA/LAT").
 */
export function viewNamedBy(text: string): DescribedView['view'] | undefined {
  const words = text
    .toUpperCase()
    .replace(/(POSTERO|ANTERO)[\s-]+(ANTERIOR|POSTERIOR)/g, '$1$2')
    .split(/[^A-Z]+/);
  const views = new Set(words.map((w) => VIEW_WORDS[w]).filter((v) => v !== undefined));
  return views.size === 1 ? [...views][0] : undefined;
}

const T = {
  sopClass: 'x00080016',
  sop: 'x00080018',
  modality: 'x00080060',
  study: 'x0020000d',
  series: 'x0020000e',
  bodyPart: 'x00180015',
  view: 'x00185101',
  viewCodeSequence: 'x00540220',
  codeMeaning: 'x00080104',
  processingDescription: 'x00181400',
  patientSex: 'x00100040',
  patientAge: 'x00101010',
  samples: 'x00280002',
  photometric: 'x00280004',
  frames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  imagerPixelSpacing: 'x00181164',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  pixelRepresentation: 'x00280103',
  burnedIn: 'x00280301',
  windowCenter: 'x00281050',
  windowWidth: 'x00281051',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
} as const;

function str(ds: DataSet, tag: string): string | undefined {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return undefined;
  const v = ds.string(tag);
  const t = v?.replace(/\0/g, '').trim();
  return t ? t : undefined;
}

function num(ds: DataSet, tag: string, index = 0): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return undefined;
  const v = ds.string(tag, index);
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  return Number.isFinite(n) && v.trim() !== '' ? n : undefined;
}

function us(ds: DataSet, tag: string): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length < 2) return undefined;
  return ds.uint16(tag);
}

function required(ds: DataSet, tag: string): string {
  const v = str(ds, tag);
  if (v === undefined) throw new DicomInputError(`missing-required-attribute:${formatTag(tag)}`, `required attribute ${formatTag(tag)} is absent or empty`);
  return v;
}

function requiredUs(ds: DataSet, tag: string): number {
  const v = us(ds, tag);
  if (v === undefined) throw new DicomInputError(`missing-required-attribute:${formatTag(tag)}`, `required attribute ${formatTag(tag)} is absent or empty`);
  return v;
}

/**
 * Reads the attributes the acceptance rule needs (and the image metadata when `withImage` is 'require', or 'if-present'
 * and the object has Rows or Pixel Data). Throws DicomInputError for missing required attributes.
 */
export function summarize(p: ParsedDicom, withImage: 'no' | 'if-present' | 'require' = 'no'): DicomSummary {
  const ds = p.dataSet;
  const sopInstanceUid = required(ds, T.sop);
  const studyInstanceUid = required(ds, T.study);
  const seriesInstanceUid = required(ds, T.series);
  const modality = required(ds, T.modality).toUpperCase();
  const framesText = str(ds, T.frames);
  let numberOfFrames = 1;
  if (framesText !== undefined) {
    numberOfFrames = /^\s*[+]?\d+\s*$/.test(framesText) ? Number(framesText) : NaN;
  }
  const summary: DicomSummary = {
    sopInstanceUid,
    studyInstanceUid,
    seriesInstanceUid,
    sopClassUid: str(ds, T.sopClass),
    modality,
    bodyPartExamined: str(ds, T.bodyPart)?.toUpperCase(),
    viewPosition: str(ds, T.view)?.toUpperCase(),
    burnedInAnnotation: str(ds, T.burnedIn)?.toUpperCase(),
    numberOfFrames,
    transferSyntax: p.transferSyntax,
  };
  if (summary.viewPosition === undefined) {
    const described = describeView(ds);
    if (described) summary.describedView = described;
  }
  if (withImage !== 'no') addImage(p, summary, withImage === 'require');
  return summary;
}

/**
 * The view of an image without ViewPosition: the code meaning of View Code Sequence (0054,0220) (the coded view
 * of DX/CR objects), else the image's Acquisition Device Processing Description (0018,1400) — the per-image
 * processing menu of the device ("CHEST PA", "CANINE LATERAL THORAX 0-15cm"). Study-level texts (Protocol Name,
 * Study/Series Description) are not used: "CHEST PA AND LATERAL" names the study, not the image.
 * Patient Orientation and Image Laterality are not used either: the PA film RG1_J2KI and the canine lateral
 * dx_image both carry `L\F`, and Image Laterality is the side of a paired body part, not the projection.
 */
function describeView(ds: DataSet): DescribedView | undefined {
  const item = ds.elements[T.viewCodeSequence]?.items?.[0]?.dataSet;
  const coded = item ? str(item, T.codeMeaning) : undefined;
  const codedView = coded ? viewNamedBy(coded) : undefined;
  if (coded && codedView) return { view: codedView, source: 'ViewCodeSequence (0054,0220)', text: coded };
  const processing = str(ds, T.processingDescription);
  const processingView = processing ? viewNamedBy(processing) : undefined;
  if (processing && processingView) return { view: processingView, source: 'AcquisitionDeviceProcessingDescription (0018,1400)', text: processing };
  return undefined;
}

/** Adds the image metadata to the summary (required: throws `missing-required-attribute:*` when it is incomplete). */
export function addImage(p: ParsedDicom, summary: DicomSummary, required: boolean): DicomSummary {
  const ds = p.dataSet;
  const hasImage = ds.elements[T.rows] !== undefined || ds.elements[PIXEL_DATA] !== undefined;
  if (required || hasImage) summary.image = readImageMeta(p, summary.modality, summary);
  return summary;
}

function readImageMeta(p: ParsedDicom, modality: string, s: Pick<DicomSummary, 'viewPosition' | 'bodyPartExamined'>): ImageMeta {
  const ds = p.dataSet;
  const rows = requiredUs(ds, T.rows);
  const columns = requiredUs(ds, T.columns);
  const bitsAllocated = requiredUs(ds, T.bitsAllocated);
  const bitsStored = requiredUs(ds, T.bitsStored);
  const photometricInterpretation = required(ds, T.photometric).toUpperCase();
  if (!ds.elements[PIXEL_DATA]) throw new DicomInputError(`missing-required-attribute:${formatTag(PIXEL_DATA)}`, 'no Pixel Data');
  const image: ImageMeta = {
    rows,
    columns,
    modality,
    photometricInterpretation,
    bitsStored,
    bitsAllocated,
    pixelRepresentation: us(ds, T.pixelRepresentation) ?? 0,
    samplesPerPixel: us(ds, T.samples) ?? 1,
    transferSyntax: p.transferSyntax,
  };
  const spacingTag = ds.elements[T.pixelSpacing] ? T.pixelSpacing : T.imagerPixelSpacing;
  const r = num(ds, spacingTag, 0);
  const c = num(ds, spacingTag, 1);
  if (r !== undefined && c !== undefined && r > 0 && c > 0) image.pixelSpacing = [r, c];
  if (s.viewPosition) image.viewPosition = s.viewPosition;
  if (s.bodyPartExamined) image.bodyPartExamined = s.bodyPartExamined;
  const wc = num(ds, T.windowCenter);
  const ww = num(ds, T.windowWidth);
  if (wc !== undefined && ww !== undefined && ww > 0) {
    image.windowCenter = wc;
    image.windowWidth = ww;
  }
  const slope = num(ds, T.rescaleSlope);
  const intercept = num(ds, T.rescaleIntercept);
  if (slope !== undefined) image.rescaleSlope = slope;
  if (intercept !== undefined) image.rescaleIntercept = intercept;
  const sex = str(ds, T.patientSex);
  const age = str(ds, T.patientAge);
  if (sex && /^[MFO]$/i.test(sex)) image.patientSex = sex.toUpperCase();
  if (age && /^\d{3}[DWMY]$/i.test(age)) image.patientAge = age.toUpperCase();
  return image;
}

const oneOf = (values: string[]): string => values.join(', ');

/**
 * Applies the acceptance rule (before the image attributes are required); throws DicomInputError with the reason
 * and a detail naming the failing check and its value, e.g. `view position LL is not one of PA, AP`.
 */
export function applyAcceptance(s: DicomSummary, rule: AcceptanceRule): void {
  const refuse = (detail: string): never => {
    throw new DicomInputError('not-chest-radiograph', detail);
  };
  if (rule.modalities && !rule.modalities.includes(s.modality)) refuse(`modality ${s.modality} is not one of ${oneOf(rule.modalities)}`);
  if (s.bodyPartExamined === undefined) {
    if (!rule.allowMissingBodyPart) refuse('body part examined (0018,0015) is absent');
  } else if (rule.bodyParts !== null && !rule.bodyParts.includes(s.bodyPartExamined)) {
    refuse(`body part examined ${s.bodyPartExamined} is not one of ${oneOf(rule.bodyParts)}`);
  }
  if (s.viewPosition !== undefined) {
    if (rule.viewPositions !== null && !rule.viewPositions.includes(s.viewPosition)) {
      refuse(`view position ${s.viewPosition} is not one of ${oneOf(rule.viewPositions)}`);
    }
  } else if (s.describedView !== undefined && rule.viewPositions !== null && !rule.viewPositions.includes(s.describedView.view)) {
    const d = s.describedView;
    refuse(`view ${d.view} (ViewPosition absent; ${d.source} is ${JSON.stringify(d.text)}) is not one of ${oneOf(rule.viewPositions)}`);
  } else if (!rule.allowMissingViewPosition && s.describedView === undefined) {
    refuse('view position (0018,5101) is absent');
  }
  if (!Number.isInteger(s.numberOfFrames) || s.numberOfFrames < 1) {
    throw new DicomInputError('multi-frame', `NumberOfFrames is not a positive integer`);
  }
  if (s.numberOfFrames > 1 && !rule.allowMultiFrame) throw new DicomInputError('multi-frame', `NumberOfFrames ${s.numberOfFrames}`);
  checkBurnedInFlag(s);
}

/** Refuses (`image-too-large`) an image of more pixels than the rule's cap; run once the image metadata is read. */
export function applyImageCap(s: DicomSummary, rule: AcceptanceRule): void {
  if (rule.maxPixels === null || !s.image) return;
  const pixels = s.image.rows * s.image.columns;
  if (pixels > rule.maxPixels) {
    throw new DicomInputError('image-too-large', `the image is ${s.image.columns} × ${s.image.rows} = ${pixels} pixels, more than the cap of ${rule.maxPixels}`);
  }
}

/** Modalities where burned-in text is not expected (projection radiographs); their pixels get the OCR check at ingest. */
export const RADIOGRAPH_MODALITIES: readonly string[] = ['CR', 'DX'];

/**
 * BurnedInAnnotation (0028,0301): YES is refused; absent (or any value but NO) means unknown, refused unless the
 * modality is one where burned-in text is not expected (CR/DX), whose pixels the ingest checks by OCR.
 */
export function checkBurnedInFlag(s: Pick<DicomSummary, 'burnedInAnnotation' | 'modality'>): void {
  if (s.burnedInAnnotation === 'YES') throw new DicomInputError('burned-in-annotation', 'BurnedInAnnotation (0028,0301) is YES; pixels are not cleaned');
  if (s.burnedInAnnotation === 'NO' || RADIOGRAPH_MODALITIES.includes(s.modality)) return;
  const what = s.burnedInAnnotation === undefined ? 'absent' : `${JSON.stringify(s.burnedInAnnotation.slice(0, 16))}, not YES or NO`;
  throw new DicomInputError('burned-in-annotation', `BurnedInAnnotation (0028,0301) is ${what} for modality ${s.modality}: burned-in text cannot be ruled out`);
}

/**
 * Parses a file and applies the whole acceptance rule to it: the rule's attributes, then the image (pixel data present
 * and decodable in shape) and its pixel cap. Throws DicomInputError for refused input; `validateDicom` and
 * `deidentifyDicom` both start here and turn it into a refusal.
 */
export function parseAccepted(buf: Uint8Array, opts: { acceptance?: AcceptanceRule; maxBytes?: number }): { parsed: ParsedDicom; summary: DicomSummary } {
  const parsed = parseDicomBytes(buf, { maxBytes: opts.maxBytes });
  const summary = summarize(parsed);
  const rule = opts.acceptance ?? DEFAULT_ACCEPTANCE;
  applyAcceptance(summary, rule);
  addImage(parsed, summary, true);
  applyImageCap(summary, rule);
  return { parsed, summary };
}
