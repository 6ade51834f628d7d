import { ValidationFailedError } from '../errors';

/**
 * Opaque keyset cursors: base64url of the JSON array of the last row's sort key
 * (e.g. `[dueAt, id]`). Clients pass `nextCursor` back untouched.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** A sort key as {@link tsKey} writes it. */
const TS_KEY = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$/;
/** Ids of this API (uuids, `scan-…`, reader ids, bigint audit ids): nothing else goes into a cursor's string parts. */
const ID_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

/** True for a part this API could have issued: a real timestamp in tsKey form, an id, or a safe integer. */
function isCursorPart(p: unknown): boolean {
  if (typeof p === 'number') return Number.isSafeInteger(p);
  if (typeof p !== 'string') return false;
  const ts = TS_KEY.exec(p);
  if (ts) {
    // Postgres refuses month 13 or day 31 of April (SQLSTATE 22008, once a 500): check the date really exists.
    const d = new Date(Date.UTC(+ts[1], +ts[2] - 1, +ts[3], +ts[4], +ts[5], +ts[6]));
    return d.getUTCFullYear() === +ts[1] && d.getUTCMonth() === +ts[2] - 1 && d.getUTCDate() === +ts[3] && d.getUTCHours() === +ts[4] && d.getUTCMinutes() === +ts[5] && d.getUTCSeconds() === +ts[6];
  }
  return ID_KEY.test(p) && !/^\d{4}-\d{2}-\d{2}T/.test(p);
}

/**
 * Decodes a cursor of `arity` parts; a malformed cursor is a 422 on `cursor`. `kinds` pins a part's type where the
 * query casts it (`integer` for bigint ids), so a crafted cursor never reaches Postgres as a value it refuses.
 */
export function decodeCursor(cursor: string | undefined, arity: number, kinds?: readonly ('timestamp' | 'id' | 'uuid' | 'integer')[]): (string | number)[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    if (cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === arity &&
      parsed.every(isCursorPart) &&
      (kinds ?? []).every((k, i) => {
        const p: unknown = parsed[i];
        if (k === 'integer') return (typeof p === 'string' && /^\d{1,18}$/.test(p)) || (typeof p === 'number' && Number.isSafeInteger(p));
        if (k === 'timestamp') return typeof p === 'string' && TS_KEY.test(p);
        if (k === 'uuid') return typeof p === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(p);
        return typeof p === 'string' && ID_KEY.test(p);
      })
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
