/**
 * DICOM PS3.15 Annex E, Table E.1-1 "Application Level Confidentiality Profile Attributes", Basic Profile column,
 * generated from the standard's table (`standard/table-e1-1.generated.ts`, every row, version recorded there), and
 * the rules ReadFlow applies to everything the table does not list.
 *
 * Action codes (PS3.15 E.3.1):
 *   D  replace with a non-zero-length dummy value consistent with the VR (on a sequence: keep it and apply the
 *      profile to its items, whose attributes get their own actions)
 *   Z  replace with a zero-length value (an empty sequence)
 *   X  remove
 *   K  keep (sequences are still processed recursively)
 *   C  clean: treated as D here
 *   U  replace with a non-zero-length UID that is internally consistent within the set of instances
 *   X/Z, X/D, X/Z/D, Z/D, X/Z/U*: remove (X) unless the IOD needs the attribute, then empty it (Z) for Type 2 or put a
 *      dummy (D) for Type 1 — decided from the IOD of the object's SOP Class (`iod.ts`: CR, DX, Secondary Capture);
 *      for other classes and inside sequences (type unknown) conservatively keep it as Z or D (never removed).
 *
 * Beyond the table (E.3.3, E.3.4 and the profile's rules):
 * - all private data elements (odd groups, including private creators), Curve Data groups (50xx) and overlay groups
 *   (60xx) are removed; group length elements (gggg,0000) outside the file meta are dropped;
 * - attributes the table does not list pass an allow-list (`unlistedAction`): free text (PN, LO, SH, ST, LT, UT, UC)
 *   and dates/times (DA, DT, TM) survive only in reviewed safe attributes (`SAFE_TEXT`); other ones are removed
 *   (when the IOD requires them: emptied, or replaced by a dummy; where the type is unknown — other SOP classes,
 *   nested data sets — replaced by a dummy); UIDs that are not standard ones
 *   (1.2.840.10008.*) are replaced like U; unknown VRs (UN, or implicit VR not in the dictionary) are removed.
 *
 * Deliberate deviations, documented in the DeidentificationMethod we write:
 *   (0010,0040) Patient's Sex (Z) and (0010,1010) Patient's Age (X) are KEPT, as the VinDr-CXR release did (a subset
 *   of the Retain Patient Characteristics Option, code 113108).
 */
import { DICTIONARY_VR } from './standard/dictionary.generated';
import { TABLE_E_1_1, TABLE_E_1_1_VERSION } from './standard/table-e1-1.generated';
import type { TypeLookup } from './iod';

export const BASIC_ACTIONS = ['D', 'Z', 'X', 'K', 'C', 'U', 'X/Z', 'X/D', 'Z/D', 'X/Z/D', 'X/Z/U*'] as const;
export type BasicAction = (typeof BASIC_ACTIONS)[number];
export type ResolvedAction = 'D' | 'Z' | 'X' | 'K' | 'U';

export { TABLE_E_1_1_VERSION };

export interface ProfileRow {
  tag: string; // dicom-parser form: 'xggggeeee' (lowercase hex)
  vr: string;
  action: BasicAction;
  name: string;
}

/** Attributes kept deliberately although Table E.1-1 lists them (see the module comment). */
export const RETAINED_BY_READFLOW: ReadonlySet<string> = new Set(['x00100040', 'x00101010']);

function isBasicAction(a: string): a is BasicAction {
  return (BASIC_ACTIONS as readonly string[]).includes(a);
}

/** The table's rows with a single tag (repeating groups and the private-attributes row are rules in `actionFor`). */
export const PROFILE: ReadonlyMap<string, ProfileRow> = new Map(
  TABLE_E_1_1.filter(([id]) => /^[0-9a-f]{8}$/.test(id)).map(([id, vr, action, name]) => {
    if (!isBasicAction(action)) throw new Error(`Table E.1-1: unknown action ${action} for ${id}`);
    const tag = `x${id}`;
    return [tag, { tag, vr, action, name }];
  }),
);

/**
 * Free-text and date attributes known not to identify anyone, kept as they are: coded values (the code, its scheme
 * and meaning), the device make/model/software (what the image was made with, not who), display explanations.
 * Reviewed list: anything else with a text or date VR that the table does not list is removed.
 */
export const SAFE_TEXT: ReadonlyMap<string, string> = new Map([
  ['x00080100', 'Code Value'],
  ['x00080102', 'Coding Scheme Designator'],
  ['x00080103', 'Coding Scheme Version'],
  ['x00080104', 'Code Meaning'],
  ['x00080119', 'Long Code Value'],
  ['x00080107', 'Context Group Local Version'],
  ['x00080106', 'Context Group Version'],
  ['x00080070', 'Manufacturer'],
  ['x00081090', "Manufacturer's Model Name"],
  ['x00181020', 'Software Versions'],
  ['x00281055', 'Window Center & Width Explanation'],
  ['x00283003', 'LUT Explanation'],
  ['x00281054', 'Rescale Type'],
  ['x00181160', 'Filter Type'],
  ['x00120063', 'De-identification Method'],
]);

const TEXT_VRS = new Set(['PN', 'LO', 'SH', 'ST', 'LT', 'UT', 'UC']);
const DATE_VRS = new Set(['DA', 'DT', 'TM']);

