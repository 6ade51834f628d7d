/**
 * The image codecs of encapsulated transfer syntaxes, the same ones Cornerstone3D's DICOM image loader runs in the
 * browser, here in Node: WebAssembly builds of OpenJPEG (JPEG 2000), OpenJPH (HTJ2K), CharLS (JPEG-LS) and
 * libjpeg-turbo (8-bit JPEG baseline), jpeg-lossless-decoder-js (JPEG lossless, processes 14 and SV1) and the
 * loader's pdf.js-derived JPEG decoder for 12-bit JPEG extended (process 4), which libjpeg-turbo's 8-bit build refuses.
 * RLE Lossless (PS3.5 Annex G) is a few lines of PackBits, decoded here.
 *
 * Each WebAssembly module is instantiated once per thread, on first use. Decoder objects live in WebAssembly memory and
 * are deleted after each frame.
 */
import { dirname, join } from 'node:path';

import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';

/** A frame as a codec returned it: samples interleaved (RGB), little-endian 8- or 16-bit words. */
export interface CodecFrame {
  width: number;
  height: number;
  components: number;
  /** Bits per sample the codestream declares (e.g. 15 for RG1_J2KI); undefined when the codec does not say. */
  bitsPerSample?: number;
  signed?: boolean;
  /** 8-bit samples, or 16-bit samples (Uint16Array/Int16Array views). */
  data: Uint8Array | Uint16Array | Int16Array;
  /** The decomposition level decoded (JPEG 2000 / HTJ2K sub-resolution): width and height are already reduced. */
  level?: number;
}

/** The decoder failed on this frame (corrupt or unsupported codestream). */
export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

// Emscripten module shapes (only what is used).
interface WasmBuffer {
  set(src: ArrayLike<number>): void;
  length: number;
  buffer: ArrayBufferLike;
  byteOffset: number;
  byteLength: number;
}
interface WasmDecoder {
  getEncodedBuffer(length: number): WasmBuffer;
  getDecodedBuffer(): WasmBuffer;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  delete(): void;
}
interface J2kDecoder extends WasmDecoder {
  readHeader(): void;
  decodeSubResolution(level: number, layer: number): void;
  getNumDecompositions(): number;
}
interface HtDecoder extends WasmDecoder {
  readHeader(): void;
  decodeSubResolution(level: number): void;
  getNumDecompositions(): number;
}
interface Modules {
  openjpeg: { J2KDecoder: new () => J2kDecoder };
  openjph: { HTJ2KDecoder: new () => HtDecoder };
  charls: { JpegLSDecoder: new () => WasmDecoder };
  libjpeg: { JPEGDecoder: new () => WasmDecoder };
}
type ModuleFactory<T> = (opts: Record<string, unknown>) => Promise<T>;

const QUIET = { print: () => undefined, printErr: () => undefined };
const loaded = new Map<keyof Modules, Promise<unknown>>();

function load<K extends keyof Modules>(name: K): Promise<Modules[K]> {
  let p = loaded.get(name) as Promise<Modules[K]> | undefined;
  if (!p) {
    /* eslint-disable @typescript-eslint/no-require-imports -- Emscripten CommonJS factories, loaded on first use */
    const factory: ModuleFactory<Modules[K]> = (
      {
        openjpeg: () => require('@cornerstonejs/codec-openjpeg/decodewasmjs'),
        openjph: () => require('@cornerstonejs/codec-openjph/wasmjs'),
        charls: () => require('@cornerstonejs/codec-charls/decodewasmjs'),
        libjpeg: () => require('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs'),
      } as Record<keyof Modules, () => ModuleFactory<Modules[K]>>
    )[name]();
    /* eslint-enable @typescript-eslint/no-require-imports */
    p = factory({ ...QUIET });
    loaded.set(name, p);
  }
  return p;
}

function wasmError(what: string, e: unknown): CodecError {
  // C++ exceptions surface as numbers (pointers); the message is all that can be said.
  const text = e instanceof Error ? e.message : typeof e === 'number' ? `exception ${e}` : String(e);
  return new CodecError(`${what} could not decode the frame (${text})`);
}

