import type { DataSource } from 'typeorm';

import {
  READER_ROLES,
  RELEASE_FAILURE_REASONS,
  RELEASE_STATUSES,
  REVIEW_DECISIONS,
  SCAN_SPLITS,
  SCAN_STAGES,
  TASK_ROLES,
  TASK_ROW_STATUSES,
} from '../../src/domain';
import { openTestDataSource } from '../support/services';

/** The values a CHECK constraint allows, from Postgres' own rendering (`CHECK ((role = ANY (ARRAY['a'::text, …])))`). */
async function allowedValues(ds: DataSource, constraint: string): Promise<string[]> {
  const rows: { def: string }[] = await ds.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = $1 AND contype = 'c'`, [
    constraint,
  ]);
  if (rows.length !== 1) throw new Error(`no CHECK constraint ${constraint}`);
  return [...rows[0].def.matchAll(/'([^']*)'::text/g)].map((m) => m[1]);
}

describe('database schema against the code (migrated database)', () => {
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openTestDataSource();
  });
  afterAll(async () => {
    await ds.destroy();
  });

  it.each([
    ['ck_scans_stage', SCAN_STAGES],
    ['ck_scans_split', SCAN_SPLITS],
    ['ck_tasks_role', TASK_ROLES],
    ['ck_tasks_status', TASK_ROW_STATUSES],
    ['ck_readings_role', TASK_ROLES],
    ['ck_readings_decision', REVIEW_DECISIONS],
    ['ck_readers_role', READER_ROLES],
    ['ck_releases_status', RELEASE_STATUSES],
    ['ck_releases_failure_reason', RELEASE_FAILURE_REASONS],
  ] as const)('%s allows exactly the domain list', async (constraint, list) => {
    expect((await allowedValues(ds, constraint)).sort()).toEqual([...list].sort());
  });

  it('the TypeORM entities match the migrated schema exactly (the schema builder has nothing to change)', async () => {
    const log = await ds.driver.createSchemaBuilder().log();
    expect(log.upQueries.map((q) => q.query)).toEqual([]);
  });
});
