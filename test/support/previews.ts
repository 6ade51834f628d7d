/**
 * Helpers of the PNG preview tests and bench: test films in other encodings (made by independent encoders: dcmtk,
 * GDCM, OpenJPH's ojph_compress), reference renderings by independent decoders (dcmtk's dcmj2pnm, after gdcmconv
 * --raw for JPEG 2000; OpenJPH's ojph_expand for HTJ2K), PNG decoding (pngjs) and comparison statistics.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import * as dicomParser from 'dicom-parser';
import { PNG } from 'pngjs';

import { fileMeta } from '../../src/dicom/deidentify';
import { Encoder } from '../../src/dicom/writer';
import { syntheticChest } from '../../src/simulate/dicom';
import { Rng } from '../../src/simulate/random';
import { drawTruth } from '../../src/simulate/truth';

/** 8-bit samples, 1 (gray) or 3 (RGB) per pixel, row-major. */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** A synthetic 16-bit (12 bits stored) MONOCHROME2 chest film, explicit VR little endian, `rows` × `columns`. */
export function syntheticFilm(rows: number, columns: number, seed = 'previews'): Buffer {
  const rng = new Rng(seed);
  return syntheticChest({ runId: '4242', n: rng.int(1, 1e6), rows, columns, modality: 'DX', encoding: 'explicit', truth: drawTruth(rng, rows, columns), rng }).bytes;
}

/** `noisyFilm`, made in this process (slow inside a Jest test file: see plain-node.js). */
export function noisyFilmHere(rows: number, columns: number, seed = 'noisy', noise = 48): Buffer {
  const rng = new Rng(seed);
  return syntheticChest({ runId: '4243', n: rng.int(1, 1e6), rows, columns, modality: 'DX', encoding: 'explicit', truth: drawTruth(rng, rows, columns), rng, noise }).bytes;
}

/**
 * A synthetic film with seeded film grain (±`noise` of 4096), so that it compresses like a real radiograph. Made by
 * the same code in a plain Node child process: the same bytes, 10–20× faster than in the test file's sandbox.
 */
export function noisyFilm(rows: number, columns: number, seed = 'noisy', noise = 48): Buffer {
  return execFileSync(process.execPath, [path.join(__dirname, 'plain-node.js'), __filename, 'noisyFilmHere', JSON.stringify([rows, columns, seed, noise])], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 30,
  });
}

export function tempDir(): { dir: string; file(name: string): string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'readflow-previews-'));
  return { dir, file: (name) => path.join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 }).toString();
}

/** True when the file has a usable first VOI window (Window Width ≥ 1) on a grayscale image. */
export function hasVoiWindow(bytes: Uint8Array): boolean {
  const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
  const width = Number((ds.string('x00281051') ?? '').split('\\')[0]);
  return (ds.uint16('x00280002') ?? 1) === 1 && ds.elements.x00281050 !== undefined && width >= 1;
}

/** The transfer syntax UID of a Part 10 file. */
export function transferSyntaxOf(bytes: Uint8Array): string {
  return (dicomParser.readPart10Header(bytes as Buffer).string('x00020010') ?? '').replace(/\0/g, '').trim();
}

/** Pixel Data of frame 0 of an encapsulated file (all fragments of a single frame). */
export function firstFragmentBytes(bytes: Uint8Array): Uint8Array {
  const ds = dicomParser.parseDicom(bytes);
  const px = ds.elements.x7fe00010;
  return dicomParser.readEncapsulatedPixelDataFromFragments(ds, px, 0, px.fragments!.length) as Uint8Array;
}

/**
 * The same data set with its Pixel Data replaced by one encapsulated frame in transfer syntax `ts` (the source must be
 * explicit VR little endian with native Pixel Data as the last element, as syntheticFilm and MR_small.dcm are).
 */
export function encapsulate(source: Buffer, ts: string, frame: Uint8Array): Buffer {
  const meta = dicomParser.readPart10Header(source) as dicomParser.DataSet & { position?: number };
  const ds = dicomParser.parseDicom(source);
  const px = ds.elements.x7fe00010;
  const enc = new Encoder(true, true);
  const item = (data: Uint8Array): Buffer => Buffer.concat([Buffer.from(enc.itemHeader(0xe000, data.length)), data]);
  const padded = frame.length % 2 ? Buffer.concat([frame, Buffer.alloc(1)]) : Buffer.from(frame);
  const sopClass = (ds.string('x00080016') ?? '').replace(/\0/g, '');
  const sop = (ds.string('x00080018') ?? '').replace(/\0/g, '');
  return Buffer.concat([
    fileMeta(sopClass, sop, ts),
    source.subarray(meta.position ?? 0, px.dataOffset - 12), // explicit VR OB/OW header: tag, VR, reserved, length
    Buffer.from(enc.header(0x7fe0, 0x0010, 'OB', 0xffffffff)),
    item(Buffer.alloc(0)),
    item(padded),
    Buffer.from(enc.itemHeader(0xe0dd, 0)),
  ]);
}

