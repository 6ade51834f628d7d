import { deflateRawSync } from 'node:zlib';

import { parseAccepted, summarize } from './acceptance';
import type { AcceptanceRule, DicomSummary } from './acceptance';
import { toRefusal } from './inspect';
import { parseDicomBytes } from './parse';
import type { ParsedDicom } from './parse';
import { iodFor } from './iod';
import type { TypeLookup } from './iod';
import { actionFor, DEIDENTIFICATION_CODES, DEIDENTIFICATION_METHOD, TABLE_E_1_1_VERSION, vrOf } from './profile';
import { deriveUid, imageIdFor } from './uids';
import { concat, DatasetWriter, Encoder, textValue } from './writer';
import type { Editor, ElementEdit, Insertion } from './writer';
import type { ImageMeta, Refusal } from './types';
import { DicomInputError, formatTag } from './types';

export interface DeidentifyOptions {
  /** Project secret for the keyed UID hash. */
  secret: string;
  acceptance?: AcceptanceRule;
  /** Refuse (`too-large`) inputs longer than this. */
  maxBytes?: number;
}

export interface SourceUids {
  sop: string;
  study: string;
  series: string;
}

export type DeidentifyResult =
  | {
      ok: true;
      output: Buffer;
      imageId: string;
      image: ImageMeta;
      uidMap: Record<string, string>;
      sourceUids: SourceUids;
      report: DeidentificationReport;
    }
  | Refusal;

/** What the de-identification removed beyond the table's named rows (tags as `(gggg,eeee)`; at most 200 each). */
export interface DeidentificationReport {
  /** Version of Table E.1-1 applied. */
  profile: string;
  /** Unlisted free-text / date attributes removed (not on the reviewed safe list). */
  removedFreeText: string[];
  /** Unlisted free-text / date attributes the IOD requires: emptied or replaced by a dummy. */
  replacedFreeText: string[];
  /** Attributes of unknown VR (UN-encoded, or implicit VR not in the dictionary) removed without being copied. */
  removedUnknownVr: string[];
}

/** Standard UIDs (SOP classes, transfer syntaxes, coding schemes…) identify no one and are kept. */
const STANDARD_UID = /^1\.2\.840\.10008\./;

export interface DeidentifiedObject {
  output: Buffer;
  report: DeidentificationReport;
  imageId: string;
  newSopInstanceUid: string;
  uidMap: Record<string, string>;
  sourceUids: SourceUids;
  summary: DicomSummary;
}

/** ImplementationClassUID (0002,0012) of files ReadFlow writes (a fixed UUID-derived UID). */
export const READFLOW_IMPLEMENTATION_CLASS_UID = '2.25.262446412384785370963212546744532395009';
export const READFLOW_IMPLEMENTATION_VERSION = 'READFLOW_1';

const DUMMY_TEXT: Record<string, string> = {
  AE: 'ANONYMIZED',
  AS: '000D',
  CS: 'ANONYMIZED',
  DA: '19000101',
  DT: '19000101000000',
  TM: '000000',
  DS: '0',
  IS: '0',
  LO: 'ANONYMIZED',
  LT: 'ANONYMIZED',
  PN: 'ANONYMIZED',
  SH: 'ANONYMIZED',
  ST: 'ANONYMIZED',
  UC: 'ANONYMIZED',
  UT: 'ANONYMIZED',
};
const BINARY_SIZE: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, AT: 4, FD: 8, SV: 8, UV: 8 };

function dummyValue(vr: string, secret: string): Uint8Array {
  if (vr === 'UI') return textValue(deriveUid('readflow-dummy', secret), 'UI');
  const text = DUMMY_TEXT[vr];
  if (text !== undefined) return textValue(text, vr);
  const size = BINARY_SIZE[vr];
  return new Uint8Array(size ?? 0);
}

function readText(bytes: Uint8Array, offset: number, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, length).toString('latin1');
}

/**
 * De-identifies a parsed object with the Basic Application Level Confidentiality Profile (see profile.ts) and writes
 * it with the byte-preserving writer. No acceptance rule is applied. Throws DicomInputError.
 */
