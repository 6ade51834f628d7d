/**
 * Validation problems shared by every parser/validator in the domain core.
 *
 * Validators never stop at the first error: they return every {@link Problem} they find,
 * each with a JSON-path-like location so a UI can point at the offending field.
 */

/** One validation problem. */
export interface Problem {
  /** Location of the problem, e.g. `boxes[2].x_max`, `globalLabels[0]`, `fusion.quorum`; `''` for the whole input. */
  path: string;
  /** Stable machine-readable code, e.g. `unknown-label`, `out-of-image`. */
  code: string;
  /** Human-readable explanation. */
  message: string;
}

/** Creates a {@link Problem}. */
export function problem(path: string, code: string, message: string): Problem {
  return { path, code, message };
}

/**
 * Appends a key or an index to a problem path: `joinPath('boxes', 2) === 'boxes[2]'`,
 * `joinPath('boxes[2]', 'x_max') === 'boxes[2].x_max'`, `joinPath('', 'name') === 'name'`.
 */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** Renders problems as one line each (`path: message [code]`), for logs and error messages. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path === '' ? '<root>' : p.path}: ${p.message} [${p.code}]`).join('\n');
}

/** True for a plain (non-null, non-array) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deterministic string ordering by UTF-16 code units (never locale-dependent). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
