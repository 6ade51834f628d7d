import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import request from 'supertest';

import { findWebRoot } from '../../src/web/serve';
import type { ApiHarness } from '../support/api-harness';
import { ensureDefaultRoster, eventually, freshCxr, startApiHarness } from '../support/api-harness';

/** Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it). Never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The JPEG 2000 sample with a fresh SOP Instance UID of the same length (a scan of its own in the run's shared database). */
function freshJ2k(): Buffer {
  const text = readFileSync(path.resolve(__dirname, '../fixtures/dicom/cxr/RG1_J2KI.dcm')).toString('latin1');
  const uid = '1.3.6.1.4.1.5962.1.1.9.1.3.20040826185059.5457';
  if (!text.includes(uid)) throw new Error('the J2K sample changed: no SOP Instance UID to vary');
  const digits = Array.from(randomBytes(18), (b) => String(b % 10)).join('');
  const fresh = `${uid.slice(0, uid.length - 19)}9${digits.slice(0, 13)}.${digits.slice(13, 17)}`;
  return Buffer.from(text.split(uid).join(fresh), 'latin1');
}

/** Browser-side expressions (the test is compiled without the DOM lib). */
const TOKEN_IN_SESSION = "sessionStorage.getItem('readflow.token')";
const SHOTS = (name: string): string => path.join(tmpdir(), `readflow-web-${name}.png`);

interface ScanTask {
  taskId: string;
  readerId: string;
  role: string;
  slot: number;
  status: string;
  dueAt: string;
}

/**
 * ReadFlow's web page driven like a person would, in headless Chromium, against the real app (real worker, Temporal dev
 * server, Postgres): a radiologist draws, labels and submits; a 422 lands at the box; a reassigned task says it is no
 * longer yours; a manager extends and reassigns overdue work, filters scans and sees the quarantine; consensus
 * reviewers start from the fused proposal and confirm it.
 */
