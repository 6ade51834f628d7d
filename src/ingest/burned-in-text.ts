/**
 * Burned-in text check of radiographs (issue 11): OCR (Debian's `tesseract`, 5.x) on a downscaled 8-bit copy of the
 * first frame, run by the ingest activity (never on the request path). Text that looks identifying — a date, an
 * id-like number, name-like words — makes the image refused (`burned-in-annotation`); laterality markers (L/R) and
 * short device/position labels (PA, AP, ERECT, PORTABLE…) are allowed.
 *
 * Compressed pixel data is decoded with GDCM's `gdcmconv --raw` (libgdcm-tools) first. When the pixels cannot be
 * decoded or the OCR engine cannot run, the check answers `unavailable`: the caller refuses the image (fail closed).
 * Verdicts are cached in memory by the SHA-256 of the rendered pixels (copies of a film differ only in their header),
 * and by the SHA-256 of what the rendering is a function of (transfer syntax, every Image Pixel / presentation
 * attribute of group 0028, the Pixel Data bytes: {@link pixelKey}), looked up before decoding; checks of the same pixels
 * running at once share one decode and one OCR run.
 *
 * OCR runs in batches (issue #12, the VinDr-scale run): starting tesseract and loading its model costs about 0.1 CPU-s,
 * more than reading a small film, so the images that queue while one run works go to the next run together, as a list
 * of files (`tesseract list.txt - tsv`: one page per image, the same words and confidences as one run each). At most
 * half the cores' worth of runs at once by default (one on 2 cores), so OCR leaves the worker room. A batch tesseract refuses is read again
 * one image at a time: one bad image fails only its own check.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';

import { renderPreview8 } from '../dicom';
import { parseDicomBytes, PIXEL_DATA } from '../dicom/parse';
import { renderPixels } from '../dicom/render';

export interface OcrWord {
  text: string;
  conf: number;
}

export interface BurnedInTextVerdict {
  identifying: boolean;
  /** Why (e.g. `date "1965-04-12"`), empty when clean. */
  reasons: string[];
  /** Words read with enough confidence (for logs; not stored with the scan: they may identify). */
  words: string[];
}

export type BurnedInTextResult = { ok: true; verdict: BurnedInTextVerdict } | { ok: false; detail: string };

export interface BurnedInTextCheck {
  check(dicom: Uint8Array): Promise<BurnedInTextResult>;
}

/** Words that may appear burned into a chest film without identifying anyone: markers, views, positions, device labels. */
export const SAFE_WORDS: ReadonlySet<string> = new Set(
  [
    'L', 'R', 'LT', 'RT', 'LEFT', 'RIGHT', 'PA', 'AP', 'LAT', 'LATERAL', 'LL', 'RL', 'OBL', 'ERECT', 'UPRIGHT', 'SUPINE',
    'SEMI', 'SITTING', 'STANDING', 'PORTABLE', 'PORT', 'MOBILE', 'CHEST', 'THORAX', 'INSP', 'EXP', 'INSPIRATION',
    'EXPIRATION', 'DX', 'CR', 'KV', 'KVP', 'MA', 'MAS', 'MM', 'CM', 'GRID', 'DECUB', 'DECUBITUS', 'BED', 'TABLE', 'WALL',
  ],
);

const MIN_CONF = 70;

/** Decides whether OCR words look identifying (dates, ids, names) rather than markers and device labels. */
export function classifyOcrWords(words: OcrWord[]): BurnedInTextVerdict {
  const kept = words.map((w) => ({ text: w.text.toUpperCase().replace(/^[^A-Z0-9]+|[^A-Z0-9]+$/g, ''), conf: w.conf })).filter((w) => w.text !== '' && w.conf >= MIN_CONF);
  const reasons: string[] = [];
  const line = kept.map((w) => w.text).join(' ');
  const date = /\b(?:(?:19|20)\d{2}[-/.]?[01]\d[-/.]?[0-3]\d|[0-3]?\d[-/.][01]?\d[-/.](?:19|20)?\d{2})\b/.exec(line);
  if (date) reasons.push(`date ${JSON.stringify(date[0])}`);
  for (const w of kept) {
    const digits = (w.text.match(/\d/g) ?? []).length;
    if (digits >= 5 || (digits >= 3 && /[A-Z]/.test(w.text) && w.text.length >= 5)) reasons.push(`id-like ${JSON.stringify(w.text)}`);
  }
  const nameLike = kept.filter((w) => /^[A-Z]{3,}$/.test(w.text) && !SAFE_WORDS.has(w.text));
  const strong = nameLike.filter((w) => w.conf >= 85 && w.text.length >= 4);
  if (nameLike.length >= 2 || strong.length >= 1) reasons.push(`name-like ${nameLike.map((w) => JSON.stringify(w.text)).join(' ')}`);
  return { identifying: reasons.length > 0, reasons, words: kept.map((w) => w.text) };
}

