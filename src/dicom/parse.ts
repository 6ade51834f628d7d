import { createInflateRaw, inflateRawSync } from 'node:zlib';

import * as dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';

import { TS, transferSyntaxInfo } from './transfer-syntax';
import type { TransferSyntaxInfo } from './transfer-syntax';
import { DicomInputError } from './types';

export const PIXEL_DATA = 'x7fe00010';
const UNDEFINED = 0xffffffff;

export interface ParsedDicom {
  /** dicom-parser's data set (file meta elements merged in). */
  dataSet: DataSet;
  /** The bytes `dataSet` offsets refer to (the inflated copy for deflated files, a prefixed copy for meta without preamble). */
  bytes: Uint8Array;
  transferSyntax: string;
  ts: TransferSyntaxInfo;
  /** Offset in `bytes` where the main data set (after the file meta group) begins. */
  datasetStart: number;
  /** false for a raw data set without preamble/`DICM`/file meta. */
  part10: boolean;
}

export interface ParseOptions {
  /** Refuse (`too-large`) inputs, or inflated data sets, longer than this. */
  maxBytes?: number;
  /**
   * Stop at Pixel Data (fast header read). A deflated data set is NOT inflated then: the data set is the file meta
   * group only (its Media Storage SOP Instance UID stands for the SOP Instance UID).
   */
  headerOnly?: boolean;
  /** Refuse (`decompression-limit`) a deflated data set that inflates to more than this many times its size. */
  maxInflateRatio?: number;
}

/** Deflated data sets: at most this ratio of inflated to compressed size (chest films deflate 2-5×)… */
export const DEFAULT_MAX_INFLATE_RATIO = 40;
/** …but always allowed up to this size (small files with large uniform areas). */
export const INFLATE_FLOOR_BYTES = 8 << 20;

/** The most a deflated data set of `compressedBytes` may inflate to. */
export function inflateLimit(compressedBytes: number, opts: Pick<ParseOptions, 'maxBytes' | 'maxInflateRatio'> = {}): number {
  const ratio = opts.maxInflateRatio ?? DEFAULT_MAX_INFLATE_RATIO;
  return Math.min(opts.maxBytes ?? Number.MAX_SAFE_INTEGER, Math.max(INFLATE_FLOOR_BYTES, Math.ceil(compressedBytes * ratio)));
}

/**
 * Streams the deflated data set of a Part 10 file through zlib (never holding the output) and checks it stays within
 * `inflateLimit`. Undefined when the file is not deflated or stays within; else the `decompression-limit` refusal.
 * Used by the worker before parsing, so that a deflate bomb costs a bounded, asynchronous read.
 */
export async function checkDeflatedSize(input: Uint8Array, opts: Pick<ParseOptions, 'maxBytes' | 'maxInflateRatio'> = {}): Promise<DicomInputError | undefined> {
  let meta: DataSet & { position?: number };
  let ts: string;
  try {
    if (!isDicmAt128(input)) return undefined;
    meta = dicomParser.readPart10Header(input as Buffer) as DataSet & { position?: number };
    ts = (meta.string('x00020010') ?? '').replace(/\0/g, '').trim();
  } catch {
    return undefined; // not a readable Part 10 header: the parser reports it
  }
  if (!transferSyntaxInfo(ts)?.deflated) return undefined;
  const compressed = input.subarray(meta.position ?? 0);
  const limit = inflateLimit(compressed.length, opts);
  return new Promise((resolve) => {
    const z = createInflateRaw();
    let total = 0;
    let done = false;
    const finish = (r: DicomInputError | undefined): void => {
      if (done) return;
      done = true;
      resolve(r);
    };
    z.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        finish(new DicomInputError('decompression-limit', `deflated data set of ${compressed.length} bytes inflates past ${limit} bytes (limit: ${opts.maxInflateRatio ?? DEFAULT_MAX_INFLATE_RATIO}× its size, at most the size cap)`));
        z.destroy();
      }
    });
    z.on('error', () => finish(undefined)); // corrupt stream: the parser reports it
    z.on('end', () => finish(undefined));
    z.end(Buffer.from(compressed.buffer, compressed.byteOffset, compressed.length));
  });
}

const VRS = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ',
  'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);

function hasVrAt(b: Uint8Array, off: number): boolean {
  return off + 2 <= b.length && VRS.has(String.fromCharCode(b[off], b[off + 1]));
}

