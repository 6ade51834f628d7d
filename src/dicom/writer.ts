import type { DataSet, Element } from 'dicom-parser';

import { PIXEL_DATA } from './parse';
import type { ParsedDicom } from './parse';
import { DicomInputError } from './types';

/**
 * Byte-preserving DICOM writer over dicom-parser's element offsets.
 *
 * The data set is rewritten element by element: an element whose value does not change is copied as the original
 * byte range (header included), so Pixel Data (native or encapsulated, with its fragments, offset table and
 * delimiters) and every untouched value keep their exact bytes. Only changed elements are re-encoded, in the data
 * set's own encoding (explicit/implicit VR, little/big endian). Sequences whose content changes are re-encoded with
 * their original length form: undefined lengths stay undefined (with delimiters), defined lengths are recomputed.
 */

export type ElementEdit =
  | { kind: 'keep' }
  | { kind: 'remove' }
  /** Replace the value with these bytes (already padded to even length, in the data set's byte order). */
  | { kind: 'value'; value: Uint8Array; vr: string }
  /** Process the sequence's items with the same editor. */
  | { kind: 'recurse' };

export interface ElementInfo {
  tag: string;
  group: number;
  element: number;
  vr: string | undefined;
  depth: number;
  el: Element;
}

/** Decides what happens to each element (called for every element, at every depth). */
export type Editor = (info: ElementInfo) => ElementEdit;

/** An element to add at the top level (replacing an existing one with the same tag). */
export interface Insertion {
  tag: string;
  /** Fully encoded element (header + value) in the data set's encoding. */
  bytes: Uint8Array;
}

const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN']); // as dicom-parser reads them
const LONG_VRS_WRITE = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UR', 'UT', 'UN', 'UV']);
const MAX_DEPTH = 64;

interface Out {
  chunks: Uint8Array[];
  length: number;
  changed: boolean;
}

export class Encoder {
  constructor(
    readonly explicit: boolean,
    readonly littleEndian: boolean,
  ) {}

  private u16(v: number, b: Uint8Array, o: number): void {
    if (this.littleEndian) {
      b[o] = v & 0xff;
      b[o + 1] = (v >>> 8) & 0xff;
    } else {
      b[o] = (v >>> 8) & 0xff;
      b[o + 1] = v & 0xff;
    }
  }

  private u32(v: number, b: Uint8Array, o: number): void {
    if (this.littleEndian) {
      b[o] = v & 0xff;
      b[o + 1] = (v >>> 8) & 0xff;
      b[o + 2] = (v >>> 16) & 0xff;
      b[o + 3] = (v >>> 24) & 0xff;
    } else {
      b[o] = (v >>> 24) & 0xff;
      b[o + 1] = (v >>> 16) & 0xff;
      b[o + 2] = (v >>> 8) & 0xff;
      b[o + 3] = v & 0xff;
    }
  }

  /** Element header for a value of `length` bytes (UNDEFINED allowed for SQ/UN/OB/OW). */
  header(group: number, element: number, vr: string, length: number): Uint8Array {
    if (!this.explicit) {
      const b = new Uint8Array(8);
      this.u16(group, b, 0);
      this.u16(element, b, 2);
      this.u32(length, b, 4);
      return b;
    }
    if (LONG_VRS_WRITE.has(vr)) {
      const b = new Uint8Array(12);
      this.u16(group, b, 0);
      this.u16(element, b, 2);
      b[4] = vr.charCodeAt(0);
      b[5] = vr.charCodeAt(1);
      this.u32(length, b, 8);
      return b;
    }
    if (length > 0xffff) throw new DicomInputError('not-dicom', `value too long for VR ${vr}`);
    const b = new Uint8Array(8);
    this.u16(group, b, 0);
    this.u16(element, b, 2);
    b[4] = vr.charCodeAt(0);
    b[5] = vr.charCodeAt(1);
    this.u16(length, b, 6);
    return b;
  }

  /** Item / delimiter header: (FFFE,eeee) + 4-byte length, never with a VR. */
  itemHeader(element: number, length: number): Uint8Array {
    const b = new Uint8Array(8);
    this.u16(0xfffe, b, 0);
    this.u16(element, b, 2);
    this.u32(length, b, 4);
    return b;
  }

  element(group: number, element: number, vr: string, value: Uint8Array): Uint8Array {
    const h = this.header(group, element, vr, value.length);
    const b = new Uint8Array(h.length + value.length);
    b.set(h, 0);
    b.set(value, h.length);
    return b;
  }

