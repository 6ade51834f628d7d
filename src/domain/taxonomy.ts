/**
 * Label taxonomies as versioned data: the VinDr-CXR label set and project-defined taxonomies
 * loaded from JSON (validated, with every problem reported).
 */
import type { Problem } from './problems';
import { compareStrings, isRecord, joinPath, problem } from './problems';

/** One label of a taxonomy. */
export interface LabelDef {
  /** Stable numeric id within the taxonomy (column order of the per-image label export). */
  id: number;
  /** Display and export name, e.g. `Nodule/Mass`. */
  name: string;
  /** `local` labels are drawn as boxes; `global` labels apply to the whole image. */
  kind: 'local' | 'global';
  /** Class id in the Kaggle VinBigData competition (`train.csv`), when the label has one. */
  kaggleClassId?: number;
}

/** A validated, immutable label set. */
export interface Taxonomy {
  /** Version string of the label set; stored with every reading. */
  version: string;
  /** All labels in taxonomy order (sorted by id). */
  labels: readonly LabelDef[];
  /** Names of the box labels, in taxonomy order. */
  localLabels: readonly string[];
  /** Names of the image-level labels, in taxonomy order (includes {@link Taxonomy.noFinding}). */
  globalLabels: readonly string[];
  /** Name of the exclusive "nothing found" global label. */
  noFinding: string;
}

/** The 22 VinDr-CXR local (box) labels, in the order of the PhysioNet release. */
export const VINDR_LOCAL_LABELS: readonly string[] = Object.freeze([
  'Aortic enlargement',
  'Atelectasis',
  'Calcification',
  'Cardiomegaly',
  'Clavicle fracture',
  'Consolidation',
  'Edema',
  'Emphysema',
  'Enlarged PA',
  'ILD',
  'Infiltration',
  'Lung Opacity',
  'Lung cavity',
  'Lung cyst',
  'Mediastinal shift',
  'Nodule/Mass',
  'Pleural effusion',
  'Pleural thickening',
  'Pneumothorax',
  'Pulmonary fibrosis',
  'Rib fracture',
  'Other lesion',
]);

/** The 6 VinDr-CXR global (image-level) labels. */
export const VINDR_GLOBAL_LABELS: readonly string[] = Object.freeze([
  'COPD',
  'Lung tumor',
  'Pneumonia',
  'Tuberculosis',
  'Other diseases',
  'No finding',
]);

/** Kaggle VinBigData class ids of the 14 competition classes plus `No finding` (14). */
export const KAGGLE_CLASS_IDS: Readonly<Record<string, number>> = Object.freeze({
  'Aortic enlargement': 0,
  Atelectasis: 1,
  Calcification: 2,
  Cardiomegaly: 3,
  Consolidation: 4,
  ILD: 5,
  Infiltration: 6,
  'Lung Opacity': 7,
  'Nodule/Mass': 8,
  'Other lesion': 9,
  'Pleural effusion': 10,
  'Pleural thickening': 11,
  Pneumothorax: 12,
  'Pulmonary fibrosis': 13,
  'No finding': 14,
});

/** Kaggle class id of `No finding`. */
export const KAGGLE_NO_FINDING_CLASS_ID = 14;

/** Default name of the exclusive "nothing found" label. */
export const DEFAULT_NO_FINDING = 'No finding';

interface LabelSpec {
  name: string;
  kind: 'local' | 'global';
  kaggleClassId?: number;
  id?: number;
}

function buildTaxonomy(version: string, specs: readonly LabelSpec[], noFinding: string): Taxonomy {
  const labels = specs
    .map((s, index): LabelDef => {
      const def: LabelDef = { id: s.id ?? index, name: s.name, kind: s.kind };
      if (s.kaggleClassId !== undefined) def.kaggleClassId = s.kaggleClassId;
      return Object.freeze(def);
    })
    .sort((a, b) => a.id - b.id);
  return Object.freeze({
    version,
    labels: Object.freeze(labels),
    localLabels: Object.freeze(labels.filter((l) => l.kind === 'local').map((l) => l.name)),
    globalLabels: Object.freeze(labels.filter((l) => l.kind === 'global').map((l) => l.name)),
    noFinding,
  });
}

/** The VinDr-CXR taxonomy (22 local + 6 global labels; ids 0..27, locals first), with Kaggle class ids. */
export const VINDR_CXR_TAXONOMY: Taxonomy = buildTaxonomy(
  'vindr-cxr-1.0.0',
  [
    ...VINDR_LOCAL_LABELS.map((name): LabelSpec => ({ name, kind: 'local', kaggleClassId: KAGGLE_CLASS_IDS[name] })),
    ...VINDR_GLOBAL_LABELS.map((name): LabelSpec => ({ name, kind: 'global', kaggleClassId: KAGGLE_CLASS_IDS[name] })),
  ],
  DEFAULT_NO_FINDING,
);

