/**
 * Releases: start the `releaseDataset` workflow (one per version), read the `releases` rows with the workflow's live
 * progress, and serve published files (one file, or the whole release as a streamed tar).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Inject, Injectable } from '@nestjs/common';
import type { Client } from '@temporalio/client';
import { pack } from 'tar-stream';
import { DataSource } from 'typeorm';

import type { Config } from '../../config/config';
import type { VindrSplit } from '../../domain';
import { CHECKSUMS_FILE, compareVersions, releaseDir, safeReleasePath } from '../../releases/layout';
import { listPseudonyms } from '../../releases/pseudonyms';
import type { ReaderPseudonym } from '../../releases/pseudonyms';
import { ReleasesRepository } from '../../releases/releases.repository';
import type { ReleaseRow } from '../../releases/releases.repository';
import type { ReleaseDatasetInput, ReleaseProgress } from '../../workflows/release-dataset.messages';
import { releaseProgressQuery, releaseWorkflowId } from '../../workflows/release-dataset.messages';
import { CONFIG, DATA_SOURCE, TEMPORAL_CLIENT } from '../deps';
import { ConflictError, NotFoundError } from '../errors';

export interface ReleaseView extends ReleaseRow {
  /** Live progress of a running release (from the workflow's `progress` query). */
  progress?: ReleaseProgress;
  /** Files of a published release: `/api/v1/releases/{version}/files/{path}`, the tar at `/archive.tar`. */
  links?: { files: string; archive: string; checksums: string };
}

@Injectable()
export class ReleasesService {
  private readonly repo: ReleasesRepository;

  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
    @Inject(CONFIG) private readonly config: Config,
  ) {
    this.repo = new ReleasesRepository(ds);
  }

  private get root(): string {
    return path.resolve(this.config.releases.dir);
  }

  /** Starts a release of `version` (409 `release-exists` when that version is running or published). */
  async start(version: string, splits: VindrSplit[], requestedBy: string): Promise<ReleaseView> {
    const published = (await this.repo.publishedVersions()).filter((v) => compareVersions(v, version) < 0).sort(compareVersions);
    const previousVersion = published.length > 0 ? published[published.length - 1] : null;
    const workflowId = releaseWorkflowId(version);
    const claim = await this.repo.claim({ version, splits, workflowId, requestedBy, previousVersion });
    if (!claim.claimed) {
      throw new ConflictError('release-exists', `Release ${version} is ${claim.existing.status}; a version is never overwritten.`, {
        version,
        status: claim.existing.status,
      });
    }
    const input: ReleaseDatasetInput = { version, splits, previousVersion, requestedBy, chunk: this.config.releases.chunk };
    await this.client.workflow.start('releaseDataset', {
      workflowId,
      taskQueue: this.config.temporal.taskQueue,
      // A failed version may be built again; a running one is never started twice.
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      args: [input],
    });
    return (await this.get(version))!;
  }

  private async view(row: ReleaseRow): Promise<ReleaseView> {
    const v: ReleaseView = { ...row };
    if (row.status === 'running') {
      v.progress = await this.client.workflow
        .getHandle(row.workflowId)
        .query(releaseProgressQuery)
        .catch(() => undefined);
    }
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