  /** An SQ element with defined lengths from already-encoded item contents. */
  sequence(group: number, element: number, items: Uint8Array[]): Uint8Array {
    const parts: Uint8Array[] = [];
    let len = 0;
    for (const it of items) {
      const h = this.itemHeader(0xe000, it.length);
      parts.push(h, it);
      len += h.length + it.length;
    }
    const h = this.header(group, element, 'SQ', len);
    return concat([h, ...parts], h.length + len);
  }

  uint16Value(v: number): Uint8Array {
    const b = new Uint8Array(2);
    this.u16(v, b, 0);
    return b;
  }
}

export function concat(chunks: Uint8Array[], total?: number): Uint8Array {
  return Buffer.concat(chunks, total);
}

/** ASCII text padded to even length (`\0` for UI, space otherwise). */
export function textValue(text: string, vr: string): Uint8Array {
  const b = Buffer.from(text, 'latin1');
  if (b.length % 2 === 0) return b;
  const out = Buffer.alloc(b.length + 1, vr === 'UI' ? 0 : 0x20);
  b.copy(out);
  return out;
}

function tagOf(tag: string): { group: number; element: number } {
  return { group: parseInt(tag.slice(1, 5), 16), element: parseInt(tag.slice(5, 9), 16) };
}

function tagAt(bytes: Uint8Array, off: number, le: boolean): number {
  if (off < 0 || off + 4 > bytes.length) return -1;
  const g = le ? bytes[off] | (bytes[off + 1] << 8) : (bytes[off] << 8) | bytes[off + 1];
  const e = le ? bytes[off + 2] | (bytes[off + 3] << 8) : (bytes[off + 2] << 8) | bytes[off + 3];
  return g * 0x10000 + e;
}

const SEQ_DELIM = 0xfffee0dd;
const ITEM = 0xfffee000;

export class DatasetWriter {
  readonly enc: Encoder;
  private readonly bytes: Uint8Array;
  private readonly le: boolean;
  private readonly explicit: boolean;

  constructor(
    private readonly parsed: ParsedDicom,
    private readonly edit: Editor,
  ) {
    this.bytes = parsed.bytes;
    this.le = parsed.ts.littleEndian;
    this.explicit = parsed.ts.explicit;
    this.enc = new Encoder(this.explicit, this.le);
  }

  private headerLength(el: Element): number {
    if (!this.explicit) return 8;
    return LONG_VRS.has(el.vr ?? '') ? 12 : 8;
  }

  /** End offset (exclusive) of an element, including any delimiter that belongs to it. */
  private elementEnd(el: Element): number {
    if (!el.hadUndefinedLength) return el.dataOffset + el.length;
    if (el.encapsulatedPixelData) return el.dataOffset + el.length; // length includes the sequence delimiter
    let isSeq: boolean;
    if (this.explicit) isSeq = el.vr === 'SQ' || el.vr === 'UN';
    else {
      const next = tagAt(this.bytes, el.dataOffset, this.le);
      isSeq = next === ITEM || next === SEQ_DELIM;
    }
    if (!isSeq) return el.dataOffset + el.length; // found by scanning for the item delimiter, which it includes
    const end = el.dataOffset + el.length;
    if (tagAt(this.bytes, end, this.le) !== SEQ_DELIM) {
      throw new DicomInputError('truncated', `sequence ${el.tag} has no sequence delimitation item`);
    }
    return end + 8;
  }

  /** Writes the main data set (after the file meta group) with top-level insertions. */
  writeTopLevel(insertions: Insertion[]): Out {
    const ds = this.parsed.dataSet;
    return this.writeDataSet(ds, this.parsed.datasetStart, this.bytes.length, 0, insertions, true);
  }

