import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';

import * as dicomParser from 'dicom-parser';

/** Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it). Never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Screenshots of the browser tests (git-ignored). */
export const ARTIFACTS = path.resolve(__dirname, '../artifacts');
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, `${name}.png`);
}

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the browser tests drive Debian's Chromium headless. Install it with \`apt-get install -y chromium\` (.ci/run does).`,
    );
  }
}

/** The NEMA WG04 JPEG 2000 chest film (MONOCHROME1, 1841 × 1955, 15 bits) with a fresh SOP Instance UID of the same length. */
export function freshJ2k(): Buffer {
  const text = readFileSync(path.resolve(__dirname, '../fixtures/dicom/cxr/RG1_J2KI.dcm')).toString('latin1');
  const uid = '1.3.6.1.4.1.5962.1.1.9.1.3.20040826185059.5457';
  if (!text.includes(uid)) throw new Error('the J2K sample changed: no SOP Instance UID to vary');
  const digits = Array.from(randomBytes(18), (b) => String(b % 10)).join('');
  const fresh = `${uid.slice(0, uid.length - 19)}9${digits.slice(0, 13)}.${digits.slice(13, 17)}`;
  return Buffer.from(text.split(uid).join(fresh), 'latin1');
}

/** The same bytes declared MONOCHROME1 instead of MONOCHROME2 (same length): the same pixels, to be shown inverted. */
export function asMonochrome1(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1');
  if (!text.includes('MONOCHROME2')) throw new Error('not a MONOCHROME2 file');
  return Buffer.from(text.split('MONOCHROME2').join('MONOCHROME1'), 'latin1');
}

/** A film decoded by an independent tool (gdcmconv --raw), its stored values and its default VOI. */
export interface Film {
  columns: number;
  rows: number;
  photometric: string;
  /** Modality values (rescale applied), row-major. */
  values: Float64Array;
  /** The window of the file's VOI (DICOM linear function), else the value range. */
  voi: { lower: number; upper: number };
}

export function decodeFilm(dicom: Buffer): Film {
  const dir = mkdtempSync(path.join(tmpdir(), 'readflow-film-'));
  try {
    const src = path.join(dir, 'in.dcm');
    const raw = path.join(dir, 'raw.dcm');
    writeFileSync(src, dicom);
    execFileSync('gdcmconv', ['--raw', src, raw], { stdio: ['ignore', 'ignore', 'pipe'] });
    const bytes = readFileSync(raw);
    const ds = dicomParser.parseDicom(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    const rows = ds.uint16('x00280010')!;
    const columns = ds.uint16('x00280011')!;
    const bits = ds.uint16('x00280100')!;
    const signed = ds.uint16('x00280103') === 1;
    const slope = ds.floatString('x00281053') ?? 1;
    const intercept = ds.floatString('x00281052') ?? 0;
    const px = ds.elements.x7fe00010;
    const values = new Float64Array(rows * columns);
    const view = new DataView(bytes.buffer, bytes.byteOffset + px.dataOffset, px.length);
    for (let i = 0; i < values.length; i++) {
      const v =
        bits === 8 ? view.getUint8(i) : signed ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true);
      values[i] = v * slope + intercept;
    }
    const center = ds.floatString('x00281050');
    const width = ds.floatString('x00281051');
    let voi: Film['voi'];
    if (center !== undefined && width !== undefined && width > 1) {
      voi = { lower: center - 0.5 - (width - 1) / 2, upper: center - 0.5 + (width - 1) / 2 };
    } else {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of values) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      voi = { lower: lo, upper: hi };
    }
    return { columns, rows, photometric: ds.string('x00280004') ?? '', values, voi };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mean display brightness (0–255) of a region of a film under its default window, inverted for MONOCHROME1. */
export function expectedBrightness(
  film: Film,
  region: { x0: number; y0: number; x1: number; y1: number },
  invert = film.photometric === 'MONOCHROME1',
): number {
  const { lower, upper } = film.voi;
  let sum = 0;
  let n = 0;
  for (let y = Math.floor(region.y0); y < Math.ceil(region.y1); y++) {
    for (let x = Math.floor(region.x0); x < Math.ceil(region.x1); x++) {
      const d = Math.min(1, Math.max(0, (film.values[y * film.columns + x] - lower) / (upper - lower)));
      sum += invert ? 1 - d : d;
      n += 1;
    }
  }
  return (sum / n) * 255;
}

/**
 * The cell of a 4 × 4 grid over the film whose expected brightness is farthest from mid-grey, so that an inverted and
 * a non-inverted display differ clearly there.
 */
export function telltaleRegion(film: Film): { x0: number; y0: number; x1: number; y1: number } {
  let best = { x0: 0, y0: 0, x1: 1, y1: 1 };
  let score = -1;
  for (let gy = 0; gy < 4; gy++) {
    for (let gx = 0; gx < 4; gx++) {
      const r = {
        x0: ((gx + 0.15) * film.columns) / 4,
        y0: ((gy + 0.15) * film.rows) / 4,
        x1: ((gx + 0.85) * film.columns) / 4,
        y1: ((gy + 0.85) * film.rows) / 4,
      };
      const s = Math.abs(expectedBrightness(film, r, false) - 127.5);
      if (s > score) {
        score = s;
        best = r;
      }
    }
  }
  return best;
}

/** Where a film of `columns × rows` lands in a viewport of `box` when fitted whole and centred (the viewer's default). */
export function fitted(
  box: { x: number; y: number; width: number; height: number },
  columns: number,
  rows: number,
): { scale: number; left: number; top: number; toScreen(x: number, y: number): [number, number]; toImage(sx: number, sy: number): [number, number] } {
  const scale = Math.min(box.width / columns, box.height / rows);
  const left = box.x + (box.width - columns * scale) / 2;
  const top = box.y + (box.height - rows * scale) / 2;
  return {
    scale,
    left,
    top,
    toScreen: (x, y) => [left + x * scale, top + y * scale],
    toImage: (sx, sy) => [(sx - left) / scale, (sy - top) / scale],
  };
}

/** Decodes an 8-bit RGB/RGBA/grey PNG (what Chromium's screenshots are) into its red channel. */
export function pngChannel(png: Buffer): { width: number; height: number; values: Uint8Array } {
  let p = 8;
  let width = 0;
  let height = 0;
  let colourType = 0;
  const idat: Buffer[] = [];
  while (p < png.length) {
    const len = png.readUInt32BE(p);
    const type = png.toString('ascii', p + 4, p + 8);
    const data = png.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error('only 8-bit, non-interlaced PNGs');
      colourType = data[9];
    } else if (type === 'IDAT') idat.push(data);
    p += 12 + len;
  }
  const bpp = colourType === 6 ? 4 : colourType === 2 ? 3 : colourType === 4 ? 2 : 1;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[y * stride + x - bpp] : 0;
      const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? out[(y - 1) * stride + x - bpp] : 0;
      let v = raw[y * (stride + 1) + 1 + x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const q = a + b - c;
        const pa = Math.abs(q - a);
        const pb = Math.abs(q - b);
        const pc = Math.abs(q - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + x] = v & 255;
    }
  }
  const values = new Uint8Array(width * height);
  for (let i = 0; i < values.length; i++) values[i] = out[i * bpp];
  return { width, height, values };
}

/** Mean and standard deviation of a screenshot's (grey) pixels. */
export function stats(png: Buffer): { mean: number; sd: number } {
  const { values } = pngChannel(png);
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, sd: Math.sqrt(sq / values.length) };
}
