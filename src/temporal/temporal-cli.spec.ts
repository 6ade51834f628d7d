import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadToolchainConfig } from '../config/toolchain';
import { TEMPORAL_CLI_VERSION, TemporalCliError, ensureTemporalCli, findTemporalCli } from './temporal-cli';

const tools = (o: { temporalCli?: string; searchPath?: string; cacheDir: string }) => ({ searchPath: '', buildEnv: {}, ...o });

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
    expect(findTemporalCli(tools({ temporalCli: path, cacheDir: join(root, 'none') }))).toEqual({
      path,
      source: 'TEMPORAL_CLI',
    });
    expect(() => findTemporalCli(tools({ temporalCli: join(root, 'missing'), cacheDir: join(root, 'none') }))).toThrow(TemporalCliError);
  });

  it('then looks on PATH, then in the per-user cache (only a build of the pinned version)', () => {
    const onPath = fakeBinary(join(root, 'path-bin'));
    expect(findTemporalCli(tools({ searchPath: join(root, 'path-bin'), cacheDir: join(root, 'none') }))?.source).toBe('PATH');

    const cache = join(root, 'cache');
    const cached = fakeBinary(join(cache, 'bin'));
    expect(findTemporalCli(tools({ cacheDir: cache }))).toBeNull(); // no version marker: rebuild
    writeFileSync(`${cached}.version`, 'v0.9.0\n');
    expect(findTemporalCli(tools({ cacheDir: cache }))).toBeNull(); // stale version
    writeFileSync(`${cached}.version`, `${TEMPORAL_CLI_VERSION}\n`);
    expect(findTemporalCli(tools({ cacheDir: cache }))).toEqual({ path: cached, source: 'cache' });
    expect(onPath).toContain('path-bin');
  });

  it('keeps the cache outside the checkout, under XDG_CACHE_HOME or ~/.cache', () => {
    expect(loadToolchainConfig({ XDG_CACHE_HOME: '/x/cache' }).cacheDir).toBe('/x/cache/readflow');
    expect(loadToolchainConfig({ HOME: '/home/rad' }).cacheDir).toBe('/home/rad/.cache/readflow');
    expect(loadToolchainConfig({}).cacheDir).toMatch(/\.cache\/readflow$/);
  });

  it('explains how to install the CLI when Go is missing', async () => {
    await expect(
      ensureTemporalCli({
        searchPath: '',
        buildEnv: {},
        cacheDir: join(root, 'nocache'),
        goBinary: join(root, 'no-such-dir', 'go'),
        log: () => undefined,
      }),
    ).rejects.toThrow(/Go is not installed[\s\S]*TEMPORAL_CLI/);
  });
});
