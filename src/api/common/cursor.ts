import { ValidationFailedError } from '../errors';

/**
 * Opaque keyset cursors: base64url of the JSON array of the last row's sort key
 * (e.g. `[dueAt, id]`). Clients pass `nextCursor` back untouched.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Decodes a cursor of `arity` string/number parts; a malformed cursor is a 422 on `cursor`. */
export function decodeCursor(cursor: string | undefined, arity: number): (string | number)[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === arity &&
      parsed.every((p) => (typeof p === 'string' && p.length <= 200) || (typeof p === 'number' && Number.isFinite(p)))
    ) {
      return parsed as (string | number)[];
    }
  } catch {
    // fall through
  }
  throw new ValidationFailedError([{ path: 'cursor', code: 'invalid-cursor', message: 'cursor is not one this API issued' }]);
}

/** One page of a list. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Builds a page from `limit + 1` fetched rows. */
export function pageOf<R, T>(rows: R[], limit: number, keyOf: (row: R) => (string | number)[], map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? encodeCursor(keyOf(kept[kept.length - 1])) : null };
}

/** SQL for a timestamptz sort key with full (microsecond) precision, so keyset cursors never skip rows. */
export function tsKey(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}
