import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CONFIG_KEYS, ConfigError, loadConfig, parseDuration } from './config';

describe('loadConfig', () => {
  it('runs on defaults for development', () => {
    const c = loadConfig({});
    expect(c.env).toBe('development');
    expect(c.http.port).toBe(3000);
    expect(c.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'readflow', uiPort: 8233, startDevServer: true });
    expect(c.storageDir).toBe('.data/storage');
    expect(c.importDir).toBe('.data/import');
    expect(loadConfig({ READFLOW_DATA_DIR: '/srv/rf' }).importDir).toBe('/srv/rf/import');
    expect(loadConfig({ READFLOW_IMPORT_DIR: '/mnt/scans' }).importDir).toBe('/mnt/scans');
    expect(c.database.url).toBeUndefined();
    expect(c.temporal.uiUrl).toBe('http://127.0.0.1:8233');
  });

  it('accepted views default to PA only (VinDr-CXR) and are a setting; releases live under the storage dir', () => {
    expect(loadConfig({}).acceptance.viewPositions).toEqual(['PA']);
    expect(loadConfig({ READFLOW_ACCEPTED_VIEWS: 'PA,AP' }).acceptance.viewPositions).toEqual(['PA', 'AP']);
    expect(() => loadConfig({ READFLOW_ACCEPTED_VIEWS: 'pa; ap' })).toThrow(/READFLOW_ACCEPTED_VIEWS/);
    expect(loadConfig({ STORAGE_DIR: '/srv/s' }).releases).toEqual({ dir: '/srv/s/releases', chunk: 200 });
  });

  it('coerces and converts values', () => {
    const c = loadConfig({
      PORT: '8080',
      TEMPORAL_START_DEV_SERVER: 'false',
      READFLOW_TASK_DEADLINE: '90s',
      READFLOW_REVIEW_DEADLINE: '2d',
      PUBLIC_URL: 'https://rf.example.org/',
    });
    expect(c.http.port).toBe(8080);
    expect(c.temporal.startDevServer).toBe(false);
    expect(c.deadlines).toEqual({ taskMs: 90_000, reviewMs: 172_800_000 });
    expect(c.http.publicUrl).toBe('https://rf.example.org');
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'not a url', READFLOW_ADMIN_TOKEN: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'READFLOW_ADMIN_TOKEN']) expect(problems).toContain(key);
  });

  it('requires a database and a de-identification secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/DATABASE_URL: required in production[\s\S]*READFLOW_DEID_SECRET/);
    expect(
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://u@db/readflow',
        READFLOW_DEID_SECRET: 'x'.repeat(32),
      }).env,
    ).toBe('production');
  });

  it('requires host:port for the Temporal address', () => {
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'nohost' })).toThrow(/TEMPORAL_ADDRESS: must be host:port/);
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'temporal:port' })).toThrow(/TEMPORAL_ADDRESS/);
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233' }).temporal.address).toBe('temporal.internal:7233');
    expect(loadConfig({ TEMPORAL_ADDRESS: '[::1]:7233' }).temporal.address).toBe('[::1]:7233');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).http.port).toBe(3000);
  });

  it('parses durations', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('15m')).toBe(900_000);
    expect(() => parseDuration('soon')).toThrow(ConfigError);
  });

  it('documents every variable in .env.example', () => {
    const example = readFileSync(join(__dirname, '../../.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(CONFIG_KEYS.filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !CONFIG_KEYS.includes(k))).toEqual([]);
  });
});
