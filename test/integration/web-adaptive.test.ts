import { GOLD_SCHEDULER_ID } from '../../src/workflows/gold.messages';
import { cancelScanUpdate } from '../../src/workflows/scan-lifecycle.messages';
import { eventually, freshCxr } from '../support/api-harness';
import { artifact } from '../support/browser';
import type { BrowserRig, ScanTask } from '../support/browser-rig';
import { startBrowserRig } from '../support/browser-rig';

const HEART = { x_min: 300, y_min: 500, x_max: 700, y_max: 800 };
/** Three labels on one place: a disputed finding, the adaptive scan is extended. */
const FIRST_LABELS = ['Cardiomegaly', 'Aortic enlargement', 'Lung Opacity'];

/**
 * The page shows an adaptive scan's extension (and a gold scan) where a manager sees the scan — the scans tab of the
 * manager's screens — and never to a reader (inbox, task page), in headless Chromium against the real app (real worker,
 * Temporal dev server, a Postgres database of this file's own).
 */
describe('adaptive extension and gold on the page (headless Chromium)', () => {
  let rig: BrowserRig;
  let goldScanId: string | undefined;

  const scan = async (id: string): Promise<{ stage: string; tasks: ScanTask[]; extension: { extended: boolean } | null }> =>
    (await rig.scan(id)) as { stage: string; tasks: ScanTask[]; extension: { extended: boolean } | null };
  const openReaderTasks = async (id: string): Promise<ScanTask[]> => (await scan(id)).tasks.filter((t) => t.status === 'open' && t.role === 'reader');
  const upload = (policy: string, name: string): Promise<string> => rig.upload(freshCxr(), 'train', policy, name);

  beforeAll(async () => {
    rig = await startBrowserRig({
      harness: { ownDatabase: true, env: { READFLOW_TASK_DEADLINE: '2h', READFLOW_GOLD_CHECK_INTERVAL: '1h' } },
      viewport: { width: 1440, height: 1000 },
      pageTimeoutMs: 20_000,
      expectedStatuses: [401, 404, 409, 422],
    });
  });

  afterAll(async () => {
    if (rig) {
      const { h } = rig;
      if (goldScanId) await h.temporal.client.workflow.getHandle(goldScanId).executeUpdate(cancelScanUpdate, { args: [{ by: 'test' }] }).catch(() => undefined);
      await h.temporal.client.workflow.getHandle(GOLD_SCHEDULER_ID).terminate('test done').catch(() => undefined);
      await rig.close();
    }
  });

  it('a manager sees the extended scan (and the gold one) in the scans tab; the extension’s reader sees neither', async () => {
    const { h, manager, base } = rig;
    const adaptive = await upload('adaptive-3-5', 'adaptive.dcm');
    const ordinary = await upload('independent-3', 'ordinary.dcm');
    const gold = await h.http().post('/api/v1/gold').set(h.bearer(manager)).field('reference', JSON.stringify({ boxes: [], globalLabels: ['No finding'] })).attach('file', freshCxr(), 'gold.dcm').expect(202);
    goldScanId = gold.body.scanId as string;

    // The three first readers put three labels on the same place: the scan is extended by two readers.
    const first = await eventually(async () => {
      const open = await openReaderTasks(adaptive);
      return open.length === 3 ? open : undefined;
    }, 60_000, 'three open tasks');
    for (const t of first) {
      const token = await h.tokenFor(t.readerId);
      await h.http().post(`/api/v1/tasks/${t.taskId}/submission`).set(h.bearer(token)).send({ boxes: [{ label: FIRST_LABELS[t.slot], ...HEART }], globalLabels: ['Other diseases'] }).expect(200);
    }
    const extra = await eventually(async () => {
      const s = await scan(adaptive);
      const open = s.tasks.filter((t) => t.status === 'open' && t.role === 'reader');
      return s.extension?.extended === true && open.length === 2 ? open : undefined;
    }, 60_000, 'the extension’s two tasks');
    await eventually(async () => ((await scan(goldScanId!)).stage === 'reading' ? true : undefined), 60_000, 'the gold scan in reading');

    // The manager's scans tab: the adaptive scan's row says it was extended; the others carry no extension badge.
    const page = await rig.newPage();
    await rig.signIn(page, manager);
    await page.goto(`${base}/#/manage/scans`);
    const row = (id: string) => page.locator(`tr[data-scan-id="${id}"]`);
    await row(adaptive).waitFor();
    const badge = row(adaptive).locator('[data-field="extension"]');
    await expect(badge.textContent()).resolves.toBe('extended to 5');
    expect(await badge.getAttribute('title')).toMatch(/two more readers/);
    await row(ordinary).waitFor();
    expect(await row(ordinary).locator('[data-field="extension"]').count()).toBe(0);
    expect(await row(ordinary).locator('[data-field="gold"]').count()).toBe(0);
    await row(goldScanId).waitFor();
    await expect(row(goldScanId).locator('[data-field="gold"]').textContent()).resolves.toBe('gold');
    expect(await row(adaptive).locator('[data-field="gold"]').count()).toBe(0);
    await page.screenshot({ path: artifact('manage-scans-extended'), fullPage: true });

    // A reader of the extension: inbox and task page never tell the task was added by an extension, nor show gold.
    const readerPage = await rig.newPage();
    await rig.signIn(readerPage, await h.tokenFor(extra[0].readerId));
    await readerPage.waitForURL(/#\/inbox/);
    const taskRow = readerPage.locator(`[data-task-id="${extra[0].taskId}"]`).first();
    await taskRow.waitFor();
    const visible = async (): Promise<string> => (await readerPage.locator('body').innerText()).toLowerCase();
    for (const word of ['extended', 'extension', 'gold']) expect(await visible()).not.toContain(word);
    expect(await readerPage.locator('[data-field="extension"], [data-field="gold"]').count()).toBe(0);
    expect(await readerPage.getByRole('link', { name: 'Manage' }).count()).toBe(0);
    await readerPage.goto(`${base}/#/tasks/${extra[0].taskId}`);
    await readerPage.locator('.viewport').waitFor();
    for (const word of ['extended', 'extension', 'gold']) expect(await visible()).not.toContain(word);
    expect(await readerPage.locator('[data-field="extension"], [data-field="gold"]').count()).toBe(0);
    // The scans list (where the extension shows) is refused to a reader by the API.
    await h.http().get('/api/v1/scans').set(h.bearer(await h.tokenFor(extra[0].readerId))).expect(403);

    expect(rig.errors).toEqual([]);
  });
});
