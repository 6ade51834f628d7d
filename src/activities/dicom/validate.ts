import { addImage, applyAcceptance, DEFAULT_ACCEPTANCE, summarize } from './acceptance';
import type { AcceptanceRule, DicomSummary } from './acceptance';
import { toRefusal } from './inspect';
import { parseDicomBytes } from './parse';
import type { Refusal } from './types';

export type ValidateResult = { ok: true; summary: DicomSummary } | Refusal;

/** Full structural parse + required attributes + acceptance rule. Never throws for bad input. */
export function validateDicom(buf: Uint8Array, opts: { acceptance?: AcceptanceRule; maxBytes?: number } = {}): ValidateResult {
  try {
    const p = parseDicomBytes(buf, { maxBytes: opts.maxBytes });
    const summary = summarize(p);
    applyAcceptance(summary, opts.acceptance ?? DEFAULT_ACCEPTANCE);
    addImage(p, summary, true);
    return { ok: true, summary };
  } catch (e) {
    return toRefusal(e);
  }
}
