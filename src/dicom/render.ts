/**
 * Renders the first frame of a DICOM image as an 8-bit PNG: decode (any stored transfer syntax, see pixels.ts), modality
 * rescale, a linear VOI window (the caller's width/level, else the file's first window, else the pixel range),
 * MONOCHROME1 inverted, colour kept as RGB, then an area-averaged downscale to `size` and PNG encoding (pngjs).
 * CPU-bound: the API runs it in worker threads (render-pool.ts), never on its event loop.
 */
import { PNG } from 'pngjs';

import { decodeFirstFrame } from './pixels';
import type { PixelFrame } from './pixels';

export { PixelError, canDecode } from './pixels';
export type { PixelFailure } from './pixels';

/** Bumped when the same inputs render different bytes (part of the API's ETag). */
export const RENDERER_VERSION = 2;

/** Bounds of the rendering parameters (the API validates against the same). */
export const RENDER_LIMITS = Object.freeze({ minWindow: 1, maxAbs: 1e7, minSize: 16, maxSize: 8192 });

export interface RenderOptions {
  /** Window width in modality units (after rescale); default: the file's VOI window, else the pixel range. */
  window?: number;
  /** Window level (center) in modality units; default as `window`. */
  level?: number;
  /** Longest side of the PNG; the image is downscaled (area average), never enlarged. Default: full size. */
  size?: number;
  /** Refuse (`image-too-large`) images of more Rows × Columns. */
  maxPixels?: number;
}

export interface RenderedImage {
  png: Uint8Array;
  width: number;
  height: number;
  /** The window used (grayscale): the caller's, the file's, or the pixel range. */
  window: number;
  level: number;
  /** Where the default window came from. */
  windowSource: 'request' | 'file' | 'pixel-range';
  transferSyntax: string;
  rows: number;
  columns: number;
}

/** Output size for the image's Rows × Columns and the requested longest side. */
export function outputSize(columns: number, rows: number, size?: number): { width: number; height: number } {
  const longest = Math.max(columns, rows);
  if (!size || size >= longest) return { width: columns, height: rows };
  const scale = size / longest;
  return { width: Math.max(1, Math.round(columns * scale)), height: Math.max(1, Math.round(rows * scale)) };
}

/** The windowed 8-bit samples of the first frame (gray, or RGB for colour images), before PNG encoding. */
export interface RenderedPixels extends Omit<RenderedImage, 'png'> {
  pixels: Uint8Array;
  channels: 1 | 3;
}

/** Decodes the first frame of any supported encoding and windows it to 8 bits (the PNG preview's pixels). */
export async function renderPixels(buf: Uint8Array, opts: RenderOptions = {}): Promise<RenderedPixels> {
  const target = opts.size;
  const frame = await decodeFirstFrame(buf, { maxPixels: opts.maxPixels, minSide: target });
  const { width, height } = outputSize(frame.columns, frame.rows, target);
  let pixels: Uint8Array;
  let win: { window: number; level: number; windowSource: RenderedImage['windowSource'] };
  if (frame.samples === 1) {
    const w = grayWindow(frame, opts);
    win = w;
    pixels = applyGrayLut(frame, w.window, w.level);
  } else {
    win = { window: opts.window ?? 256, level: opts.level ?? 128, windowSource: opts.window !== undefined || opts.level !== undefined ? 'request' : 'pixel-range' };
    pixels = win.windowSource === 'request' ? applyLinear8(frame.data as Uint8Array, win.window, win.level) : (frame.data as Uint8Array);
  }
  const channels = frame.samples;
  if (frame.width !== width || frame.height !== height) pixels = resizeArea(pixels, frame.width, frame.height, channels, width, height);
  return { pixels, channels, width, height, ...win, transferSyntax: frame.transferSyntax, rows: frame.rows, columns: frame.columns };
}

export async function renderImage(buf: Uint8Array, opts: RenderOptions = {}): Promise<RenderedImage> {
  const { pixels, channels, ...rest } = await renderPixels(buf, opts);
  return { png: encodePng(pixels, rest.width, rest.height, channels), ...rest };
}

/** Encodes 8-bit gray or RGB samples (row-major) as a PNG with pngjs. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  const png = new PNG({ width, height, colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  // Filter "Up" on every row: close to adaptive filtering on radiographs, several times faster; zlib level 6.
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8, filterType: 2, deflateLevel: 6 });
}

/** Decodes a stored sample word to its (signed) stored value. */
function valueReader(frame: Pick<PixelFrame, 'bits' | 'shift' | 'signed'>): (word: number) => number {
  const mask = frame.bits >= 32 ? 0xffffffff : 2 ** frame.bits - 1;
  const signBit = 2 ** (frame.bits - 1);
  const shift = frame.shift;
  return frame.signed ? (w) => {
    const v = (w >>> shift) & mask;
    return v & signBit ? v - (mask + 1) : v;
  } : (w) => (w >>> shift) & mask;
}