function isDicmAt128(b: Uint8Array): boolean {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/**
 * Guesses the transfer syntax of a raw data set (no preamble, no file meta) from its first element, which must be a
 * plausible public group (0008..0028) tag. Returns undefined when nothing fits.
 */
export function guessRawTransferSyntax(b: Uint8Array): string | undefined {
  if (b.length < 8) return undefined;
  const groupLE = b[0] | (b[1] << 8);
  const groupBE = (b[0] << 8) | b[1];
  const plausible = (g: number): boolean => g >= 0x0008 && g <= 0x0028 && g % 2 === 0;
  if (plausible(groupLE) && hasVrAt(b, 4)) return TS.explicitLE;
  if (plausible(groupBE) && hasVrAt(b, 4)) return TS.explicitBE;
  if (plausible(groupLE)) {
    const len = (b[4] | (b[5] << 8) | (b[6] << 16)) + b[7] * 0x1000000;
    if (len === UNDEFINED || len <= b.length - 8) return TS.implicitLE;
  }
  return undefined;
}

function errorText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && 'exception' in e) return errorText((e as { exception: unknown }).exception);
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Maps a dicom-parser exception to a quarantine reason. */
function classifyParserError(e: unknown): DicomInputError {
  if (e instanceof DicomInputError) return e;
  const text = errorText(e);
  if (e instanceof RangeError && /Buffer|memory|Array/i.test(text)) return new DicomInputError('too-large', text);
  if (/0002,0010/.test(text)) return new DicomInputError('missing-required-attribute:(0002,0010)', text);
  if (/overrun|cannot be greater than|past end|beyond|eof|end of|maxPosition|maxP osition|unexpected end|not enough/i.test(text)) {
    return new DicomInputError('truncated', `parser: ${text}`);
  }
  return new DicomInputError('not-dicom', `malformed DICOM structure: ${text}`);
}

/**
 * Parses a DICOM Part 10 file (or a raw data set whose transfer syntax can be guessed) with dicom-parser and checks
 * its structure (no element runs past the end, delimiters present). Throws `DicomInputError` for refused input.
 */
export function parseDicomBytes(input: Uint8Array, opts: ParseOptions = {}): ParsedDicom {
  if (opts.maxBytes !== undefined && input.length > opts.maxBytes) {
    throw new DicomInputError('too-large', `${input.length} bytes exceeds the cap of ${opts.maxBytes}`);
  }
  if (input.length === 0) throw new DicomInputError('not-dicom', 'empty input');
  let bytes = input;
  let part10 = true;
  let rawTs: string | undefined;
  if (!isDicmAt128(bytes)) {
    if (bytes.length >= 8 && bytes[0] === 0x02 && bytes[1] === 0x00 && hasVrAt(bytes, 4)) {
      // File meta group without the 128-byte preamble and `DICM`: prefix them (one copy, rare input).
      const prefixed = new Uint8Array(132 + bytes.length);
      prefixed.set([0x44, 0x49, 0x43, 0x4d], 128);
      prefixed.set(bytes, 132);
      bytes = prefixed;
    } else {
      rawTs = guessRawTransferSyntax(bytes);
      if (!rawTs) {
        throw new DicomInputError(
          'not-dicom',
          bytes.length < 132 ? `too short (${bytes.length} bytes) and not a recognisable raw data set` : 'no DICM prefix at offset 128 and not a recognisable raw data set',
        );
      }
      part10 = false;
    }
  }

  // Check the transfer syntax before parsing the data set.
  let transferSyntax: string;
  let metaEnd = 0;
  if (part10) {
    let meta: DataSet & { position?: number };
    try {
      meta = dicomParser.readPart10Header(bytes as Buffer) as DataSet & { position?: number };
    } catch (e) {
      throw classifyParserError(e);
    }
    const tsEl = meta.elements.x00020010;
    if (!tsEl) throw new DicomInputError('missing-required-attribute:(0002,0010)', 'file meta has no Transfer Syntax UID');
    checkBounds(tsEl, bytes.length);
    transferSyntax = (meta.string('x00020010') ?? '').replace(/\0/g, '').trim();
    metaEnd = meta.position ?? 0;
  } else {
    transferSyntax = rawTs!;
  }
  const ts = transferSyntaxInfo(transferSyntax);
  if (!ts) throw new DicomInputError('unsupported-transfer-syntax', `transfer syntax ${JSON.stringify(transferSyntax.slice(0, 64))} is not supported`);

  const options: Record<string, unknown> = {};
  if (!part10) options.TransferSyntaxUID = transferSyntax;
  if (opts.headerOnly) options.untilTag = PIXEL_DATA;

  let dataSet: DataSet;
  if (ts.deflated && opts.headerOnly && part10) {
    // Header read of a deflated file: the file meta is enough (no inflation on the request path).
    let meta: DataSet;
    try {
      meta = dicomParser.readPart10Header(bytes as Buffer);
    } catch (e) {
      throw classifyParserError(e);
    }
    const parsed: ParsedDicom = { dataSet: meta, bytes, transferSyntax, ts, datasetStart: metaEnd, part10 };
    checkStructure(parsed, true);
    return parsed;
  }
  try {
    if (ts.deflated) {
      ({ dataSet, bytes } = parseDeflated(bytes, metaEnd, opts, options));
    } else {
      dataSet = dicomParser.parseDicom(bytes as Buffer, options);
      bytes = dataSet.byteArray;
    }
  } catch (e) {
    throw classifyParserError(e);
  }

  const parsed: ParsedDicom = { dataSet, bytes, transferSyntax, ts, datasetStart: part10 ? metaEnd : 0, part10 };
  checkStructure(parsed, opts.headerOnly === true);
  return parsed;
}

