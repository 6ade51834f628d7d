import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Releases whose workflow dies (issue #15): a `releases` row records the run of its `releaseDataset` workflow
 * (`run_id`, set once the run is started), so that a reader of a `running` release can tell its run closed without
 * publishing, and why it failed (`failure_reason`: the gate, or how the workflow closed; `failure_detail` in words).
 * Rows failed by the gate before this migration are marked `gate`. The reason list is written out as it stands (a
 * migration never changes).
 */
export class ReleaseRuns1765000000000 implements MigrationInterface {
  name = 'ReleaseRuns1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE releases ADD COLUMN run_id text, ADD COLUMN failure_reason text, ADD COLUMN failure_detail text`,
    );
    await q.query(`UPDATE releases SET failure_reason = 'gate' WHERE status = 'failed'`);
    await q.query(
      `ALTER TABLE releases ADD CONSTRAINT ck_releases_failure_reason
         CHECK (failure_reason IN ('gate', 'workflow-failed', 'workflow-terminated', 'workflow-cancelled', 'workflow-timed-out', 'workflow-not-started'))`,
    );
    await q.query(
      `ALTER TABLE releases ADD CONSTRAINT ck_releases_failure_reason_status CHECK ((status = 'failed') = (failure_reason IS NOT NULL))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE releases DROP CONSTRAINT IF EXISTS ck_releases_failure_reason_status`);
    await q.query(`ALTER TABLE releases DROP CONSTRAINT IF EXISTS ck_releases_failure_reason`);
    await q.query(
      `ALTER TABLE releases DROP COLUMN IF EXISTS failure_detail, DROP COLUMN IF EXISTS failure_reason, DROP COLUMN IF EXISTS run_id`,
    );
  }
}