export function deidentifyParsed(p: ParsedDicom, summary: DicomSummary, secret: string): DeidentifiedObject {
  const uidMap: Record<string, string> = {};
  const mapUid = (uid: string): string => {
    const have = uidMap[uid];
    if (have !== undefined) return have;
    const n = deriveUid(uid, secret);
    uidMap[uid] = n;
    return n;
  };
  const bytes = p.bytes;

  const lookupTop = iodFor(summary.sopClassUid ?? metaString(p, 'x00020002'));
  const nested: TypeLookup = { modelled: false };
  const report: DeidentificationReport = { profile: TABLE_E_1_1_VERSION, removedFreeText: [], replacedFreeText: [], removedUnknownVr: [] };
  const note = (list: string[], tag: string): void => {
    const t = formatTag(tag);
    if (!list.includes(t) && list.length < 200) list.push(t);
  };

  const edit: Editor = ({ tag, group, element, vr, el, depth }): ElementEdit => {
    const { action, source } = actionFor(tag, group, element, vr, depth === 0 ? lookupTop : nested);
    const valueVr = vrOf(tag, vr === 'UN' ? undefined : vr) ?? 'UN';
    // A UN-encoded value (explicit VR files) is bytes whose structure is unknown here (a sequence in implicit VR, a
    // text...): it is never copied. It is removed unless the profile replaces its value anyway.
    const unknownBytes = p.ts.explicit && vr === 'UN';
    if (source === 'allow-list') {
      if (action === 'X') note(unknownBytes || valueVr === 'UN' ? report.removedUnknownVr : report.removedFreeText, tag);
      else note(report.replacedFreeText, tag);
    }
    switch (action) {
      case 'X':
        return { kind: 'remove' };
      case 'K':
        if (unknownBytes) {
          note(report.removedUnknownVr, tag);
          return { kind: 'remove' };
        }
        if (el.items && el.items.length > 0) return { kind: 'recurse' };
        return { kind: 'keep' };
      case 'Z':
        if (el.items || valueVr === 'SQ') return { kind: 'value', value: new Uint8Array(0), vr: unknownBytes ? 'UN' : 'SQ' };
        return { kind: 'value', value: new Uint8Array(0), vr: valueVr };
      case 'D':
        if (el.items || valueVr === 'SQ') {
          // A dummy sequence: keep its items and apply the profile inside (their attributes get their own actions).
          if (unknownBytes) return { kind: 'remove' };
          return el.items && el.items.length > 0 ? { kind: 'recurse' } : { kind: 'keep' };
        }
        return { kind: 'value', value: dummyValue(valueVr, secret), vr: valueVr };
      case 'U': {
        if (el.items || el.hadUndefinedLength) return { kind: 'remove' };
        const text = readText(bytes, el.dataOffset, el.length).replace(/[\0 ]+$/, '');
        if (text === '') return { kind: 'value', value: new Uint8Array(0), vr: 'UI' };
        const mapped = text
          .split('\\')
          .map((u) => u.replace(/[\0 ]+$/, '').trim())
          .map((u) => (u === '' || STANDARD_UID.test(u) ? u : mapUid(u)))
          .join('\\');
        if (mapped === text) return { kind: 'keep' };
        return { kind: 'value', value: textValue(mapped, 'UI'), vr: unknownBytes ? 'UN' : 'UI' };
      }
    }
  };

  const writer = new DatasetWriter(p, edit);
  const enc = writer.enc;
  const codeItems = DEIDENTIFICATION_CODES.map((c) =>
    concat([
      enc.element(0x0008, 0x0100, 'SH', textValue(c.value, 'SH')),
      enc.element(0x0008, 0x0102, 'SH', textValue(c.scheme, 'SH')),
      enc.element(0x0008, 0x0104, 'LO', textValue(c.meaning, 'LO')),
    ]),
  );
  const insertions: Insertion[] = [
    { tag: 'x00120062', bytes: enc.element(0x0012, 0x0062, 'CS', textValue('YES', 'CS')) },
    { tag: 'x00120063', bytes: enc.element(0x0012, 0x0063, 'LO', textValue(DEIDENTIFICATION_METHOD.join('\\'), 'LO')) },
    { tag: 'x00120064', bytes: enc.sequence(0x0012, 0x0064, codeItems) },
  ];
  const body = writer.writeTopLevel(insertions);

  const newSop = mapUid(summary.sopInstanceUid);
  mapUid(summary.studyInstanceUid);
  mapUid(summary.seriesInstanceUid);
  const sopClass = summary.sopClassUid ?? metaString(p, 'x00020002');
  if (!sopClass) throw new DicomInputError('missing-required-attribute:(0008,0016)', 'no SOP Class UID');

  const meta = fileMeta(sopClass, newSop, p.transferSyntax);
  let dataset: Uint8Array = concat(body.chunks, body.length);
  if (p.ts.deflated) dataset = deflateRawSync(dataset);
  const output = Buffer.concat([meta, dataset], meta.length + dataset.length);
  return {
    output,
    report,
    imageId: imageIdFor(newSop),
    newSopInstanceUid: newSop,
    uidMap,
    sourceUids: { sop: summary.sopInstanceUid, study: summary.studyInstanceUid, series: summary.seriesInstanceUid },
    summary,
  };
}

