/**
 * Dataset releases through the real API (issue #15): `POST /api/v1/releases` starts the `releaseDataset` workflow on
 * a real worker and Temporal server, a second start of a running or published version is a 409 problem document,
 * `GET /api/v1/releases[/{version}]` report status, progress and counts, a file downloads with the checksum of
 * SHA256SUMS, and the whole release streams as a tar whose every entry verifies and whose file set is the release's
 * layout. A release whose workflow is terminated from outside is read back `failed` (with how it closed) and can be
 * started again; a new attempt snapshots the scans released now. A release an operator resets is followed on its new
 * run (row, progress) until it publishes, or read back failed naming that run when it is terminated; a release whose
 * workflow completed while its row still says running (with its run recorded or not) reads back published, and a
 * claimed attempt is never given an earlier attempt's closed run. A release over scans labelled outside the taxonomy is
 * refused up front (409 `labels-outside-taxonomy`, nothing claimed), or by its gate when the labels change after the
 * start (nothing published); fixed, the same version publishes.
 *
 * A database of its own (only this campaign's scans enter its releases); a worker this file starts and stops, whose
 * image-copy step can be held to catch a release half-built.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';

import { temporal } from '@temporalio/proto';
import { extract } from 'tar-stream';
import type { Response } from 'supertest';

import { createActivities } from '../../src/activities';
import type { ReleaseView } from '../../src/api/releases/releases.service';
import { VINDR_CXR_TAXONOMY } from '../../src/domain';
import { stagingDir } from '../../src/releases/layout';
import { RELEASE_PHASES } from '../../src/workflows/release-dataset.messages';
import type { ApiHarness } from '../support/api-harness';
import { ensureDefaultRoster, eventually, startApiHarness, workflowBundle } from '../support/api-harness';
import type { ReleasedScan } from '../support/release-fixtures';
import { seedReleasedScan } from '../support/release-fixtures';
import { ensureBuilt } from '../support/run-once';
import { startWorker as startTestWorker, uniqueTag } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

jest.setTimeout(600_000);

const READERS = ['rad04', 'rad05', 'rad06'] as const;
const CSVS = [
  'annotations/annotations_train.csv',
  'annotations/image_labels_train.csv',
  'annotations/annotations_test.csv',
  'annotations/image_labels_test.csv',
];

/** supertest's body as raw bytes, whatever the content type. */
function binary(res: Response, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `SHA256SUMS` as path → digest (`<64 hex>  <path>` lines). */
function parseSums(text: string): Map<string, string> {
  const lines = text.split('\n').filter(Boolean);
  for (const l of lines) expect(l).toMatch(/^[0-9a-f]{64} {2}\S/);
  return new Map(lines.map((l) => [l.slice(66), l.slice(0, 64)]));
}

/** Every regular file under `dir`, relative, with `/`. */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(path.join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out;
}

describe('dataset releases through the API', () => {
  let h: ApiHarness;
  let manager: string;
  let rad: string;
  const tag = uniqueTag();
  let n = 0;
  const scans: ReleasedScan[] = [];
  let worker: { stop: () => Promise<void> } | undefined;
  /** While set, the worker's image copies from this snapshot position on wait for `hold.open()`. */
  let hold:
    | { from: number; wait: Promise<void>; open: () => void; copiesDone: Promise<void>; copyDone: () => void }
    | undefined;

  const seed = async (split: 'train' | 'test'): Promise<ReleasedScan> => {
    const s = await seedReleasedScan({
      ds: h.ds,
      store: h.store,
      deidSecret: h.config.deidSecret,
      tag,
      n: n++,
      split,
      readers: READERS,
    });
    scans.push(s);
    return s;
  };

  async function startWorker(): Promise<void> {
    const activities = createActivities({
      dataSource: h.ds,
      store: h.store,
      deidSecret: h.config.deidSecret,
      maxDicomBytes: h.config.maxDicomBytes,
      releasesDir: h.config.releases.dir,
    });
    const copy = activities.copyReleaseImages;
    worker = await startTestWorker({
      rig: { taskQueue: h.config.temporal.taskQueue },
      nativeConnection: h.temporal.nativeConnection,
      namespace: h.config.temporal.namespace,
      activities: {
        ...activities,
        copyReleaseImages: async (input: Parameters<typeof copy>[0]) => {
          const held = hold && input.from >= hold.from ? hold : undefined;
          if (!held) return copy(input);
          await held.wait;
          try {
            return await copy(input);
          } finally {
            held.copyDone();
          }
        },
      },
      workflowBundle: await workflowBundle(),
    });
  }

  const detail = async (version: string, token = manager): Promise<ReleaseView> =>
    (await h.http().get(`/api/v1/releases/${version}`).set(h.bearer(token)).expect(200)).body as ReleaseView;
  const start = (version: string, token = manager) =>
    h.http().post('/api/v1/releases').set(h.bearer(token)).send({ version });
  const settled = (version: string): Promise<ReleaseView> =>
    eventually(
      async () => {
        const r = await detail(version);
        return r.status === 'running' ? undefined : r;
      },
      240_000,
      `release ${version} to settle`,
    );

  beforeAll(async () => {
    h = await startApiHarness({ ownDatabase: true, env: { READFLOW_RELEASE_CHUNK: '1' } });
    await ensureDefaultRoster(h.ds);
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    rad = await h.addReader(`${h.prefix}-rad`, 'radiologist');
    for (const split of ['train', 'train', 'test'] as const) await seed(split);
  });

  afterAll(async () => {
    hold?.open();
    await worker?.stop();
    await h?.close();
  });

  it('refuses a non-manager (403), an unknown version (404) and a malformed one (422), as problem documents', async () => {
    const forbidden = await start('1.0.0', rad).expect(403);
    expect(forbidden.headers['content-type']).toContain('application/problem+json');
    for (const url of [
      '/api/v1/releases/9.9.9',
      '/api/v1/releases/9.9.9/archive.tar',
      '/api/v1/releases/9.9.9/files/SHA256SUMS',
    ]) {
      const res = await h.http().get(url).set(h.bearer(manager)).expect(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 404, detail: expect.stringContaining('9.9.9') });
    }
    const bad = await start('v1').expect(422);
    expect(bad.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'version' })]));
    expect((await h.http().get('/api/v1/releases').set(h.bearer(manager)).expect(200)).body.items).toEqual(
      [],
    );
  });

  it('a release whose workflow was terminated reads back failed, with how it closed, and its version can be started again', async () => {
    // No worker yet: the release stays running until its workflow is terminated from outside.
    const first = await start('1.0.0').expect(202);
    expect(first.body).toMatchObject({
      version: '1.0.0',
      status: 'running',
      runId: expect.any(String),
      failureReason: null,
    });
    const again = await start('1.0.0').expect(409);
    expect(again.headers['content-type']).toContain('application/problem+json');
    expect(again.body).toMatchObject({
      type: 'https://readflow.dev/problems/release-exists',
      status: 409,
      version: '1.0.0',
      releaseStatus: 'running',
    });
    await h.temporal.client.workflow
      .getHandle(first.body.workflowId, first.body.runId)
      .terminate('stopped by an operator');

    const failed = await detail('1.0.0');
    expect(failed).toMatchObject({ status: 'failed', failureReason: 'workflow-terminated', failures: null });
    expect(failed.failureDetail).toContain('terminated');
    expect(failed.failureDetail).toContain('stopped by an operator');
    expect(failed.progress).toBeUndefined();
    const listed = (await h.http().get('/api/v1/releases').set(h.bearer(manager)).expect(200)).body
      .items as ReleaseView[];
    expect(listed.map((r) => [r.version, r.status, r.failureReason])).toEqual([
      ['1.0.0', 'failed', 'workflow-terminated'],
    ]);

    // Nothing was published: the version is started again, as a new attempt (a new run of its workflow).
    const second = await start('1.0.0').expect(202);
    expect(second.body).toMatchObject({ status: 'running', failureReason: null, failureDetail: null });
    expect(second.body.runId).not.toBe(first.body.runId);

    // This attempt is caught half-built (its first image copied, the next copy held), then terminated too.
    let open!: () => void;
    let copyDone!: () => void;
    const wait = new Promise<void>((r) => (open = r));
    const copiesDone = new Promise<void>((r) => (copyDone = r));
    hold = { from: 1, wait, open, copiesDone, copyDone };
    await startWorker();
    const halfway = await eventually(
      async () => {
        const r = await detail('1.0.0');
        return r.progress && r.progress.imagesDone >= 1 ? r : undefined;
      },
      120_000,
      'the first image copied',
    );
    expect(halfway).toMatchObject({
      status: 'running',
      progress: { version: '1.0.0', phase: 'images', imagesTotal: 3, imagesDone: 1, problems: 0 },
    });
    expect(RELEASE_PHASES).toContain(halfway.progress!.phase);
    await h.temporal.client.workflow
      .getHandle(second.body.workflowId, second.body.runId)
      .terminate('stopped halfway');
    expect(await detail('1.0.0')).toMatchObject({ status: 'failed', failureReason: 'workflow-terminated' });
    // The held copy of the terminated run finishes (its result goes nowhere) before anything else starts.
    hold.open();
    await hold.copiesDone;
    hold = undefined;

    // A scan released since: the next attempt snapshots anew instead of re-using the stale half-built one.
    await seed('test');
    const third = await start('1.0.0').expect(202);
    expect(third.body.runId).not.toBe(second.body.runId);
    const published = await settled('1.0.0');
    expect(published).toMatchObject({
      status: 'published',
      imageCount: 4,
      failureReason: null,
      failureDetail: null,
      failures: null,
    });
  });

  it('lists and details the published release with its counts; a published version is never started again (409)', async () => {
    const items = (await h.http().get('/api/v1/releases').set(h.bearer(rad)).expect(200)).body
      .items as ReleaseView[];
    expect(items).toHaveLength(1);
    const r = await detail('1.0.0');
    expect(items[0]).toEqual(r);
    expect(r).toMatchObject({
      version: '1.0.0',
      status: 'published',
      splits: ['train', 'test'],
      imageCount: 4,
      previousVersion: null,
      manifestSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      publishedAt: expect.any(String),
      links: {
        archive: '/api/v1/releases/1.0.0/archive.tar',
        checksums: '/api/v1/releases/1.0.0/files/SHA256SUMS',
        files: '/api/v1/releases/1.0.0/files/',
      },
    });
    expect(r.progress).toBeUndefined();
    const conflict = await start('1.0.0').expect(409);
    expect(conflict.body).toMatchObject({
      type: 'https://readflow.dev/problems/release-exists',
      status: 409,
      version: '1.0.0',
      releaseStatus: 'published',
    });
    expect(conflict.body.detail).toContain('published');
    // The manifest's counts are the campaign's.
    const manifest = (
      await h
        .http()
        .get('/api/v1/releases/1.0.0/files/manifest.json')
        .set(h.bearer(rad))
        .buffer(true)
        .parse(binary)
        .expect(200)
    ).body as Buffer;
    const m = JSON.parse(manifest.toString('utf8')) as {
      splits: Record<string, { images: number }>;
      images: { image_id: string }[];
    };
    expect(m.splits.train.images).toBe(2);
    expect(m.splits.test.images).toBe(2);
    expect(m.images.map((i) => i.image_id).sort()).toEqual(scans.map((s) => s.imageId).sort());
  });

  it('downloads one file with the checksum SHA256SUMS gives it, and the whole release as a tar whose every entry verifies', async () => {
    const get = (url: string) => h.http().get(url).set(h.bearer(rad)).buffer(true).parse(binary).expect(200);
    const sums = parseSums(
      ((await get('/api/v1/releases/1.0.0/files/SHA256SUMS')).body as Buffer).toString('utf8'),
    );

    // The release's layout: every image under its split, the four CSVs, the README and the manifest.
    const layout = [
      ...scans.map((s) => `${s.split}/${s.imageId}.dicom`),
      ...CSVS,
      'README.md',
      'manifest.json',
    ].sort();
    expect([...sums.keys()].sort()).toEqual(layout);
    expect((await walk(path.join(h.config.releases.dir, '1.0.0'))).sort()).toEqual(
      [...layout, 'SHA256SUMS'].sort(),
    );

    for (const rel of ['annotations/annotations_test.csv', `test/${scans[2].imageId}.dicom`]) {
      const res = await get(`/api/v1/releases/1.0.0/files/${rel}`);
      const body = res.body as Buffer;
      expect(body.length).toBeGreaterThan(0);
      expect(sha256(body)).toBe(sums.get(rel));
      expect(res.headers['x-checksum-sha256']).toBe(sums.get(rel));
      expect(res.headers['repr-digest']).toBe(
        `sha-256=:${Buffer.from(sums.get(rel)!, 'hex').toString('base64')}:`,
      );
      expect(res.headers['content-length']).toBe(String(body.length));
    }
    expect(
      (await get(`/api/v1/releases/1.0.0/files/test/${scans[2].imageId}.dicom`)).headers['content-type'],
    ).toBe('application/dicom');
    await h.http().get('/api/v1/releases/1.0.0/files/..%2F..%2Fetc%2Fpasswd').set(h.bearer(rad)).expect(404);

    const tar = await get('/api/v1/releases/1.0.0/archive.tar');
    expect(tar.headers['content-type']).toContain('application/x-tar');
    const entries = new Map<string, string>();
    const ex = extract();
    Readable.from([tar.body as Buffer]).pipe(ex);
    for await (const entry of ex) {
      expect(entry.header.type).toBe('file');
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of entry) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      expect(size).toBe(entry.header.size);
      entries.set(entry.header.name, hash.digest('hex'));
    }
    expect([...entries.keys()].sort()).toEqual([...layout, 'SHA256SUMS'].map((f) => `1.0.0/${f}`).sort());
    for (const [file, digest] of sums) expect(entries.get(`1.0.0/${file}`)).toBe(digest);
    // The SHA256SUMS inside the tar is the one served alone.
    expect(entries.get('1.0.0/SHA256SUMS')).toBe(
      sha256((await get('/api/v1/releases/1.0.0/files/SHA256SUMS')).body as Buffer),
    );
  });
  it('`npm run release` (the built CLI) publishes the next version with its progress, and refuses a published one', async () => {
    const root = path.resolve(__dirname, '../..');
    await ensureBuilt();
    await h.app.listen(0, '127.0.0.1');
    const url = await h.app.getUrl();
    // Asynchronously: the CLI polls this process's API.
    const cli = (version: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(
          process.execPath,
          [
            path.join(root, 'dist/src/cli/release.js'),
            '--version',
            version,
            '--url',
            url,
            '--token',
            manager,
          ],
          {
            cwd: root,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const ok = await cli('1.1.0');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Release 1.1.0 started.');
    expect(ok.stdout).toMatch(/Published 1\.1\.0: 4 images, manifest sha256 [0-9a-f]{64}/);
    expect(ok.stdout).toContain(`${url}/api/v1/releases/1.1.0/archive.tar`);
    expect(await detail('1.1.0')).toMatchObject({
      status: 'published',
      imageCount: 4,
      previousVersion: '1.0.0',
    });
    const refused = await cli('1.1.0');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('409');
    expect(refused.stderr).toContain('Release 1.1.0 is published');
  });
  it('a version claimed but never started (the API stopped in between) reads back failed once the start is overdue', async () => {
    const claim = (version: string, minutesAgo: number) =>
      h.ds.query(
        `INSERT INTO releases (version, status, splits, workflow_id, requested_by, created_at, updated_at)
         VALUES ($1, 'running', '{train,test}', $2, $3, now() - make_interval(mins => $4), now() - make_interval(mins => $4))`,
        [version, `release-${version}`, `${h.prefix}-mgr`, minutesAgo],
      );
    await claim('7.0.0', 10);
    await claim('7.1.0', 0);
    expect(await detail('7.0.0')).toMatchObject({
      status: 'failed',
      failureReason: 'workflow-not-started',
      runId: null,
    });
    expect((await detail('7.0.0')).failureDetail).toContain('never started');
    // Being started right now: left running.
    expect(await detail('7.1.0')).toMatchObject({ status: 'running', failureReason: null });
    expect((await start('7.0.0').expect(202)).body).toMatchObject({
      status: 'running',
      runId: expect.any(String),
    });
    expect(await settled('7.0.0')).toMatchObject({
      status: 'published',
      previousVersion: '1.1.0',
      imageCount: 4,
    });
  });

  /** Holds the worker's image copies from snapshot position `from` on, until `open()`. */
  function holdCopies(from: number): NonNullable<typeof hold> {
    let open!: () => void;
    let copyDone!: () => void;
    const wait = new Promise<void>((r) => (open = r));
    const copiesDone = new Promise<void>((r) => (copyDone = r));
    hold = { from, wait, open, copiesDone, copyDone };
    return hold;
  }

  /** An operator's reset of a run to its last completed workflow task (as `temporal workflow reset --type LastWorkflowTask`). */
  async function resetToLastWorkflowTask(workflowId: string, runId: string, reason: string): Promise<string> {
    const history = await h.temporal.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const completed = (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    const last = completed[completed.length - 1];
    const res = await h.temporal.client.workflowService.resetWorkflowExecution({
      namespace: h.config.temporal.namespace,
      workflowExecution: { workflowId, runId },
      reason,
      workflowTaskFinishEventId: last.eventId,
      requestId: randomUUID(),
    });
    return res.runId!;
  }

  it('a release an operator reset mid-build is followed on its new run (status, run, progress) until it publishes', async () => {
    const held = holdCopies(1);
    const first = await start('8.0.0').expect(202);
    const halfway = await eventually(
      async () => {
        const r = await detail('8.0.0');
        return r.progress && r.progress.imagesDone >= 1 ? r : undefined;
      },
      120_000,
      'the first image copied',
    );
    expect(halfway).toMatchObject({ status: 'running', runId: first.body.runId });

    // The operator resets the run: Temporal terminates it and carries the attempt on in a new run.
    const reset = await resetToLastWorkflowTask(first.body.workflowId, first.body.runId, 'operator reset');
    expect(reset).not.toBe(first.body.runId);
    // (The new run answers its progress once a worker has run its first workflow task.)
    const followed = await eventually(async () => {
      const r = await detail('8.0.0');
      expect(r).toMatchObject({ status: 'running', failureReason: null });
      return r.progress ? r : undefined;
    }, 60_000, 'the new run to answer its progress');
    expect(followed).toMatchObject({
      status: 'running',
      runId: reset,
      failureReason: null,
      failureDetail: null,
      progress: { version: '8.0.0', phase: 'images', imagesDone: 1, problems: 0 },
    });
    const listed = (await h.http().get('/api/v1/releases').set(h.bearer(manager)).expect(200)).body.items as ReleaseView[];
    expect(listed.find((r) => r.version === '8.0.0')).toMatchObject({ status: 'running', runId: reset, failureReason: null });
    // The terminated run's progress is not what the API follows: the row names the new run.
    expect((await h.ds.query(`SELECT run_id FROM releases WHERE version = '8.0.0'`))[0].run_id).toBe(reset);

    held.open();
    const published = await settled('8.0.0');
    expect(published).toMatchObject({ status: 'published', runId: reset, imageCount: 4, failureReason: null, previousVersion: '7.0.0' });
    await held.copiesDone;
    hold = undefined;
  });

  it('a reset release whose new run is then terminated reads back failed, naming that run; its version starts again', async () => {
    const held = holdCopies(1);
    const first = await start('8.1.0').expect(202);
    await eventually(
      async () => {
        const r = await detail('8.1.0');
        return r.progress && r.progress.imagesDone >= 1 ? r : undefined;
      },
      120_000,
      'the first image copied',
    );
    // Reset, then terminated before anyone read the release in between: the row still names the first run.
    const reset = await resetToLastWorkflowTask(first.body.workflowId, first.body.runId, 'operator reset');
    await h.temporal.client.workflow.getHandle(first.body.workflowId, reset).terminate('stopped after the reset');
    expect((await h.ds.query(`SELECT run_id FROM releases WHERE version = '8.1.0'`))[0].run_id).toBe(first.body.runId);
    const failed = await detail('8.1.0');
    expect(failed).toMatchObject({ status: 'failed', failureReason: 'workflow-terminated', failures: null });
    expect(failed.failureDetail).toContain(`run ${reset}`);
    expect(failed.failureDetail).toContain('stopped after the reset');
    expect(failed.progress).toBeUndefined();
    // A new attempt claimed since, whose start never happened: the terminated run (closed before the claim) is not its.
    await h.ds.query(
      `UPDATE releases SET status = 'running', run_id = NULL, failure_reason = NULL, failure_detail = NULL, created_at = now(),
              updated_at = now() - interval '10 minutes'
        WHERE version = '8.1.0'`,
    );
    expect(await detail('8.1.0')).toMatchObject({ status: 'failed', failureReason: 'workflow-not-started', runId: null });
    held.open();
    await held.copiesDone;
    hold = undefined;
    const again = await start('8.1.0').expect(202);
    expect(again.body.runId).not.toBe(reset);
    expect(await settled('8.1.0')).toMatchObject({ status: 'published', runId: again.body.runId, imageCount: 4 });
  });

  it('a release whose workflow completed while its row still says running reads back as the workflow ended (published)', async () => {
    const published = await detail('8.1.0');
    expect(published.status).toBe('published');
    // (Its row is published by the workflow's last activity, just before the run completes.)
    await h.temporal.client.workflow.getHandle(published.workflowId, published.runId!).result();
    expect((await h.temporal.client.workflow.getHandle(published.workflowId).describe()).status.name).toBe('COMPLETED');
    // The row lost the publication (restored from a backup taken mid-release, a write that never landed).
    const lose = (runId: string | null, minutesAgo: number) =>
      h.ds.query(
        `UPDATE releases SET status = 'running', image_count = NULL, manifest_sha256 = NULL, published_at = NULL, run_id = $1::text,
                updated_at = now() - make_interval(mins => $2)
          WHERE version = '8.1.0'`,
        [runId, minutesAgo],
      );
    await lose(published.runId, 0);
    const restored = await detail('8.1.0');
    expect(restored).toEqual({ ...published, updatedAt: restored.updatedAt, publishedAt: restored.publishedAt });
    expect(restored.links).toBeDefined();
    expect(restored.progress).toBeUndefined();

    // Its run never recorded (the API stopped between starting the workflow and writing its run id; or a row from
    // before run ids were recorded), past the start's grace: the completed run of this attempt is still its outcome.
    await lose(null, 10);
    const adopted = await detail('8.1.0');
    expect(adopted).toMatchObject({ status: 'published', runId: published.runId, imageCount: 4, manifestSha256: published.manifestSha256, failureReason: null });
    const conflict = await start('8.1.0').expect(409);
    expect(conflict.body).toMatchObject({ releaseStatus: 'published' });
  });
  /**
   * A scan labelled with another label set (read under a pediatric taxonomy, after VinDr-PCXR): VinDr-CXR's files have
   * no column for its labels. `relabel` rewrites one reader's reading (train) or the final labels (test); the returned
   * function puts the seeded labels back.
   */
  async function relabel(s: ReleasedScan, labels: { boxes?: string[]; globalLabels: string[] }): Promise<() => Promise<void>> {
    const boxes = (labels.boxes ?? []).map((label, i) => ({ label, x_min: 300 + i, y_min: 500, x_max: 700, y_max: 800 }));
    if (s.split === 'train') {
      const [before]: { boxes: unknown; global_labels: unknown }[] = await h.ds.query(
        `SELECT boxes, global_labels FROM readings WHERE scan_id = $1 AND reader_id = $2 AND role = 'reader'`,
        [s.scanId, READERS[0]],
      );
      const set = (b: unknown, g: unknown) =>
        h.ds.query(`UPDATE readings SET boxes = $3, global_labels = $4 WHERE scan_id = $1 AND reader_id = $2 AND role = 'reader'`, [
          s.scanId,
          READERS[0],
          JSON.stringify(b),
          JSON.stringify(g),
        ]);
      await set(boxes, labels.globalLabels);
      return async () => void (await set(before.boxes, before.global_labels));
    }
    const [before]: { final_boxes: unknown; final_global_labels: unknown }[] = await h.ds.query(
      `SELECT final_boxes, final_global_labels FROM scan_results WHERE scan_id = $1`,
      [s.scanId],
    );
    const set = (b: unknown, g: unknown) =>
      h.ds.query(`UPDATE scan_results SET final_boxes = $2, final_global_labels = $3 WHERE scan_id = $1`, [s.scanId, JSON.stringify(b), JSON.stringify(g)]);
    await set(boxes, labels.globalLabels);
    return async () => void (await set(before.final_boxes, before.final_global_labels));
  }

  const exists = (p: string): Promise<boolean> =>
    fsp.stat(p).then(
      () => true,
      () => false,
    );

  it('a release over scans labelled with another label set is refused up front: a 409 naming them; nothing is claimed; fixed, it publishes', async () => {
    // Before: the release started and published image_labels_*.csv without these labels (and the box label as-is in
    // annotations_train.csv).
    const train = await seed('train');
    const test = await seed('test');
    const restoreTrain = await relabel(train, { boxes: ['Boot-shaped heart'], globalLabels: ['Broncho-pneumonia'] });
    const restoreTest = await relabel(test, { boxes: ['Reticulonodular opacity'], globalLabels: ['Bronchiolitis'] });

    const refused = await start('9.0.0').expect(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({
      type: 'https://readflow.dev/problems/labels-outside-taxonomy',
      status: 409,
      version: '9.0.0',
      taxonomy: VINDR_CXR_TAXONOMY.version,
      scanCount: 2,
    });
    expect(refused.body.scans).toEqual(
      expect.arrayContaining([
        { scanId: train.scanId, split: 'train', labels: ['Boot-shaped heart', 'Broncho-pneumonia'] },
        { scanId: test.scanId, split: 'test', labels: ['Bronchiolitis', 'Reticulonodular opacity'] },
      ]),
    );
    expect(refused.body.scans).toHaveLength(2);
    for (const text of [train.scanId, test.scanId, 'Boot-shaped heart', 'Bronchiolitis', VINDR_CXR_TAXONOMY.version]) {
      expect(refused.body.detail).toContain(text);
    }
    // Nothing was claimed or started: no row, no workflow, nothing on disk.
    await h.http().get('/api/v1/releases/9.0.0').set(h.bearer(manager)).expect(404);
    expect(await h.ds.query(`SELECT 1 FROM releases WHERE version = '9.0.0'`)).toEqual([]);
    expect(await exists(stagingDir(h.config.releases.dir, '9.0.0'))).toBe(false);

    // Only the test split asked for: only its scan is named.
    const testOnly = await h.http().post('/api/v1/releases').set(h.bearer(manager)).send({ version: '9.0.0', splits: ['test'] }).expect(409);
    expect(testOnly.body).toMatchObject({ scanCount: 1, scans: [{ scanId: test.scanId, split: 'test' }] });

    // The data fixed, the same version starts and publishes.
    await restoreTrain();
    await restoreTest();
    await start('9.0.0').expect(202);
    expect(await settled('9.0.0')).toMatchObject({ status: 'published', imageCount: scans.length, failureReason: null });
  });

  it('labels outside the taxonomy that land after the start: the gate refuses, nothing is published, it says which; fixed, the version starts again', async () => {
    const held = holdCopies(1);
    const first = await start('9.1.0').expect(202);
    await eventually(
      async () => {
        const r = await detail('9.1.0');
        return r.progress && r.progress.imagesDone >= 1 ? r : undefined;
      },
      120_000,
      'the first image copied',
    );
    // A reading rewritten under another label set while the images are copied (after the start's check).
    const victim = scans[0];
    const restore = await relabel(victim, { boxes: ['Boot-shaped heart'], globalLabels: ['Broncho-pneumonia'] });
    held.open();
    const failed = await settled('9.1.0');
    expect(failed).toMatchObject({
      status: 'failed',
      failureReason: 'gate',
      failures: {
        problemCount: 1,
        problems: [{ code: 'labels-outside-taxonomy', imageId: victim.imageId, detail: expect.stringContaining('Boot-shaped heart') }],
      },
    });
    const problem = failed.failures!.problems[0];
    for (const text of [victim.scanId, 'Broncho-pneumonia', VINDR_CXR_TAXONOMY.version]) expect(problem.detail).toContain(text);
    expect(failed.failureDetail).toContain('labels-outside-taxonomy');
    expect(failed.failureDetail).toContain('nothing was published');
    // Nothing of it was published, nothing is left staged.
    expect(await exists(path.join(h.config.releases.dir, '9.1.0'))).toBe(false);
    expect(await exists(stagingDir(h.config.releases.dir, '9.1.0'))).toBe(false);
    await h.http().get('/api/v1/releases/9.1.0/files/SHA256SUMS').set(h.bearer(manager)).expect(404);
    await held.copiesDone;
    hold = undefined;
    await recordHistory(h.temporal.client.workflow.getHandle(first.body.workflowId, first.body.runId), 'release-dataset-labels-outside-taxonomy');

    await restore();
    const again = await start('9.1.0').expect(202);
    expect(again.body.runId).not.toBe(first.body.runId);
    expect(await settled('9.1.0')).toMatchObject({ status: 'published', imageCount: scans.length, previousVersion: '9.0.0', failureReason: null, failures: null });
  });
});