describe('web page (headless Chromium)', () => {
  let h: ApiHarness;
  let base: string;
  let manager: string;
  let context: BrowserContext;
  let userDataDir: string;
  /** Page errors and console errors (a CSP violation shows up here). */
  const browserErrors: string[] = [];
  let trainScan: string;
  let consensusScan: string;
  let junkScan: string;
  let j2kScan: string;
  const junkName = `junk-${randomBytes(4).toString('hex')}.dcm`;
  /** Reader B of the training scan, mid-reading in a tab, when the manager reassigns the task. */
  let readerB: { task: ScanTask; page: Page };

  const upload = async (bytes: Buffer, split: string, policy: string, name: string): Promise<string> => {
    const res = await h
      .http()
      .post('/api/v1/scans')
      .set(h.bearer(manager))
      .field('split', split)
      .field('policy', policy)
      .attach('file', bytes, name);
    expect([200, 202]).toContain(res.status);
    return res.body.scanId as string;
  };
  const scan = async (scanId: string): Promise<{ stage: string; tasks: ScanTask[] }> =>
    (await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager)).expect(200)).body;
  const untilOpen = (scanId: string, role: string, n: number): Promise<ScanTask[]> =>
    eventually(
      async () => {
        const open = (await scan(scanId)).tasks.filter((t) => t.status === 'open' && t.role === role);
        return open.length === n ? open.sort((a, b) => a.slot - b.slot) : undefined;
      },
      30_000,
      `${n} open ${role} tasks of ${scanId}`,
    );

  async function newPage(): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => browserErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of (401|404|409|415|422)/.test(m.text()))
        browserErrors.push(`console: ${m.text()}`);
    });
    return page;
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${base}/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('#who:not([hidden])');
  }

  /** Drags on the image between two points given as fractions of its displayed size; returns the image pixels expected. */
  async function drag(
    page: Page,
    from: [number, number],
    to: [number, number],
    size: { columns: number; rows: number },
  ) {
    const r = await page.locator('.stage .overlay').boundingBox();
    if (!r) throw new Error('no overlay');
    await page.mouse.move(r.x + from[0] * r.width, r.y + from[1] * r.height);
    await page.mouse.down();
    await page.mouse.move(r.x + ((from[0] + to[0]) / 2) * r.width, r.y + ((from[1] + to[1]) / 2) * r.height, {
      steps: 4,
    });
    await page.mouse.move(r.x + to[0] * r.width, r.y + to[1] * r.height, { steps: 4 });
    await page.mouse.up();
    return {
      x_min: from[0] * size.columns,
      y_min: from[1] * size.rows,
      x_max: to[0] * size.columns,
      y_max: to[1] * size.rows,
    };
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: the web test drives Debian's Chromium headless. Install it with \`apt-get install -y chromium\` (.ci/run does).`,
      );
    }
    h = await startApiHarness({
      worker: true,
      env: { READFLOW_TASK_DEADLINE: '2h', READFLOW_REVIEW_DEADLINE: '2h' },
    });
    await ensureDefaultRoster(h.ds);
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    await h.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
    // Scans first (the workflows run while the browser starts).
    [trainScan, consensusScan, junkScan, j2kScan] = await Promise.all([
      upload(freshCxr(), 'train', 'independent-3', 'cxr-train.dcm'),
      upload(freshCxr(), 'test', 'consensus-5', 'cxr-test.dcm'),
      upload(
        Buffer.concat([Buffer.from('not a DICOM file '), randomBytes(64)]),
        'train',
        'independent-3',
        junkName,
      ),
      upload(freshJ2k(), 'train', 'independent-3', 'cxr-j2k.dcm'),
    ]);
    userDataDir = mkdtempSync(path.join(tmpdir(), 'readflow-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 960 },
    });
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await h?.close();
  });

  it('serves the page at / and its assets under /app/ with a CSP that allows its scripts and blob: images; the API keeps its routes', async () => {
    const index = await request(h.server).get('/').expect(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.text).toContain('<script type="module" src="/app/app.js"></script>');
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toMatch(/img-src 'self' blob: data:/);
    const js = await request(h.server).get('/app/task.js').expect(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('no-cache');
    const missing = await request(h.server).get('/app/nope.js').expect(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(h.server).get('/app/%2e%2e/package.json').expect(404);
    await request(h.server).get('/healthz').expect(200);
    await request(h.server).get('/api/v1/nope').set(h.bearer(manager)).expect(404);
    await request(h.server).get('/docs').redirects(1).expect(200);
    // The folder is found from the sources and from the build alike (dist/src/web → the package root).
    const root = findWebRoot(path.resolve(__dirname, '../../src/web'));
    expect(root).toBe(path.resolve(__dirname, '../../src/web/public'));
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
    const [a, b] = await untilOpen(trainScan, 'reader', 3);
    const page = await newPage();
    await signIn(page, await h.tokenFor(a.readerId));
    expect(await page.evaluate(TOKEN_IN_SESSION)).toMatch(/^rf_/);
    await expect(page.locator('#who-name').textContent()).resolves.toContain('radiologist');

    // The inbox: the task, with its due date; manager screens are not offered.
    const row = page.locator(`tr[data-task-id="${a.taskId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toMatch(/Reading.*Due in 1 h 5\d min|Reading.*Due in 2 h/);
    expect(await page.locator('#nav a').allTextContents()).toEqual(['Inbox']);
    await page.screenshot({ path: SHOTS('inbox') });

    // The task: the PNG preview through an object URL, the taxonomy, drawing in image pixels.
    await row.getByRole('link').click();
    await page.waitForSelector('.stage[data-ready="true"]');
    expect(await page.locator('img.film').getAttribute('src')).toMatch(/^blob:/);
    expect(
      await page.evaluate(
        "(() => { const img = document.querySelector('img.film'); return [img.naturalWidth, img.naturalHeight]; })()",
      ),
    ).toEqual([1024, 1024]);
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
    await page.locator('#result.ok').waitFor();
    expect(await page.locator('#result').textContent()).toContain('Submission accepted');
    expect(await page.locator('#box-0-label').isDisabled()).toBe(true);
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
    readerB = { task: b, page: await newPage() };
    await signIn(readerB.page, await h.tokenFor(b.readerId));
    await readerB.page.goto(`${base}/#/tasks/${b.taskId}`);
    await readerB.page.waitForSelector('.stage[data-ready="true"]');
    await drag(readerB.page, [0.2, 0.2], [0.4, 0.5], { columns: 1024, rows: 1024 });
    await readerB.page.locator('#box-0-label').selectOption('Nodule/Mass');
  });

  it('a manager sees the overdue list, extends one task and reassigns another (whose reader then gets "no longer yours")', async () => {
    const tasks = await untilOpen(trainScan, 'reader', 2);
    const [b, c] = [
      tasks.find((t) => t.taskId === readerB.task.taskId)!,
      tasks.find((t) => t.taskId !== readerB.task.taskId)!,
    ];
    // Make both overdue in the inbox projection (the workflows' own timers are 2 h away).
    await h.ds.query(`UPDATE tasks SET due_at = now() - interval '90 minutes' WHERE id = ANY($1::uuid[])`, [
      [b.taskId, c.taskId],
    ]);

    const page = await newPage();
    await signIn(page, manager);
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
    const afterExtend = (await scan(trainScan)).tasks.find((t) => t.taskId === c.taskId)!;
    expect(Date.parse(afterExtend.dueAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);

    // Reassign B to the next eligible reader.
    await rowB.getByRole('button', { name: /^Reassign/ }).click();
    await page.getByLabel(/Reassign task .* to/).waitFor();
    await page.getByRole('button', { name: 'Reassign', exact: true }).click();
    await page.locator('.notice.ok').filter({ hasText: 'reassigned to' }).waitFor();
    expect(await rowB.count()).toBe(0);
    const afterReassign = await scan(trainScan);
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
      async () => ((await scan(junkScan)).stage === 'quarantined' ? true : undefined),
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
    const readers = await untilOpen(consensusScan, 'reader', 3);
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
    const [first] = await untilOpen(consensusScan, 'reviewer', 1);
    const page = await newPage();
    await signIn(page, await h.tokenFor(first.readerId));
    await page.locator(`tr[data-task-id="${first.taskId}"]`).getByRole('link').click();
    await page.waitForSelector('.stage[data-ready="true"]');
    expect(await page.locator('.legend .check').count()).toBe(4); // 3 readings + the fused proposal
    expect(await page.locator('.overlay .layer-box').count()).toBe(4);
    await page.getByRole('button', { name: 'Start from the fused proposal' }).click();
    expect(await page.locator('#box-0-label').inputValue()).toBe('Cardiomegaly');
    expect(await page.getByLabel('Pneumonia', { exact: true }).isChecked()).toBe(true);
    await page.screenshot({ path: SHOTS('review') });
    await page.getByRole('button', { name: 'Submit the reviewed labels' }).click();
    await page.locator('#result.ok').waitFor();
    await page.close();

    const second = await eventually(
      async () =>
        (await scan(consensusScan)).tasks.find(
          (t) => t.role === 'reviewer' && t.status === 'open' && t.taskId !== first.taskId,
        ),
      30_000,
      'the second reviewer',
    );
    const confirmer = await newPage();
    await signIn(confirmer, await h.tokenFor(second.readerId));
    await confirmer.goto(`${base}/#/tasks/${second.taskId}`);
    await confirmer
      .getByText(/^Proposal of /)
      .first()
      .waitFor();
    // Returning needs a reason (said at the field before anything is sent).
    await confirmer.getByRole('button', { name: 'Return with reason' }).click();
    expect(await confirmer.locator('#err-reason').textContent()).toContain('Say why');
    await confirmer.getByRole('button', { name: 'Confirm as final' }).click();
    await confirmer.locator('#result.ok').filter({ hasText: 'Confirmation accepted' }).waitFor();
    await confirmer.close();
    await eventually(
      async () => ((await scan(consensusScan)).stage === 'released' ? true : undefined),
      30_000,
      'release',
    );
  });

  it('a compressed (JPEG 2000) film: the task says clearly there is no preview, and offers the DICOM', async () => {
    const [t] = await untilOpen(j2kScan, 'reader', 3);
    const page = await newPage();
    await signIn(page, await h.tokenFor(t.readerId));
    await page.goto(`${base}/#/tasks/${t.taskId}`);
    const status = page.locator('.image-status.error');
    await status.waitFor();
    expect(await status.textContent()).toMatch(/No preview: this image is stored compressed.*JPEG 2000/);
    await status.getByRole('button', { name: 'Download DICOM' }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      status.getByRole('button', { name: 'Download DICOM' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^[0-9a-f]{32}\.dcm$/);
    // Boxes can still be placed by their coordinates (also the keyboard's way to draw).
    await page.getByRole('button', { name: 'Add a box by coordinates' }).click();
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('box-0-label');
    expect(await page.locator('#box-0-x_max').inputValue()).toBe(String(Math.round(1841 * 0.6)));
    await page.screenshot({ path: SHOTS('task-415') });
    await page.close();
    await h.http().post(`/api/v1/scans/${j2kScan}/cancel`).set(h.bearer(manager)).send({}).expect(200);
  });

  it('the browser reported no page errors and no CSP violations', () => {
    expect(browserErrors).toEqual([]);
  });
});
