/**
 * Releases: start the `releaseDataset` workflow (one per version) through the Temporal gateway, read the `releases`
 * rows with the workflow's live progress, and serve published files (one file, or the whole release as a streamed
 * tar).
 *
 * A row stays `running` only while its workflow can still publish it: whoever reads a running release (list, detail,
 * or a new start of the version) checks its run, and a run that closed without publishing (failed, terminated,
 * cancelled or timed out from outside; or a start that never happened) marks the row `failed` with how it closed.
 * Nothing of it was published, so the version can be started again. A run that completed is recorded as it ended
 * (published, or failed by its gate), and a later run of the attempt (an operator's reset) is followed.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Inject, Injectable } from '@nestjs/common';
import { pack } from 'tar-stream';
import { DataSource } from 'typeorm';

import type { Config } from '../../config/config';
import { VINDR_SPLITS, vindrLabelSet } from '../../domain';
import type { ReleaseFailureReason, VindrSplit } from '../../domain';
import { ScansRepository } from '../../db/repositories';
import { CHECKSUMS_FILE, compareVersions, releaseDir, safeReleasePath } from '../../releases/layout';
import { listPseudonyms } from '../../releases/pseudonyms';
import type { ReaderPseudonym } from '../../releases/pseudonyms';
import { ReleasesRepository } from '../../releases/releases.repository';
import type { ReleaseRow } from '../../releases/releases.repository';
import type { GateProblem } from '../../releases/verifier';
import type { ReleaseDatasetInput, ReleaseProgress } from '../../workflows/release-dataset.messages';
import { releaseWorkflowId } from '../../workflows/release-dataset.messages';
import { CONFIG, DATA_SOURCE } from '../deps';
import { findLabelsOutside, labelsOutsideTaxonomyError } from '../common/labels-outside-taxonomy';
import { ConflictError, NotFoundError } from '../errors';
import { TemporalGateway } from '../temporal-gateway/temporal-gateway.service';
import type { ReleaseRunView } from '../temporal-gateway/temporal-gateway.service';

export interface ReleaseView extends ReleaseRow {
  /** Live progress of a running release (from the workflow's `progress` query). */
  progress?: ReleaseProgress;
  /** Files of a published release: `/api/v1/releases/{version}/files/{path}`, the tar at `/archive.tar`. */
  links?: { files: string; archive: string; checksums: string };
}

/**
 * How long a claimed attempt whose workflow run is not recorded yet may take to start before it counts as never
 * started (the API stopped between claiming the version and starting its workflow).
 */
export const RELEASE_START_GRACE_MS = 2 * 60_000;

/** Closed run statuses that fail a release, with how the failure is named and told. */
const CLOSED: Partial<Record<ReleaseRunView['status'], { reason: Exclude<ReleaseFailureReason, 'gate'>; verb: string }>> = {
  FAILED: { reason: 'workflow-failed', verb: 'failed' },
  TERMINATED: { reason: 'workflow-terminated', verb: 'was terminated' },
  CANCELLED: { reason: 'workflow-cancelled', verb: 'was cancelled' },
  TIMED_OUT: { reason: 'workflow-timed-out', verb: 'timed out' },
};