/** Box-filter downscale (long side ≤ maxSide) or nearest upscale (long side ≥ minSide) of an 8-bit image. */
export function resample(px: Uint8Array, w: number, h: number, minSide: number, maxSide: number): { pixels: Uint8Array; width: number; height: number } {
  const long = Math.max(w, h);
  if (long > maxSide) {
    const f = Math.ceil(long / maxSide);
    const W = Math.floor(w / f);
    const H = Math.floor(h / f);
    const out = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += px[(y * f + dy) * w + x * f + dx];
        out[y * W + x] = Math.round(s / (f * f));
      }
    }
    return { pixels: out, width: W, height: H };
  }
  if (long < minSide) {
    const f = Math.ceil(minSide / long);
    const W = w * f;
    const H = h * f;
    const out = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = px[Math.floor(y / f) * w + Math.floor(x / f)];
    return { pixels: out, width: W, height: H };
  }
  return { pixels: px, width: w, height: h };
}

function run(cmd: string, args: string[], input: Buffer | undefined, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // The tool inherits the environment as any child does (not configuration), with OpenMP held to one thread.
    // eslint-disable-next-line no-restricted-properties
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, OMP_THREAD_LIMIT: '1' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Parses tesseract's TSV output into words with confidences. */
export function parseTesseractTsv(tsv: string): OcrWord[] {
  return parseTesseractTsvPages(tsv, 1)[0];
}

/**
 * Parses the TSV of a run over a list of `pages` images into the words of each, by the `page_num` column (1-based, the
 * image's place in the list). Words of a page outside 1..pages make it throw: the output is not the list's.
 */
export function parseTesseractTsvPages(tsv: string, pages: number): OcrWord[][] {
  const out: OcrWord[][] = Array.from({ length: pages }, () => []);
  for (const line of tsv.split('\n').slice(1)) {
    const f = line.split('\t');
    if (f.length < 12 || f[0] !== '5') continue;
    const text = f[11].trim();
    const conf = Number(f[10]);
    if (text === '' || !Number.isFinite(conf)) continue;
    const page = pages === 1 ? 1 : Number(f[1]);
    if (!Number.isInteger(page) || page < 1 || page > pages) throw new Error(`tesseract answered for page ${f[1]} of ${pages}`);
    out[page - 1].push({ text, conf });
  }
  return out;
}

type OcrRun = { ok: true; words: OcrWord[] } | { ok: false; detail: string };

/**
 * Queues OCR requests and runs them in batches: at most `concurrency` tesseract processes at once, each over at most
 * `maxBatch` images (those queued when it starts). `spawns` counts the processes started.
 */
function tesseractBatches(tesseract: string, timeoutMs: number, concurrency: number, maxBatch: number): { ocr(pgm: Buffer): Promise<OcrRun>; spawns(): number } {
  const queue: { pgm: Buffer; done: (r: OcrRun) => void }[] = [];
  let active = 0;
  let spawns = 0;

  async function one(pgm: Buffer): Promise<OcrRun> {
    let r: Awaited<ReturnType<typeof run>>;
    try {
      spawns++;
      r = await run(tesseract, ['-', '-', '--psm', '11', 'tsv'], pgm, timeoutMs);
    } catch (e) {
      return { ok: false, detail: `OCR engine unavailable: ${(e as Error).message}` };
    }
    if (r.code !== 0) return { ok: false, detail: `OCR engine failed (${r.code}): ${r.stderr.slice(0, 200)}` };
    return { ok: true, words: parseTesseractTsv(r.stdout) };
  }

  /** One process over the list; undefined when it did not answer for every image (each is then read alone). */
  async function many(pgms: Buffer[]): Promise<OcrWord[][] | undefined> {
    const dir = await mkdtemp(path.join(tmpdir(), 'readflow-ocr-'));
    try {
      const files = pgms.map((_, i) => path.join(dir, `${i}.pgm`));
      await Promise.all(pgms.map((p, i) => writeFile(files[i], p)));
      await writeFile(path.join(dir, 'list.txt'), `${files.join('\n')}\n`);
      spawns++;
      const r = await run(tesseract, [path.join(dir, 'list.txt'), '-', '--psm', '11', 'tsv'], undefined, timeoutMs * pgms.length);
      return r.code === 0 ? parseTesseractTsvPages(r.stdout, pgms.length) : undefined;
    } catch {
      return undefined;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function work(batch: typeof queue): Promise<void> {
    if (batch.length === 1) return batch[0].done(await one(batch[0].pgm));
    const pages = await many(batch.map((j) => j.pgm));
    if (pages) {
      batch.forEach((j, i) => j.done({ ok: true, words: pages[i] }));
      return;
    }
    for (const j of batch) j.done(await one(j.pgm));
  }

  function pump(): void {
    while (active < concurrency && queue.length > 0) {
      active++;
      void work(queue.splice(0, maxBatch)).finally(() => {
        active--;
        pump();
      });
    }
  }

  return {
    spawns: () => spawns,
    ocr(pgm) {
      return new Promise<OcrRun>((done) => {
        queue.push({ pgm, done });
        pump();
      });
    },
  };
}

/**
 * A key of everything the rendered OCR copy is a function of: the transfer syntax, every element of group 0028
 * (rows, columns, bits, sign, samples, planar configuration, photometric interpretation, rescale, window, frames…) and
 * the Pixel Data element's bytes (encapsulated fragments included). Two files with the same key render to the same
 * pixels, whatever else their headers hold. Undefined when the file does not parse or an element has no known length
 * (the check then renders and keys by the rendered pixels only).
 */
export function pixelKey(dicom: Uint8Array): string | undefined {
  try {
    const p = parseDicomBytes(dicom);
    const elements = p.dataSet.elements;
    const bytesOf = (tag: string): Uint8Array | undefined => {
      const el = elements[tag];
      if (!el || !Number.isFinite(el.length) || el.length < 0 || el.dataOffset + el.length > p.bytes.length) return undefined;
      return p.bytes.subarray(el.dataOffset, el.dataOffset + el.length);
    };
    const pixels = bytesOf(PIXEL_DATA);
    if (!pixels) return undefined;
    const h = createHash('sha256').update(`${p.transferSyntax}\n`);
    for (const tag of Object.keys(elements).filter((t) => t.startsWith('x0028')).sort()) {
      const value = bytesOf(tag);
      if (!value) return undefined;
      h.update(`${tag}:${value.length}:`).update(value);
    }
    return h.update(`${PIXEL_DATA}:${pixels.length}:`).update(pixels).digest('hex');
  } catch {
    return undefined;
  }
}

export interface TesseractCheckOptions {
  tesseract?: string;
  gdcmconv?: string;
  /** Long side of the OCR copy at most (default 1024: box-filtered down). */
  maxSide?: number;
  /** Long side of the OCR copy at least (default 0: small images are not enlarged). */
  minSide?: number;
  /** Per image (a batch of n gets n times it). */
  timeoutMs?: number;
  /** Tesseract processes at once (default half the cores, at least 1: OCR leaves the other half to the worker). */
  concurrency?: number;
  /** Images in one tesseract process at most (default 16). */
  maxBatch?: number;
}

/** The OCR check with Debian's tesseract (and gdcmconv for compressed pixel data). */
export function tesseractTextCheck(opts: TesseractCheckOptions = {}): BurnedInTextCheck & { calls: () => number; spawns: () => number } {
  const tesseract = opts.tesseract ?? 'tesseract';
  const gdcmconv = opts.gdcmconv ?? 'gdcmconv';
  const maxSide = opts.maxSide ?? 1024;
  const minSide = opts.minSide ?? 0;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const ocr = tesseractBatches(tesseract, timeoutMs, opts.concurrency ?? Math.max(1, Math.floor(availableParallelism() / 2)), opts.maxBatch ?? 16);
  const cache = new Map<string, BurnedInTextVerdict>();
  /** Checks running now, by {@link pixelKey}: a copy of the same pixels waits for the same answer. */
  const running = new Map<string, Promise<BurnedInTextResult>>();
  let calls = 0;

  function remember(key: string, verdict: BurnedInTextVerdict): void {
    if (cache.size >= 512) cache.delete(cache.keys().next().value as string);
    cache.set(key, verdict);
  }

  async function decoded(dicom: Uint8Array): Promise<ReturnType<typeof renderPreview8>> {
    const first = renderPreview8(dicom);
    if (first.ok || first.reason !== 'unsupported-transfer-syntax') return first;
    const dir = await mkdtemp(path.join(tmpdir(), 'readflow-ocr-'));
    try {
      await writeFile(path.join(dir, 'in.dcm'), dicom);
      const r = await run(gdcmconv, ['--raw', path.join(dir, 'in.dcm'), path.join(dir, 'raw.dcm')], undefined, timeoutMs);
      if (r.code !== 0) return viaPreviewDecoders(dicom, `gdcmconv --raw failed: ${r.stderr.slice(0, 200)}`);
      return renderPreview8(await readFile(path.join(dir, 'raw.dcm')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * What GDCM cannot decode (e.g. HTJ2K in Debian's GDCM) through the previews' decoders (src/dicom/pixels.ts: the
   * Cornerstone3D WebAssembly codecs), windowed to 8 bits; colour averaged to gray.
   */
  async function viaPreviewDecoders(dicom: Uint8Array, gdcmFailure: string): Promise<ReturnType<typeof renderPreview8>> {
    try {
      const r = await renderPixels(dicom);
      if (r.channels === 1) return { ok: true, width: r.width, height: r.height, pixels: r.pixels };
      const gray = new Uint8Array(r.width * r.height);
      for (let i = 0; i < gray.length; i++) gray[i] = Math.round((r.pixels[3 * i] + r.pixels[3 * i + 1] + r.pixels[3 * i + 2]) / 3);
      return { ok: true, width: r.width, height: r.height, pixels: gray };
    } catch (e) {
      return { ok: false, reason: 'unsupported-transfer-syntax', detail: `${gdcmFailure}; ${(e as Error).message}` };
    }
  }

  /** Decodes, renders and OCRs (unless the rendered pixels are known); remembers the verdict under both keys. */
  async function checkRendered(dicom: Uint8Array, raw: string | undefined): Promise<BurnedInTextResult> {
    let img: ReturnType<typeof renderPreview8>;
    try {
      img = await decoded(dicom);
    } catch (e) {
      return { ok: false, detail: `pixels not decoded for the burned-in text check: ${(e as Error).message}` };
    }
    if (!img.ok) return { ok: false, detail: `pixels not decoded for the burned-in text check: ${img.reason}${img.detail ? ` (${img.detail})` : ''}` };
    const small = resample(img.pixels, img.width, img.height, minSide, maxSide);
    const key = createHash('sha256').update(small.pixels).digest('hex');
    const cached = cache.get(key);
    if (cached) {
      if (raw) remember(raw, cached);
      return { ok: true, verdict: cached };
    }
    const pgm = Buffer.concat([Buffer.from(`P5 ${small.width} ${small.height} 255\n`, 'latin1'), small.pixels]);
    calls++;
    const r = await ocr.ocr(pgm);
    if (!r.ok) return r;
    const verdict = classifyOcrWords(r.words);
    remember(key, verdict);
    if (raw) remember(raw, verdict);
    return { ok: true, verdict };
  }

  return {
    calls: () => calls,
    spawns: ocr.spawns,
    check(dicom) {
      const raw = pixelKey(dicom);
      if (raw === undefined) return checkRendered(dicom, undefined);
      const cached = cache.get(raw);
      if (cached) return Promise.resolve({ ok: true, verdict: cached });
      const pending = running.get(raw);
      if (pending) return pending;
      const out = checkRendered(dicom, raw).finally(() => running.delete(raw));
      running.set(raw, out);
      return out;
    },
  };
}
