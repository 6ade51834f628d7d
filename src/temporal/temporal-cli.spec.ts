import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TEMPORAL_CLI_VERSION, TemporalCliError, defaultCacheDir, ensureTemporalCli, findTemporalCli } from './temporal-cli';

function fakeBinary(dir: string, name = 'temporal'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\necho fake\n');
  chmodSync(path, 0o755);
  return path;
}

describe('Temporal CLI provisioning', () => {
  const root = mkdtempSync(join(tmpdir(), 'rf-cli-'));

  it('uses TEMPORAL_CLI first, and refuses a non-executable one', () => {
    const path = fakeBinary(join(root, 'explicit'));
    expect(findTemporalCli({ configuredPath: path, searchPath: '', cacheDir: join(root, 'none') })).toEqual({
      path,
      source: 'TEMPORAL_CLI',
    });
    expect(() => findTemporalCli({ configuredPath: join(root, 'missing') })).toThrow(TemporalCliError);
  });

  it('then looks on PATH, then in the per-user cache (only a build of the pinned version)', () => {
    const onPath = fakeBinary(join(root, 'path-bin'));
    expect(findTemporalCli({ searchPath: join(root, 'path-bin'), cacheDir: join(root, 'none') })?.source).toBe('PATH');

    const cache = join(root, 'cache');
    const cached = fakeBinary(join(cache, 'bin'));
    expect(findTemporalCli({ searchPath: '', cacheDir: cache })).toBeNull(); // no version marker: rebuild
    writeFileSync(`${cached}.version`, 'v0.9.0\n');
    expect(findTemporalCli({ searchPath: '', cacheDir: cache })).toBeNull(); // stale version
    writeFileSync(`${cached}.version`, `${TEMPORAL_CLI_VERSION}\n`);
    expect(findTemporalCli({ searchPath: '', cacheDir: cache })).toEqual({ path: cached, source: 'cache' });
    expect(onPath).toContain('path-bin');
  });

  it('keeps the cache outside the checkout, under XDG_CACHE_HOME or ~/.cache', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/readflow');
    expect(defaultCacheDir({})).toMatch(/\.cache\/readflow$/);
  });

  it('explains how to install the CLI when Go is missing', async () => {
    await expect(
      ensureTemporalCli({
        searchPath: '',
        cacheDir: join(root, 'nocache'),
        goBinary: join(root, 'no-such-dir', 'go'),
        log: () => undefined,
      }),
    ).rejects.toThrow(/Go is not installed[\s\S]*TEMPORAL_CLI/);
  });
});
