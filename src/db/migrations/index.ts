import { InitialSchema1764200000000 } from './1764200000000-initial-schema';

/** Every migration, in order. Never `synchronize`. */
export const MIGRATIONS = [InitialSchema1764200000000];
