/**
 * The de-identification verifier: given a source object and its de-identified output, lists what should not be
 * there. Used by the tests on every corpus file (and usable by a release gate on every image):
 *
 * - `identifying-value`: a value the profile does not keep (any string value of the source at any depth, including
 *   private and UN-encoded data, read as text runs) still present anywhere in the output's data set (Pixel Data aside);
 * - `original-uid`: a UID of the source (other than standard 1.2.840.10008.* ones) still present in the output;
 * - `table-action`: a Table E.1-1 attribute of the output not treated as its Basic Profile action requires (X present,
 *   X/Z with a value, D or Z/D… still holding the source's value);
 * - `iod-error`: an IOD error of the output (as `iodErrors` reports it, e.g. dciodvfy) that the source did not have.
 */
import type { DataSet, Element } from 'dicom-parser';

import { iodFor } from './iod';
import type { TypeLookup } from './iod';
import { PIXEL_DATA, parseDicomBytes } from './parse';
import { actionFor, PROFILE, vrOf } from './profile';
import { formatTag } from './types';

export type FindingKind = 'identifying-value' | 'original-uid' | 'table-action' | 'iod-error';

export interface Finding {
  kind: FindingKind;
  /** Where (tag path `(gggg,eeee)[i]/(gggg,eeee)`) or what. */
  where: string;
  detail: string;
}

export interface VerifyOptions {
  /** IOD errors of an encoded object (e.g. dciodvfy's `Error -` lines); compared source vs output after normalisation. */
  iodErrors?: (bytes: Uint8Array) => string[];
}

const TEXTUAL = new Set(['PN', 'LO', 'SH', 'ST', 'LT', 'UT', 'UC', 'DA', 'DT', 'TM', 'AE', 'CS', 'AS', 'UR']);
const STANDARD_UID = /^1\.2\.840\.10008\./;
/** Values ReadFlow writes as dummies (never identifying). */
const DUMMIES = new Set(['ANONYMIZED', '19000101', '19000101000000', '000000', '000D', 'YES', 'NO']);
const MIN_LENGTH = 4;

interface Value {
  path: string;
  tag: string;
  vr: string | undefined;
  text: string;
  empty: boolean;
  /** Private, UN-encoded or unknown VR: read as text runs. */
  opaque: boolean;
  depth: number;
}

function rawText(bytes: Uint8Array, el: Element): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + el.dataOffset, Math.max(0, el.length)).toString('latin1');
}

/** Every element of a parsed object with its text (text VRs, UIDs; private/UN/unknown as raw text), at every depth. */
function collect(bytes: Uint8Array, ds: DataSet, explicit: boolean): Value[] {
  const out: Value[] = [];
  const walk = (d: DataSet, prefix: string, depth: number): void => {
    for (const tag in d.elements) {
      if (tag === PIXEL_DATA || tag.startsWith('xfffe') || tag.startsWith('x0002')) continue;
      const el = d.elements[tag];
      const path = `${prefix}${formatTag(tag)}`;
      const group = parseInt(tag.slice(1, 5), 16);
      const vr = vrOf(tag, explicit ? el.vr : undefined);
      if (el.items) {
        el.items.forEach((it, i) => it.dataSet && walk(it.dataSet, `${path}[${i}]/`, depth + 1));
        out.push({ path, tag, vr: 'SQ', text: '', empty: el.items.length === 0, opaque: false, depth });
        continue;
      }
      const opaque = group % 2 === 1 || vr === undefined || vr === 'UN' || (explicit && el.vr === 'UN');
      const textual = opaque || (vr !== undefined && (TEXTUAL.has(vr) || vr === 'UI'));
      const text = textual && el.length > 0 && el.length !== 0xffffffff && el.length < 1 << 20 ? rawText(bytes, el) : '';
      out.push({ path, tag, vr, text, empty: el.length === 0, opaque, depth });
    }
  };
  walk(ds, '', 0);
  return out;
}

/** The pieces of a value worth searching for: the whole value, its multi-values and PN components; text runs of opaque bytes. */
function needles(v: Value): string[] {
  const parts = new Set<string>();
  if (v.opaque) {
    for (const m of v.text.matchAll(/[\x20-\x7e]{4,}/g)) parts.add(m[0]);
  } else {
    parts.add(v.text);
    for (const s of v.text.split('\\')) {
      parts.add(s);
      if (v.vr === 'PN') for (const c of s.split(/[\^=]/)) parts.add(c);
    }
  }
  return [...parts]
    .map((p) => p.replace(/[\0]/g, '').trim())
    .filter((p) => p.length >= MIN_LENGTH && !DUMMIES.has(p.toUpperCase()) && !/^[+-]?\d*\.\d+$/.test(p));
}

/** `needle` in `haystack` as a whole word (not inside a longer run of letters and digits). */
function containsWord(haystack: string, needle: string): boolean {
  const alnum = (c: string | undefined): boolean => c !== undefined && /[a-z0-9]/.test(c);
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + 1)) {
    if (!alnum(haystack[i - 1]) && !alnum(haystack[i + needle.length])) return true;
  }
  return false;
}

