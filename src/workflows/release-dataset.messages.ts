/**
 * Messages of the `releaseDataset` workflow: input, result and the `progress` query.
 * Only `@temporalio/workflow` define* calls and types live here (the API imports this module).
 */
import { defineQuery } from '@temporalio/workflow';

/** Splits a release may hold (the VinDr-CXR layout). */
export type ReleaseSplit = 'train' | 'test';

/** Input of `releaseDataset`. Workflow id: `release-<version>`. */
export interface ReleaseDatasetInput {
  /** `MAJOR.MINOR.PATCH`; a published version is never overwritten. */
  version: string;
  splits: ReleaseSplit[];
  /** The latest published version before this one (its change list is stated against it), or null. */
  previousVersion: string | null;
  requestedBy: string;
  /** Images copied and checked per activity (default 200). */
  chunk?: number;
}

export const RELEASE_PHASES = ['snapshot', 'images', 'labels', 'gate', 'publishing', 'published', 'failed'] as const;
export type ReleasePhase = (typeof RELEASE_PHASES)[number];

/** What the `progress` query returns. */
export interface ReleaseProgress {
  version: string;
  phase: ReleasePhase;
  imagesTotal: number;
  imagesDone: number;
  /** Gate problems found so far (by the image checks, then the gate). */
  problems: number;
}

/** A gate finding (as in `src/releases/verifier.ts`). */
export interface ReleaseGateProblem {
  code: string;
  imageId?: string;
  detail: string;
}

export type ReleaseDatasetResult =
  | {
      status: 'published';
      version: string;
      images: number;
      manifestSha256: string;
      changes: { previousVersion: string | null; imagesAdded: number; imagesRemoved: number; labelsChanged: number; splitChanged: number };
    }
  | { status: 'failed'; version: string; problemCount: number; problems: ReleaseGateProblem[] };

export const releaseProgressQuery = defineQuery<ReleaseProgress>('progress');

/** Workflow id of a release. */
export function releaseWorkflowId(version: string): string {
  return `release-${version}`;
}