/** Copies the decoded buffer out of WebAssembly memory as 8- or 16-bit samples. */
function copyOut(buf: WasmBuffer, bitsPerSample: number, signed: boolean): Uint8Array | Uint16Array | Int16Array {
  const bytes = new Uint8Array(buf.byteLength);
  bytes.set(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  if (bitsPerSample <= 8) return bytes;
  return signed ? new Int16Array(bytes.buffer, 0, bytes.length >> 1) : new Uint16Array(bytes.buffer, 0, bytes.length >> 1);
}

function runWasm(what: string, decoder: WasmDecoder, frame: Uint8Array, decode: () => number | undefined, signedHint?: boolean): CodecFrame {
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    const level = decode();
    const info = decoder.getFrameInfo();
    const signed = info.isSigned ?? signedHint ?? false;
    const data = copyOut(decoder.getDecodedBuffer(), info.bitsPerSample, signed);
    let { width, height } = info;
    // OpenJPEG/OpenJPH report the full size after a sub-resolution decode.
    for (let l = level ?? 0; l > 0; l--) {
      width = Math.ceil(width / 2);
      height = Math.ceil(height / 2);
    }
    return { width, height, components: info.componentCount, bitsPerSample: info.bitsPerSample, signed, data, level };
  } catch (e) {
    throw wasmError(what, e);
  } finally {
    decoder.delete();
  }
}

/**
 * The coarsest decomposition level whose image is still at least `minSide` pixels on its longer side (0: full
 * resolution). JPEG 2000 and HTJ2K code resolutions separately, so a small preview decodes only the low ones.
 */
function levelFor(width: number, height: number, decompositions: number, minSide: number | undefined): number {
  if (!minSide) return 0;
  let level = 0;
  let w = width;
  let h = height;
  while (level < decompositions && Math.max(Math.ceil(w / 2), Math.ceil(h / 2)) >= minSide) {
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
    level++;
  }
  return level;
}

export interface DecodeHints {
  /** Signed samples (Pixel Representation 1): for codecs that do not record it. */
  signed: boolean;
  /** Bits Allocated of the data set. */
  bitsAllocated: number;
  rows: number;
  columns: number;
  /** The longer side the caller needs: JPEG 2000/HTJ2K may decode a lower resolution level that is still this large. */
  minSide?: number;
}

export async function decodeJpeg2000(frame: Uint8Array, hints: DecodeHints): Promise<CodecFrame> {
  const m = await load('openjpeg');
  const d = new m.J2KDecoder();
  return runWasm('OpenJPEG (JPEG 2000)', d, frame, () => {
    if (!hints.minSide) {
      d.decode();
      return 0;
    }
    d.readHeader();
    const level = levelFor(hints.columns, hints.rows, d.getNumDecompositions(), hints.minSide);
    d.decodeSubResolution(level, 0);
    return level;
  });
}

export async function decodeHtj2k(frame: Uint8Array, hints: DecodeHints): Promise<CodecFrame> {
  const m = await load('openjph');
  const d = new m.HTJ2KDecoder();
  return runWasm('OpenJPH (HTJ2K)', d, frame, () => {
    if (!hints.minSide) {
      d.decode();
      return 0;
    }
    d.readHeader();
    const level = levelFor(hints.columns, hints.rows, d.getNumDecompositions(), hints.minSide);
    d.decodeSubResolution(level);
    return level;
  });
}

export async function decodeJpegLs(frame: Uint8Array, hints: DecodeHints): Promise<CodecFrame> {
  const m = await load('charls');
  const d = new m.JpegLSDecoder();
  return runWasm('CharLS (JPEG-LS)', d, frame, () => (d.decode(), 0), hints.signed);
}

/** 8-bit JPEG baseline/extended (libjpeg-turbo); 12-bit process 4 through the loader's JavaScript decoder. */
export async function decodeJpegLossy(frame: Uint8Array, hints: DecodeHints): Promise<CodecFrame> {
  if (jpegPrecision(frame) > 8) return decodeJpeg12(frame, hints);
  const m = await load('libjpeg');
  const d = new m.JPEGDecoder();
  return runWasm('libjpeg-turbo (JPEG)', d, frame, () => (d.decode(), 0), hints.signed);
}

