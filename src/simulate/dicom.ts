import { fileMeta } from '../dicom/deidentify';
import { Encoder, textValue } from '../dicom/writer';
import type { Rng } from './random';
import type { Truth } from './truth';

/**
 * Synthetic chest radiographs: valid CR or DX objects (explicit VR little endian, native 16-bit pixels, or RLE
 * Lossless) of a configurable size, with fake identifying tags (patient name, id, birth date, institution, accession,
 * referring physician, dates, device serial) so that de-identification has work to do. The pixels are a soft
 * gradient with brighter rectangles where the seeded findings are.
 *
 * JPEG 2000 is not generated: no maintained npm package encodes it without a WebAssembly build of OpenJPEG
 * (decoders exist, encoders are unmaintained); use `--input-dir` with real JPEG 2000 files for that.
 */
export const SYNTHETIC_ENCODINGS = ['explicit', 'rle'] as const;
export type SyntheticEncoding = (typeof SYNTHETIC_ENCODINGS)[number];

const TS = { explicit: '1.2.840.10008.1.2.1', rle: '1.2.840.10008.1.2.5' } as const;
const SOP_CLASS = { CR: '1.2.840.10008.5.1.4.1.1.1', DX: '1.2.840.10008.5.1.4.1.1.1.1' } as const;
const enc = new Encoder(true, true);

const FIRST = ['Jane', 'John', 'Minh', 'Lan', 'Anh', 'Tuan', 'Mai', 'Hoa', 'Nam', 'Linh'];
const LAST = ['Doe', 'Nguyen', 'Tran', 'Le', 'Pham', 'Hoang', 'Vu', 'Dang', 'Bui', 'Do'];

export interface SyntheticScan {
  bytes: Buffer;
  sopInstanceUid: string;
  patientName: string;
  patientId: string;
}

function el(group: number, element: number, vr: string, text: string): Uint8Array {
  return enc.element(group, element, vr, textValue(text, vr));
}

function date(rng: Rng, from: number, to: number): string {
  const y = rng.int(from, to);
  return `${y}${String(rng.int(1, 12)).padStart(2, '0')}${String(rng.int(1, 28)).padStart(2, '0')}`;
}

/** Native 16-bit little-endian pixels (12 bits stored); `noise` adds seeded uniform noise of ± that many levels. */
function pixels(rows: number, columns: number, truth: Truth, noise = 0, rng?: Rng): Buffer {
  const out = Buffer.alloc(rows * columns * 2);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      // A chest-ish shape: darker lungs left and right of a brighter mediastinum.
      const dx = Math.abs(x / columns - 0.5);
      const v = 600 + Math.round(1800 * Math.exp(-((dx * 6) ** 2))) + Math.round((y / rows) * 400);
      out.writeUInt16LE(v, (y * columns + x) * 2);
    }
  }
  for (const b of truth.boxes) {
    for (let y = b.y_min; y < b.y_max; y++) {
      for (let x = b.x_min; x < b.x_max; x++) out.writeUInt16LE(Math.min(4095, out.readUInt16LE((y * columns + x) * 2) + 700), (y * columns + x) * 2);
    }
  }
  if (noise > 0 && rng) {
    // Film grain: a smooth synthetic film deflates 100×, a real radiograph 2–3×; noise makes codecs and PNG work as hard.
    for (let i = 0; i < rows * columns; i++) {
      const v = out.readUInt16LE(2 * i) + Math.round((rng.float() - 0.5) * 2 * noise);
      out.writeUInt16LE(v < 0 ? 0 : v > 4095 ? 4095 : v, 2 * i);
    }
  }
  return out;
}

/** PackBits (the RLE of DICOM PS3.5 Annex G) of one byte segment. */
function packBits(seg: Buffer): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < seg.length) {
    let run = 1;
    while (i + run < seg.length && run < 128 && seg[i + run] === seg[i]) run++;
    if (run >= 2) {
      out.push(257 - run, seg[i]);
      i += run;
      continue;
    }
    const start = i;
    let lit = 0;
    while (i < seg.length && lit < 128 && !(i + 1 < seg.length && seg[i + 1] === seg[i])) {
      i++;
      lit++;
    }
    if (lit === 0) {
      i++;
      lit = 1;
    }
    out.push(lit - 1);
    for (let k = start; k < start + lit; k++) out.push(seg[k]);
  }
  if (out.length % 2) out.push(0x80); // no-op byte keeps segments even
  return Buffer.from(out);
}

/** One RLE Lossless frame of 16-bit pixels: header of 16 offsets, then the high-byte and low-byte segments. */
function rleFrame(native: Buffer): Buffer {
  const n = native.length / 2;
  const hi = Buffer.alloc(n);
  const lo = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    lo[i] = native[2 * i];
    hi[i] = native[2 * i + 1];
  }
  const s0 = packBits(hi);
  const s1 = packBits(lo);
  const header = Buffer.alloc(64);
  header.writeUInt32LE(2, 0);
  header.writeUInt32LE(64, 4);
  header.writeUInt32LE(64 + s0.length, 8);
  return Buffer.concat([header, s0, s1]);
}

