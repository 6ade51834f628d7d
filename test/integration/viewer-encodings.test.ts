import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import * as dicomParser from 'dicom-parser';

import type { ApiHarness } from '../support/api-harness';
import { eventually, freshCxr } from '../support/api-harness';
import type { BrowserRig } from '../support/browser-rig';
import { startBrowserRig } from '../support/browser-rig';
import { artifact, decodeFilm, expectedBrightness, fitted, stats, telltaleRegion } from '../support/browser';
import { htj2kFrom } from '../support/previews';

/**
 * The chest film transcoded by independent tools (gdcmconv; dcmtk's dcmconv for deflate) into each compressed encoding
 * hospitals send (uncompressed films, implicit VR, are read in viewer.test.ts and web.test.ts).
 */
const ENCODINGS: readonly { name: string; args: readonly string[]; ts: string; tool?: string; htj2k?: true }[] = [
  { name: 'JPEG lossless (process 14, SV1)', args: ['--jpeg'], ts: '1.2.840.10008.1.2.4.70' },
  { name: 'JPEG baseline', args: ['--jpeg', '--lossy', '-q', '90'], ts: '1.2.840.10008.1.2.4.50' },
  { name: 'JPEG-LS lossless', args: ['--jpegls'], ts: '1.2.840.10008.1.2.4.80' },
  { name: 'JPEG 2000 lossless', args: ['--j2k'], ts: '1.2.840.10008.1.2.4.90' },
  { name: 'RLE lossless', args: ['--rle'], ts: '1.2.840.10008.1.2.5' },
  { name: 'deflated explicit VR little endian', tool: 'dcmconv', args: ['+td'], ts: '1.2.840.10008.1.2.1.99' },
  // No Debian tool writes HTJ2K into DICOM: the film made explicit by dcmconv, then its pixels by OpenJPH's ojph_compress.
  { name: 'HTJ2K lossless (ojph_compress)', tool: 'dcmconv', args: ['+te'], ts: '1.2.840.10008.1.2.4.201', htj2k: true },
];

function transcode(bytes: Buffer, args: readonly string[], tool = 'gdcmconv'): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'readflow-transcode-'));
  try {
    writeFileSync(path.join(dir, 'in.dcm'), bytes);
    execFileSync(tool, [...args, path.join(dir, 'in.dcm'), path.join(dir, 'out.dcm')], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(path.join(dir, 'out.dcm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function transferSyntaxOf(bytes: Buffer): string | undefined {
  // A Buffer (not a bare Uint8Array): dicom-parser inflates a deflated data set with Node's zlib, on Buffers.
  return dicomParser.parseDicom(bytes as unknown as Uint8Array, { untilTag: 'x00020010' }).string('x00020010');
}

/**
 * Every encoding of a chest film displays in the reading page at full resolution, with the brightness an independent
 * decoder (gdcmconv) predicts: the Cornerstone3D loader's codecs (libjpeg-turbo, the lossless JPEG decoder, CharLS,
 * OpenJPEG, RLE) run in the browser's worker against the de-identified file the API serves; a deflated file is inflated
 * by the page first.
 */
describe('reading page: every encoding of a chest film (headless Chromium)', () => {
  let rig: BrowserRig;
  let h: ApiHarness;
  let base: string;
  const scans = new Map<string, string>();
  /** The lossless sources of encodings gdcmconv cannot decode (HTJ2K): the reference of the brightness check. */
  const sources = new Map<string, Buffer>();

  beforeAll(async () => {
    rig = await startBrowserRig({ harness: { env: { READFLOW_TASK_DEADLINE: '2h' } }, viewport: { width: 1366, height: 768 } });
    ({ h, base } = rig);
    await Promise.all(
      ENCODINGS.map(async (e) => {
        const explicit = transcode(freshCxr(), e.args, e.tool);
        const bytes = e.htj2k ? htj2kFrom(explicit) : explicit;
        if (e.htj2k) sources.set(e.name, explicit);
        expect(transferSyntaxOf(bytes)).toBe(e.ts);
        scans.set(e.name, await rig.upload(bytes, 'train', 'independent-3', 'cxr.dcm'));
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('shows each one whole, with the brightness of an independent decode', async () => {
    const page = await rig.newPage();
    const seen: string[] = [];
    for (const [i, e] of ENCODINGS.entries()) {
      const scanId = scans.get(e.name)!;
      const task = await eventually(
        async () => {
          const s = await rig.scan(scanId);
          if (s.stage === 'quarantined') throw new Error(`${e.name} was quarantined`);
          return s.tasks.find((t) => t.status === 'open');
        },
        45_000,
        `a reading task for ${e.name}`,
      );
      const token = await h.tokenFor(task.readerId);
      const served = await rig.servedImage(task.taskId, token);
      // The reader gets the encoding that was sent (de-identification does not transcode).
      expect(transferSyntaxOf(served)).toBe(e.ts);
      const film = decodeFilm(sources.get(e.name) ?? served);

      await page.goto(`${base}/?signin=${i}`);
      await page.evaluate(`sessionStorage.setItem('readflow.token', ${JSON.stringify(token)})`);
      await page.goto(`${base}/?reader=${i}#/tasks/${task.taskId}`);
      await page.waitForSelector('.viewport[data-ready="true"], .image-status.error', { timeout: 60_000 });
      const status = await page.locator('#image-status').textContent();
      expect(status).toContain(`${film.columns} × ${film.rows} px, MONOCHROME2`);

      await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      const box = (await page.locator('.viewport').boundingBox())!;
      const at = fitted(box, film.columns, film.rows);
      const region = telltaleRegion(film);
      const [x0, y0] = at.toScreen(region.x0, region.y0);
      const [x1, y1] = at.toScreen(region.x1, region.y1);
      const shot = stats(await page.screenshot({ path: artifact(`viewer-encoding-${i}`), clip: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } }));
      expect(shot.sd).toBeGreaterThan(3);
      expect(Math.abs(shot.mean - expectedBrightness(film, region))).toBeLessThan(14);
      seen.push(e.name);
    }
    expect(seen).toEqual(ENCODINGS.map((e) => e.name));
    expect(rig.errors).toEqual([]);
    await page.close();
  }, 240_000);
});
