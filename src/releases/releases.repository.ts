/**
 * Data access of `releases`: one row per version. A version is claimed once (`claim`); a failed one may be claimed
 * again (nothing of it was published), a running or published one never. A claimed row records the run of its
 * `releaseDataset` workflow once started (`setRunId`); a running row whose run closed without publishing is marked
 * failed with how it closed (`markClosed`).
 */
import type { DataSource } from 'typeorm';

import type { ReleaseFailureReason, ReleaseStatus } from '../domain';
import type { GateProblem } from './verifier';

export interface ReleaseRow {
  version: string;
  status: ReleaseStatus;
  splits: string[];
  workflowId: string;
  /** The run of the workflow building this attempt; null until it is started. */
  runId: string | null;
  requestedBy: string;
  previousVersion: string | null;
  imageCount: number | null;
  manifestSha256: string | null;
  /** Why a failed release failed (null unless `failed`). */
  failureReason: ReleaseFailureReason | null;
  /** The failure in words: how the workflow closed, when, with which message; or the kinds of the gate's problems. */
  failureDetail: string | null;
  /** The gate's findings (failure reason `gate`). */
  failures: { problemCount: number; problems: GateProblem[] } | null;
  createdAt: string;
  updatedAt: string;
  publishedAt: string | null;
}

interface Raw {
  version: string;
  status: ReleaseStatus;
  splits: string[];
  workflow_id: string;
  run_id: string | null;
  requested_by: string;
  previous_version: string | null;
  image_count: number | null;
  manifest_sha256: string | null;
  failure_reason: ReleaseFailureReason | null;
  failure_detail: string | null;
  failures: ReleaseRow['failures'];
  created_at: Date;
  updated_at: Date;
  published_at: Date | null;
}

const COLUMNS = `version, status, splits, workflow_id, run_id, requested_by, previous_version, image_count, manifest_sha256, failure_reason,
  failure_detail, failures, created_at, updated_at, published_at`;

function toRow(r: Raw): ReleaseRow {
  return {
    version: r.version,
    status: r.status,
    splits: r.splits,
    workflowId: r.workflow_id,
    runId: r.run_id,
    requestedBy: r.requested_by,
    previousVersion: r.previous_version,
    imageCount: r.image_count,
    manifestSha256: r.manifest_sha256?.trim() ?? null,
    failureReason: r.failure_reason,
    failureDetail: r.failure_detail,
    failures: r.failures,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    publishedAt: r.published_at ? r.published_at.toISOString() : null,
  };
}

/** A gate failure in words: how many problems, of which kinds (among those listed in `failures`), and what to do. */
export function gateFailureDetail(version: string, failures: { problemCount: number; problems: GateProblem[] }): string {
  const byCode = new Map<string, number>();
  for (const p of failures.problems) byCode.set(p.code, (byCode.get(p.code) ?? 0) + 1);
  const kinds = [...byCode].map(([code, n]) => `${code} ×${n}`).join(', ');
  const listed = failures.problems.length < failures.problemCount ? `the first ${failures.problems.length}: ${kinds}` : kinds;
  return (
    `Its publication gate refused it: ${failures.problemCount} problem${failures.problemCount === 1 ? '' : 's'} (${listed}), listed in ` +
    `failures; nothing was published. Start version ${version} again once they are fixed.`
  );
}

