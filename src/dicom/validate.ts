import { addImage, applyAcceptance, DEFAULT_ACCEPTANCE, summarize } from './acceptance';
import type { AcceptanceRule, DicomSummary } from './acceptance';
import { toRefusal } from './inspect';
import { deidentifyParsed } from './deidentify';
import { parseDicomBytes } from './parse';
import type { Refusal } from './types';

const VALIDATION_ONLY_SECRET = 'readflow-validation-dry-run';

export type ValidateResult = { ok: true; summary: DicomSummary } | Refusal;

/** Full structural parse + acceptance rule + required attributes + a writer dry run. Never throws for bad input. */
export function validateDicom(buf: Uint8Array, opts: { acceptance?: AcceptanceRule; maxBytes?: number } = {}): ValidateResult {
  try {
    const p = parseDicomBytes(buf, { maxBytes: opts.maxBytes });
    const summary = summarize(p);
    applyAcceptance(summary, opts.acceptance ?? DEFAULT_ACCEPTANCE);
    addImage(p, summary, true);
    // Dry run of the writer (throwaway key) so that everything validateScan accepts, deidentifyScan can write.
    deidentifyParsed(p, summary, VALIDATION_ONLY_SECRET);
    return { ok: true, summary };
  } catch (e) {
    return toRefusal(e);
  }
}
