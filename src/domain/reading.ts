/**
 * A reader's submission (boxes + image-level labels) and its validation.
 */
import { compareBoxes, sameBox } from './geometry';
import type { Problem } from './problems';
import { compareStrings, isRecord, joinPath, problem } from './problems';
import type { Taxonomy } from './taxonomy';
import { findLabel } from './taxonomy';
import { NOTE_TEXT, textProblems } from './text';

/** A box label drawn by a reader, in pixel coordinates of the de-identified image. */
export interface Box {
  label: string;
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

/** One reader's submission for one scan. */
export interface Reading {
  boxes: Box[];
  globalLabels: string[];
  comment?: string;
}

/** Image size in pixels: `rows` = height (y), `columns` = width (x). */
export interface ImageSize {
  rows: number;
  columns: number;
}

/** Default cap on boxes per reading when the caller gives none. */
export const DEFAULT_MAX_BOXES = 100;
/** Maximum comment length in characters (code points); comments follow the {@link NOTE_TEXT} rule. */
export const MAX_COMMENT_LENGTH = NOTE_TEXT.maxChars;

const COORDS = ['x_min', 'y_min', 'x_max', 'y_max'] as const;
const READING_KEYS = new Set(['boxes', 'globalLabels', 'comment']);
const BOX_KEYS = new Set(['label', ...COORDS]);

/**
 * Validates an untrusted submission against a taxonomy and the image size, returning every problem.
 *
 * Problem codes: `invalid-type`, `required`, `unknown-field`, `unknown-label`, `label-not-local` (a global
 * label used on a box), `label-not-global`, `not-finite`, `out-of-image`, `non-positive-area`,
 * `duplicate-box`, `duplicate-label`, `too-many-boxes`, `no-finding-conflict`, `empty-reading`
 * (a submission with nothing is rejected; "No finding" must be explicit), `comment-too-long` (characters or UTF-8 bytes),
 * `control-character` and `invalid-text` (see ./text.ts).
 *
 * Coordinates may be fractional; a box must satisfy `0 ≤ x_min < x_max ≤ columns` and
 * `0 ≤ y_min < y_max ≤ rows`. On success the reading is returned in canonical order
 * ({@link canonicalReading}) with unknown fields dropped.
 *
 * @throws RangeError when `ctx.image` or `ctx.maxBoxes` is itself invalid (a programming error).
 */
export function validateReading(
  input: unknown,
  ctx: { taxonomy: Taxonomy; image: ImageSize; maxBoxes?: number },
): { ok: true; reading: Reading } | { ok: false; problems: Problem[] } {
  const { taxonomy, image } = ctx;
  const maxBoxes = ctx.maxBoxes ?? DEFAULT_MAX_BOXES;
  if (!(image.rows > 0 && image.columns > 0 && Number.isFinite(image.rows) && Number.isFinite(image.columns))) {
    throw new RangeError(`invalid image size ${JSON.stringify(image)}`);
  }
  if (!(Number.isInteger(maxBoxes) && maxBoxes >= 0)) throw new RangeError(`invalid maxBoxes ${maxBoxes}`);

  const problems: Problem[] = [];
  if (!isRecord(input)) {
    return { ok: false, problems: [problem('', 'invalid-type', 'a reading must be an object { boxes, globalLabels }')] };
  }
  for (const key of Object.keys(input)) {
    if (!READING_KEYS.has(key)) problems.push(problem(key, 'unknown-field', `unknown field "${key}"`));
  }

  const boxes: Box[] = [];
  let boxCount = 0;
  if (input.boxes === undefined) {
    problems.push(problem('boxes', 'required', 'boxes is required (use [] for none)'));
  } else if (!Array.isArray(input.boxes)) {
    problems.push(problem('boxes', 'invalid-type', 'boxes must be an array'));
  } else {
    boxCount = input.boxes.length;
    if (boxCount > maxBoxes) {
      problems.push(problem('boxes', 'too-many-boxes', `${boxCount} boxes exceed the cap of ${maxBoxes}`));
    }
    const firstIndex: { box: Box; index: number }[] = [];
    input.boxes.forEach((raw: unknown, i: number) => {
      const box = validateBox(raw, joinPath('boxes', i), taxonomy, image, problems);
      if (!box) return;
      const dup = firstIndex.find((f) => sameBox(f.box, box));
      if (dup) {
        problems.push(problem(joinPath('boxes', i), 'duplicate-box', `same label and coordinates as boxes[${dup.index}]`));
        return;
      }
      firstIndex.push({ box, index: i });
      boxes.push(box);
    });
  }

  const globalLabels: string[] = [];
  let noFindingIndex = -1;
  if (input.globalLabels === undefined) {
    problems.push(problem('globalLabels', 'required', 'globalLabels is required (use [] for none)'));
  } else if (!Array.isArray(input.globalLabels)) {
    problems.push(problem('globalLabels', 'invalid-type', 'globalLabels must be an array of label names'));
  } else {
    input.globalLabels.forEach((raw: unknown, i: number) => {
      const path = joinPath('globalLabels', i);
      if (typeof raw !== 'string') {
        problems.push(problem(path, 'invalid-type', 'a global label must be a string'));
        return;
      }
      const def = findLabel(taxonomy, raw);
      if (!def) {
        problems.push(problem(path, 'unknown-label', `unknown label "${raw}" (taxonomy ${taxonomy.version})`));
        return;
      }
      if (def.kind !== 'global') {
        problems.push(problem(path, 'label-not-global', `"${raw}" is a box label; draw a box instead`));
        return;
      }
      const prior = globalLabels.indexOf(raw);
      if (prior >= 0) {
        problems.push(problem(path, 'duplicate-label', `"${raw}" is listed twice`));
        return;
      }
      if (raw === taxonomy.noFinding) noFindingIndex = i;
      globalLabels.push(raw);
    });
  }

  if (noFindingIndex >= 0) {
    const path = joinPath('globalLabels', noFindingIndex);
    if (boxCount > 0) {
      problems.push(problem(path, 'no-finding-conflict', `"${taxonomy.noFinding}" cannot be combined with boxes`));
    }
    if (globalLabels.length > 1) {
      problems.push(problem(path, 'no-finding-conflict', `"${taxonomy.noFinding}" cannot be combined with other global labels`));
    }
  }
  if (
    Array.isArray(input.boxes) &&
    Array.isArray(input.globalLabels) &&
    input.boxes.length === 0 &&
    input.globalLabels.length === 0
  ) {
    problems.push(problem('', 'empty-reading', `an empty submission is rejected; submit "${taxonomy.noFinding}" explicitly`));
  }

  let comment: string | undefined;
  if (input.comment !== undefined) {
    const found = textProblems(input.comment, 'comment', { ...NOTE_TEXT, tooLongCode: 'comment-too-long' });
    if (found.length > 0) problems.push(...found);
    else comment = input.comment as string;
  }

  if (problems.length > 0) return { ok: false, problems };
  const reading: Reading = { boxes, globalLabels };
  if (comment !== undefined) reading.comment = comment;
  return { ok: true, reading: canonicalReading(reading) };
}

function validateBox(raw: unknown, path: string, taxonomy: Taxonomy, image: ImageSize, problems: Problem[]): Box | undefined {
  if (!isRecord(raw)) {
    problems.push(problem(path, 'invalid-type', 'a box must be an object { label, x_min, y_min, x_max, y_max }'));
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(raw)) {
    if (!BOX_KEYS.has(key)) problems.push(problem(joinPath(path, key), 'unknown-field', `unknown field "${key}"`));
  }
  const label = raw.label;
  if (typeof label !== 'string') {
    problems.push(problem(joinPath(path, 'label'), 'invalid-type', 'label must be a string'));
    ok = false;
  } else {
    const def = findLabel(taxonomy, label);
    if (!def) {
      problems.push(problem(joinPath(path, 'label'), 'unknown-label', `unknown label "${label}" (taxonomy ${taxonomy.version})`));
      ok = false;
    } else if (def.kind !== 'local') {
      problems.push(problem(joinPath(path, 'label'), 'label-not-local', `"${label}" is a global label and cannot be a box`));
      ok = false;
    }
  }
  let coordsOk = true;
  for (const key of COORDS) {
    const v = raw[key];
    const p = joinPath(path, key);
    if (typeof v !== 'number') {
      problems.push(problem(p, v === undefined ? 'required' : 'invalid-type', `${key} must be a number`));
      coordsOk = false;
    } else if (!Number.isFinite(v)) {
      problems.push(problem(p, 'not-finite', `${key} must be finite (got ${String(v)})`));
      coordsOk = false;
    } else {
      const limit = key.startsWith('x') ? image.columns : image.rows;
      if (v < 0 || v > limit) {
        problems.push(problem(p, 'out-of-image', `${key}=${v} is outside the image [0, ${limit}]`));
        ok = false;
      }
    }
  }
  if (!coordsOk) return undefined;
  const b = raw as unknown as Box;
  if (b.x_max <= b.x_min || b.y_max <= b.y_min) {
    problems.push(
      problem(path, 'non-positive-area', `box has zero or negative area (width ${b.x_max - b.x_min}, height ${b.y_max - b.y_min})`),
    );
    ok = false;
  }
  if (!ok) return undefined;
  return { label: label as string, x_min: b.x_min, y_min: b.y_min, x_max: b.x_max, y_max: b.y_max };
}

/** Returns a copy with boxes in canonical order (label, then coordinates) and global labels sorted by name. */
export function canonicalReading(r: Reading): Reading {
  const out: Reading = {
    boxes: r.boxes
      .map((b) => ({ label: b.label, x_min: b.x_min, y_min: b.y_min, x_max: b.x_max, y_max: b.y_max }))
      .sort(compareBoxes),
    globalLabels: [...r.globalLabels].sort(compareStrings),
  };
  if (r.comment !== undefined) out.comment = r.comment;
  return out;
}

/**
 * True when both readings have the same boxes and global labels in any order, and the same comment
 * (a missing comment equals an empty one). Used to make repeated submissions idempotent.
 */
export function readingsEqual(a: Reading, b: Reading): boolean {
  if (a.boxes.length !== b.boxes.length || a.globalLabels.length !== b.globalLabels.length) return false;
  if ((a.comment ?? '') !== (b.comment ?? '')) return false;
  const ca = canonicalReading(a);
  const cb = canonicalReading(b);
  return (
    ca.boxes.every((box, i) => sameBox(box, cb.boxes[i])) && ca.globalLabels.every((l, i) => l === cb.globalLabels[i])
  );
}