/** Gray 16-bit native pixels of an explicit-LE file as a little-endian raw file (for ojph_compress). */
function nativePixels(source: Buffer): { raw: Uint8Array; rows: number; columns: number; bitsStored: number; signed: boolean } {
  const ds = dicomParser.parseDicom(source);
  const px = ds.elements.x7fe00010;
  return {
    raw: source.subarray(px.dataOffset, px.dataOffset + px.length),
    rows: ds.uint16('x00280010')!,
    columns: ds.uint16('x00280011')!,
    bitsStored: ds.uint16('x00280101')!,
    signed: ds.uint16('x00280103') === 1,
  };
}

/** `source` (unsigned 8- or 16-bit gray, explicit VR LE) encoded losslessly as HTJ2K by OpenJPH's ojph_compress (from a PGM). */
export function htj2kFrom(source: Buffer): Buffer {
  const t = tempDir();
  try {
    const p = nativePixels(source);
    if (p.signed) throw new Error('htj2kFrom: unsigned pixels only');
    const n = p.rows * p.columns;
    // PGM: one byte per sample up to maxval 255, two (big-endian) above.
    let samples: Buffer;
    if (p.bitsStored <= 8) samples = Buffer.from(p.raw.subarray(0, n));
    else {
      samples = Buffer.alloc(n * 2);
      for (let i = 0; i < n; i++) samples.writeUInt16BE(p.raw[2 * i] | (p.raw[2 * i + 1] << 8), 2 * i);
    }
    writeFileSync(t.file('in.pgm'), Buffer.concat([Buffer.from(`P5\n${p.columns} ${p.rows}\n${2 ** p.bitsStored - 1}\n`), samples]));
    run('ojph_compress', ['-i', t.file('in.pgm'), '-o', t.file('out.j2c'), '-reversible', 'true', '-num_decomps', '5']);
    return encapsulate(source, '1.2.840.10008.1.2.4.201', readFileSync(t.file('out.j2c')));
  } finally {
    t.remove();
  }
}

/** Encodes a file with a dcmtk or GDCM command line (`{in}`/`{out}` placeholders), returns the new file. */
export function encodeWith(source: Buffer, cmd: string, args: string[]): Buffer {
  const t = tempDir();
  try {
    writeFileSync(t.file('in.dcm'), source);
    run(cmd, args.map((a) => a.replace('{in}', t.file('in.dcm')).replace('{out}', t.file('out.dcm'))));
    return readFileSync(t.file('out.dcm'));
  } finally {
    t.remove();
  }
}

/** Parses binary PGM (P5) or PPM (P6) with maxval ≤ 255. */
export function readPnm(buf: Buffer): Raster {
  const tokens: string[] = [];
  let i = 0;
  while (tokens.length < 4) {
    while (i < buf.length && /\s/.test(String.fromCharCode(buf[i]))) i++;
    if (buf[i] === 0x23) {
      while (i < buf.length && buf[i] !== 0x0a) i++;
      continue;
    }
    let t = '';
    while (i < buf.length && !/\s/.test(String.fromCharCode(buf[i]))) t += String.fromCharCode(buf[i++]);
    tokens.push(t);
  }
  i++; // one whitespace after maxval
  const [magic, w, h, max] = tokens;
  if ((magic !== 'P5' && magic !== 'P6') || Number(max) > 255) throw new Error(`unsupported PNM ${magic} maxval ${max}`);
  const channels = magic === 'P5' ? 1 : 3;
  const width = Number(w);
  const height = Number(h);
  return { width, height, channels, data: new Uint8Array(buf.subarray(i, i + width * height * channels)) };
}

