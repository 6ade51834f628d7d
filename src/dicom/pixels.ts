/**
 * The first frame of an image, decoded from any transfer syntax ReadFlow stores: native (implicit/explicit VR, little
 * and big endian, deflated) and encapsulated (JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, HTJ2K, RLE), with
 * what rendering needs (photometric interpretation, rescale, the file's VOI window).
 */
import * as dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';

import type { CodecFrame, DecodeHints } from './codecs';
import { CodecError, decodeHtj2k, decodeJpeg2000, decodeJpegLossless, decodeJpegLossy, decodeJpegLs, decodeRle } from './codecs';
import { parseDicomBytes, PIXEL_DATA } from './parse';
import { transferSyntaxInfo } from './transfer-syntax';
import { DicomInputError } from './types';

/** Why no image could be produced. */
export type PixelFailure = 'unsupported-transfer-syntax' | 'unsupported-pixel-format' | 'image-too-large' | 'corrupt-pixel-data' | 'no-pixel-data';

export class PixelError extends Error {
  constructor(
    readonly reason: PixelFailure,
    message: string,
    /** The transfer syntax UID of the image (named in 415 answers). */
    readonly transferSyntax?: string,
  ) {
    super(message);
    this.name = 'PixelError';
  }
}

type Decoder = (frame: Uint8Array, hints: DecodeHints & { samples: number }) => CodecFrame | Promise<CodecFrame>;

/** Encapsulated transfer syntaxes and their decoders. Everything else encapsulated is refused (415). */
const DECODERS: Readonly<Record<string, Decoder>> = {
  '1.2.840.10008.1.2.4.50': decodeJpegLossy,
  '1.2.840.10008.1.2.4.51': decodeJpegLossy,
  '1.2.840.10008.1.2.4.57': decodeJpegLossless,
  '1.2.840.10008.1.2.4.70': decodeJpegLossless,
  '1.2.840.10008.1.2.4.80': decodeJpegLs,
  '1.2.840.10008.1.2.4.81': decodeJpegLs,
  '1.2.840.10008.1.2.4.90': decodeJpeg2000,
  '1.2.840.10008.1.2.4.91': decodeJpeg2000,
  '1.2.840.10008.1.2.4.201': decodeHtj2k,
  '1.2.840.10008.1.2.4.202': decodeHtj2k,
  '1.2.840.10008.1.2.4.203': decodeHtj2k,
  '1.2.840.10008.1.2.5': decodeRle,
};

/** True when a frame of this transfer syntax can be decoded (native ones and those with a decoder). */
export function canDecode(transferSyntax: string): boolean {
  const info = transferSyntaxInfo(transferSyntax);
  if (!info) return false;
  return !info.encapsulated || Object.prototype.hasOwnProperty.call(DECODERS, transferSyntax);
}

/** A decoded frame: unsigned sample words (interleaved for colour) and how to read them. */
export interface PixelFrame {
  transferSyntax: string;
  /** Of the data (smaller than the image's when a lower JPEG 2000/HTJ2K resolution was decoded). */
  width: number;
  height: number;
  /** The image's Rows × Columns. */
  rows: number;
  columns: number;
  samples: 1 | 3;
  /** Colour data is RGB after decoding (YBR converted); grayscale MONOCHROME1 or MONOCHROME2. */
  photometric: string;
  /** Sample words: value = sign-extend((word >> shift) & mask(bits)) when `signed`. */
  data: Uint8Array | Uint16Array;
  bits: number;
  shift: number;
  signed: boolean;
  slope: number;
  intercept: number;
  /** The first VOI window of the file (modality values), if any. */
  voi?: { center: number; width: number };
}

function num(ds: DataSet, tag: string): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return undefined;
  const v = Number((ds.string(tag, 0) ?? '').trim());
  return Number.isFinite(v) ? v : undefined;
}

export interface DecodeOptions {
  /** Refuse (`image-too-large`) images of more than this many pixels (Rows × Columns). */
  maxPixels?: number;
  /** The longer side the caller needs (lets JPEG 2000/HTJ2K decode a lower resolution level that is still as large). */
  minSide?: number;
}