/** The window for a grayscale frame: the request's values, else the file's VOI, else the range of modality values. */
function grayWindow(frame: PixelFrame, opts: RenderOptions): { window: number; level: number; windowSource: RenderedImage['windowSource'] } {
  let base: { window: number; level: number; windowSource: RenderedImage['windowSource'] };
  if (frame.voi) base = { window: frame.voi.width, level: frame.voi.center, windowSource: 'file' };
  else {
    const read = valueReader(frame);
    // Histogram of stored words (≤ 2^16 codes): one pass, then the extreme codes present.
    const seen = new Uint8Array(65536);
    const data = frame.data;
    for (let i = 0; i < data.length; i++) seen[data[i]] = 1;
    let min = Infinity;
    let max = -Infinity;
    for (let code = 0; code < 65536; code++) {
      if (!seen[code]) continue;
      const m = read(code) * frame.slope + frame.intercept;
      if (m < min) min = m;
      if (m > max) max = m;
    }
    // DICOM's linear function maps [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] to the output range: min → 0, max → 255.
    const w = Math.max(1, max - min + 1);
    base = { window: w, level: min + (w - 1) / 2 + 0.5, windowSource: 'pixel-range' };
  }
  if (opts.window === undefined && opts.level === undefined) return base;
  return { window: opts.window ?? base.window, level: opts.level ?? base.level, windowSource: 'request' };
}

/** DICOM PS3.3 C.11.2.1.2.1 linear VOI function to 0…255. */
function linear(x: number, width: number, center: number): number {
  if (width <= 1) return x < center - 0.5 ? 0 : 255;
  const lo = center - 0.5 - (width - 1) / 2;
  const hi = center - 0.5 + (width - 1) / 2;
  if (x <= lo) return 0;
  if (x > hi) return 255;
  const y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255;
  return y < 0 ? 0 : y > 255 ? 255 : Math.round(y);
}

/** One lookup per pixel: a table over every stored word maps rescale + window + polarity at once. */
function applyGrayLut(frame: PixelFrame, width: number, center: number): Uint8Array {
  const read = valueReader(frame);
  const codes = frame.data instanceof Uint8Array ? 256 : 65536;
  const lut = new Uint8Array(codes);
  const invert = frame.photometric === 'MONOCHROME1';
  for (let code = 0; code < codes; code++) {
    const o = linear(read(code) * frame.slope + frame.intercept, width, center);
    lut[code] = invert ? 255 - o : o;
  }
  const src = frame.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  return out;
}

function applyLinear8(src: Uint8Array, width: number, center: number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = linear(v, width, center);
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  return out;
}

/** Contributions of source indices to each destination index for an area-average resample along one axis. */
function weights(src: number, dst: number): { start: Int32Array; count: Int32Array; w: Float32Array } {
  const scale = src / dst;
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const list: number[] = [];
  for (let d = 0; d < dst; d++) {
    const a = d * scale;
    const b = Math.min(src, (d + 1) * scale);
    const first = Math.floor(a);
    const last = Math.min(src - 1, Math.ceil(b) - 1);
    start[d] = first;
    count[d] = last - first + 1;
    for (let s = first; s <= last; s++) list.push((Math.min(b, s + 1) - Math.max(a, s)) / (b - a));
  }
  return { start, count, w: Float32Array.from(list) };
}

/**
 * Area-average resample of 8-bit samples (each output pixel is the mean of the source area it covers), separable:
 * rows first, then columns. Used for downscaling; also correct when a sub-resolution decode is slightly larger or smaller.
 */
export function resizeArea(src: Uint8Array, sw: number, sh: number, ch: number, dw: number, dh: number): Uint8Array {
  const hx = weights(sw, dw);
  const tmp = new Float32Array(dw * sh * ch);
  for (let y = 0; y < sh; y++) {
    let wi = 0;
    for (let x = 0; x < dw; x++) {
      const s0 = hx.start[x];
      const n = hx.count[x];
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += src[((y * sw + s0 + k) * ch) + c] * hx.w[wi + k];
        tmp[(y * dw + x) * ch + c] = acc;
      }
      wi += n;
    }
  }
  const vy = weights(sh, dh);
  const out = new Uint8Array(dw * dh * ch);
  let wi = 0;
  for (let y = 0; y < dh; y++) {
    const s0 = vy.start[y];
    const n = vy.count[y];
    for (let x = 0; x < dw * ch; x++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += tmp[(s0 + k) * dw * ch + x] * vy.w[wi + k];
      out[y * dw * ch + x] = acc < 0 ? 0 : acc > 255 ? 255 : Math.round(acc);
    }
    wi += n;
  }
  return out;
}
