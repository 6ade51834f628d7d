import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DEFAULT_POLICIES, VINDR_CXR_TAXONOMY } from '../domain';
import type { ConfigSources } from './config';
import { CONFIG_KEYS, ConfigError, loadConfig as load, parseDuration, projectTaxonomy } from './config';
import { loadIngestClientConfig } from './ingest-client';

const SECRET = 's'.repeat(32);
/** loadConfig with a de-identification secret unless the test gives its own environment for it. */
const loadConfig = (env: Record<string, string | undefined>, sources?: ConfigSources) =>
  load({ READFLOW_DEID_SECRET: SECRET, ...env }, sources);

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

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

  it('the capacity sweep interval defaults to a minute, takes a duration of at least 100 ms, and names itself otherwise', () => {
    expect(loadConfig({}).capacitySweep).toEqual({ intervalMs: 60_000 });
    expect(loadConfig({ READFLOW_CAPACITY_SWEEP_INTERVAL: '1500ms' }).capacitySweep).toEqual({ intervalMs: 1500 });
    expect(problemsOf(() => loadConfig({ READFLOW_CAPACITY_SWEEP_INTERVAL: '50ms' }))).toEqual([expect.stringMatching(/^READFLOW_CAPACITY_SWEEP_INTERVAL: .*at least 100ms/)]);
    expect(problemsOf(() => loadConfig({ READFLOW_CAPACITY_SWEEP_INTERVAL: 'often' }))).toEqual([expect.stringMatching(/^READFLOW_CAPACITY_SWEEP_INTERVAL: .*duration/)]);
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
    expect(() => load({ NODE_ENV: 'production' }, { devDeidSecret: () => SECRET })).toThrow(
      /DATABASE_URL: required in production[\s\S]*READFLOW_DEID_SECRET/,
    );
    expect(
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://u@db/readflow',
        READFLOW_DEID_SECRET: 'x'.repeat(32),
        READFLOW_PAYLOAD_KEYS: `p1:${Buffer.alloc(32, 1).toString('base64')}`,
      }).env,
    ).toBe('production');
  });

  it('requires a de-identification secret of at least 32 characters wherever it runs', () => {
    expect(problemsOf(() => load({}))).toEqual(['READFLOW_DEID_SECRET: required (at least 32 characters)']);
    expect(problemsOf(() => load({ NODE_ENV: 'test' }))).toEqual(['READFLOW_DEID_SECRET: required (at least 32 characters)']);
    expect(problemsOf(() => load({ READFLOW_DEID_SECRET: 'x'.repeat(31) }))).toEqual([
      'READFLOW_DEID_SECRET: must be at least 32 characters',
    ]);
    expect(load({ READFLOW_DEID_SECRET: 'x'.repeat(32) }).deidSecret).toBe('x'.repeat(32));
  });

  it('outside production, takes the development secret when none is set (npm start), and checks it too', () => {
    const dirs: string[] = [];
    const dev = (dir: string) => {
      dirs.push(dir);
      return 'd'.repeat(64);
    };
    expect(load({ READFLOW_DATA_DIR: '/srv/rf' }, { devDeidSecret: dev }).deidSecret).toBe('d'.repeat(64));
    expect(dirs).toEqual(['/srv/rf']);
    expect(load({ READFLOW_DEID_SECRET: SECRET }, { devDeidSecret: dev }).deidSecret).toBe(SECRET);
    expect(dirs).toHaveLength(1); // a configured secret wins: nothing generated
    expect(problemsOf(() => load({}, { devDeidSecret: () => 'short' }))[0]).toMatch(/READFLOW_DEID_SECRET: the development secret .* shorter than 32/);
    expect(problemsOf(() => load({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/rf' }, { devDeidSecret: dev }))).toEqual([
      'READFLOW_DEID_SECRET: required in production',
      'READFLOW_PAYLOAD_KEYS: required in production (Temporal payloads are encrypted)',
    ]);
  });

  it("reads a project's own reading policies from READFLOW_POLICIES_FILE, validated by the domain's parser", () => {
    const files: Record<string, string> = {
      '/p/ok.json': JSON.stringify([
        { name: 'independent-3', taskDeadlineMs: 3_600_000, fusion: { method: 'majority' } },
        { name: 'consensus-5', maxReviewRounds: 4 },
      ]),
      '/p/bad.json': JSON.stringify([
        { name: 'independent-3', readers: 4, fusion: { quorum: 9 } },
        { name: 'consensus-5', maxReviewRounds: 0, colour: 'red' },
        { name: 'independent-5' },
        { name: 'independent-5' },
        { name: 'pediatric-7' },
      ]),
      '/p/broken.json': '[{ "name": ',
    };
    const readFile = (p: string): string => {
      if (!(p in files)) throw new Error(`ENOENT: no such file, open '${p}'`);
      return files[p];
    };
    const c = loadConfig({ READFLOW_POLICIES_FILE: '/p/ok.json' }, { readFile });
    expect(c.policies['independent-3']).toMatchObject({ taskDeadlineMs: 3_600_000, readers: 3, fusion: { method: 'majority', quorum: 2 } });
    expect(c.policies['consensus-5'].maxReviewRounds).toBe(4);
    expect(c.policies['independent-5']).toBe(DEFAULT_POLICIES['independent-5']);
    expect(loadConfig({}).policies).toBe(DEFAULT_POLICIES);

    const problems = problemsOf(() => loadConfig({ READFLOW_POLICIES_FILE: '/p/bad.json', PORT: 'x' }, { readFile }));
    const where = 'READFLOW_POLICIES_FILE (/p/bad.json)';
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT: /),
        `${where}: [0] readers: independent-3 needs exactly 3 readers (got 4) [inconsistent]`,
        expect.stringMatching(/^READFLOW_POLICIES_FILE \(\/p\/bad\.json\): \[0\] fusion\.quorum: /),
        `${where}: [1] colour: unknown field "colour" [unknown-field]`,
        expect.stringMatching(/^READFLOW_POLICIES_FILE \(\/p\/bad\.json\): \[1\] maxReviewRounds: /),
        `${where}: [3] policy independent-5 is given twice`,
        expect.stringMatching(/^READFLOW_POLICIES_FILE \(\/p\/bad\.json\): \[4\] name: name must be one of/),
      ]),
    );
    expect(problems).toHaveLength(7);
    expect(problemsOf(() => loadConfig({ READFLOW_POLICIES_FILE: '/p/broken.json' }, { readFile }))[0]).toMatch(/^READFLOW_POLICIES_FILE \(\/p\/broken\.json\): .*JSON/);
    expect(problemsOf(() => loadConfig({ READFLOW_POLICIES_FILE: '/p/none.json' }, { readFile }))[0]).toMatch(/ENOENT/);
  });

  it("reads a project's own taxonomy from READFLOW_TAXONOMY_FILE, validated by the domain's parser; a malformed file is refused at boot", () => {
    const files: Record<string, string> = {
      '/t/pcxr.json': JSON.stringify({
        version: 'pediatric-cxr-1.0',
        localLabels: ['Bronchitis focus', 'Broncho-pneumonia'],
        globalLabels: ['Pneumonia', 'No finding'],
      }),
      '/t/bad.json': JSON.stringify({
        version: '',
        localLabels: ['Nodule', 'nodule ', 'Pneumonia'],
        globalLabels: ['Pneumonia'],
        colour: 'red',
      }),
      '/t/broken.json': '{ "version": ',
    };
    const readFile = (p: string): string => {
      if (!(p in files)) throw new Error(`ENOENT: no such file, open '${p}'`);
      return files[p];
    };
    const c = loadConfig({ READFLOW_TAXONOMY_FILE: '/t/pcxr.json' }, { readFile });
    expect(c.taxonomy).toMatchObject({
      version: 'pediatric-cxr-1.0',
      localLabels: ['Bronchitis focus', 'Broncho-pneumonia'],
      globalLabels: ['Pneumonia', 'No finding'],
      noFinding: 'No finding',
    });
    expect(projectTaxonomy(c)).toBe(c.taxonomy);
    // Without the variable: the built-in VinDr-CXR taxonomy, which new scans do not carry (it is the workflow's default).
    const plain = loadConfig({});
    expect(plain.taxonomy).toBe(VINDR_CXR_TAXONOMY);
    expect(projectTaxonomy(plain)).toBeUndefined();

    const where = 'READFLOW_TAXONOMY_FILE (/t/bad.json)';
    const problems = problemsOf(() => loadConfig({ READFLOW_TAXONOMY_FILE: '/t/bad.json', PORT: 'x' }, { readFile }));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT: /),
        `${where}: colour: unknown field "colour" [unknown-field]`,
        `${where}: version: version must be a non-empty string [invalid-type]`,
        `${where}: localLabels[1]: duplicate label "nodule " (first at localLabels[0]) [duplicate-label]`,
        `${where}: globalLabels[0]: "Pneumonia" is both a box (local) label and a global label [label-both-local-and-global]`,
        `${where}: noFinding: the exclusive label "No finding" must be one of the global labels [missing-no-finding]`,
      ]),
    );
    expect(problems).toHaveLength(6);
    expect(problemsOf(() => loadConfig({ READFLOW_TAXONOMY_FILE: '/t/broken.json' }, { readFile }))[0]).toMatch(/^READFLOW_TAXONOMY_FILE \(\/t\/broken\.json\): .*JSON/);
    expect(problemsOf(() => loadConfig({ READFLOW_TAXONOMY_FILE: '/t/none.json' }, { readFile }))[0]).toMatch(/^READFLOW_TAXONOMY_FILE \(\/t\/none\.json\): ENOENT/);
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

  it('gives the ingest client only a URL and a token: no database, no secret, even in production', () => {
    const env = { NODE_ENV: 'production', READFLOW_TOKEN: 't0ken', PUBLIC_URL: 'https://rf.example.org/' };
    expect(loadIngestClientConfig(env)).toEqual({ apiUrl: 'https://rf.example.org', token: 't0ken' });
    expect(loadIngestClientConfig({ HOST: '0.0.0.0', PORT: '8080' }, { token: 'flag' })).toEqual({
      apiUrl: 'http://127.0.0.1:8080',
      token: 'flag',
    });
    expect(loadIngestClientConfig(env, { url: 'http://10.0.0.5:3000', token: 'flag' }).apiUrl).toBe('http://10.0.0.5:3000');
    expect(problemsOf(() => loadIngestClientConfig({ PORT: 'x' }, { url: 'nope' }))).toEqual([
      expect.stringMatching(/^PORT: /),
      'READFLOW_TOKEN: required (or --token): a manager or admin token',
      '--url: not a URL: nope',
    ]);
  });

  it('documents every variable in .env.example', () => {
    const example = readFileSync(join(__dirname, '../../.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(CONFIG_KEYS.filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !CONFIG_KEYS.includes(k))).toEqual([]);
  });
});
