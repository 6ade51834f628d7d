import type { DataSource, EntityManager } from 'typeorm';

/** What a repository queries through: the DataSource, or a transaction's EntityManager. */
export type Db = Pick<DataSource, 'query'> | Pick<EntityManager, 'query'>;

/** SQL for a timestamptz sort key with full (microsecond) precision, so keyset cursors never skip rows. */
export function timestampKey(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** One keyset page: at most `limit + 1` rows after `after` (the last row's sort key), so the caller knows if more follow. */
export interface KeysetPage<K extends unknown[] = [string, string]> {
  limit: number;
  after?: K;
}
