import { parseDicomBytes, PIXEL_DATA } from './parse';
import { toRefusal } from './inspect';
import type { DataSet } from 'dicom-parser';

export type Preview8 =
  | { ok: true; width: number; height: number; pixels: Uint8Array }
  | { ok: false; reason: string; detail?: string };

function num(ds: DataSet, tag: string): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return undefined;
  const v = Number((ds.string(tag, 0) ?? '').trim());
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Decodes the first frame of an UNCOMPRESSED image (implicit/explicit VR little endian, explicit big endian,
 * deflated) into a windowed 8-bit grayscale array (row-major, width × height): applies the modality rescale,
 * the first window center/width (else the min/max of the frame) and inverts MONOCHROME1. RGB is reduced to luma.
 * Encapsulated (compressed) transfer syntaxes return `unsupported-transfer-syntax`.
 */
export function renderPreview8(buf: Uint8Array): Preview8 {
  try {
    const p = parseDicomBytes(buf);
    if (p.ts.encapsulated) return { ok: false, reason: 'unsupported-transfer-syntax', detail: p.transferSyntax };
    const ds = p.dataSet;
    const px = ds.elements[PIXEL_DATA];
    const rows = ds.uint16('x00280010') ?? 0;
    const cols = ds.uint16('x00280011') ?? 0;
    const bitsAllocated = ds.uint16('x00280100') ?? 0;
    const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
    const signed = (ds.uint16('x00280103') ?? 0) === 1;
    const samples = ds.uint16('x00280002') ?? 1;
    const planar = ds.uint16('x00280006') ?? 0;
    const photometric = (ds.string('x00280004') ?? '').trim().toUpperCase();
    if (!px || rows === 0 || cols === 0) return { ok: false, reason: 'missing-required-attribute:(7FE0,0010)' };
    if (!(bitsAllocated === 8 || bitsAllocated === 16) || !(samples === 1 || samples === 3)) {
      return { ok: false, reason: 'unsupported-transfer-syntax', detail: `BitsAllocated ${bitsAllocated}, SamplesPerPixel ${samples}` };
    }
    const n = rows * cols;
    const bytesPer = bitsAllocated / 8;
    const need = n * samples * bytesPer;
    if (px.length < need) return { ok: false, reason: 'truncated', detail: 'pixel data shorter than one frame' };
    const slope = num(ds, 'x00281053') ?? 1;
    const intercept = num(ds, 'x00281052') ?? 0;

    // Raw stored values of frame 0 (gray, or luma for RGB) as Float64 modality values.
    const values = new Float64Array(n);
    const src = p.bytes;
    const off = px.dataOffset;
    if (samples === 1) {
      const mask = bitsStored >= 32 ? 0xffffffff : (1 << bitsStored) - 1;
      const signBit = 1 << (bitsStored - 1);
      if (bytesPer === 1) {
        for (let i = 0; i < n; i++) {
          let v = src[off + i] & mask;
          if (signed && v & signBit) v -= mask + 1;
          values[i] = v * slope + intercept;
        }
      } else {
        const dv = new DataView(src.buffer, src.byteOffset + off, n * 2);
        const le = p.ts.littleEndian;
        for (let i = 0; i < n; i++) {
          let v = dv.getUint16(i * 2, le) & mask;
          if (signed && v & signBit) v -= mask + 1;
          values[i] = v * slope + intercept;
        }
      }
    } else {
      if (bytesPer !== 1) return { ok: false, reason: 'unsupported-transfer-syntax', detail: '16-bit colour' };
      for (let i = 0; i < n; i++) {
        const r = planar ? src[off + i] : src[off + 3 * i];
        const g = planar ? src[off + n + i] : src[off + 3 * i + 1];
        const b = planar ? src[off + 2 * n + i] : src[off + 3 * i + 2];
        values[i] = 0.299 * r + 0.587 * g + 0.114 * b;
      }
    }

    let center = samples === 1 ? num(ds, 'x00281050') : undefined;
    let width = samples === 1 ? num(ds, 'x00281051') : undefined;
    if (center === undefined || width === undefined || !(width >= 1)) {
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      center = (min + max) / 2 + 0.5;
      width = Math.max(1, max - min + 1);
    }
    const lo = center - 0.5 - (width - 1) / 2;
    const hi = center - 0.5 + (width - 1) / 2;
    const invert = photometric === 'MONOCHROME1';
    const pixels = new Uint8Array(n);
    const scale = width > 1 ? 255 / (width - 1) : 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      let o: number;
      if (v <= lo) o = 0;
      else if (v > hi) o = 255;
      else o = Math.round((v - (center - 0.5)) * scale + 127.5);
      if (o < 0) o = 0;
      else if (o > 255) o = 255;
      pixels[i] = invert ? 255 - o : o;
    }
    return { ok: true, width: cols, height: rows, pixels };
  } catch (e) {
    const r = toRefusal(e);
    return { ok: false, reason: r.reason, detail: r.detail };
  }
}