/** Sample precision of the first start-of-frame marker (SOF0–SOF15), 8 when none is found. */
export function jpegPrecision(frame: Uint8Array): number {
  let i = 2;
  while (i + 4 < frame.length) {
    if (frame[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = frame[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return frame[i + 4];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    i += 2 + ((frame[i + 2] << 8) | frame[i + 3]);
  }
  return 8;
}

interface JpegImageCtor {
  new (): { parse(data: Uint8Array): void; colorTransform: boolean; width: number; height: number; components: unknown[]; getData16(w: number, h: number): Uint16Array; getData(w: number, h: number): Uint8Array };
}
let jpegImage: JpegImageCtor | undefined;

/**
 * 12-bit JPEG (process 4) with the pdf.js-derived decoder that @cornerstonejs/dicom-image-loader ships for it (an ES
 * module without imports, loaded by path: the package does not export it).
 */
async function decodeJpeg12(frame: Uint8Array, hints: DecodeHints): Promise<CodecFrame> {
  if (!jpegImage) {
    const root = dirname(require.resolve('@cornerstonejs/dicom-image-loader/package.json'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- require(esm) of a module without imports (Node ≥ 20.19)
    const mod = require(join(root, 'dist/esm/codecs/jpeg.js')) as { default: JpegImageCtor };
    jpegImage = mod.default;
  }
  try {
    const j = new jpegImage();
    j.parse(frame);
    j.colorTransform = false;
    const components = j.components.length;
    const precision = jpegPrecision(frame);
    if (hints.bitsAllocated <= 8) return { width: j.width, height: j.height, components, bitsPerSample: precision, signed: false, data: j.getData(j.width, j.height) };
    const data = j.getData16(j.width, j.height);
    // The decoder level-shifts every precision with the 8-bit constant scaled by (2^P - 1) / 255 instead of 2^(P-8):
    // for 12-bit samples, (q + 2056·4095/255) >> 4 instead of (q + 2048·16 + 8) >> 4, i.e. every sample 15 too high
    // (checked against dcmtk's decoder on valid/JPGExtended.dcm). Remove that constant bias.
    const bias = Math.round((2056 * (2 ** precision - 1)) / 255 / 16 - (2 ** (precision - 1) + 0.5));
    if (bias > 0) for (let i = 0; i < data.length; i++) data[i] = data[i] > bias ? data[i] - bias : 0;
    return { width: j.width, height: j.height, components, bitsPerSample: precision, signed: false, data };
  } catch (e) {
    throw wasmError('The JPEG 12-bit decoder', e);
  }
}

/** JPEG lossless, processes 14 and 14 SV1 (jpeg-lossless-decoder-js). */
export function decodeJpegLossless(frame: Uint8Array, hints: DecodeHints): CodecFrame {
  try {
    const bytesOut = hints.bitsAllocated <= 8 ? 1 : 2;
    const out = new JpegLosslessDecoder().decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.length, bytesOut);
    const buf = new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice();
    const components = buf.length / bytesOut / (hints.rows * hints.columns) >= 3 ? 3 : 1;
    const data = bytesOut === 1 ? buf : new Uint16Array(buf.buffer, 0, buf.length >> 1);
    return { width: hints.columns, height: hints.rows, components, data };
  } catch (e) {
    throw wasmError('The JPEG lossless decoder', e);
  }
}

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, one PackBits segment per byte plane
 * (most significant byte first, one plane per sample). Returns interleaved samples.
 */
export function decodeRle(frame: Uint8Array, hints: DecodeHints & { samples: number }): CodecFrame {
  const { rows, columns, samples } = hints;
  const bytesPer = hints.bitsAllocated <= 8 ? 1 : hints.bitsAllocated / 8;
  if (bytesPer !== 1 && bytesPer !== 2) throw new CodecError(`RLE with BitsAllocated ${hints.bitsAllocated} is not supported`);
  if (frame.length < 64) throw new CodecError('RLE header is truncated');
  const header = new DataView(frame.buffer, frame.byteOffset, 64);
  const segments = header.getUint32(0, true);
  if (segments !== samples * bytesPer) throw new CodecError(`RLE frame has ${segments} segments, expected ${samples * bytesPer}`);
  const n = rows * columns;
  const out = new Uint8Array(n * samples * bytesPer);
  for (let s = 0; s < segments; s++) {
    const start = header.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? header.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || start > frame.length || end > frame.length) throw new CodecError('RLE segment offset out of range');
    const sample = Math.floor(s / bytesPer);
    // Segment order: sample 0 MSB, sample 0 LSB, sample 1 MSB, … ; output little-endian interleaved.
    const byteInWord = bytesPer - 1 - (s % bytesPer);
    const stride = samples * bytesPer;
    let o = sample * bytesPer + byteInWord;
    let written = 0;
    let i = start;
    while (i < end && written < n) {
      const c = frame[i++];
      if (c < 128) {
        for (let k = 0; k <= c && i < end && written < n; k++, written++, o += stride) out[o] = frame[i++];
      } else if (c > 128) {
        const v = frame[i++];
        for (let k = 0; k < 257 - c && written < n; k++, written++, o += stride) out[o] = v;
      }
    }
    if (written < n) throw new CodecError(`RLE segment ${s} ends after ${written} of ${n} samples`);
  }
  const data = bytesPer === 1 ? out : new Uint16Array(out.buffer, 0, out.length >> 1);
  return { width: columns, height: rows, components: samples, data };
}
