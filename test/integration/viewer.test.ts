import type { Page } from 'playwright-core';

import type { ApiHarness } from '../support/api-harness';
import { eventually, freshCxr } from '../support/api-harness';
import type { BrowserRig } from '../support/browser-rig';
import { startBrowserRig } from '../support/browser-rig';
import type { Film } from '../support/browser';
import {
  artifact,
  asMonochrome1,
  decodeFilm,
  expectedBrightness,
  fitted,
  freshJ2k,
  stats,
  telltaleRegion,
} from '../support/browser';

interface Box {
  label: string;
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

/**
 * The reading page on Cornerstone3D, driven in headless Debian Chromium against the real app (worker, Temporal dev
 * server, Postgres): the de-identified DICOM is decoded in the browser (JPEG 2000 by the loader's WASM codec), shown at
 * full resolution with MONOCHROME1 inverted (checked against an independent decode by gdcmconv), boxes are drawn with
 * the library's rectangle tool and arrive in the API in image pixels; reviewers toggle the readers' layers and confirm.
 */
describe('reading page on Cornerstone3D (headless Chromium)', () => {
  let rig: BrowserRig;
  let h: ApiHarness;
  let base: string;
  let manager: string;
  let j2kScan: string;
  let mono1Scan: string;
  let consensusScan: string;

  /** The DICOM the page is served, decoded by gdcmconv (the oracle). */
  const servedFilm = async (taskId: string, token: string): Promise<Film> => decodeFilm(await rig.servedImage(taskId, token));

  async function openTask(page: Page, taskId: string): Promise<void> {
    if (!page.url().endsWith(`#/tasks/${taskId}`)) await page.goto(`${base}/#/tasks/${taskId}`);
    await page.waitForSelector('.viewport[data-ready="true"], .image-status.error', { timeout: 60_000 });
    const error = page.locator('.image-status.error');
    if ((await error.count()) > 0) throw new Error(`the film did not load: ${await error.textContent()}`);
  }

  /** Where the film is on screen (the viewer fits it whole and centred). */
  async function placement(page: Page, film: { columns: number; rows: number }) {
    const box = await page.locator('.viewport').boundingBox();
    if (!box) throw new Error('no viewport');
    return fitted(box, film.columns, film.rows);
  }

  /** Mean brightness of an image region in a screenshot of the page. */
  async function shotMean(page: Page, film: Film, region: { x0: number; y0: number; x1: number; y1: number }, name: string) {
    // The viewport renders on the next animation frame.
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    const at = await placement(page, film);
    const [sx0, sy0] = at.toScreen(region.x0, region.y0);
    const [sx1, sy1] = at.toScreen(region.x1, region.y1);
    const png = await page.screenshot({ path: artifact(name), clip: { x: sx0, y: sy0, width: sx1 - sx0, height: sy1 - sy0 } });
    return stats(png);
  }

  /** Drags a box between two image points with the mouse; returns what was drawn, in image pixels as the screen says. */
  async function drawBox(page: Page, film: Film, from: [number, number], to: [number, number]): Promise<Omit<Box, 'label'>> {
    const at = await placement(page, film);
    // Whole screen pixels: what a mouse can point at (one of them spans 1 / scale image pixels).
    const [ax, ay] = at.toScreen(...from).map(Math.round);
    const [bx, by] = at.toScreen(...to).map(Math.round);
    await page.mouse.move(ax, ay);
    await page.mouse.down();
    await page.mouse.move((ax + bx) / 2, (ay + by) / 2, { steps: 5 });
    await page.mouse.move(bx, by, { steps: 5 });
    await page.mouse.up();
    const [x0, y0] = at.toImage(ax, ay);
    const [x1, y1] = at.toImage(bx, by);
    return { x_min: Math.min(x0, x1), y_min: Math.min(y0, y1), x_max: Math.max(x0, x1), y_max: Math.max(y0, y1) };
  }

  /** Waits until `value()` equals (or, with `not`, differs from) `expected`. */
  const until = async <T>(value: () => Promise<T>, expected: T, what: string, not = false): Promise<void> => {
    await eventually(async () => ((await value()) === expected) !== not ? true : undefined, 15_000, what);
  };

  const within = (actual: Box, expected: Omit<Box, 'label'>, tolerance: number): void => {
    for (const k of ['x_min', 'y_min', 'x_max', 'y_max'] as const) {
      expect(Math.abs(actual[k] - expected[k])).toBeLessThanOrEqual(tolerance);
    }
  };

  beforeAll(async () => {
    rig = await startBrowserRig({
      harness: { env: { READFLOW_TASK_DEADLINE: '2h', READFLOW_REVIEW_DEADLINE: '2h' } },
      viewport: { width: 1366, height: 768 },
      pageTimeoutMs: 30_000,
      expectedStatuses: [401, 404, 409, 415, 422],
      openTasksTimeoutMs: 45_000,
    });
    ({ h, base, manager } = rig);
    [j2kScan, mono1Scan, consensusScan] = await Promise.all([
      rig.upload(freshJ2k(), 'train', 'independent-3', 'cxr-j2k.dcm'),
      rig.upload(asMonochrome1(freshCxr()), 'train', 'independent-3', 'cxr-mono1.dcm'),
      rig.upload(freshCxr(), 'test', 'consensus-5', 'cxr-consensus.dcm'),
    ]);
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('a reader reads a JPEG 2000 MONOCHROME1 film and a MONOCHROME1 film: shown whole and inverted, two labelled boxes, window/level, submitted in image pixels', async () => {
    const [j2kTask] = await rig.untilOpen(j2kScan, 'reader', 3);
    const reader = j2kTask.readerId;
    const token = await h.tokenFor(reader);
    // The same reader holds a task of the MONOCHROME1 film (reassigned to them when the workflow chose others).
    const mono1Tasks = await rig.untilOpen(mono1Scan, 'reader', 3);
    let mono1Task = mono1Tasks.find((t) => t.readerId === reader);
    if (!mono1Task) {
      const moved = await h
        .http()
        .post(`/api/v1/tasks/${mono1Tasks[0].taskId}/reassign`)
        .set(h.bearer(manager))
        .send({ toReaderId: reader })
        .expect(200);
      mono1Task = { ...mono1Tasks[0], taskId: moved.body.newTaskId as string, readerId: reader };
    }
    const j2k = await servedFilm(j2kTask.taskId, token);
    const mono1 = await servedFilm(mono1Task.taskId, token);
    expect([j2k.columns, j2k.rows, j2k.photometric]).toEqual([1841, 1955, 'MONOCHROME1']);
    expect(mono1.photometric).toBe('MONOCHROME1');

    const page = await rig.newPage();
    await rig.signIn(page, token);
    await openTask(page, j2kTask.taskId);
    // Full resolution: the decoded frame has the file's own size.
    expect(await page.locator('#image-status').textContent()).toContain('1841 × 1955 px, MONOCHROME1');

    // The canvas shows the film, inverted as MONOCHROME1 asks: a region's brightness matches the oracle's decode.
    const region = telltaleRegion(j2k);
    const expected = expectedBrightness(j2k, region);
    const shown = await shotMean(page, j2k, region, 'viewer-j2k-region');
    expect(shown.sd).toBeGreaterThan(3); // an image, not a flat fill
    expect(Math.abs(shown.mean - expected)).toBeLessThan(14);
    expect(Math.abs(shown.mean - expectedBrightness(j2k, region, false))).toBeGreaterThan(30);
    // Around the film (letterbox) the viewport is black.
    const vp = (await page.locator('.viewport').boundingBox())!;
    const at = await placement(page, j2k);
    if (at.left - vp.x > 8) {
      const side = stats(await page.screenshot({ clip: { x: vp.x + 1, y: vp.y + 1, width: at.left - vp.x - 4, height: vp.height - 2 } }));
      expect(side.mean).toBeLessThan(3);
    }
    // The default window is the file's VOI (15000/30000).
    expect(Number(await page.locator('.viewport').getAttribute('data-window-width'))).toBeGreaterThanOrEqual(29_999);
    expect(Number(await page.locator('.viewport').getAttribute('data-window-center'))).toBeCloseTo(15_000, -1);
    await page.screenshot({ path: artifact('viewer-j2k') });

    // Box 1 with the mouse, labelled from the keyboard (the label picker takes focus; typing picks).
    const drawn1 = await drawBox(page, j2k, [420, 560], [880, 1180]);
    await page.locator('#box-0-label').waitFor();
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('box-0-label');
    await page.keyboard.type('Cardiomeg');
    await page.keyboard.press('Enter');
    expect(await page.locator('#box-0-label').inputValue()).toBe('Cardiomegaly');
    // Box 2 with the mouse, labelled with the picker.
    await page.locator('.viewport').focus();
    const drawn2 = await drawBox(page, j2k, [1150, 400], [1500, 820]);
    await page.locator('#box-1-label').selectOption('Nodule/Mass');
    expect(await page.locator('.box-row').count()).toBe(2);
    // Window/level: the lung preset, then a drag in window mode; the picture changes with it.
    const before = await page.locator('.wl-readout').textContent();
    await page.locator('.viewport').focus();
    await page.keyboard.press('1');
    const lung = await page.locator('.wl-readout').textContent();
    expect(lung).not.toBe(before);
    await page.getByRole('button', { name: 'Window', exact: true }).click();
    expect(await page.getByRole('button', { name: 'Window', exact: true }).getAttribute('aria-pressed')).toBe('true');
    const c = at.toScreen(300, 1700);
    await page.mouse.move(c[0], c[1]);
    await page.mouse.down();
    await page.mouse.move(c[0] + 60, c[1] + 40, { steps: 6 });
    await page.mouse.up();
    await until(() => page.locator('.wl-readout').textContent(), lung, 'the window to follow the drag', true);
    const windowed = await shotMean(page, j2k, region, 'viewer-j2k-windowed');
    expect(Math.abs(windowed.mean - shown.mean)).toBeGreaterThan(5);
    await page.screenshot({ path: artifact('viewer-j2k-boxes') });

    // A global label, then submit from the keyboard: the next task opens.
    await page.getByLabel('Pneumonia', { exact: true }).check();
    await page.locator('.viewport').focus();
    await page.keyboard.press('Control+Enter');
    await page.locator('#flash').waitFor();
    expect(await page.locator('#flash').textContent()).toContain('Submission accepted');
    expect(page.url()).not.toContain(j2kTask.taskId);

    const detail = await h.http().get(`/api/v1/tasks/${j2kTask.taskId}`).set(h.bearer(token)).expect(200);
    expect(detail.body.task.status).toBe('submitted');
    expect(detail.body.submission.globalLabels).toEqual(['Pneumonia']);
    const boxes = detail.body.submission.boxes as Box[];
    expect(boxes.map((b) => b.label).sort()).toEqual(['Cardiomegaly', 'Nodule/Mass']);
    within(boxes.find((b) => b.label === 'Cardiomegaly')!, drawn1, 2);
    within(boxes.find((b) => b.label === 'Nodule/Mass')!, drawn2, 2);
    // …and what was meant: the image points the mouse was aimed at (the screen's rounding on top).
    within(boxes.find((b) => b.label === 'Cardiomegaly')!, { x_min: 420, y_min: 560, x_max: 880, y_max: 1180 }, 2 + 1 / at.scale);

    // The MONOCHROME1 film: inverted against the same pixels' MONOCHROME2 reading.
    await openTask(page, mono1Task.taskId);
    expect(await page.locator('#image-status').textContent()).toContain(`${mono1.columns} × ${mono1.rows} px, MONOCHROME1`);
    const r1 = telltaleRegion(mono1);
    const m1 = await shotMean(page, mono1, r1, 'viewer-mono1-region');
    expect(Math.abs(m1.mean - expectedBrightness(mono1, r1))).toBeLessThan(14);
    expect(Math.abs(m1.mean - expectedBrightness(mono1, r1, false))).toBeGreaterThan(30);
    // Invert (I) shows it the other way round: keys work as soon as the task opens (focus on its heading).
    expect(await page.evaluate('document.activeElement && document.activeElement.className')).toBe('view-title');
    await page.keyboard.press('i');
    const flipped = await shotMean(page, mono1, r1, 'viewer-mono1-inverted');
    expect(Math.abs(flipped.mean - expectedBrightness(mono1, r1, false))).toBeLessThan(14);
    await page.keyboard.press('r');
    // Two boxes from the keyboard alone: N adds one, arrows move it, L labels it.
    await page.keyboard.press('n');
    await page.keyboard.type('Aortic');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Shift+ArrowRight');
    const drawn3 = await drawBox(page, mono1, [100, 120], [300, 400]);
    await page.keyboard.type('Pleural eff');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+Enter');
    await until(async () => (await h.http().get(`/api/v1/tasks/${mono1Task.taskId}`).set(h.bearer(token))).body.task?.status, 'submitted', 'the keyboard submission');
    const mono1Detail = await h.http().get(`/api/v1/tasks/${mono1Task.taskId}`).set(h.bearer(token)).expect(200);
    const mb = mono1Detail.body.submission.boxes as Box[];
    const aortic = mb.find((b) => b.label === 'Aortic enlargement')!;
    expect(aortic).toMatchObject({
      x_min: Math.round(mono1.columns * 0.4) + 20,
      x_max: Math.round(mono1.columns * 0.6) + 20,
      y_min: Math.round(mono1.rows * 0.4),
      y_max: Math.round(mono1.rows * 0.6),
    });
    within(mb.find((b) => b.label === 'Pleural effusion')!, drawn3, 2);
    await page.close();
  }, 150_000);

  it('a reviewer toggles the readers’ layers and the fused proposal, adopts it and submits; the second reviewer confirms', async () => {
    const readers = await rig.untilOpen(consensusScan, 'reader', 3);
    for (const r of readers) {
      await h
        .http()
        .post(`/api/v1/tasks/${r.taskId}/submission`)
        .set(h.bearer(await h.tokenFor(r.readerId)))
        .send({ boxes: [{ label: 'Cardiomegaly', x_min: 300 + r.slot * 8, y_min: 500, x_max: 700 - r.slot * 4, y_max: 800 }], globalLabels: ['Pneumonia'] })
        .expect(200);
    }
    const [first] = await rig.untilOpen(consensusScan, 'reviewer', 1);
    const page = await rig.newPage();
    await rig.signIn(page, await h.tokenFor(first.readerId));
    await openTask(page, first.taskId);
    const rects = page.locator('.viewport svg [data-id$="-rect"]');
    expect(await page.locator('.legend .check').count()).toBe(4); // 3 readings + the fused proposal
    await until(() => rects.count(), 4, '4 boxes shown');
    await page.locator('#layer-r0').uncheck();
    await until(() => rects.count(), 3, '3 boxes shown');
    await page.locator('#layer-fused').uncheck();
    await until(() => rects.count(), 2, '2 boxes shown');
    await page.locator('#layer-r0').check();
    await until(() => rects.count(), 3, '3 boxes shown');
    await page.screenshot({ path: artifact('viewer-review-layers') });
    await page.getByRole('button', { name: 'Adopt Fused proposal' }).click();
    expect(await page.locator('#box-0-label').inputValue()).toBe('Cardiomegaly');
    expect(await page.getByLabel('Pneumonia', { exact: true }).isChecked()).toBe(true);
    await until(() => rects.count(), 4, '4 boxes shown'); // the adopted box is the reviewer's own, editable
    await page.getByRole('button', { name: 'Submit the reviewed labels' }).click();
    await page.locator('#flash, #result.ok').first().waitFor();
    await page.close();

    const second = await eventually(
      async () => (await rig.scan(consensusScan)).tasks.find((t) => t.role === 'reviewer' && t.status === 'open' && t.taskId !== first.taskId),
      30_000,
      'the second reviewer',
    );
    const confirmer = await rig.newPage();
    await rig.signIn(confirmer, await h.tokenFor(second.readerId));
    await openTask(confirmer, second.taskId);
    // The proposal is a layer of its own; the fused one starts hidden.
    expect(await confirmer.locator('#layer-proposal').isChecked()).toBe(true);
    expect(await confirmer.locator('#layer-fused').isChecked()).toBe(false);
    const shownRects = confirmer.locator('.viewport svg [data-id$="-rect"]');
    await until(() => shownRects.count(), 4, '4 boxes shown'); // 3 readings + the proposal
    await confirmer.locator('#layer-proposal').uncheck();
    await until(() => shownRects.count(), 3, '3 boxes shown');
    await confirmer.locator('#layer-proposal').check();
    await confirmer.screenshot({ path: artifact('viewer-confirm') });
    await confirmer.getByRole('button', { name: 'Confirm as final' }).click();
    await confirmer.locator('#flash, #result.ok').first().waitFor();
    await confirmer.close();
    await eventually(async () => ((await rig.scan(consensusScan)).stage === 'released' ? true : undefined), 30_000, 'release');
  }, 120_000);

  it('the browser reported no page errors and no CSP violations', () => {
    expect(rig.errors).toEqual([]);
  });
});