function metaString(p: ParsedDicom, tag: string): string | undefined {
  const el = p.dataSet.elements[tag];
  if (!el || el.length === 0) return undefined;
  return readText(p.bytes, el.dataOffset, el.length).replace(/[\0 ]+$/, '').trim() || undefined;
}

/** 128-byte zero preamble, `DICM`, and a fresh File Meta Information group (always explicit VR little endian). */
export function fileMeta(sopClassUid: string, sopInstanceUid: string, transferSyntax: string): Buffer {
  const enc = new Encoder(true, true);
  const elements = concat([
    enc.element(0x0002, 0x0001, 'OB', new Uint8Array([0x00, 0x01])),
    enc.element(0x0002, 0x0002, 'UI', textValue(sopClassUid, 'UI')),
    enc.element(0x0002, 0x0003, 'UI', textValue(sopInstanceUid, 'UI')),
    enc.element(0x0002, 0x0010, 'UI', textValue(transferSyntax, 'UI')),
    enc.element(0x0002, 0x0012, 'UI', textValue(READFLOW_IMPLEMENTATION_CLASS_UID, 'UI')),
    enc.element(0x0002, 0x0013, 'SH', textValue(READFLOW_IMPLEMENTATION_VERSION, 'SH')),
  ]);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, elements.length, true);
  const head = Buffer.alloc(132);
  head.write('DICM', 128, 'latin1');
  return Buffer.concat([head, enc.element(0x0002, 0x0000, 'UL', groupLength), elements]);
}

/**
 * Low-level entry (tests, benchmark): parse + de-identify any well-formed DICOM object without an acceptance rule.
 * Throws DicomInputError for refused input.
 */
export function deidentifyObject(buf: Uint8Array, opts: { secret: string; maxBytes?: number }): DeidentifiedObject {
  const p = parseDicomBytes(buf, { maxBytes: opts.maxBytes });
  const summary = summarize(p, 'if-present');
  if (summary.burnedInAnnotation === 'YES') {
    throw new DicomInputError('burned-in-annotation', 'BurnedInAnnotation (0028,0301) is YES; pixels are not cleaned');
  }
  return deidentifyParsed(p, summary, opts.secret);
}

/**
 * Validates, applies the acceptance rule and de-identifies a DICOM file. Never throws for bad input: any failure
 * (including unexpected parser exceptions) becomes `{ ok: false, reason, detail }`.
 */
export function deidentifyDicom(buf: Uint8Array, opts: DeidentifyOptions): DeidentifyResult {
  if (!opts.secret) throw new Error('deidentifyDicom: a project secret is required');
  try {
    const { parsed, summary } = parseAccepted(buf, opts);
    const d = deidentifyParsed(parsed, summary, opts.secret);
    return { ok: true, output: d.output, imageId: d.imageId, image: summary.image!, uidMap: d.uidMap, sourceUids: d.sourceUids, report: d.report };
  } catch (e) {
    return toRefusal(e);
  }
}
