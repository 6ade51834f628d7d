/**
 * PNG previews for REST clients (issue #14, issue #10 item 5): `GET /api/v1/tasks/{id}/image?format=png` for every
 * encoding of the shared corpus (cxr/, valid/) and of films made here by independent encoders (dcmtk, GDCM, OpenJPH),
 * each PNG decoded (pngjs) and compared with an independent rendering (dcmtk's dcmj2pnm/dcml2pnm, gdcmconv --raw for
 * JPEG 2000, ojph_expand for HTJ2K); window/level and size; ETag and 304; the bounded cache; 415 naming the transfer
 * syntax; 422 naming the field; and the pixel cap at ingest (quarantine reason `image-too-large`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { Response } from 'supertest';

import { deidentifyObject } from '../../src/dicom';
import type { ApiHarness } from '../support/api-harness';
import { ensureDefaultRoster, eventually, freshCxr, startApiHarness } from '../support/api-harness';
import type { Raster } from '../support/previews';
import { compare, decodePng, encodeWith, hasVoiWindow, htj2kFrom, oracleRender, stats, syntheticFilm, transferSyntaxOf } from '../support/previews';

const CORPUS = path.resolve(__dirname, '../fixtures/dicom');
const corpus = (f: string): Buffer => readFileSync(path.join(CORPUS, f));

/** A binary supertest body. */
function binary(res: NodeJS.ReadableStream & { setEncoding(e: string): void }, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}

