import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { chromium } from 'playwright-core';

import { createScanActivities } from '../../src/activities/scan.activities';
import { median } from '../../src/domain';
import { simulateCalibrationCampaign } from '../../src/simulate/calibration';
import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';

const READERS = Array.from({ length: 10 }, (_, i) => `sim${String(i + 1).padStart(2, '0')}`);
const BIASED = { readerId: 'sim04', label: 'Pleural effusion', labelBias: 0.35 };
const SCANS = 400;

/**
 * Reader calibration on a seeded simulation: 400 training scans with the simulator's ground truth and reader noise
 * model (src/simulate/truth.ts), read by 3 of 10 readers each, one of whom (sim04) was made biased: it calls true
 * findings "Pleural effusion" 35 % of the time. The readings, tasks and fused results are written by the scan
 * workflow's own projection activities (recordScan/recordTasks/recordReading/recordRelease) into a database of this
 * file's own; the API's calibration must flag sim04 with that label, and nobody else.
 */
describe('reader calibration on a seeded simulation (API, own database)', () => {
  let h: ApiHarness;
  let manager: string;
  const { scans } = simulateCalibrationCampaign({ seed: 'calibration-1', scans: SCANS, readerIds: READERS, noiseLevel: 1, biased: BIASED });

  beforeAll(async () => {
    h = await startApiHarness({ ownDatabase: true });
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    for (const id of READERS) await h.addReader(id, 'radiologist');
    const projection = createScanActivities({ dataSource: h.ds });
    const t0 = Date.parse('2026-11-01T08:00:00Z');
    const write = async (s: (typeof scans)[number]): Promise<void> => {
      const id = `scan-sim${String(s.index).padStart(20, '0')}`;
      const base = { id, split: 'train' as const, policy: 'independent-3' };
      const assignedAt = new Date(t0 + s.index * 60_000).toISOString();
      const dueAt = new Date(t0 + s.index * 60_000 + 72 * 3_600_000).toISOString();
      const tasks = s.readings.map((r, slot) => ({
        id: randomUUID(),
        scanId: id,
        readerId: r.readerId,
        role: 'reader' as const,
        slot,
        round: 0,
        status: 'open' as const,
        assignedAt,
        dueAt,
      }));
      await projection.recordScan({ scan: { ...base, stage: 'reading', image: { rows: s.rows, columns: s.columns, modality: 'DX', viewPosition: 'PA', transferSyntax: '1.2.840.10008.1.2.1' } } });
      await projection.recordTasks({ tasks });
      for (const [slot, r] of s.readings.entries()) {
        const submittedAt = new Date(Date.parse(assignedAt) + r.readSeconds * 1000).toISOString();
        await projection.recordReading({
          tasks: [{ ...tasks[slot], status: 'submitted', submittedAt, closedAt: submittedAt }],
          reading: { taskId: tasks[slot].id, scanId: id, readerId: r.readerId, role: 'reader', boxes: r.reading.boxes, globalLabels: r.reading.globalLabels, submittedAt },
        });
      }
      const releasedAt = new Date(Date.parse(assignedAt) + 3_600_000).toISOString();
      await projection.recordRelease({
        scan: { ...base, stage: 'released', releasedAt },
        result: {
          scanId: id,
          method: s.fused.method,
          fusedBoxes: s.fused.boxes,
          fusedGlobalLabels: s.fused.globalLabels,
          finalBoxes: s.fused.boxes.map(({ label, x_min, y_min, x_max, y_max }) => ({ label, x_min, y_min, x_max, y_max })),
          finalGlobalLabels: s.fused.globalLabels,
          agreement: {},
          releasedAt,
        },
      });
    };
    for (let i = 0; i < scans.length; i += 8) await Promise.all(scans.slice(i, i + 8).map(write));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('flags the biased reader with the label concerned, and only that reader', async () => {
    const res = await h.http().get('/api/v1/calibration').set(h.bearer(manager)).expect(200);
    expect(res.body.pool).toMatchObject({ readers: 10, readings: 3 * SCANS, scans: SCANS });
    expect(res.body.method.tests).toBeGreaterThan(100);
    expect(res.body.flaggedReaders).toEqual([BIASED.readerId]);
    const biased = res.body.readers.find((r: { readerId: string }) => r.readerId === BIASED.readerId);
    expect(biased.flaggedLabels).toContain(BIASED.label);
    for (const r of res.body.readers.filter((x: { readerId: string }) => x.readerId !== BIASED.readerId)) expect(r).toMatchObject({ flagged: false, flaggedLabels: [] });

    const one = await h.http().get(`/api/v1/readers/${BIASED.readerId}/calibration`).set(h.bearer(manager)).expect(200);
    const effusion = one.body.reader.labels.find((l: { label: string }) => l.label === BIASED.label);
    expect(effusion.test).toMatchObject({ direction: 'higher', flagged: true });
    expect(effusion.test.adjustedPValue).toBeLessThan(0.05);
    expect(effusion.positiveRate).toBeGreaterThan(effusion.pool.positiveRate);
    expect(effusion.precision).toBeLessThan(effusion.pool.precision);
    // Median read time from the tasks' assignment and submission times, as simulated.
    const mine = scans.flatMap((s) => s.readings.filter((r) => r.readerId === BIASED.readerId).map((r) => r.readSeconds));
    expect(one.body.reader.medianReadSeconds).toBeCloseTo(median(mine)!, 3);
    expect(one.body.reader.poolMedianReadSeconds).toBeCloseTo(median(scans.flatMap((s) => s.readings.map((r) => r.readSeconds)))!, 3);

    // A stricter family-wise error rate still flags nobody else.
    const strict = await h.http().get('/api/v1/calibration?alpha=0.001').set(h.bearer(manager)).expect(200);
    expect(strict.body.flaggedReaders.filter((id: string) => id !== BIASED.readerId)).toEqual([]);
  });

  it('the board shows the flag and draws the biased reader’s bar in the calibration chart', async () => {
    const chromiumPath = '/usr/bin/chromium';
    if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: install it with \`apt-get install -y chromium\` (.ci/run does).`);
    await h.app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
    const userDataDir = mkdtempSync(path.join(tmpdir(), 'readflow-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 1000 },
    });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${base}/`);
      await page.getByLabel('API token').fill(manager);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('#who:not([hidden])');
      await page.goto(`${base}/#/manage/board`);
      const flagged = page.locator(`#board-calibration li[data-flagged-reader="${BIASED.readerId}"]`);
      await flagged.waitFor();
      expect(await flagged.textContent()).toContain(BIASED.label);
      expect(await page.locator('#board-calibration li[data-flagged-reader]').count()).toBe(1);
      // The chart opens on the first flagged label; the flagged reader's bar is drawn in the flag colour (#a61b1b).
      expect(await page.locator('#calibration-label').inputValue()).toBe(BIASED.label);
      const red = await page.evaluate(`(() => {
        const c = document.querySelector('#board-calibration canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 0xa6 && d[i + 1] === 0x1b && d[i + 2] === 0x1b) n++;
        return n;
      })()`);
      expect(red).toBeGreaterThan(50);
      expect(await page.locator(`#board-readers tr[data-reader-id="${BIASED.readerId}"] [data-field="calibration"]`).textContent()).toContain(BIASED.label);
      const artifacts = path.resolve(__dirname, '../artifacts');
      mkdirSync(artifacts, { recursive: true });
      await page.locator('#board-calibration').screenshot({ path: path.join(artifacts, 'board-calibration.png') });
      await page.screenshot({ path: path.join(artifacts, 'board-calibration-full.png'), fullPage: true });
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });

  it('the CSV carries the same flags', async () => {
    const res = await h.http().get('/api/v1/calibration.csv').set(h.bearer(manager)).expect(200);
    const lines = res.text.trim().split('\r\n');
    expect(lines[0].split(',')).toEqual(expect.arrayContaining(['reader_id', 'label', 'positive_rate', 'pool_positive_rate', 'adjusted_p_value', 'flagged']));
    expect(lines).toHaveLength(1 + 10 * 28);
    const flagged = lines.slice(1).filter((l) => l.endsWith(',true'));
    expect(flagged.length).toBeGreaterThan(0);
    expect(flagged.every((l) => l.startsWith(`${BIASED.readerId},`))).toBe(true);
    expect(flagged.some((l) => l.includes(`,${BIASED.label},`))).toBe(true);
  });
});