@Injectable()
export class ReleasesService {
  private readonly repo: ReleasesRepository;

  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    private readonly temporal: TemporalGateway,
    @Inject(CONFIG) private readonly config: Config,
    private readonly scans: ScansRepository,
  ) {
    this.repo = new ReleasesRepository(ds);
  }

  private get root(): string {
    return path.resolve(this.config.releases.dir);
  }

  /**
   * Starts a release of `version`: 409 `release-exists` when that version is running or published; a failed one
   * (its gate refused it, or its workflow closed without publishing) is started again as a new attempt. 409
   * `labels-outside-taxonomy` (nothing claimed or started) when a released scan of its splits carries labels outside
   * the configured taxonomy.
   */
  async start(version: string, splits: VindrSplit[], requestedBy: string): Promise<ReleaseView> {
    const stored = await this.repo.get(version);
    const current = stored ? await this.settle(stored) : undefined;
    // A version that is running or published is refused as such (`release-exists`, by the claim below), whatever its data.
    if (!current || current.status === 'failed') await this.assertLabelsInTaxonomy(version, splits);
    const published = (await this.repo.publishedVersions()).filter((v) => compareVersions(v, version) < 0).sort(compareVersions);
    const previousVersion = published.length > 0 ? published[published.length - 1] : null;
    const workflowId = releaseWorkflowId(version);
    const claim = await this.repo.claim({ version, splits, workflowId, requestedBy, previousVersion });
    if (!claim.claimed) {
      // `releaseStatus`, not `status`: that member of a problem document is the HTTP status (RFC 9457).
      throw new ConflictError('release-exists', `Release ${version} is ${claim.existing.status}; a version is never overwritten.`, {
        version,
        releaseStatus: claim.existing.status,
      });
    }
    const input: ReleaseDatasetInput = { version, splits, previousVersion, requestedBy, chunk: this.config.releases.chunk };
    let runId: string;
    try {
      runId = await this.temporal.startRelease(input);
    } catch (e) {
      // Nothing will build this attempt: say so on the row, so that the version can be started again.
      await this.repo.markClosed(version, null, 'workflow-not-started', `Its workflow could not be started: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
    await this.repo.setRunId(version, runId);
    return (await this.get(version))!;
  }

  /**
   * Refuses a release, before its version is claimed or its workflow started, when a released scan of its splits
   * carries a label outside the configured taxonomy (in the labels its files would carry: the readers' readings for
   * train, the final labels for test): image_labels_*.csv has no column for it and the README's taxonomy does not name
   * it. The workflow's gate checks the same again on the snapshot it writes (labels may change after this check).
   * @throws ConflictError `labels-outside-taxonomy` naming the scans (with their split) and their labels.
   */
  private async assertLabelsInTaxonomy(version: string, splits: VindrSplit[]): Promise<void> {
    const { taxonomy } = this.config;
    const sets = VINDR_SPLITS.filter((s) => splits.includes(s)).map((split) => ({ split, labels: vindrLabelSet(split) }));
    const outside = await findLabelsOutside(this.scans, taxonomy, sets);
    if (outside.total === 0) return;
    throw labelsOutsideTaxonomyError(
      taxonomy,
      outside,
      (n) => `released scan${n === 1 ? '' : 's'} of the release's splits (${splits.join(', ')})`,
      `Release ${version} was not started and nothing was published: configure the taxonomy these scans were read ` +
        'with, or correct their labels, then start the version again.',
      { extra: { version }, splitInDetail: true },
    );
  }

  /**
   * Brings a running row up to date with its workflow run: a run that closed without publishing marks it failed
   * (with how it closed), another run carrying the attempt on (a reset) is adopted, a run that completed is
   * recorded as its activities would have. Returns the row as it now stands.
   *
   * The run of the attempt is the workflow's latest run when the row names a run (the same, or a later one: a reset),
   * or, when it names none yet (the API stopped between starting the workflow and recording its run; a row from
   * before runs were recorded; a row the workflow itself inserted), when that run was still open when the attempt was
   * claimed: a run of an earlier attempt closed before its row was marked failed, so before this attempt's claim.
   */
  private async settle(row: ReleaseRow): Promise<ReleaseRow> {
    if (row.status !== 'running') return row;
    const run = await this.temporal.releaseRun(row.workflowId);
    const ours = run !== undefined && (run.status === 'RUNNING' || row.runId !== null || (run.closeTime?.getTime() ?? Infinity) >= Date.parse(row.createdAt));
    if (!ours) {
      if (row.runId !== null) {
        await this.repo.markClosed(
          row.version,
          row.runId,
          'workflow-failed',
          `Its releaseDataset workflow (run ${row.runId}) is no longer known to Temporal; nothing was published. Start version ${row.version} again to retry.`,
        );
      } else if (Date.now() - Date.parse(row.updatedAt) >= RELEASE_START_GRACE_MS) {
        // Its start never happened (a start right now is given the grace).
        await this.repo.markClosed(
          row.version,
          null,
          'workflow-not-started',
          `Its releaseDataset workflow was never started (requested at ${row.createdAt}); nothing was published. Start version ${row.version} again to retry.`,
        );
      } else return row;
      return (await this.repo.get(row.version)) ?? row;
    }
    // The attempt's run, recorded (a reset's new run, or the run the row never got to name).
    if (run.runId !== row.runId && !(await this.repo.adoptRun(row.version, row.runId, run.runId))) return (await this.repo.get(row.version)) ?? row;
    if (run.status === 'COMPLETED') {
      const outcome = await this.temporal.releaseOutcome(row.workflowId, run.runId);
      if ('result' in outcome && outcome.result.status === 'published') await this.repo.markPublished(row.version, outcome.result.images, outcome.result.manifestSha256);
      if ('result' in outcome && outcome.result.status === 'failed') {
        await this.repo.markFailed(row.version, { problemCount: outcome.result.problemCount, problems: outcome.result.problems as GateProblem[] });
      }
    } else if (run.status !== 'RUNNING') {
      const closed = CLOSED[run.status];
      if (!closed) return (await this.repo.get(row.version)) ?? row; // CONTINUED_AS_NEW (its next run is described next time), PAUSED, UNSPECIFIED…
      const outcome = await this.temporal.releaseOutcome(row.workflowId, run.runId);
      const message = 'failure' in outcome && outcome.failure ? `: ${outcome.failure}` : '';
      const when = run.closeTime ? ` at ${run.closeTime.toISOString()}` : '';
      await this.repo.markClosed(
        row.version,
        run.runId,
        closed.reason,
        `Its releaseDataset workflow (run ${run.runId}) ${closed.verb}${when}${message}; nothing was published. Start version ${row.version} again to retry.`,
      );
    }
    return (await this.repo.get(row.version)) ?? row;
  }

  private async view(stored: ReleaseRow): Promise<ReleaseView> {
    const row = await this.settle(stored);
    const v: ReleaseView = { ...row };
    if (row.status === 'running') v.progress = await this.temporal.releaseProgress(row.workflowId, row.runId ?? undefined);
    if (row.status === 'published') {
      const base = `/api/v1/releases/${row.version}`;
      v.links = { files: `${base}/files/`, archive: `${base}/archive.tar`, checksums: `${base}/files/${CHECKSUMS_FILE}` };
    }
    return v;
  }

  async get(version: string): Promise<ReleaseView | undefined> {
    const row = await this.repo.get(version);
    return row ? this.view(row) : undefined;
  }

  async list(): Promise<ReleaseView[]> {
    return Promise.all((await this.repo.list()).map((r) => this.view(r)));
  }

  /** The reader ↔ pseudonym mapping (managers only). */
  pseudonyms(): Promise<ReaderPseudonym[]> {
    return listPseudonyms(this.ds);
  }

  private async publishedDir(version: string): Promise<string> {
    const row = await this.repo.get(version);
    if (!row || row.status !== 'published') throw new NotFoundError('release', `No published release ${version}.`);
    return releaseDir(this.root, version);
  }

  /** A file of a published release: its absolute path, size and SHA-256 (from SHA256SUMS). */
  async file(version: string, rel: string): Promise<{ full: string; size: number; sha256?: string; name: string }> {
    const dir = await this.publishedDir(version);
    const safe = safeReleasePath(rel);
    const notFound = (): never => {
      throw new NotFoundError('release-file', `Release ${version} has no file ${rel}.`);
    };
    if (!safe) return notFound();
    const full = path.join(dir, safe);
    const st = await fsp.stat(full).catch(() => undefined);
    if (!st?.isFile()) return notFound();
    const sums = await this.checksums(dir);
    return { full, size: st.size, sha256: sums.get(safe), name: path.posix.basename(safe) };
  }

  private async checksums(dir: string): Promise<Map<string, string>> {
    const text = await fsp.readFile(path.join(dir, CHECKSUMS_FILE), 'utf8');
    return new Map(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [sha, file] = [l.slice(0, 64), l.slice(66)];
          return [file, sha] as [string, string];
        }),
    );
  }

  /**
   * Streams the whole release as a tar (`<version>/…`, files in SHA256SUMS order then SHA256SUMS itself), one file
   * at a time with back-pressure: memory stays flat whatever the size.
   */
  async tar(version: string, out: Writable): Promise<void> {
    const dir = await this.publishedDir(version);
    const files = [...(await this.checksums(dir)).keys(), CHECKSUMS_FILE];
    const tarball = pack();
    const feed = (async () => {
      for (const rel of files) {
        const full = path.join(dir, rel);
        const st = await fsp.stat(full);
        const entry = tarball.entry({ name: `${version}/${rel}`, size: st.size, mode: 0o644, mtime: new Date(0) });
        await pipeline(createReadStream(full), entry);
      }
      tarball.finalize();
    })();
    feed.catch((e: Error) => tarball.destroy(e));
    await Promise.all([pipeline(tarball, out), feed]);
  }
}