export class ReleasesRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Claims `version` for a new run: inserts it as running, or takes over a failed row. Returns the existing row
   * instead when the version is running or published.
   */
  async claim(v: { version: string; splits: string[]; workflowId: string; requestedBy: string; previousVersion: string | null }): Promise<{ claimed: true } | { claimed: false; existing: ReleaseRow }> {
    const rows: Raw[] = await this.ds.query(
      `INSERT INTO releases (version, status, splits, workflow_id, requested_by, previous_version)
       VALUES ($1, 'running', $2, $3, $4, $5)
       ON CONFLICT ON CONSTRAINT pk_releases DO UPDATE
          SET status = 'running', splits = EXCLUDED.splits, workflow_id = EXCLUDED.workflow_id, requested_by = EXCLUDED.requested_by,
              previous_version = EXCLUDED.previous_version, run_id = NULL, failure_reason = NULL, failure_detail = NULL, failures = NULL,
              updated_at = now(), created_at = now()
        WHERE releases.status = 'failed'
       RETURNING ${COLUMNS}`,
      [v.version, v.splits, v.workflowId, v.requestedBy, v.previousVersion],
    );
    if (rows.length > 0) return { claimed: true };
    return { claimed: false, existing: (await this.get(v.version))! };
  }

  async get(version: string): Promise<ReleaseRow | undefined> {
    const rows: Raw[] = await this.ds.query(`SELECT ${COLUMNS} FROM releases WHERE version = $1`, [version]);
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  /** Every release, newest first. */
  async list(): Promise<ReleaseRow[]> {
    const rows: Raw[] = await this.ds.query(`SELECT ${COLUMNS} FROM releases ORDER BY created_at DESC, version DESC`);
    return rows.map(toRow);
  }

  /** Published versions (for "the previous version"). */
  async publishedVersions(): Promise<string[]> {
    const rows: { version: string }[] = await this.ds.query(`SELECT version FROM releases WHERE status = 'published'`);
    return rows.map((r) => r.version);
  }

  async setPseudonyms(version: string, pseudonyms: Record<string, string>): Promise<void> {
    await this.ds.query(`UPDATE releases SET pseudonyms = $2, updated_at = now() WHERE version = $1`, [version, JSON.stringify(pseudonyms)]);
  }

  /** Records the run started for the current attempt (once: a later run of the same attempt is recorded by `adoptRun`). */
  async setRunId(version: string, runId: string): Promise<void> {
    await this.ds.query(`UPDATE releases SET run_id = $2, updated_at = now() WHERE version = $1 AND status = 'running' AND run_id IS NULL`, [version, runId]);
  }

  /**
   * The attempt is carried on by another run of its workflow (an operator's reset, a continue-as-new), or its run was
   * never recorded (`fromRunId` null): records it, if the row is still running under `fromRunId`. True when recorded.
   */
  async adoptRun(version: string, fromRunId: string | null, runId: string): Promise<boolean> {
    // An UPDATE answers [rows, affected] through TypeORM.
    const [, affected] = (await this.ds.query(
      `UPDATE releases SET run_id = $3, updated_at = now() WHERE version = $1 AND status = 'running' AND run_id IS NOT DISTINCT FROM $2`,
      [version, fromRunId, runId],
    )) as [unknown[], number];
    return affected > 0;
  }

  /**
   * Marks a running attempt failed because its workflow run closed without publishing (or never started). Only the
   * attempt that was read (`runId`, null for one never started) is marked: a new attempt claimed meanwhile is not.
   * True when the row was marked.
   */
  async markClosed(version: string, runId: string | null, reason: Exclude<ReleaseFailureReason, 'gate'>, detail: string): Promise<boolean> {
    // An UPDATE answers [rows, affected] through TypeORM.
    const [, affected] = (await this.ds.query(
      `UPDATE releases SET status = 'failed', failure_reason = $3, failure_detail = $4, updated_at = now()
        WHERE version = $1 AND status = 'running' AND run_id IS NOT DISTINCT FROM $2`,
      [version, runId, reason, detail],
    )) as [unknown[], number];
    return affected > 0;
  }

  async markPublished(version: string, imageCount: number, manifestSha256: string): Promise<void> {
    await this.ds.query(
      `UPDATE releases SET status = 'published', image_count = $2, manifest_sha256 = $3, failures = NULL, failure_reason = NULL, failure_detail = NULL,
              published_at = COALESCE(published_at, now()), updated_at = now() WHERE version = $1`,
      [version, imageCount, manifestSha256],
    );
  }

  async markFailed(version: string, failures: { problemCount: number; problems: GateProblem[] }): Promise<void> {
    await this.ds.query(
      `UPDATE releases SET status = 'failed', failure_reason = 'gate', failure_detail = $3, failures = $2, updated_at = now()
        WHERE version = $1 AND status <> 'published'`,
      [version, JSON.stringify(failures), gateFailureDetail(version, failures)],
    );
  }

  /** Inserts a row for a run started without the API (tests, operators); does nothing when one exists. */
  async ensure(v: { version: string; splits: string[]; workflowId: string; requestedBy: string; previousVersion: string | null }): Promise<void> {
    await this.ds.query(
      `INSERT INTO releases (version, status, splits, workflow_id, requested_by, previous_version) VALUES ($1, 'running', $2, $3, $4, $5)
       ON CONFLICT ON CONSTRAINT pk_releases DO NOTHING`,
      [v.version, v.splits, v.workflowId, v.requestedBy, v.previousVersion],
    );
  }
}
