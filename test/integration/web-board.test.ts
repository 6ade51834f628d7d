import type { Page } from 'playwright-core';

import { eventually, freshCxr } from '../support/api-harness';
import { artifact } from '../support/browser';
import type { BrowserRig } from '../support/browser-rig';
import { startBrowserRig } from '../support/browser-rig';

/**
 * The manager board in headless Chromium against the real app (real worker, Temporal dev server, a Postgres database
 * of this file's own so the counts are exact): the counts change live after a reader submits (no reload), and an
 * overdue task is reassigned from the board to the suggested reader.
 */
describe('manager board (headless Chromium)', () => {
  let rig: BrowserRig;
  let scanId: string;
  let junkScan: string;

  beforeAll(async () => {
    rig = await startBrowserRig({
      harness: { ownDatabase: true, env: { READFLOW_TASK_DEADLINE: '2h', READFLOW_REVIEW_DEADLINE: '2h' } },
      viewport: { width: 1440, height: 1000 },
      pageTimeoutMs: 20_000,
      expectedStatuses: [401, 404, 409, 422],
      openTasksTimeoutMs: 60_000,
    });
    scanId = await rig.upload(freshCxr(), 'train', 'independent-3', 'board.dcm');
    junkScan = await rig.upload(Buffer.from('not a DICOM file at all, only text'), 'train', 'independent-3', 'junk.dcm');
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('the counts change live after a reader submits, and an overdue task is reassigned from the board', async () => {
    const { h, base, manager, errors: browserErrors, scan } = rig;
    const tasks = await rig.untilOpen(scanId, 'reader', 3);
    const [first, late, slow] = tasks;

    const page = await rig.newPage();
    await rig.signIn(page, manager);
    // The board is a tab of the manager's screens.
    await page.getByRole('link', { name: 'Board' }).click();
    await page.waitForURL(/#\/manage\/board$/);
    // A faster refresh for the test (the default is 5 s).
    await page.goto(`${base}/#/manage/board?refresh=1000`);
    const stat = (key: string) => page.locator(`[data-stat="${key}"]`);
    const readerCell = (readerId: string, field: string) => page.locator(`#board-readers tr[data-reader-id="${readerId}"] [data-field="${field}"]`);
    await expectText(stat('stage-reading-train'), '1');
    await expectText(stat('open-tasks'), '3');
    await expectText(readerCell(first.readerId, 'completed'), '0');
    await expectText(readerCell(first.readerId, 'open'), '1');
    // Charts are drawn by Chart.js on canvases: the pipeline chart has ink.
    expect(await inkOf(page, '#board-pipeline canvas')).toBeGreaterThan(100);
    expect(await page.locator(`#board-pipeline tr[data-stage="reading"] a`).getAttribute('href')).toBe(`${h.config.temporal.uiUrl}/namespaces/readflow/workflows?query=Stage%3D%22reading%22`);
    // Quarantine with its reason, the scan linked to its workflow.
    await expectText(stat('quarantined-inputs'), '1');
    const junk = page.locator('#board-quarantine tbody tr', { hasText: junkScan });
    await junk.waitFor();
    expect(await junk.getByRole('link', { name: /Temporal UI/ }).getAttribute('href')).toBe(`${h.config.temporal.uiUrl}/namespaces/readflow/workflows/${junkScan}`);
    expect(await page.locator('#board-quarantine li[data-reason]').count()).toBe(1);
    await page.screenshot({ path: artifact('board-before-submit'), fullPage: true });
    // Marks this document: a reload would lose the mark.
    await page.evaluate('window.__boardMark = 42');

    // A reader submits through the API; the board follows without a reload.
    const token = await h.tokenFor(first.readerId);
    await h.http().post(`/api/v1/tasks/${first.taskId}/submission`).set(h.bearer(token)).send({ boxes: [{ label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 }], globalLabels: ['Pneumonia'] }).expect(200);
    await expectText(readerCell(first.readerId, 'completed'), '1');
    await expectText(readerCell(first.readerId, 'open'), '0');
    await expectText(stat('open-tasks'), '2');
    expect(await page.evaluate('window.__boardMark')).toBe(42);

    // A task runs late (its deadline moved into the past in the projection; the workflow's timer is 2 h away).
    await h.ds.query(`UPDATE tasks SET due_at = now() - interval '45 minutes' WHERE id = ANY($1::uuid[])`, [[late.taskId, slow.taskId]]);
    await expectText(stat('overdue-tasks'), '2');
    // Extend one of them by a day (the form's default) from the board.
    const slowRow = page.locator(`#board-overdue tr[data-task-id="${slow.taskId}"]`);
    await slowRow.getByRole('button', { name: /^Extend/ }).click();
    await page.getByLabel(/New deadline of task/).waitFor();
    await page.locator(`#board-overdue tr[data-action-for="${slow.taskId}"]`).getByRole('button', { name: 'Extend', exact: true }).click();
    await page.locator('.notice.ok').filter({ hasText: `Task ${slow.taskId.slice(0, 8)} is now due` }).waitFor();
    await expectText(stat('overdue-tasks'), '1');
    const extended = await eventually(async () => {
      const t = (await scan(scanId)).tasks.find((x) => x.taskId === slow.taskId)!;
      return Date.parse(t.dueAt) - Date.now() > 23 * 3_600_000 ? t : undefined;
    }, 20_000, 'the extended deadline');
    expect(extended.status).toBe('open');
    const row = page.locator(`#board-overdue tr[data-task-id="${late.taskId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toMatch(/Overdue by 45 min/);
    expect(await row.getByRole('link', { name: /Temporal UI/ }).getAttribute('href')).toBe(`${h.config.temporal.uiUrl}/namespaces/readflow/workflows/${scanId}`);
    const suggested = (await row.locator('[data-field="suggested"]').textContent())!.trim();
    expect(suggested).toMatch(/^rad\d\d$/);
    expect(tasks.map((t) => t.readerId)).not.toContain(suggested);
    await expectText(readerCell(late.readerId, 'overdue'), '1');
    await page.screenshot({ path: artifact('board-overdue'), fullPage: true });

    await row.getByRole('button', { name: /^Reassign/ }).click();
    await page.getByLabel(/Reassign task .* to/).waitFor();
    expect(await page.getByLabel(/Reassign task .* to/).inputValue()).toBe('suggested');
    await page.locator(`#board-overdue tr[data-action-for="${late.taskId}"]`).getByRole('button', { name: 'Reassign', exact: true }).click();
    await page.locator('.notice.ok').filter({ hasText: `reassigned to ${suggested}` }).waitFor();
    await expectText(stat('overdue-tasks'), '0');
    expect(await row.count()).toBe(0);
    const after = await scan(scanId);
    expect(after.tasks.find((t) => t.taskId === late.taskId)?.status).toBe('reassigned');
    expect(after.tasks.filter((t) => t.status === 'open').map((t) => t.readerId)).toContain(suggested);
    await expectText(readerCell(suggested, 'open'), '1');
    expect(await page.evaluate('window.__boardMark')).toBe(42);
    await page.screenshot({ path: artifact('board-after-reassign'), fullPage: true });
    await page.close();
    expect(browserErrors).toEqual([]);
    await h.http().post(`/api/v1/scans/${scanId}/cancel`).set(h.bearer(manager)).send({}).expect(200);
  });
});

/** Waits until the locator's text is `text` (the board refreshes itself). */
async function expectText(locator: ReturnType<Page['locator']>, text: string, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => ((await locator.textContent({ timeout: 2000 }))?.trim() === text ? true : undefined), timeoutMs, `${String(locator)} to read "${text}"`);
}

/** Non-transparent pixels of the first canvas matching `selector`. */
async function inkOf(page: Page, selector: string): Promise<number> {
  return page.evaluate(`(() => {
    const c = document.querySelector(${JSON.stringify(selector)});
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  })()`);
}
