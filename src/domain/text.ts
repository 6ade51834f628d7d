/**
 * Free text people type (comments, return and cancel reasons, display names): what ReadFlow accepts.
 *
 * Pure and deterministic (imported by workflows). Rules:
 * - no NUL and no other C0 control character (U+0000–U+001F) except tab, and line feed / carriage return where the
 *   field is multi-line; no DEL (U+007F). Postgres refuses NUL in `text` (SQLSTATE 22021) and the rest only hides
 *   content from whoever reads the audit trail or a CSV export;
 * - no lone UTF-16 surrogate (not encodable as UTF-8, so not storable either);
 * - a length bound in characters (Unicode code points, as a person counts them) and one in UTF-8 bytes (what
 *   storage, logs and Temporal payloads pay).
 */
import type { Problem } from './problems';
import { problem } from './problems';

/** How one text field is bounded. */
export interface TextRule {
  /** Most code points. */
  maxChars: number;
  /** Most UTF-8 bytes; 4 × `maxChars` when absent. */
  maxBytes?: number;
  /** Line breaks (LF, CR) allowed; tab is always allowed. */
  multiline?: boolean;
  /** Code of the length problem (callers with an established code keep it, e.g. `comment-too-long`). */
  tooLongCode?: string;
}

/** Single-line names (display names). */
export const NAME_TEXT: TextRule = { maxChars: 200, maxBytes: 800 };
/** Comments and reasons: a paragraph or a few. */
export const NOTE_TEXT: TextRule = { maxChars: 4000, maxBytes: 16_000, multiline: true };

// Every C0 control and DEL, except tab (0x09), line feed (0x0a) and carriage return (0x0d): control characters are
// exactly what these patterns are about.
/* eslint-disable no-control-regex */
const CONTROL_SINGLE_LINE = /[\u0000-\u0008\u000a-\u001f\u007f]/u;
const CONTROL_MULTI_LINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/u;
/* eslint-enable no-control-regex */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Number of Unicode code points (what a person counts as characters, near enough). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}

/** UTF-8 length in bytes (computed without allocating; a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i += 1;
    } else n += 3;
  }
  return n;
}

/** The first control character `s` may not hold under `rule`, as `U+XXXX` with its index, or undefined. */
function forbiddenControl(s: string, multiline: boolean): { index: number; codePoint: string } | undefined {
  const m = (multiline ? CONTROL_MULTI_LINE : CONTROL_SINGLE_LINE).exec(s);
  if (!m) return undefined;
  return { index: m.index, codePoint: `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` };
}

/**
 * Every problem of `value` as a text field at `path`: `invalid-type` (not a string), `control-character`,
 * `invalid-text` (a lone surrogate), `too-long` (or `rule.tooLongCode`).
 */
export function textProblems(value: unknown, path: string, rule: TextRule): Problem[] {
  if (typeof value !== 'string') return [problem(path, 'invalid-type', `${path || 'value'} must be a string`)];
  const out: Problem[] = [];
  const bad = forbiddenControl(value, rule.multiline ?? false);
  if (bad) {
    out.push(
      problem(
        path,
        'control-character',
        `${path || 'text'} contains the control character ${bad.codePoint} at index ${bad.index}` +
          ` (only tab${rule.multiline ? ' and line breaks are' : ' is'} allowed)`,
      ),
    );
  }
  if (LONE_SURROGATE.test(value)) out.push(problem(path, 'invalid-text', `${path || 'text'} is not valid Unicode (a lone surrogate)`));
  const chars = codePointLength(value);
  const maxBytes = rule.maxBytes ?? rule.maxChars * 4;
  const code = rule.tooLongCode ?? 'too-long';
  if (chars > rule.maxChars) {
    out.push(problem(path, code, `${path || 'text'} has ${chars} characters, more than ${rule.maxChars}`));
  } else {
    const bytes = utf8Length(value);
    if (bytes > maxBytes) out.push(problem(path, code, `${path || 'text'} takes ${bytes} bytes in UTF-8, more than ${maxBytes}`));
  }
  return out;
}

/** True when `value` is a string `textProblems` finds nothing wrong with. */
export function isAcceptableText(value: unknown, rule: TextRule): value is string {
  return textProblems(value, '', rule).length === 0;
}