const indexCache = new WeakMap<Taxonomy, Map<string, LabelDef>>();

/** Looks a label up by name (exact match); `undefined` when the taxonomy has no such label. */
export function findLabel(taxonomy: Taxonomy, name: string): LabelDef | undefined {
  let index = indexCache.get(taxonomy);
  if (!index) {
    index = new Map(taxonomy.labels.map((l) => [l.name, l]));
    indexCache.set(taxonomy, index);
  }
  return index.get(name);
}

/**
 * The labels of a stored reading (or final labels) that a taxonomy does not name, sorted, each once: a box label that
 * is not one of its box labels, an image-level label that is not one of its image-level labels. A dataset file written
 * with the taxonomy has no column or category for them (the exports and releases refuse such scans; the same rule in
 * SQL is `ScansRepository.labelsOutside`).
 */
export function labelsOutside(taxonomy: Taxonomy, labels: { boxes: readonly { label: string }[]; globalLabels: readonly string[] }): string[] {
  const outside = new Set<string>();
  for (const b of labels.boxes) if (findLabel(taxonomy, b.label ?? '')?.kind !== 'local') outside.add(b.label ?? '');
  for (const g of labels.globalLabels) if (findLabel(taxonomy, g ?? '')?.kind !== 'global') outside.add(g ?? '');
  return [...outside].sort(compareStrings);
}


const TAXONOMY_KEYS = new Set(['version', 'labels', 'localLabels', 'globalLabels', 'noFinding', 'kaggleClassIds']);

/**
 * Parses and validates a project taxonomy from JSON. Two shapes are accepted:
 *
 * - `{ version, labels: [{ name, kind: 'local' | 'global', kaggleClassId?, id? }], noFinding? }`
 *   (the shape of {@link Taxonomy} itself, so a serialised taxonomy round-trips);
 * - `{ version, localLabels: string[], globalLabels: string[], noFinding?, kaggleClassIds?: { [name]: id } }`.
 *
 * `noFinding` defaults to `"No finding"` and must name a global label. Reported problems include:
 * `empty-taxonomy`, `duplicate-label` (names compared case-insensitively after trimming),
 * `label-both-local-and-global`, `missing-no-finding`, `duplicate-kaggle-class-id`, `duplicate-id`, `invalid-type`.
 */