/**
 * The independent rendering of frame 0 as 8-bit PNM: dcmj2pnm (dcml2pnm for JPEG-LS; dcmtk) with the file's first VOI
 * window (`+Wi 1`), else the min-max window (`+Wm`), or the given window, overlays off; JPEG 2000 is first decompressed
 * by gdcmconv --raw (dcmtk has no JPEG 2000 codec), HTJ2K colour is decoded by ojph_expand.
 */
export function oracleRender(bytes: Buffer, opts: { window?: { center: number; width: number }; hasVoi: boolean }): Raster {
  const t = tempDir();
  try {
    const ts = transferSyntaxOf(bytes);
    let input = t.file('in.dcm');
    writeFileSync(input, bytes);
    if (ts.startsWith('1.2.840.10008.1.2.4.20')) {
      writeFileSync(t.file('frame.j2c'), firstFragmentBytes(bytes));
      run('ojph_expand', ['-i', t.file('frame.j2c'), '-o', t.file('out.ppm')]);
      return readPnm(readFileSync(t.file('out.ppm')));
    }
    if (ts === '1.2.840.10008.1.2.4.90' || ts === '1.2.840.10008.1.2.4.91') {
      run('gdcmconv', ['--raw', input, t.file('raw.dcm')]);
      input = t.file('raw.dcm');
    }
    const win = opts.window ? ['+Ww', String(opts.window.center), String(opts.window.width)] : opts.hasVoi ? ['+Wi', '1'] : ['+Wm'];
    // dcml2pnm is dcmj2pnm with dcmtk's JPEG-LS codec; overlays (60xx) are not part of the preview.
    const tool = ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81' ? 'dcml2pnm' : 'dcmj2pnm';
    run(tool, ['-O', ...win, input, t.file('out.pnm')]);
    return readPnm(readFileSync(t.file('out.pnm')));
  } finally {
    t.remove();
  }
}

/** Decodes a PNG (pngjs) into gray or RGB samples (gray when R = G = B everywhere). */
export function decodePng(png: Buffer): Raster & { colorType: number } {
  const img = PNG.sync.read(png);
  const n = img.width * img.height;
  const rgba = img.data;
  let gray = true;
  for (let i = 0; i < n && gray; i++) gray = rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i] === rgba[4 * i + 2];
  const channels = gray ? 1 : 3;
  const data = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = rgba[4 * i + c];
  const colorType = (img as unknown as { colorType?: number }).colorType ?? (channels === 1 ? 0 : 2);
  return { width: img.width, height: img.height, channels, data, colorType };
}

/** As gray (luma) samples, to compare a colour rendering with a gray one or vice versa. */
function samples(r: Raster, channels: 1 | 3): Float64Array {
  const n = r.width * r.height;
  const out = new Float64Array(n * channels);
  for (let i = 0; i < n; i++) {
    if (channels === r.channels) for (let c = 0; c < channels; c++) out[i * channels + c] = r.data[i * r.channels + c];
    else if (channels === 1) out[i] = 0.299 * r.data[3 * i] + 0.587 * r.data[3 * i + 1] + 0.114 * r.data[3 * i + 2];
    else for (let c = 0; c < 3; c++) out[i * 3 + c] = r.data[i];
  }
  return out;
}

export interface Comparison {
  correlation: number;
  meanA: number;
  meanB: number;
  meanAbsDiff: number;
}

/** Pearson correlation and mean absolute difference of two rasters of the same size. */
export function compare(a: Raster, b: Raster): Comparison {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`sizes differ: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  const channels = a.channels === b.channels ? a.channels : 1;
  const x = samples(a, channels);
  const y = samples(b, channels);
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) {
    sx += x[i];
    sy += y[i];
  }
  const mx = sx / x.length;
  const my = sy / y.length;
  let cov = 0;
  let vx = 0;
  let vy = 0;
  let mad = 0;
  for (let i = 0; i < x.length; i++) {
    cov += (x[i] - mx) * (y[i] - my);
    vx += (x[i] - mx) ** 2;
    vy += (y[i] - my) ** 2;
    mad += Math.abs(x[i] - y[i]);
  }
  return { correlation: cov / Math.sqrt(vx * vy), meanA: mx, meanB: my, meanAbsDiff: mad / x.length };
}

/** Mean and standard deviation of a raster's samples. */
export function stats(r: Raster): { mean: number; std: number } {
  let s = 0;
  for (const v of r.data) s += v;
  const mean = s / r.data.length;
  let q = 0;
  for (const v of r.data) q += (v - mean) ** 2;
  return { mean, std: Math.sqrt(q / r.data.length) };
}