/** Decodes the first frame of a DICOM image. Throws PixelError (never a parser error) for input it cannot render. */
export async function decodeFirstFrame(buf: Uint8Array, opts: DecodeOptions = {}): Promise<PixelFrame> {
  let p: ReturnType<typeof parseDicomBytes>;
  try {
    p = parseDicomBytes(buf);
  } catch (e) {
    if (e instanceof DicomInputError && e.reason === 'unsupported-transfer-syntax') {
      const uid = /(\d+(\.\d+)+)/.exec(e.detail)?.[1];
      throw new PixelError('unsupported-transfer-syntax', e.detail, uid);
    }
    throw new PixelError('corrupt-pixel-data', e instanceof Error ? e.message : String(e));
  }
  const ts = p.transferSyntax;
  const ds = p.dataSet;
  const px = ds.elements[PIXEL_DATA];
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  if (!px || rows === 0 || columns === 0) throw new PixelError('no-pixel-data', 'the object has no image (Pixel Data, Rows, Columns)', ts);
  if (opts.maxPixels !== undefined && rows * columns > opts.maxPixels) {
    throw new PixelError('image-too-large', `the image has ${rows} × ${columns} = ${rows * columns} pixels, more than the cap of ${opts.maxPixels}`, ts);
  }
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const highBit = ds.uint16('x00280102') ?? bitsStored - 1;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const samplesRaw = ds.uint16('x00280002') ?? 1;
  const planar = ds.uint16('x00280006') ?? 0;
  const photometric = (ds.string('x00280004') ?? '').trim().toUpperCase();
  const pixelFormat = `BitsAllocated ${bitsAllocated}, BitsStored ${bitsStored}, SamplesPerPixel ${samplesRaw}, ${photometric || 'no photometric interpretation'}`;
  if (!(bitsAllocated === 8 || bitsAllocated === 16) || !(samplesRaw === 1 || samplesRaw === 3) || bitsStored < 1 || bitsStored > bitsAllocated) {
    throw new PixelError('unsupported-pixel-format', `no preview for ${pixelFormat}`, ts);
  }
  const samples = samplesRaw as 1 | 3;
  if (samples === 1 && photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') {
    throw new PixelError('unsupported-pixel-format', `no preview for ${pixelFormat}`, ts);
  }
  if (samples === 3 && !['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT'].includes(photometric)) {
    throw new PixelError('unsupported-pixel-format', `no preview for ${pixelFormat}`, ts);
  }
  const base = {
    transferSyntax: ts,
    rows,
    columns,
    samples,
    slope: num(ds, 'x00281053') ?? 1,
    intercept: num(ds, 'x00281052') ?? 0,
    voi: undefined as PixelFrame['voi'],
  };
  const center = num(ds, 'x00281050');
  const width = num(ds, 'x00281051');
  if (samples === 1 && center !== undefined && width !== undefined && width >= 1) base.voi = { center, width };

  if (!p.ts.encapsulated) {
    return nativeFrame(p.bytes, px, p.ts.littleEndian, { ...base, bitsAllocated, bitsStored, highBit, signed, planar, photometric });
  }
  const decoder = DECODERS[ts];
  if (!decoder) throw new PixelError('unsupported-transfer-syntax', `no decoder for ${p.ts.name} (${ts})`, ts);
  const frame = firstFrameBytes(ds, px);
  let c: CodecFrame;
  try {
    c = await decoder(frame, { signed, bitsAllocated, rows, columns, samples, minSide: opts.minSide });
  } catch (e) {
    if (e instanceof CodecError) throw new PixelError('corrupt-pixel-data', `${p.ts.name} (${ts}): ${e.message}`, ts);
    throw e;
  }
  const full = (c.level ?? 0) === 0;
  if (c.components !== samples || (full && (c.width !== columns || c.height !== rows))) {
    throw new PixelError(
      'corrupt-pixel-data',
      `${p.ts.name} (${ts}): the codestream holds ${c.width} × ${c.height} × ${c.components}, the data set says ${columns} × ${rows} × ${samples}`,
      ts,
    );
  }
  const data = c.data instanceof Int16Array ? new Uint16Array(c.data.buffer, c.data.byteOffset, c.data.length) : c.data;
  if (samples === 3) {
    // Codecs return RGB: JPEG (libjpeg converts YCbCr), JPEG 2000/HTJ2K (inverse ICT/RCT). RLE keeps the file's YBR_FULL.
    const rgb = ts === '1.2.840.10008.1.2.5' && photometric === 'YBR_FULL' ? ybrFullToRgb(to8(data, bitsStored)) : to8(data, bitsStored);
    return { ...base, width: c.width, height: c.height, photometric: 'RGB', data: rgb, bits: 8, shift: 0, signed: false };
  }
  // A codec's own precision wins over Bits Stored (they agree in conformant files; lossy J2K of RG1_J2KI: 15 and 15).
  const bits = Math.min(16, Math.max(c.bitsPerSample ?? bitsStored, 1));
  return { ...base, width: c.width, height: c.height, photometric, data, bits, shift: 0, signed: signed || c.signed === true };
}