export function parseTaxonomy(json: unknown): { ok: true; taxonomy: Taxonomy } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!isRecord(json)) {
    return { ok: false, problems: [problem('', 'invalid-type', 'taxonomy must be a JSON object')] };
  }
  for (const key of Object.keys(json)) {
    if (!TAXONOMY_KEYS.has(key)) problems.push(problem(key, 'unknown-field', `unknown field "${key}"`));
  }
  const version = json.version;
  if (typeof version !== 'string' || version.trim() === '') {
    problems.push(problem('version', 'invalid-type', 'version must be a non-empty string'));
  }
  let noFinding = DEFAULT_NO_FINDING;
  if (json.noFinding !== undefined) {
    if (typeof json.noFinding !== 'string' || json.noFinding.trim() === '') {
      problems.push(problem('noFinding', 'invalid-type', 'noFinding must be a non-empty string'));
    } else {
      noFinding = json.noFinding;
    }
  }

  const specs: (LabelSpec & { path: string })[] = [];
  if (json.labels !== undefined) {
    if (!Array.isArray(json.labels)) {
      problems.push(problem('labels', 'invalid-type', 'labels must be an array'));
    } else {
      json.labels.forEach((raw: unknown, i: number) => {
        const path = joinPath('labels', i);
        if (!isRecord(raw)) {
          problems.push(problem(path, 'invalid-type', 'label must be an object { name, kind }'));
          return;
        }
        const { name, kind, kaggleClassId, id } = raw;
        let ok = true;
        if (typeof name !== 'string' || name.trim() === '') {
          problems.push(problem(joinPath(path, 'name'), 'invalid-type', 'name must be a non-empty string'));
          ok = false;
        }
        if (kind !== 'local' && kind !== 'global') {
          problems.push(problem(joinPath(path, 'kind'), 'invalid-value', 'kind must be "local" or "global"'));
          ok = false;
        }
        if (kaggleClassId !== undefined && !isNonNegativeInt(kaggleClassId)) {
          problems.push(problem(joinPath(path, 'kaggleClassId'), 'invalid-type', 'kaggleClassId must be a non-negative integer'));
          ok = false;
        }
        if (id !== undefined && !isNonNegativeInt(id)) {
          problems.push(problem(joinPath(path, 'id'), 'invalid-type', 'id must be a non-negative integer'));
          ok = false;
        }
        if (ok) {
          specs.push({
            path,
            name: name as string,
            kind: kind as 'local' | 'global',
            kaggleClassId: kaggleClassId as number | undefined,
            id: id as number | undefined,
          });
        }
      });
    }
  } else {
    const kaggle = json.kaggleClassIds;
    if (kaggle !== undefined && !isRecord(kaggle)) {
      problems.push(problem('kaggleClassIds', 'invalid-type', 'kaggleClassIds must be an object { [label]: classId }'));
    }
    const kaggleMap = isRecord(kaggle) ? kaggle : {};
    for (const kind of ['local', 'global'] as const) {
      const key = kind === 'local' ? 'localLabels' : 'globalLabels';
      const list = json[key];
      if (list === undefined) {
        problems.push(problem(key, 'required', `${key} is required (or give "labels")`));
        continue;
      }
      if (!Array.isArray(list)) {
        problems.push(problem(key, 'invalid-type', `${key} must be an array of strings`));
        continue;
      }
      list.forEach((name: unknown, i: number) => {
        const path = joinPath(key, i);
        if (typeof name !== 'string' || name.trim() === '') {
          problems.push(problem(path, 'invalid-type', 'label name must be a non-empty string'));
          return;
        }
        const classId = kaggleMap[name];
        if (classId !== undefined && !isNonNegativeInt(classId)) {
          problems.push(problem(joinPath('kaggleClassIds', name), 'invalid-type', 'Kaggle class id must be a non-negative integer'));
          return;
        }
        specs.push({ path, name, kind, kaggleClassId: classId as number | undefined });
      });
    }
    for (const name of Object.keys(kaggleMap)) {
      if (!specs.some((s) => s.name === name)) {
        problems.push(problem(joinPath('kaggleClassIds', name), 'unknown-label', `Kaggle class id given for unknown label "${name}"`));
      }
    }
  }

  // Duplicates and local/global conflicts (names compared case-insensitively, trimmed).
  const seen = new Map<string, LabelSpec & { path: string }>();
  for (const spec of specs) {
    const key = spec.name.trim().toLowerCase();
    const prior = seen.get(key);
    if (!prior) {
      seen.set(key, spec);
    } else if (prior.kind !== spec.kind) {
      problems.push(problem(spec.path, 'label-both-local-and-global', `"${spec.name}" is both a box (local) label and a global label`));
    } else {
      problems.push(problem(spec.path, 'duplicate-label', `duplicate label "${spec.name}" (first at ${prior.path})`));
    }
  }
  if (specs.length === 0 && !problems.some((p) => p.code === 'invalid-type' && (p.path === 'labels' || p.path.endsWith('Labels')))) {
    problems.push(problem(json.labels !== undefined ? 'labels' : '', 'empty-taxonomy', 'a taxonomy needs at least one label'));
  }
  if (specs.length > 0 && !specs.some((s) => s.kind === 'local')) {
    problems.push(problem(json.labels !== undefined ? 'labels' : 'localLabels', 'no-local-labels', 'a taxonomy needs at least one box (local) label'));
  }
  const nf = specs.find((s) => s.name === noFinding);
  if (!nf) {
    problems.push(problem('noFinding', 'missing-no-finding', `the exclusive label "${noFinding}" must be one of the global labels`));
  } else if (nf.kind !== 'global') {
    problems.push(problem(nf.path, 'no-finding-not-global', `"${noFinding}" must be a global label`));
  }
  const kaggleSeen = new Map<number, string>();
  for (const spec of specs) {
    if (spec.kaggleClassId === undefined) continue;
    const prior = kaggleSeen.get(spec.kaggleClassId);
    if (prior !== undefined) {
      problems.push(problem(spec.path, 'duplicate-kaggle-class-id', `Kaggle class id ${spec.kaggleClassId} is used by "${prior}" and "${spec.name}"`));
    } else {
      kaggleSeen.set(spec.kaggleClassId, spec.name);
    }
  }
  const withIds = specs.filter((s) => s.id !== undefined);
  if (withIds.length > 0 && withIds.length !== specs.length) {
    problems.push(problem('labels', 'partial-ids', 'give an id to every label or to none'));
  }
  const idSeen = new Set<number>();
  for (const spec of withIds) {
    if (idSeen.has(spec.id as number)) problems.push(problem(joinPath(spec.path, 'id'), 'duplicate-id', `duplicate label id ${spec.id}`));
    idSeen.add(spec.id as number);
  }

  if (problems.length > 0) return { ok: false, problems };
  const taxonomy = buildTaxonomy(version as string, specs, noFinding);
  // When a serialised Taxonomy is given, its derived lists must agree with its labels.
  for (const key of ['localLabels', 'globalLabels'] as const) {
    const given = json[key];
    if (json.labels !== undefined && given !== undefined) {
      const expected = taxonomy[key];
      if (!Array.isArray(given) || given.length !== expected.length || given.some((n, i) => n !== expected[i])) {
        problems.push(problem(key, 'inconsistent', `${key} does not match the ${key === 'localLabels' ? 'local' : 'global'} labels of "labels"`));
      }
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, taxonomy };
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

