import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { Page } from 'playwright-core';
import request from 'supertest';

import { findWebRoot } from '../../src/web/serve';
import type { ApiHarness } from '../support/api-harness';
import { eventually, freshCxr } from '../support/api-harness';
import { artifact, fitted, freshJ2k } from '../support/browser';
import type { BrowserRig, ScanTask } from '../support/browser-rig';
import { startBrowserRig } from '../support/browser-rig';

/** Browser-side expressions (the test is compiled without the DOM lib). */
const TOKEN_IN_SESSION = "sessionStorage.getItem('readflow.token')";
const SHOTS = (name: string): string => artifact(`web-${name}`);

/**
 * ReadFlow's web page driven like a person would, in headless Chromium, against the real app (real worker, Temporal dev
 * server, Postgres): a radiologist draws, labels and submits; a 422 lands at the box; a reassigned task says it is no
 * longer yours; a manager extends and reassigns overdue work, filters scans and sees the quarantine; consensus
 * reviewers start from the fused proposal and confirm it.
 */
describe('web page (headless Chromium)', () => {
  let rig: BrowserRig;
  let h: ApiHarness;
  let base: string;
  let manager: string;
  let trainScan: string;
  let consensusScan: string;
  let junkScan: string;
  let j2kScan: string;
  const junkName = `junk-${randomBytes(4).toString('hex')}.dcm`;
  /** Reader B of the training scan, mid-reading in a tab, when the manager reassigns the task. */
  let readerB: { task: ScanTask; page: Page };

  /** Drags on the film between two points given as fractions of the image; returns the image pixels expected. */
  async function drag(
    page: Page,
    from: [number, number],
    to: [number, number],
    size: { columns: number; rows: number },
  ) {
    const box = await page.locator('.viewport').boundingBox();
    if (!box) throw new Error('no viewport');
    const at = fitted(box, size.columns, size.rows);
    const [ax, ay] = at.toScreen(from[0] * size.columns, from[1] * size.rows);
    const [bx, by] = at.toScreen(to[0] * size.columns, to[1] * size.rows);
    await page.mouse.move(ax, ay);
    await page.mouse.down();
    await page.mouse.move((ax + bx) / 2, (ay + by) / 2, { steps: 4 });
    await page.mouse.move(bx, by, { steps: 4 });
    await page.mouse.up();
    return {
      x_min: from[0] * size.columns,
      y_min: from[1] * size.rows,
      x_max: to[0] * size.columns,
      y_max: to[1] * size.rows,
    };
  }

  beforeAll(async () => {
    rig = await startBrowserRig({
      harness: { env: { READFLOW_TASK_DEADLINE: '2h', READFLOW_REVIEW_DEADLINE: '2h' } },
      viewport: { width: 1440, height: 960 },
      pageTimeoutMs: 15_000,
      expectedStatuses: [401, 404, 409, 415, 422],
    });
    ({ h, base, manager } = rig);
    [trainScan, consensusScan, junkScan, j2kScan] = await Promise.all([
      rig.upload(freshCxr(), 'train', 'independent-3', 'cxr-train.dcm'),
      rig.upload(freshCxr(), 'test', 'consensus-5', 'cxr-test.dcm'),
      rig.upload(
        Buffer.concat([Buffer.from('not a DICOM file '), randomBytes(64)]),
        'train',
        'independent-3',
        junkName,
      ),
      rig.upload(freshJ2k(), 'train', 'independent-3', 'cxr-j2k.dcm'),
    ]);
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('serves the page at / and its assets under /app/ with a CSP that allows its scripts, WebAssembly codecs, own-origin workers and blob: images; the API keeps its routes', async () => {
    const index = await request(h.server).get('/').expect(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    const bundle = /<script type="module" crossorigin src="(\/app\/assets\/[^"]+\.js)"><\/script>/.exec(index.text);
    expect(bundle).not.toBeNull();
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain("worker-src 'self'");
    expect(csp).toMatch(/img-src 'self' blob: data:/);
    expect(index.headers['cache-control']).toBe('no-cache');
    const js = await request(h.server).get(bundle![1]).expect(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    // Bundles carry a content hash in their name: cached for good, a new build has new names.
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const missing = await request(h.server).get('/app/nope.js').expect(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(h.server).get('/app/%2e%2e/package.json').expect(404);
    await request(h.server).get('/healthz').expect(200);
    await request(h.server).get('/api/v1/nope').set(h.bearer(manager)).expect(404);
    await request(h.server).get('/docs').redirects(1).expect(200);
    // The bundle is found from the sources and from the build alike (dist/src/web → the package root → dist/web).
    const root = findWebRoot(path.resolve(__dirname, '../../src/web'));
    expect(root).toBe(path.resolve(__dirname, '../../dist/web'));
    expect(findWebRoot(path.resolve(__dirname, '../../dist/src/web'))).toBe(root);
    expect(findWebRoot(tmpdir())).toBeUndefined();
  });

  it('GET /api/v1/me tells who the token belongs to (the page picks its views from the role)', async () => {
    const me = await h.http().get('/api/v1/me').set(h.bearer(manager)).expect(200);
    expect(me.body).toEqual({
      id: `${h.prefix}-mgr`,
      displayName: `Test ${h.prefix}-mgr`,
      role: 'manager',
      senior: false,
    });
    const senior = await h
      .http()
      .get('/api/v1/me')
      .set(h.bearer(await h.tokenFor('rad01')))
      .expect(200);
    expect(senior.body).toMatchObject({ id: 'rad01', role: 'radiologist', senior: true });
    const anon = await h.http().get('/api/v1/me').expect(401);
    expect(anon.body.type).toBe('https://readflow.dev/problems/unauthorized');
    const doc = await h.http().get('/api/v1/openapi.json').expect(200);
    expect(doc.body.paths['/api/v1/me']?.get).toBeDefined();
  });

  it('a radiologist signs in, opens the task from the inbox, draws and labels a box, sees a 422 at the box, then submits', async () => {
    const [a, b] = await rig.untilOpen(trainScan, 'reader', 3);
    const page = await rig.newPage();
    await rig.signIn(page, await h.tokenFor(a.readerId));
    expect(await page.evaluate(TOKEN_IN_SESSION)).toMatch(/^rf_/);
    await expect(page.locator('#who-name').textContent()).resolves.toContain('radiologist');

    // The inbox: the task, with its due date; manager screens are not offered.
    const row = page.locator(`tr[data-task-id="${a.taskId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toMatch(/Reading.*Due in 1 h 5\d min|Reading.*Due in 2 h/);
    expect(await page.locator('#nav a').allTextContents()).toEqual(['Inbox']);
    await page.screenshot({ path: SHOTS('inbox') });

    // The task: the DICOM decoded in the viewer at full size, the taxonomy, drawing in image pixels.
    await row.getByRole('link').click();
    await page.waitForSelector('.viewport[data-ready="true"]');
    expect(await page.locator('#image-status').textContent()).toContain('1024 × 1024 px');
    expect(await page.locator('#box-0-label').count()).toBe(0);
    const drawn = await drag(page, [0.3, 0.4], [0.62, 0.71], { columns: 1024, rows: 1024 });
    await page.locator('#box-0-label').waitFor();
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('box-0-label');
    expect(await page.locator('#box-0-label option').count()).toBe(23); // "Choose a label…" + 22 box labels
    for (const key of ['x_min', 'y_min', 'x_max', 'y_max'] as const) {
      expect(
        Math.abs(Number(await page.locator(`#box-0-${key}`).inputValue()) - drawn[key]),
      ).toBeLessThanOrEqual(2);
    }
    // A second box, deleted again.
    await drag(page, [0.1, 0.1], [0.2, 0.2], { columns: 1024, rows: 1024 });
    await page.getByRole('button', { name: 'Delete box 2' }).click();
    expect(await page.locator('.box-row').count()).toBe(1);

    // Submit with no label chosen: the workflow's 422 is shown at the box.
    await page.getByRole('button', { name: 'Submit reading' }).click();
    await page.locator('#err-boxes-0 .problem').waitFor();
    expect(await page.locator('#err-boxes-0').textContent()).toBe('Label: choose one of the box labels.');
    expect(await page.locator('#box-0-label').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.box-row[data-index="0"]').getAttribute('class')).toContain('invalid');
    expect(await page.locator('#form-error').textContent()).toContain('1 problem');
    await page.screenshot({ path: SHOTS('task-422') });

    // Global labels: "No finding" is exclusive.
    await page.getByLabel('No finding', { exact: true }).check();
    await page.getByLabel('Pneumonia', { exact: true }).check();
    expect(await page.getByLabel('No finding', { exact: true }).isChecked()).toBe(false);
    await page.locator('#box-0-label').selectOption('Cardiomegaly');
    await page.getByLabel('Comment').fill('drawn in the browser');
    await page.getByRole('button', { name: 'Submit reading' }).click();
    // Accepted: the next open task opens (saying so), or, with none left, the page says it and locks.
    const accepted = page.locator('#flash, #result.ok').first();
    await accepted.waitFor();
    expect(await accepted.textContent()).toContain('Submission accepted');
    if ((await page.locator('#result.ok').count()) > 0) expect(await page.locator('#box-0-label').isDisabled()).toBe(true);
    else expect(page.url()).not.toContain(a.taskId);
    await page.screenshot({ path: SHOTS('task-accepted') });

    // What the API recorded: the box in image pixels.
    const detail = await h
      .http()
      .get(`/api/v1/tasks/${a.taskId}`)
      .set(h.bearer(await h.tokenFor(a.readerId)))
      .expect(200);
    expect(detail.body.task.status).toBe('submitted');
    expect(detail.body.submission).toMatchObject({
      globalLabels: ['Pneumonia'],
      comment: 'drawn in the browser',
    });
    const box = detail.body.submission.boxes[0];
    expect(box.label).toBe('Cardiomegaly');
    for (const key of ['x_min', 'y_min', 'x_max', 'y_max'] as const)
      expect(Math.abs(box[key] - drawn[key])).toBeLessThanOrEqual(2);

    // The submitted tab lists it; sign-out clears the token.
    await page.goto(`${base}/#/inbox?status=submitted`);
    await page.locator(`tr[data-task-id="${a.taskId}"]`).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate(TOKEN_IN_SESSION)).toBeNull();
    await page.close();

    // Reader B starts on their task; it will be reassigned under them (next test).
    readerB = { task: b, page: await rig.newPage() };
    await rig.signIn(readerB.page, await h.tokenFor(b.readerId));
    await readerB.page.goto(`${base}/#/tasks/${b.taskId}`);
    await readerB.page.waitForSelector('.viewport[data-ready="true"]');
    await drag(readerB.page, [0.2, 0.2], [0.4, 0.5], { columns: 1024, rows: 1024 });
    await readerB.page.locator('#box-0-label').selectOption('Nodule/Mass');
  });

  it('a manager sees the overdue list, extends one task and reassigns another (whose reader then gets "no longer yours")', async () => {
    const tasks = await rig.untilOpen(trainScan, 'reader', 2);
    const [b, c] = [
      tasks.find((t) => t.taskId === readerB.task.taskId)!,
      tasks.find((t) => t.taskId !== readerB.task.taskId)!,
    ];
    // Make both overdue in the inbox projection (the workflows' own timers are 2 h away).
    await h.ds.query(`UPDATE tasks SET due_at = now() - interval '90 minutes' WHERE id = ANY($1::uuid[])`, [
      [b.taskId, c.taskId],
    ]);

    const page = await rig.newPage();
    await rig.signIn(page, manager);
    await page.waitForURL(/#\/manage\/overdue$/);
    expect(await page.locator('#nav a').allTextContents()).toEqual(['Inbox', 'Manage']);
    const rowC = page.locator(`tr[data-task-id="${c.taskId}"]`);
    const rowB = page.locator(`tr[data-task-id="${b.taskId}"]`);
    await rowC.waitFor();
    expect(await rowC.textContent()).toMatch(/Overdue by 1 h 30 min/);
    expect(await rowB.textContent()).toContain(b.readerId);
    await page.screenshot({ path: SHOTS('manager-overdue') });

    // Extend C by a day (the default of the form).
    await rowC.getByRole('button', { name: /^Extend/ }).click();
    await page.getByLabel(/New deadline of task/).waitFor();
    await page.getByRole('button', { name: 'Extend', exact: true }).click();
    await page.locator('.notice.ok').waitFor();
    expect(await page.locator('.notice').textContent()).toContain(`Task ${c.taskId.slice(0, 8)} is now due`);
    expect(await rowC.count()).toBe(0);
    const afterExtend = (await rig.scan(trainScan)).tasks.find((t) => t.taskId === c.taskId)!;
    expect(Date.parse(afterExtend.dueAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);

    // Reassign B to the next eligible reader.
    await rowB.getByRole('button', { name: /^Reassign/ }).click();
    await page.getByLabel(/Reassign task .* to/).waitFor();
    await page.getByRole('button', { name: 'Reassign', exact: true }).click();
    await page.locator('.notice.ok').filter({ hasText: 'reassigned to' }).waitFor();
    expect(await rowB.count()).toBe(0);
    const afterReassign = await rig.scan(trainScan);
    expect(afterReassign.tasks.find((t) => t.taskId === b.taskId)?.status).toBe('reassigned');

    // Reader B, still on the page, submits: 409 shown as "no longer yours".
    await readerB.page.getByRole('button', { name: 'Submit reading' }).click();
    await readerB.page.locator('#form-error').filter({ hasText: 'This task is no longer yours:' }).waitFor();
    expect(await readerB.page.locator('#box-0-label').isDisabled()).toBe(true);
    await readerB.page.screenshot({ path: SHOTS('task-409') });
    await readerB.page.close();

    // Scans: filtered by stage, with the Temporal UI link the API gives.
    await page.getByRole('link', { name: 'Scans' }).click();
    await page.getByLabel('Stage').selectOption('reading');
    await page.waitForURL(/#\/manage\/scans\?stage=reading$/);
    const scanRow = page.locator(`tr[data-scan-id="${trainScan}"]`);
    await scanRow.waitFor();
    expect(await scanRow.getByRole('link', { name: /Temporal UI/ }).getAttribute('href')).toContain(
      `/namespaces/readflow/workflows/${trainScan}`,
    );
    expect(await page.locator('tbody .badge-stage').allTextContents()).toEqual(
      expect.arrayContaining(['reading']),
    );
    expect(new Set(await page.locator('tbody .badge-stage').allTextContents())).toEqual(new Set(['reading']));
    // The page's stage filter offers exactly the API's stages.
    const spec = await h.http().get('/api/v1/openapi.json').expect(200);
    const stageParam = (
      spec.body.paths['/api/v1/scans'].get.parameters as { name: string; schema: { enum: string[] } }[]
    ).find((p) => p.name === 'stage');
    expect(await page.locator('#scan-stage option:not([value=""])').allTextContents()).toEqual(
      stageParam?.schema.enum,
    );
    await page.screenshot({ path: SHOTS('manager-scans') });

    // Quarantine: the junk upload with its reason.
    await eventually(
      async () => ((await rig.scan(junkScan)).stage === 'quarantined' ? true : undefined),
      30_000,
      'quarantine',
    );
    await page.getByRole('link', { name: 'Quarantine' }).click();
    // Rows are named by scan id and content hash: uploaded file names never leave the restricted store (issue 11).
    const junk = page.locator('tbody tr', { hasText: junkScan });
    await junk.waitFor();
    expect(await junk.textContent()).not.toContain(junkName);
    await page.screenshot({ path: SHOTS('manager-quarantine') });
    await page.close();
  });

  it('consensus: the first reviewer sees the readings in colour, starts from the fused proposal and submits; the second confirms', async () => {
    const readers = await rig.untilOpen(consensusScan, 'reader', 3);
    for (const r of readers) {
      const boxes = [
        { label: 'Cardiomegaly', x_min: 300 + r.slot * 8, y_min: 500, x_max: 700 - r.slot * 4, y_max: 800 },
      ];
      await h
        .http()
        .post(`/api/v1/tasks/${r.taskId}/submission`)
        .set(h.bearer(await h.tokenFor(r.readerId)))
        .send({ boxes, globalLabels: ['Pneumonia'] })
        .expect(200);
    }
    const [first] = await rig.untilOpen(consensusScan, 'reviewer', 1);
    const page = await rig.newPage();
    await rig.signIn(page, await h.tokenFor(first.readerId));
    await page.locator(`tr[data-task-id="${first.taskId}"]`).getByRole('link').click();
    await page.waitForSelector('.viewport[data-ready="true"]');
    expect(await page.locator('.legend .check').count()).toBe(4); // 3 readings + the fused proposal
    await eventually(
      async () => ((await page.locator('.viewport svg [data-id$="-rect"]').count()) === 4 ? true : undefined),
      10_000,
      'the 4 layers drawn on the film',
    );
    await page.getByRole('button', { name: 'Start from the fused proposal' }).click();
    expect(await page.locator('#box-0-label').inputValue()).toBe('Cardiomegaly');
    expect(await page.getByLabel('Pneumonia', { exact: true }).isChecked()).toBe(true);
    await page.screenshot({ path: SHOTS('review') });
    await page.getByRole('button', { name: 'Submit the reviewed labels' }).click();
    await page.locator('#flash, #result.ok').first().waitFor();
    await page.close();

    const second = await eventually(
      async () =>
        (await rig.scan(consensusScan)).tasks.find(
          (t) => t.role === 'reviewer' && t.status === 'open' && t.taskId !== first.taskId,
        ),
      30_000,
      'the second reviewer',
    );
    const confirmer = await rig.newPage();
    await rig.signIn(confirmer, await h.tokenFor(second.readerId));
    await confirmer.goto(`${base}/#/tasks/${second.taskId}`);
    await confirmer
      .getByText(/^Proposal of /)
      .first()
      .waitFor();
    // Returning needs a reason (said at the field before anything is sent).
    await confirmer.getByRole('button', { name: 'Return with reason' }).click();
    expect(await confirmer.locator('#err-reason').textContent()).toContain('Say why');
    await confirmer.getByRole('button', { name: 'Confirm as final' }).click();
    await confirmer.locator('#flash, #result.ok').filter({ hasText: 'Confirmation accepted' }).first().waitFor();
    await confirmer.close();
    await eventually(
      async () => ((await rig.scan(consensusScan)).stage === 'released' ? true : undefined),
      30_000,
      'release',
    );
  });

  it('a compressed (JPEG 2000) film opens in the viewer, decoded in the browser; N adds a box from the keyboard', async () => {
    const [t] = await rig.untilOpen(j2kScan, 'reader', 3);
    const page = await rig.newPage();
    await rig.signIn(page, await h.tokenFor(t.readerId));
    await page.goto(`${base}/#/tasks/${t.taskId}`);
    await page.waitForSelector('.viewport[data-ready="true"], .image-status.error', { timeout: 60_000 });
    expect(await page.locator('.image-status.error').count()).toBe(0);
    expect(await page.locator('#image-status').textContent()).toContain('1841 × 1955 px, MONOCHROME1');
    // Boxes can be placed from the keyboard: N puts one in the middle and opens its label picker.
    await page.locator('.viewport').focus();
    await page.keyboard.press('n');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('box-0-label');
    expect(await page.locator('#box-0-x_max').inputValue()).toBe(String(Math.round(1841 * 0.6)));
    await page.screenshot({ path: SHOTS('task-j2k') });
    await page.close();
    await h.http().post(`/api/v1/scans/${j2kScan}/cancel`).set(h.bearer(manager)).send({}).expect(200);
  });

  it('the browser reported no page errors and no CSP violations', () => {
    expect(rig.errors).toEqual([]);
  });
});
