/**
 * All ReadFlow activities, built from their dependencies: ingest (validate, de-identify), the scan
 * projection (roster, Postgres writes) and batch ingest (manifest listing, staging). Every activity is
 * idempotent; see docs/architecture.md for the names the workflows use.
 */
import type { DataSource } from 'typeorm';

import type { AcceptanceRule } from '../dicom';
import type { Taxonomy } from '../domain';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import { createBatchActivities } from './batch.activities';
import { createGoldActivities } from './gold.activities';
import { createCapacityActivities } from './capacity.activities';
import { createIngestActivities } from './ingest.activities';
import { createReleaseActivities } from './release.activities';
import { localAttemptsAnswer } from './local-attempt';
import { createScanActivities } from './scan.activities';

/** What the activities need. */
export interface ActivityDeps {
  dataSource: DataSource;
  store: BlobStore;
  /** Secret of the HMACs behind scan ids, image ids and de-identified UIDs. */
  deidSecret: string;
  maxDicomBytes: number;
  /** Root of the files batch ingest may read (`READFLOW_IMPORT_DIR`); unset: every batch path is refused. */
  importDir?: string;
  /** What ingest accepts (default `DEFAULT_ACCEPTANCE`; the accepted views come from `READFLOW_ACCEPTED_VIEWS`). */
  acceptance?: AcceptanceRule;
  /** Where dataset releases are written (`<STORAGE_DIR>/releases`); default: `releases/` beside the store's areas. */
  releasesDir?: string;
  /** The project's taxonomy (READFLOW_TAXONOMY_FILE) releases are written with; default VinDr-CXR's. */
  taxonomy?: Taxonomy;
  logger?: Logger;
}

/** Builds every activity the ReadFlow worker registers. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createIngestActivities(deps),
    // The scan workflow's database activities: run locally first (see local-attempt.ts).
    ...localAttemptsAnswer(createScanActivities(deps)),
    ...localAttemptsAnswer(createCapacityActivities(deps)),
    ...createBatchActivities(deps),
    ...createReleaseActivities(deps),
    ...createGoldActivities(deps),
  };
}

/** The activity object registered with the worker. */
export type ReadflowActivities = ReturnType<typeof createActivities>;