/**
 * Deflated Explicit VR Little Endian: inflate the data set after the file meta (bounded by maxBytes), then parse the
 * inflated data set from the end of the meta group (dicom-parser's own deflate path restarts at offset 0).
 */
function parseDeflated(
  bytes: Uint8Array,
  metaEnd: number,
  opts: ParseOptions,
  options: Record<string, unknown>,
): { dataSet: DataSet; bytes: Uint8Array } {
  let inflated: Buffer;
  const compressed = bytes.length - metaEnd;
  const limit = inflateLimit(compressed, opts);
  try {
    // zlib stops as soon as the output passes the limit: memory stays bounded by it.
    inflated = inflateRawSync(bytes.subarray(metaEnd), { maxOutputLength: limit });
  } catch (e) {
    const text = errorText(e);
    if (/maxOutputLength|larger than|Cannot create/i.test(text) || (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      if (opts.maxBytes !== undefined && limit >= opts.maxBytes) throw new DicomInputError('too-large', `inflated data set exceeds the cap of ${opts.maxBytes} bytes`);
      throw new DicomInputError('decompression-limit', `deflated data set of ${compressed} bytes inflates past ${limit} bytes (${opts.maxInflateRatio ?? DEFAULT_MAX_INFLATE_RATIO}× its size)`);
    }
    throw new DicomInputError('truncated', `deflated data set does not inflate: ${text}`);
  }
  const full = Buffer.allocUnsafe(metaEnd + inflated.length);
  full.set(bytes.subarray(0, metaEnd), 0);
  full.set(inflated, metaEnd);
  const meta = dicomParser.readPart10Header(full);
  const stream = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, full, metaEnd);
  // DataSet is exported at runtime but missing from the type declarations.
  const DataSetCtor = (dicomParser as unknown as { DataSet: new (p: unknown, b: Uint8Array, e: object) => DataSet }).DataSet;
  const dataSet = new DataSetCtor(stream.byteArrayParser, full, {});
  dataSet.warnings = stream.warnings;
  try {
    dicomParser.parseDicomDataSetExplicit(dataSet, stream, full.length, options as { untilTag: string });
  } catch (e) {
    throw { exception: e, dataSet };
  }
  for (const tag in meta.elements) dataSet.elements[tag] = meta.elements[tag];
  return { dataSet, bytes: full };
}

function checkBounds(el: Element, size: number): void {
  if (el.length === UNDEFINED || el.dataOffset + el.length > size || el.dataOffset > size) {
    throw new DicomInputError('truncated', `element ${el.tag} runs past the end of the data (offset ${el.dataOffset}, length ${el.length}, size ${size})`);
  }
}

/** Verifies every element (recursively) lies inside the data and that undefined lengths were closed. */
function checkStructure(p: ParsedDicom, headerOnly: boolean): void {
  const size = p.bytes.length;
  const warnings = p.dataSet.warnings ?? [];
  const eof = warnings.find((w) => /eof|missing sequence delimiter/i.test(w));
  if (eof) throw new DicomInputError('truncated', eof);
  const walk = (ds: DataSet, depth: number): void => {
    if (depth > 64) throw new DicomInputError('not-dicom', 'sequences nested deeper than 64 levels');
    for (const tag in ds.elements) {
      const el = ds.elements[tag];
      if (headerOnly && tag === PIXEL_DATA) continue;
      checkBounds(el, size);
      if (el.items) {
        for (const item of el.items) {
          checkBounds(item, size);
          if (item.dataSet) walk(item.dataSet, depth + 1);
        }
      }
      if (el.fragments) for (const f of el.fragments) if (f.position + f.length > size) throw new DicomInputError('truncated', `pixel data fragment runs past the end`);
    }
  };
  walk(p.dataSet, 0);
}