/** Removed groups beyond the table: Curve Data (50xx) and Overlays (60xx), even groups 0x5000-0x501E / 0x6000-0x601E. */
export function isRemovedRepeatingGroup(group: number): boolean {
  return (group >= 0x5000 && group <= 0x501e && group % 2 === 0) || (group >= 0x6000 && group <= 0x601e && group % 2 === 0);
}

/** The VR of an element: its explicit VR, else the dictionary's (implicit VR files), else the table's. */
export function vrOf(tag: string, explicitVr: string | undefined): string | undefined {
  return explicitVr ?? DICTIONARY_VR.get(tag) ?? PROFILE.get(tag)?.vr;
}

export function isTextVr(vr: string | undefined): boolean {
  return vr !== undefined && TEXT_VRS.has(vr);
}

/**
 * A combined action applied as written: X unless the IOD needs the attribute (Type 2 → Z, Type 1 → D). `lookup`
 * unmodelled (other SOP classes, nested data sets): keep it as Z or D, the least disclosing value that satisfies any type.
 */
export function resolveAction(a: BasicAction, tag: string, lookup: TypeLookup): ResolvedAction {
  switch (a) {
    case 'X':
    case 'Z':
    case 'D':
    case 'U':
    case 'K':
      return a;
    case 'C':
      return 'D';
    case 'X/Z':
    case 'X/D':
    case 'X/Z/D':
    case 'Z/D':
    case 'X/Z/U*': {
      const needs = lookup.modelled ? lookup.typeOf(tag) : a === 'X/Z' || a === 'X/Z/U*' ? '2' : '1';
      if (needs === undefined) return a === 'Z/D' ? 'Z' : 'X';
      if (a === 'X/Z/U*') return 'K'; // kept references: the UIDs inside are replaced (U) like everywhere
      if (needs === '2' && a !== 'X/D') return 'Z';
      return 'D';
    }
  }
}

/** Why an element got its action (for the de-identification report). */
export type ActionSource = 'table' | 'rule' | 'allow-list' | 'unlisted';

/**
 * The action for an element the table does not list: text and dates only when reviewed safe (else removed, or
 * emptied / dummied when the IOD requires them), non-standard UIDs replaced, unknown VRs removed.
 */
export function unlistedAction(tag: string, vr: string | undefined, lookup: TypeLookup): { action: ResolvedAction; source: ActionSource } {
  if (vr === undefined || vr === 'UN') return { action: 'X', source: 'allow-list' };
  if (TEXT_VRS.has(vr) || DATE_VRS.has(vr)) {
    if (SAFE_TEXT.has(tag)) return { action: 'K', source: 'unlisted' };
    // Unknown type (other SOP classes, nested data sets): a dummy, which any type allows and which tells nothing.
    const type = lookup.modelled ? lookup.typeOf(tag) : '1';
    return { action: type === '1' ? 'D' : type === '2' ? 'Z' : 'X', source: 'allow-list' };
  }
  if (vr === 'UI') return { action: 'U', source: 'unlisted' }; // standard UIDs are kept by the U handler
  return { action: 'K', source: 'unlisted' };
}

/** The action for a data element in any data set (top level or nested). */
export function actionFor(
  tag: string,
  group: number,
  element: number,
  explicitVr: string | undefined,
  lookup: TypeLookup,
): { action: ResolvedAction; source: ActionSource } {
  if (group % 2 === 1) return { action: 'X', source: 'rule' }; // private data elements and private creators
  if (element === 0 && group !== 0x0002) return { action: 'X', source: 'rule' }; // group lengths
  if (group === 0x0000 || group === 0x0001 || group === 0x0003 || group === 0x0005 || group === 0x0007) return { action: 'X', source: 'rule' };
  if (isRemovedRepeatingGroup(group)) return { action: 'X', source: 'rule' };
  if (tag === 'xfffcfffc') return { action: 'X', source: 'rule' }; // Data Set Trailing Padding
  if (RETAINED_BY_READFLOW.has(tag)) return { action: 'K', source: 'table' };
  const row = PROFILE.get(tag);
  if (row) return { action: resolveAction(row.action, tag, lookup), source: 'table' };
  return unlistedAction(tag, vrOf(tag, explicitVr), lookup);
}

/** Text of DeidentificationMethod (0012,0063), each value ≤ 64 characters (LO). */
export const DEIDENTIFICATION_METHOD = [
  'DICOM PS3.15 E.1.1 Basic Application Level Confidentiality',
  'Table E.1-1 of PS3.15 2024b; unlisted free text removed',
  'ReadFlow: private/curve/overlay groups removed; HMAC 2.25 UIDs',
  'Retained: PatientSex, PatientAge (113108 subset)',
];

/** Items of DeidentificationMethodCodeSequence (0012,0064), CID 7050. */
export const DEIDENTIFICATION_CODES: ReadonlyArray<{ value: string; scheme: string; meaning: string }> = [
  { value: '113100', scheme: 'DCM', meaning: 'Basic Application Confidentiality Profile' },
  { value: '113108', scheme: 'DCM', meaning: 'Retain Patient Characteristics Option' },
];
