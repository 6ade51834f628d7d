import { homedir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from './errors';

/**
 * Where the Temporal CLI comes from (`npm run temporal:provision`, `npm start`, the test setup): TEMPORAL_CLI, then PATH,
 * then the per-user cache, else a `go install` with the caller's environment.
 */
export interface ToolchainConfig {
  /** TEMPORAL_CLI: an explicit path, used as is. */
  temporalCli?: string;
  /** PATH, searched for `temporal`. */
  searchPath: string;
  /** `$XDG_CACHE_HOME/readflow` or `~/.cache/readflow`: outside any checkout, so fresh clones reuse the build. */
  cacheDir: string;
  /** The environment `go install` runs with (Go reads HOME, GOPATH, GOPROXY, …); GOFLAGS defaults to `-mod=mod`. */
  buildEnv: Readonly<Record<string, string | undefined>>;
}

/** Variables of the toolchain that are ReadFlow's own (documented in .env.example); the rest are the system's. */
export const TOOLCHAIN_KEYS = ['TEMPORAL_CLI'] as const;

export function loadToolchainConfig(env: Readonly<Record<string, string | undefined>>): ToolchainConfig {
  const temporalCli = env.TEMPORAL_CLI || undefined;
  if (temporalCli !== undefined && temporalCli.trim() === '') throw new ConfigError(['TEMPORAL_CLI: empty path']);
  return {
    temporalCli,
    searchPath: env.PATH ?? '',
    cacheDir: join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'readflow'),
    buildEnv: { ...env, GOFLAGS: env.GOFLAGS || '-mod=mod' },
  };
}
