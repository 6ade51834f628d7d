/**
 * Data access of `releases`: one row per version. A version is claimed once (`claim`); a failed one may be claimed
 * again (nothing of it was published), a running or published one never.
 */
import type { DataSource } from 'typeorm';

import type { ReleaseStatus } from './layout';
import type { GateProblem } from './verifier';

export interface ReleaseRow {
  version: string;
  status: ReleaseStatus;
  splits: string[];
  workflowId: string;
  requestedBy: string;
  previousVersion: string | null;
  imageCount: number | null;
  manifestSha256: string | null;
  failures: { problemCount: number; problems: GateProblem[] } | null;
  createdAt: string;
  publishedAt: string | null;
}

interface Raw {
  version: string;
  status: ReleaseStatus;
  splits: string[];
  workflow_id: string;
  requested_by: string;
  previous_version: string | null;
  image_count: number | null;
  manifest_sha256: string | null;
  failures: ReleaseRow['failures'];
  created_at: Date;
  published_at: Date | null;
}

const COLUMNS = `version, status, splits, workflow_id, requested_by, previous_version, image_count, manifest_sha256, failures, created_at, published_at`;

function toRow(r: Raw): ReleaseRow {
  return {
    version: r.version,
    status: r.status,
    splits: r.splits,
    workflowId: r.workflow_id,
    requestedBy: r.requested_by,
    previousVersion: r.previous_version,
    imageCount: r.image_count,
    manifestSha256: r.manifest_sha256?.trim() ?? null,
    failures: r.failures,
    createdAt: r.created_at.toISOString(),
    publishedAt: r.published_at ? r.published_at.toISOString() : null,
  };
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
              previous_version = EXCLUDED.previous_version, failures = NULL, updated_at = now(), created_at = now()
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

  async markPublished(version: string, imageCount: number, manifestSha256: string): Promise<void> {
    await this.ds.query(
      `UPDATE releases SET status = 'published', image_count = $2, manifest_sha256 = $3, failures = NULL,
              published_at = COALESCE(published_at, now()), updated_at = now() WHERE version = $1`,
      [version, imageCount, manifestSha256],
    );
  }

  async markFailed(version: string, failures: { problemCount: number; problems: GateProblem[] }): Promise<void> {
    await this.ds.query(`UPDATE releases SET status = 'failed', failures = $2, updated_at = now() WHERE version = $1 AND status <> 'published'`, [
      version,
      JSON.stringify(failures),
    ]);
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