function encapsulated(frame: Buffer): Buffer {
  const item = (data: Buffer): Buffer => Buffer.concat([Buffer.from(enc.itemHeader(0xe000, data.length)), data]);
  const padded = frame.length % 2 ? Buffer.concat([frame, Buffer.alloc(1)]) : frame;
  return Buffer.concat([
    Buffer.from(enc.header(0x7fe0, 0x0010, 'OB', 0xffffffff)),
    item(Buffer.alloc(0)), // empty basic offset table
    item(padded),
    Buffer.from(enc.itemHeader(0xe0dd, 0)),
  ]);
}

/** A synthetic chest radiograph for scan number `n` of run `runId`, with fake identifying tags. */
export function syntheticChest(opts: {
  runId: string;
  n: number;
  rows: number;
  columns: number;
  modality: 'CR' | 'DX';
  encoding: SyntheticEncoding;
  truth: Truth;
  rng: Rng;
  /** Seeded pixel noise (± levels of 4096), for films that compress like real ones (bench, latency test). Default 0. */
  noise?: number;
}): SyntheticScan {
  const { rng, rows, columns } = opts;
  const root = `2.25.${opts.runId}`;
  const sop = `${root}.${opts.n}.1.1`;
  const patientName = `${rng.pick(LAST)}^${rng.pick(FIRST)}`;
  const patientId = `P${String(rng.int(0, 9_999_999)).padStart(7, '0')}`;
  const sopClass = SOP_CLASS[opts.modality];
  const native = pixels(rows, columns, opts.truth, opts.noise ?? 0, opts.noise ? rng.fork('noise') : undefined);
  const pixelElement = opts.encoding === 'rle' ? encapsulated(rleFrame(native)) : Buffer.from(enc.element(0x7fe0, 0x0010, 'OW', native));
  const els: Uint8Array[] = [
    el(0x0008, 0x0005, 'CS', 'ISO_IR 100'),
    el(0x0008, 0x0016, 'UI', sopClass),
    el(0x0008, 0x0018, 'UI', sop),
    el(0x0008, 0x0020, 'DA', date(rng, 2018, 2020)),
    el(0x0008, 0x0030, 'TM', '101500'),
    el(0x0008, 0x0050, 'SH', `ACC${rng.int(100000, 999999)}`),
    el(0x0008, 0x0060, 'CS', opts.modality),
    el(0x0008, 0x0080, 'LO', 'Synthetic General Hospital'),
    el(0x0008, 0x0081, 'ST', '1 Fake Street, Hanoi'),
    el(0x0008, 0x0090, 'PN', `${rng.pick(LAST)}^${rng.pick(FIRST)}^^Dr`),
    el(0x0008, 0x1010, 'SH', 'XRAY-ROOM-2'),
    el(0x0010, 0x0010, 'PN', patientName),
    el(0x0010, 0x0020, 'LO', patientId),
    el(0x0010, 0x0030, 'DA', date(rng, 1930, 2000)),
    el(0x0010, 0x0040, 'CS', rng.pick(['F', 'M'])),
    el(0x0010, 0x1010, 'AS', `${String(rng.int(20, 90)).padStart(3, '0')}Y`),
    el(0x0018, 0x0015, 'CS', 'CHEST'),
    el(0x0018, 0x1000, 'LO', `SN-${rng.int(10000, 99999)}`),
    // PA: the view VinDr-CXR kept and ReadFlow accepts by default (READFLOW_ACCEPTED_VIEWS).
    el(0x0018, 0x5101, 'CS', 'PA'),
    el(0x0020, 0x000d, 'UI', `${root}.${opts.n}.1`),
    el(0x0020, 0x000e, 'UI', `${root}.${opts.n}.1.0`),
    el(0x0020, 0x0010, 'SH', `S${opts.n}`),
    enc.element(0x0028, 0x0002, 'US', enc.uint16Value(1)),
    el(0x0028, 0x0004, 'CS', 'MONOCHROME2'),
    enc.element(0x0028, 0x0010, 'US', enc.uint16Value(rows)),
    enc.element(0x0028, 0x0011, 'US', enc.uint16Value(columns)),
    el(0x0028, 0x0030, 'DS', '0.168\\0.168'),
    enc.element(0x0028, 0x0100, 'US', enc.uint16Value(16)),
    enc.element(0x0028, 0x0101, 'US', enc.uint16Value(12)),
    enc.element(0x0028, 0x0102, 'US', enc.uint16Value(11)),
    enc.element(0x0028, 0x0103, 'US', enc.uint16Value(0)),
    pixelElement,
  ];
  const bytes = Buffer.concat([fileMeta(sopClass, sop, TS[opts.encoding]), ...els]);
  return { bytes, sopInstanceUid: sop, patientName, patientId };
}
