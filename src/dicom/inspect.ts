import { parseDicomBytes } from './parse';
import { DicomInputError } from './types';
import type { Refusal } from './types';

export type InspectResult = { ok: true; sopInstanceUid: string; transferSyntax: string } | Refusal;

/**
 * Fast header-only inspection: parses up to Pixel Data and reads the SOP Instance UID and transfer syntax.
 * Never throws for bad input.
 */
export function inspectDicom(buf: Uint8Array, opts: { maxBytes?: number } = {}): InspectResult {
  try {
    const p = parseDicomBytes(buf, { headerOnly: true, maxBytes: opts.maxBytes });
    // Deflated files: only the file meta was read; its Media Storage SOP Instance UID names the instance.
    const tag = p.dataSet.elements.x00080018 ? 'x00080018' : p.ts.deflated ? 'x00020003' : 'x00080018';
    const el = p.dataSet.elements[tag];
    const sop = el && el.length > 0 ? p.dataSet.string(tag)?.replace(/\0/g, '').trim() : undefined;
    if (!sop) return { ok: false, reason: 'missing-required-attribute:(0008,0018)', detail: 'no SOP Instance UID' };
    return { ok: true, sopInstanceUid: sop, transferSyntax: p.transferSyntax };
  } catch (e) {
    return toRefusal(e);
  }
}

/** Converts anything thrown while handling input into a refusal (unexpected errors become `not-dicom`). */
export function toRefusal(e: unknown): Refusal {
  if (e instanceof DicomInputError) return { ok: false, reason: e.reason, detail: e.detail };
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (e instanceof RangeError && /call stack/i.test(text)) return { ok: false, reason: 'not-dicom', detail: 'structure nested too deeply' };
  return { ok: false, reason: 'not-dicom', detail: `unreadable: ${text.slice(0, 300)}` };
}
