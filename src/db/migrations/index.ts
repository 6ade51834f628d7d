/**
 * src/db/migrations — timestamped migrations, in order; each has `up` and `down` and names its constraints and indexes.
 * Never `synchronize`. May import: typeorm only (a migration is frozen: it spells out the values of its CHECKs).
 */
import { InitialSchema1764200000000 } from './1764200000000-initial-schema';
import { ApiListIndexes1764300000000 } from './1764300000000-api-list-indexes';
import { ValueListChecks1764400000000 } from './1764400000000-value-list-checks';
import { ReleasePseudonymsAndReleases1764610000000 } from './1764610000000-release-pseudonyms-and-releases';
import { GoldScans1764700000000 } from './1764700000000-gold-scans';
import { BoardStatsIndexes1764720000000 } from './1764720000000-board-stats-indexes';
import { ReaderWaitlist1764800000000 } from './1764800000000-reader-waitlist';
import { ReservedTasks1764900000000 } from './1764900000000-reserved-tasks';
import { ReleaseRuns1765000000000 } from './1765000000000-release-runs';
import { ReaderTaskCounts1765300000000 } from './1765300000000-reader-task-counts';
import { ScanResultsReleasedIndex1765400000000 } from './1765400000000-scan-results-released-index';
import { TaskRunIds1765500000000 } from './1765500000000-task-run-ids';

/** Every migration, in order. Never `synchronize`. */
export const MIGRATIONS = [
  InitialSchema1764200000000,
  ApiListIndexes1764300000000,
  ValueListChecks1764400000000,
  ReleasePseudonymsAndReleases1764610000000,
  GoldScans1764700000000,
  BoardStatsIndexes1764720000000,
  ReaderWaitlist1764800000000,
  ReservedTasks1764900000000,
  ReleaseRuns1765000000000,
  ReaderTaskCounts1765300000000,
  ScanResultsReleasedIndex1765400000000,
  TaskRunIds1765500000000,
];