const UID_RE = /\d+(?:\.\d+){2,}/g;

/** Normalises an IOD error line for comparison: UIDs and quoted values vary between source and output. */
export function normaliseIodError(line: string): string {
  return line
    .replace(UID_RE, '#uid')
    .replace(/= <[^>]*>/g, '= <v>')
    .replace(/"[^"]*"/g, '"v"')
    .trim();
}

export function verifyDeidentified(source: Uint8Array, output: Uint8Array, opts: VerifyOptions = {}): Finding[] {
  const findings: Finding[] = [];
  const src = parseDicomBytes(source);
  const out = parseDicomBytes(output);
  const srcValues = collect(src.bytes, src.dataSet, src.ts.explicit);
  const outValues = collect(out.bytes, out.dataSet, out.ts.explicit);
  const sopClass = src.dataSet.string('x00080016')?.replace(/\0/g, '').trim();
  const top: TypeLookup = iodFor(sopClass);
  const nested: TypeLookup = { modelled: false };
  const actionOf = (v: Value): string =>
    actionFor(v.tag, parseInt(v.tag.slice(1, 5), 16), parseInt(v.tag.slice(5), 16), v.opaque ? 'UN' : v.vr, v.depth === 0 ? top : nested).action;

  // Everything the output's data set says, as text (Pixel Data aside).
  const pixel = out.dataSet.elements[PIXEL_DATA];
  const haystack = (
    Buffer.from(out.bytes.subarray(out.datasetStart, pixel ? pixel.dataOffset : out.bytes.length)).toString('latin1') +
    '\n' +
    (pixel ? Buffer.from(out.bytes.subarray(pixel.dataOffset + pixel.length)).toString('latin1') : '')
  ).toLowerCase();
  // Values the profile keeps may legitimately be present (e.g. CHEST as Body Part and in a removed description).
  const kept = new Set<string>();
  for (const v of srcValues) if (!v.opaque && actionOf(v) === 'K' && v.vr !== 'UI') for (const n of needles(v)) kept.add(n.toLowerCase());

  const reported = new Set<string>();
  for (const v of srcValues) {
    if (v.text === '') continue;
    if (v.vr === 'UI' && !v.opaque) {
      for (const uid of v.text.replace(/\0/g, '').split('\\').map((u) => u.trim())) {
        if (uid.length < MIN_LENGTH || STANDARD_UID.test(uid) || reported.has(uid)) continue;
        if (haystack.includes(uid.toLowerCase())) {
          reported.add(uid);
          findings.push({ kind: 'original-uid', where: v.path, detail: `source UID ${uid} is in the output` });
        }
      }
      continue;
    }
    if (!v.opaque && actionOf(v) === 'K') continue;
    for (const n of needles(v)) {
      const low = n.toLowerCase();
      if (reported.has(low) || STANDARD_UID.test(n)) continue;
      if ([...kept].some((k) => k.includes(low))) continue; // part of a value the profile keeps
      if (containsWord(haystack, low)) {
        reported.add(low);
        findings.push({ kind: 'identifying-value', where: v.path, detail: `${JSON.stringify(n)} (${v.opaque ? 'opaque bytes' : (v.vr ?? '?')}) is in the output` });
      }
    }
  }

  // Table E.1-1 attributes of the output against their actions.
  const srcByPath = new Map(srcValues.map((v) => [v.path, v]));
  for (const v of outValues) {
    const row = PROFILE.get(v.tag);
    if (!row || row.action === 'K' || row.action === 'U') continue;
    const resolved = actionOf(v);
    if (resolved === 'K') continue; // retained deliberately (Patient's Sex, Patient's Age)
    const s = srcByPath.get(v.path);
    const where = `${v.path} ${row.name}`;
    if (resolved === 'X') findings.push({ kind: 'table-action', where, detail: `present although ${row.action} resolves to X here` });
    else if (v.vr !== 'SQ' && resolved === 'Z' && !v.empty) findings.push({ kind: 'table-action', where, detail: `${row.action}: expected empty` });
    else if (v.vr !== 'SQ' && resolved === 'D' && v.empty) findings.push({ kind: 'table-action', where, detail: `${row.action}: expected a dummy value` });
    if (v.vr !== 'SQ' && s && !s.empty && s.text !== '' && s.text === v.text && !DUMMIES.has(s.text.replace(/\0/g, '').trim().toUpperCase())) {
      findings.push({ kind: 'table-action', where, detail: `${row.action}: the source value is kept` });
    }
  }

  if (opts.iodErrors) {
    const before = new Set(opts.iodErrors(source).map(normaliseIodError));
    for (const e of opts.iodErrors(output)) {
      if (!before.has(normaliseIodError(e))) findings.push({ kind: 'iod-error', where: 'IOD', detail: e });
    }
  }
  return findings;
}