  private writeDataSet(ds: DataSet, start: number, end: number, depth: number, insertions: Insertion[], top: boolean): Out {
    if (depth > MAX_DEPTH) throw new DicomInputError('not-dicom', `sequences nested deeper than ${MAX_DEPTH} levels`);
    const pieces: { tag: string; chunks: Uint8Array[]; length: number }[] = [];
    let changed = false;
    let pos = start;
    let lastTag = '';
    let ordered = true;
    for (const tag in ds.elements) {
      const el = ds.elements[tag];
      const { group, element } = tagOf(tag);
      if (top && group === 0x0002) continue;
      if (tag === 'xfffee00d') {
        // Item delimitation item of an undefined-length item: marks the end of the item's content.
        if (el.dataOffset - 8 !== pos) throw new DicomInputError('not-dicom', `unexpected data before item delimiter at ${pos}`);
        pos = el.dataOffset - 8;
        end = pos;
        break;
      }
      const hdr = this.headerLength(el);
      const elStart = el.dataOffset - hdr;
      if (elStart !== pos) {
        throw new DicomInputError('not-dicom', `element ${tag} at ${elStart} does not follow the previous element (ends ${pos}): duplicate or overlapping data elements`);
      }
      const elEnd = this.elementEnd(el);
      if (elEnd > end) throw new DicomInputError('truncated', `element ${tag} runs past its container`);
      pos = elEnd;
      if (tag < lastTag) ordered = false;
      lastTag = tag;

      const action: ElementEdit = top && tag === PIXEL_DATA ? { kind: 'keep' } : this.edit({ tag, group, element, vr: el.vr, depth, el });
      switch (action.kind) {
        case 'keep':
          pieces.push({ tag, chunks: [this.bytes.subarray(elStart, elEnd)], length: elEnd - elStart });
          break;
        case 'remove':
          changed = true;
          break;
        case 'value': {
          const vr = this.explicit ? (el.vr === 'UN' ? 'UN' : action.vr) : action.vr;
          const h = this.enc.header(group, element, vr, action.value.length);
          pieces.push({ tag, chunks: [h, action.value], length: h.length + action.value.length });
          changed = true;
          break;
        }
        case 'recurse': {
          const out = this.writeSequence(el, group, element, elStart, elEnd, depth);
          pieces.push({ tag, chunks: out.chunks, length: out.length });
          if (out.changed) changed = true;
          break;
        }
      }
    }
    if (pos !== end) {
      if (pos > end) throw new DicomInputError('truncated', `data set runs past its end (${pos} > ${end})`);
      throw new DicomInputError('not-dicom', `unparsed bytes in data set between ${pos} and ${end}`);
    }
    if (!ordered) {
      pieces.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
      changed = true;
    }
    if (insertions.length > 0) {
      changed = true;
      for (const ins of insertions) {
        const i = pieces.findIndex((p) => p.tag >= ins.tag);
        const piece = { tag: ins.tag, chunks: [ins.bytes], length: ins.bytes.length };
        if (i === -1) pieces.push(piece);
        else if (pieces[i].tag === ins.tag) pieces[i] = piece;
        else pieces.splice(i, 0, piece);
      }
    }
    const chunks: Uint8Array[] = [];
    let length = 0;
    for (const p of pieces) {
      for (const c of p.chunks) chunks.push(c);
      length += p.length;
    }
    return { chunks, length, changed };
  }

  private writeSequence(el: Element, group: number, element: number, elStart: number, elEnd: number, depth: number): Out {
    const items = el.items ?? [];
    const itemOuts: { out: Out; undefinedLength: boolean }[] = [];
    let changed = false;
    let pos = el.dataOffset;
    for (const item of items) {
      if (item.dataOffset - 8 !== pos) throw new DicomInputError('not-dicom', `sequence ${el.tag}: item does not follow the previous one`);
      const undef = item.hadUndefinedLength === true;
      const contentEnd = undef ? -1 : item.dataOffset + item.length;
      const ds = item.dataSet;
      if (!ds) throw new DicomInputError('not-dicom', `sequence ${el.tag}: item without a data set`);
      let end = contentEnd;
      if (undef) {
        const delim = ds.elements.xfffee00d;
        if (!delim) throw new DicomInputError('truncated', `sequence ${el.tag}: item without item delimitation`);
        end = delim.dataOffset - 8;
      }
      const out = this.writeDataSet(ds, item.dataOffset, end, depth + 1, [], false);
      itemOuts.push({ out, undefinedLength: undef });
      if (out.changed) changed = true;
      pos = undef ? end + 8 : contentEnd;
    }
    const seqContentEnd = el.hadUndefinedLength ? elEnd - 8 : elEnd;
    if (pos !== seqContentEnd) throw new DicomInputError('not-dicom', `sequence ${el.tag}: items do not fill the sequence`);
    if (!changed) return { chunks: [this.bytes.subarray(elStart, elEnd)], length: elEnd - elStart, changed: false };

    const chunks: Uint8Array[] = [];
    let content = 0;
    for (const { out, undefinedLength } of itemOuts) {
      chunks.push(this.enc.itemHeader(0xe000, undefinedLength ? UNDEFINED : out.length));
      for (const c of out.chunks) chunks.push(c);
      content += 8 + out.length;
      if (undefinedLength) {
        chunks.push(this.enc.itemHeader(0xe00d, 0));
        content += 8;
      }
    }
    if (el.hadUndefinedLength) {
      chunks.push(this.enc.itemHeader(0xe0dd, 0));
      content += 8;
    }
    const h = this.enc.header(group, element, this.explicit ? (el.vr ?? 'SQ') : 'SQ', el.hadUndefinedLength ? UNDEFINED : content);
    return { chunks: [h, ...chunks], length: h.length + content, changed: true };
  }
}