describe('PNG previews of every stored encoding', () => {
  let h: ApiHarness;
  let manager: string;
  let rad: string;
  let radId: string;
  /** Cache budget of this harness: a few full-size chest PNGs. */
  const CACHE_BYTES = 1_500_000;

  beforeAll(async () => {
    h = await startApiHarness({ env: { READFLOW_PREVIEW_CACHE_BYTES: String(CACHE_BYTES), READFLOW_PREVIEW_THREADS: '2' } });
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    radId = `${h.prefix}-rad`;
    rad = await h.addReader(radId, 'radiologist');
  });
  afterAll(async () => {
    await h?.close();
  });

  /**
   * Stores the file as ingest would (de-identified: same pixel bytes, new UIDs; as it is when it cannot be) with a scan
   * row and an open task.
   */
  async function seedTask(bytes: Buffer, opts: { transferSyntax?: string; raw?: boolean } = {}): Promise<string> {
    let d: ReturnType<typeof deidentifyObject> | undefined;
    try {
      d = opts.raw ? undefined : deidentifyObject(bytes, { secret: randomBytes(24).toString('hex') });
    } catch {
      d = undefined; // e.g. HTJ2K_08_RGB has no Study Instance UID (ingest would refuse it): stored as it is
    }
    const output = d?.output ?? bytes;
    const imageId = d?.imageId ?? randomBytes(16).toString('hex');
    const scanId = `scan-${h.prefix}-${randomUUID()}`;
    await h.store.put('deidentified', output, { key: imageId });
    await h.ds.query(
      `INSERT INTO scans (id, image_id, split, policy, stage, rows, columns, transfer_syntax, deidentified_key) VALUES ($1, $2, 'train', 'independent-3', 'reading', 0, 0, $3, $4)`,
      [scanId, imageId, opts.transferSyntax ?? transferSyntaxOf(output), imageId],
    );
    const taskId = randomUUID();
    await h.ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at) VALUES ($1, $2, $3, 'reader', 0, 'open', now(), now() + interval '1 day')`,
      [taskId, scanId, radId],
    );
    return taskId;
  }

  function png(taskId: string, query: Record<string, string | number> = {}, token = manager) {
    return h
      .http()
      .get(`/api/v1/tasks/${taskId}/image`)
      .query({ format: 'png', ...query })
      .set(h.bearer(token))
      .buffer(true)
      .parse(binary as never);
  }

  const nih = (): Buffer => corpus('cxr/dicom_00000001_000.dcm');
  const film = syntheticFilm(300, 256, 'previews-encodings');

  /** Every encoding: the corpus files with pixels, and films encoded here by independent encoders. */
  const CASES: [string, () => Buffer][] = [
    ['cxr/RG1_J2KI.dcm (JPEG 2000 lossy, MONOCHROME1, 15-bit)', () => corpus('cxr/RG1_J2KI.dcm')],
    ['cxr/dicom_00000001_000.dcm (implicit VR LE, 8-bit)', nih],
    ['cxr/1.3.6.1.4.1.11129….dcm (implicit VR LE)', () => corpus('cxr/1.3.6.1.4.1.11129.5.5.110503645592756492463169821050252582267888.dcm')],
    ...[
      'CT_small', // explicit LE, signed 16-bit, rescale
      'MR_small', // explicit LE
      'MR_small_implicit', // implicit LE
      'MR_small_bigendian', // explicit BE
      'ExplVR_BigEnd', // explicit BE, RGB
      'explicit_big', // explicit BE, signed, Window Width 0 (ignored)
      'image_dfl', // deflated
      'dx_image', // MONOCHROME1
      'examples_overlay', // overlay planes (not drawn)
      'JPGExtended', // JPEG extended 12-bit (process 4)
      'examples_ybr_color', // JPEG baseline YBR_FULL_422, multi-frame
      'MR_small_jpeg_ls_lossless', // JPEG-LS lossless
      'MR_small_jp2klossless', // JPEG 2000 lossless
      'JPEG2000', // JPEG 2000 lossy, signed
      'HTJ2K_08_RGB', // HTJ2K, RGB
      'MR_small_RLE', // RLE 16-bit
      'emri_small_RLE', // RLE, multi-frame
      'SC_rgb_rle_2frame', // RLE RGB
    ].map((f): [string, () => Buffer] => [`valid/${f}.dcm`, () => corpus(`valid/${f}.dcm`)]),
    ['JPEG baseline 8-bit (dcmcjpeg +eb)', () => encodeWith(nih(), 'dcmcjpeg', ['+eb', '{in}', '{out}'])],
    ['JPEG extended 12-bit (dcmcjpeg +ee)', () => encodeWith(film, 'dcmcjpeg', ['+ee', '{in}', '{out}'])],
    ['JPEG lossless SV1 (dcmcjpeg +e1)', () => encodeWith(corpus('valid/CT_small.dcm'), 'dcmcjpeg', ['+e1', '{in}', '{out}'])],
    ['JPEG lossless process 14, SV 2 (dcmcjpeg +el)', () => encodeWith(film, 'dcmcjpeg', ['+el', '+sv', '2', '{in}', '{out}'])],
    ['JPEG-LS near-lossless (dcmcjpls +en)', () => encodeWith(film, 'dcmcjpls', ['+en', '{in}', '{out}'])],
    ['RLE lossless of a 12-bit film (dcmcrle)', () => encodeWith(film, 'dcmcrle', ['{in}', '{out}'])],
    ['JPEG 2000 lossless of a 12-bit film (gdcmconv --j2k)', () => encodeWith(film, 'gdcmconv', ['--j2k', '{in}', '{out}'])],
    ['HTJ2K lossless of a 12-bit film (ojph_compress)', () => htj2kFrom(film)],
    ['deflated film (dcmconv +td)', () => encodeWith(film, 'dcmconv', ['+td', '{in}', '{out}'])],
  ];

  it.each(CASES)('%s: the PNG has the image’s size and matches the independent rendering', async (_name, make) => {
    const bytes = make();
    const taskId = await seedTask(bytes);
    const res = await png(taskId).expect(200);
    expect(res.headers['content-type']).toBe('image/png');
    const got = decodePng(res.body as Buffer);
    // HTJ2K grayscale made here: dcmtk has no HTJ2K codec; the lossless source film is the reference.
    const reference = transferSyntaxOf(bytes) === '1.2.840.10008.1.2.4.201' ? film : bytes;
    const want: Raster = oracleRender(reference, { hasVoi: hasVoiWindow(reference) });
    expect([got.width, got.height, got.channels]).toEqual([want.width, want.height, want.channels]);
    const c = compare(got, want);
    expect(c.correlation).toBeGreaterThan(0.99);
    expect(Math.abs(c.meanA - c.meanB)).toBeLessThan(3);
    expect(c.meanAbsDiff).toBeLessThan(3);
    expect(stats(got).std).toBeGreaterThan(5); // an image, not a flat field
  });

  it('shows MONOCHROME1 inverted: the same pixels as MONOCHROME2 render as the negative', async () => {
    const m1 = corpus('valid/dx_image.dcm');
    const i = m1.indexOf('MONOCHROME1');
    expect(i).toBeGreaterThan(0);
    const m2 = Buffer.from(m1);
    m2.write('MONOCHROME2', i, 'latin1');
    const a = decodePng((await png(await seedTask(m1)).expect(200)).body as Buffer);
    const b = decodePng((await png(await seedTask(m2)).expect(200)).body as Buffer);
    let maxDiff = 0;
    for (let k = 0; k < a.data.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a.data[k] - (255 - b.data[k])));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  it('window/level change the output, default to the file’s VOI (else the pixel range), and match dcmtk’s window', async () => {
    const taskId = await seedTask(corpus('valid/CT_small.dcm'));
    const def = await png(taskId).expect(200);
    expect(hasVoiWindow(corpus('valid/CT_small.dcm'))).toBe(false);
    const lung = await png(taskId, { window: 1500, level: -600 }).expect(200);
    const bone = await png(taskId, { window: 2000, level: 300 }).expect(200);
    expect([lung.headers['x-image-window'], lung.headers['x-image-level']]).toEqual(['1500', '-600']);
    expect(def.headers['x-image-window']).not.toBe('1500');
    const [d, l, b] = [def, lung, bone].map((r) => decodePng(r.body as Buffer));
    expect(compare(l, b).meanAbsDiff).toBeGreaterThan(10);
    expect(compare(d, l).meanAbsDiff).toBeGreaterThan(10);
    // The same window in dcmtk (dcmj2pnm +Ww center width) gives the same picture.
    const ref = oracleRender(corpus('valid/CT_small.dcm'), { hasVoi: false, window: { center: 300, width: 2000 } });
    const c = compare(b, ref);
    expect(c.correlation).toBeGreaterThan(0.99);
    expect(c.meanAbsDiff).toBeLessThan(2);
    // A file with a VOI window uses it by default.
    const mr = await png(await seedTask(corpus('valid/MR_small.dcm'))).expect(200);
    expect([mr.headers['x-image-window'], mr.headers['x-image-level']]).toEqual(['1600', '600']);
  });

  it('size downscales (aspect kept, never enlarged); a JPEG 2000 film is decoded at a lower resolution level', async () => {
    const j2k = await seedTask(corpus('cxr/RG1_J2KI.dcm'));
    const small = decodePng((await png(j2k, { size: 512 }).expect(200)).body as Buffer);
    expect([small.width, small.height]).toEqual([Math.round((1841 * 512) / 1955), 512]);
    const full = oracleRender(corpus('cxr/RG1_J2KI.dcm'), { hasVoi: true });
    expect(Math.abs(stats(small).mean - stats(full).mean)).toBeLessThan(3);
    const tiny = await seedTask(corpus('valid/MR_small.dcm'));
    const same = decodePng((await png(tiny, { size: 1024 }).expect(200)).body as Buffer);
    expect([same.width, same.height]).toEqual([64, 64]);
  });

  it('answers 422 naming the field for bad window, level or size, and for PNG parameters without format=png', async () => {
    const taskId = await seedTask(corpus('valid/MR_small.dcm'));
    const cases: [Record<string, string | number>, string][] = [
      [{ window: 0 }, 'window'],
      [{ window: 'wide' }, 'window'],
      [{ level: 'NaN' }, 'level'],
      [{ level: 1e9 }, 'level'],
      [{ size: 8 }, 'size'],
      [{ size: 100.5 }, 'size'],
      [{ size: 100_000 }, 'size'],
    ];
    for (const [query, field] of cases) {
      const res = await png(taskId, query).expect(422);
      expect(res.headers['content-type']).toContain('application/problem+json');
      const body = JSON.parse((res.body as Buffer).toString());
      expect(body.errors.map((e: { path: string }) => e.path)).toEqual([field]);
    }
    const dicom = await h.http().get(`/api/v1/tasks/${taskId}/image`).query({ window: 400 }).set(h.bearer(manager)).expect(422);
    expect(dicom.body.errors).toEqual([expect.objectContaining({ path: 'window', code: 'not-applicable' })]);
  });

  it('sends an ETag per image and parameters; If-None-Match answers 304 without rendering', async () => {
    const taskId = await seedTask(nih());
    const first = await png(taskId, { size: 256 }, rad).expect(200);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[0-9a-f]{32}-png\d+-w-l-s256"$/);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    const again = await png(taskId, { size: 256 }, rad).set('If-None-Match', etag).expect(304);
    expect(again.headers.etag).toBe(etag);
    expect((again.body as Buffer).length).toBe(0);
    const other = await png(taskId, { size: 256, window: 100 }, rad).set('If-None-Match', etag).expect(200);
    expect(other.headers.etag).not.toBe(etag);
    // The reader loses the image with the task (reassigned): 404, whatever the ETag.
    await h.ds.query(`UPDATE tasks SET status = 'reassigned' WHERE id = $1`, [taskId]);
    await png(taskId, { size: 256 }, rad).set('If-None-Match', etag).expect(404);
  });

  it('answers 415 naming the transfer syntax when no decoder supports it', async () => {
    // HTJ2K_08_RGB relabelled JPEG XL (same UID length): stored as such, no decoder for it.
    const bytes = Buffer.from(corpus('valid/HTJ2K_08_RGB.dcm'));
    const at = bytes.indexOf('1.2.840.10008.1.2.4.203');
    bytes.write('1.2.840.10008.1.2.4.110', at, 'latin1');
    for (const transferSyntax of ['1.2.840.10008.1.2.4.110', '1.2.840.10008.1.2.4.203']) {
      // The scan row's transfer syntax decides before any decoding; the file's decides when the row says nothing else.
      const taskId = await seedTask(bytes, { raw: true, transferSyntax });
      const res = await png(taskId).expect(415);
      const body = JSON.parse((res.body as Buffer).toString());
      expect(body).toMatchObject({ type: 'https://readflow.dev/problems/unsupported-media-type', status: 415, transferSyntax: '1.2.840.10008.1.2.4.110' });
      expect(body.detail).toContain('1.2.840.10008.1.2.4.110');
      await h.http().get(`/api/v1/tasks/${taskId}/image`).set(h.bearer(manager)).expect(200); // the DICOM is still served
    }
  });

  it('keeps rendered PNGs in a cache bounded by its byte budget (least recently used evicted)', async () => {
    const tasks = [await seedTask(nih()), await seedTask(corpus('cxr/1.3.6.1.4.1.11129.5.5.110503645592756492463169821050252582267888.dcm'))];
    const sizes = [1024, 1000, 960, 900];
    const rendered: { task: string; size: number; bytes: number }[] = [];
    for (const task of tasks) {
      for (const size of sizes) {
        const res = await png(task, { size }).expect(200);
        expect(res.headers['x-preview-cache']).toBe('miss');
        rendered.push({ task, size, bytes: (res.body as Buffer).length });
      }
    }
    const total = rendered.reduce((s, r) => s + r.bytes, 0);
    expect(total).toBeGreaterThan(1.5 * CACHE_BYTES); // more than the budget was rendered
    const metrics = await h.http().get('/metrics').expect(200);
    const held = Number(/^readflow_preview_cache_bytes (\d+)/m.exec(metrics.text)?.[1]);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(CACHE_BYTES);
    // The latest is served from the cache; the first was evicted and is rendered again.
    const last = rendered[rendered.length - 1];
    expect((await png(last.task, { size: last.size }).expect(200)).headers['x-preview-cache']).toBe('hit');
    expect((await png(rendered[0].task, { size: rendered[0].size }).expect(200)).headers['x-preview-cache']).toBe('miss');
    expect(metrics.text).toMatch(/readflow_preview_requests_total\{outcome="rendered"\} \d+/);
  });

  it('renders concurrent requests for the same preview once', async () => {
    const taskId = await seedTask(corpus('cxr/RG1_J2KI.dcm'));
    const before = await h.http().get('/metrics').expect(200);
    const count = (text: string): number => Number(/readflow_preview_requests_total\{outcome="rendered"\} (\d+)/.exec(text)?.[1] ?? 0);
    const all = await Promise.all([0, 1, 2, 3].map(() => png(taskId, { size: 300 })));
    expect(all.map((r: Response) => r.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(all.map((r: Response) => (r.body as Buffer).toString('base64'))).size).toBe(1);
    const after = await h.http().get('/metrics').expect(200);
    expect(count(after.text) - count(before.text)).toBe(1);
  });
});

describe('the pixel cap at ingest', () => {
  let h: ApiHarness;
  let manager: string;

  beforeAll(async () => {
    // The NIH film is 1024 × 1024 = 1,048,576 pixels: over this cap.
    h = await startApiHarness({ worker: true, env: { READFLOW_MAX_IMAGE_PIXELS: '1000000' } });
    await ensureDefaultRoster(h.ds);
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('quarantines an image of more pixels than READFLOW_MAX_IMAGE_PIXELS as image-too-large, naming its size', async () => {
    const res = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').attach('file', freshCxr(), 'big.dcm').expect(202);
    const scanId = res.body.scanId as string;
    const scan = await eventually(async () => {
      const s = await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager));
      return s.body.stage === 'quarantined' ? s.body : undefined;
    }, 60_000, 'quarantine');
    expect(scan.quarantineReason).toBe('image-too-large');
    const list = await h.http().get('/api/v1/quarantine').query({ limit: 200 }).set(h.bearer(manager)).expect(200);
    const entry = list.body.items.find((q: { scanId: string }) => q.scanId === scanId);
    expect(entry.reason).toBe('image-too-large');
    expect(entry.detail).toContain('1024 × 1024 = 1048576 pixels, more than the cap of 1000000');
  });
});
