import { InitialSchema1764200000000 } from './1764200000000-initial-schema';
import { ApiListIndexes1764300000000 } from './1764300000000-api-list-indexes';
import { ValueListChecks1764400000000 } from './1764400000000-value-list-checks';
import { ReleasePseudonymsAndReleases1764610000000 } from './1764610000000-release-pseudonyms-and-releases';

/** Every migration, in order. Never `synchronize`. */
export const MIGRATIONS = [InitialSchema1764200000000, ApiListIndexes1764300000000, ValueListChecks1764400000000, ReleasePseudonymsAndReleases1764610000000];