/** The bytes of frame 0 of encapsulated Pixel Data (all fragments of a single frame; the Basic Offset Table else). */
function firstFrameBytes(ds: DataSet, px: Element): Uint8Array {
  const fragments = px.fragments ?? [];
  if (fragments.length === 0) throw new PixelError('corrupt-pixel-data', 'encapsulated Pixel Data without fragments');
  const frames = Number(ds.intString('x00280008') ?? 1) || 1;
  try {
    if (frames <= 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, px, 0, fragments.length) as Uint8Array;
    if ((px.basicOffsetTable ?? []).length > 0) return dicomParser.readEncapsulatedImageFrame(ds, px, 0) as Uint8Array;
    if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, px, 0, 1) as Uint8Array;
    return dicomParser.readEncapsulatedImageFrame(ds, px, 0, dicomParser.createJPEGBasicOffsetTable(ds, px)) as Uint8Array;
  } catch (e) {
    throw new PixelError('corrupt-pixel-data', `cannot read frame 0: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function nativeFrame(
  bytes: Uint8Array,
  px: Element,
  littleEndian: boolean,
  m: Omit<PixelFrame, 'width' | 'height' | 'photometric' | 'data' | 'bits' | 'shift' | 'signed'> & {
    bitsAllocated: number;
    bitsStored: number;
    highBit: number;
    signed: boolean;
    planar: number;
    photometric: string;
  },
): PixelFrame {
  const n = m.rows * m.columns;
  const bytesPer = m.bitsAllocated / 8;
  const ybr422 = m.samples === 3 && m.photometric === 'YBR_FULL_422';
  const need = (ybr422 ? n * 2 : n * m.samples) * bytesPer;
  if (px.length < need) throw new PixelError('corrupt-pixel-data', `Pixel Data has ${px.length} bytes, one frame needs ${need}`, m.transferSyntax);
  const off = px.dataOffset;
  const base = {
    transferSyntax: m.transferSyntax,
    rows: m.rows,
    columns: m.columns,
    width: m.columns,
    height: m.rows,
    samples: m.samples,
    slope: m.slope,
    intercept: m.intercept,
    voi: m.voi,
  };
  if (m.samples === 1) {
    let data: Uint8Array | Uint16Array;
    if (bytesPer === 1) data = bytes.subarray(off, off + n);
    else {
      data = new Uint16Array(n);
      const dv = new DataView(bytes.buffer, bytes.byteOffset + off, n * 2);
      for (let i = 0; i < n; i++) data[i] = dv.getUint16(i * 2, littleEndian);
    }
    const shift = Math.max(0, m.highBit + 1 - m.bitsStored);
    return { ...base, photometric: m.photometric, data, bits: m.bitsStored, shift, signed: m.signed };
  }
  // Colour: 8-bit RGB interleaved.
  let words: Uint8Array | Uint16Array;
  const count = ybr422 ? n * 2 : n * 3;
  if (bytesPer === 1) words = bytes.subarray(off, off + count);
  else {
    words = new Uint16Array(count);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + off, count * 2);
    for (let i = 0; i < count; i++) words[i] = dv.getUint16(i * 2, littleEndian);
  }
  let rgb = to8(words, m.bitsStored);
  if (ybr422) rgb = ybr422ToRgb(rgb, m.columns, m.rows);
  else {
    if (m.planar === 1) rgb = interleave(rgb, n);
    if (m.photometric === 'YBR_FULL') rgb = ybrFullToRgb(rgb);
  }
  return { ...base, photometric: 'RGB', data: rgb, bits: 8, shift: 0, signed: false };
}

/** 8-bit copy of colour samples (16-bit samples scaled down from Bits Stored). */
function to8(words: Uint8Array | Uint16Array, bitsStored: number): Uint8Array {
  if (words instanceof Uint8Array) return words;
  const out = new Uint8Array(words.length);
  const down = Math.max(0, bitsStored - 8);
  for (let i = 0; i < words.length; i++) out[i] = Math.min(255, words[i] >> down);
  return out;
}

function interleave(planes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = planes[i];
    out[3 * i + 1] = planes[n + i];
    out[3 * i + 2] = planes[2 * n + i];
  }
  return out;
}

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** YBR_FULL (PS3.3 C.7.6.3.1.2) to RGB, in place on an interleaved copy. */
function ybrFullToRgb(ybr: Uint8Array): Uint8Array {
  const out = new Uint8Array(ybr.length);
  for (let i = 0; i < ybr.length; i += 3) {
    const y = ybr[i];
    const cb = ybr[i + 1] - 128;
    const cr = ybr[i + 2] - 128;
    out[i] = clamp8(y + 1.402 * cr);
    out[i + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
    out[i + 2] = clamp8(y + 1.772 * cb);
  }
  return out;
}

/** Native YBR_FULL_422: Y Y Cb Cr per pair of pixels. */
function ybr422ToRgb(src: Uint8Array, columns: number, rows: number): Uint8Array {
  const full = new Uint8Array(columns * rows * 3);
  let s = 0;
  for (let i = 0; i + 1 < columns * rows + 1 && s + 3 < src.length; i += 2) {
    const y0 = src[s];
    const y1 = src[s + 1];
    const cb = src[s + 2];
    const cr = src[s + 3];
    s += 4;
    full.set([y0, cb, cr], 3 * i);
    if (i + 1 < columns * rows) full.set([y1, cb, cr], 3 * (i + 1));
  }
  return ybrFullToRgb(full);
}
