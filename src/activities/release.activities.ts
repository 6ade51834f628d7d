/**
 * Activities of the `releaseDataset` workflow: thin wrappers over `ReleaseBuilder` (src/releases/builder.ts, where
 * each step is described) and the `releases` table. Each is idempotent; a version that exists is a non-retryable
 * `ReleaseExists` failure.
 */
import * as path from 'node:path';

import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';

import type { Taxonomy, VindrSplit } from '../domain';
import { ReleaseBuilder, ReleaseExistsError } from '../releases/builder';
import type { GateOutcome, PublishOutcome } from '../releases/builder';
import { ReleasesRepository } from '../releases/releases.repository';
import type { GateProblem, ReleaseImageVerifier } from '../releases/verifier';
import type { BlobStore } from '../storage/blob-store';

export interface ReleaseActivityDeps {
  dataSource: DataSource;
  store: BlobStore;
  /** `<storage>/releases`; default: `releases/` beside the store's areas. */
  releasesDir?: string;
  /** The gate's per-image check (default: the local check of src/releases/verifier.ts). */
  releaseVerifier?: ReleaseImageVerifier;
  /** The project's taxonomy (READFLOW_TAXONOMY_FILE); default VinDr-CXR's. */
  taxonomy?: Taxonomy;
}

/** Same value as the workflow's constant. */
const RELEASE_EXISTS = 'ReleaseExists';

export interface ReleaseActivities {
  prepareRelease(input: { version: string; splits: VindrSplit[]; requestedBy: string; previousVersion: string | null; workflowId: string }): Promise<{ total: number; perSplit: Partial<Record<VindrSplit, number>> }>;
  copyReleaseImages(input: { version: string; from: number; count: number }): Promise<{ images: number; problems: number }>;
  writeReleaseLabels(input: { version: string }): Promise<{ problems: number }>;
  gateRelease(input: { version: string; previousVersion: string | null }): Promise<GateOutcome>;
  abandonRelease(input: { version: string; problems: GateProblem[]; problemCount: number }): Promise<void>;
  publishRelease(input: { version: string; previousVersion: string | null }): Promise<Omit<PublishOutcome, never>>;
}

/** Where releases are written for a store (the store's root when it has one). */
export function defaultReleasesDir(store: BlobStore): string {
  const root = (store as { rootDir?: string }).rootDir;
  if (!root) throw new Error('releasesDir is required for a store without a rootDir');
  return path.join(root, 'releases');
}

export function createReleaseActivities(deps: ReleaseActivityDeps): ReleaseActivities {
  const builder = new ReleaseBuilder({
    dataSource: deps.dataSource,
    store: deps.store,
    releasesDir: deps.releasesDir ?? defaultReleasesDir(deps.store),
    verifier: deps.releaseVerifier,
    taxonomy: deps.taxonomy,
  });
  const repo = new ReleasesRepository(deps.dataSource);

  /** Heartbeats from inside an activity (a dead worker's step is retried after the heartbeat timeout). */
  const heartbeat = (): void => {
    try {
      Context.current().heartbeat();
    } catch {
      // called outside an activity (benchmarks, direct use)
    }
  };

  /** The workflow run the activity works for: the release attempt (undefined outside an activity). */
  const currentRunId = (): string | undefined => {
    try {
      return Context.current().info.workflowExecution?.runId;
    } catch {
      return undefined;
    }
  };

  const refuseExisting = (e: unknown): never => {
    if (e instanceof ReleaseExistsError) throw ApplicationFailure.nonRetryable(e.message, RELEASE_EXISTS, { version: e.version });
    throw e;
  };

  return {
    async prepareRelease({ version, splits, requestedBy, previousVersion, workflowId }) {
      await repo.ensure({ version, splits, requestedBy, previousVersion, workflowId });
      return builder.prepare(version, splits, currentRunId()).catch(refuseExisting);
    },
    async copyReleaseImages({ version, from, count }) {
      return builder.copyImages(version, from, count, heartbeat);
    },
    async writeReleaseLabels({ version }) {
      const out = await builder.writeLabels(version, heartbeat);
      return { problems: out.problems.length };
    },
    async gateRelease({ version, previousVersion }) {
      return builder.gate(version, previousVersion);
    },
    async abandonRelease({ version, problems, problemCount }) {
      // Staging goes first: once the row says `failed`, nothing of the attempt is left on disk.
      await builder.abandon(version);
      await repo.markFailed(version, { problemCount, problems });
    },
    async publishRelease({ version, previousVersion }) {
      const pseudonyms = await builder.pseudonymsAtSnapshot(version);
      if (Object.keys(pseudonyms).length > 0) await repo.setPseudonyms(version, pseudonyms);
      const out = await builder.publish(version, previousVersion).catch(refuseExisting);
      await repo.markPublished(version, out.images, out.manifestSha256);
      return out;
    },
  };
}
