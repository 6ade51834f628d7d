import { parseAccepted } from './acceptance';
import type { AcceptanceRule, DicomSummary } from './acceptance';
import { toRefusal } from './inspect';
import { deidentifyParsed } from './deidentify';
import type { Refusal } from './types';

const VALIDATION_ONLY_SECRET = 'readflow-validation-dry-run';

export type ValidateResult = { ok: true; summary: DicomSummary } | Refusal;

/** Full structural parse + acceptance rule + required attributes + a writer dry run. Never throws for bad input. */
export function validateDicom(buf: Uint8Array, opts: { acceptance?: AcceptanceRule; maxBytes?: number } = {}): ValidateResult {
  try {
    const { parsed, summary } = parseAccepted(buf, opts);
    // Dry run of the writer (throwaway key) so that everything validateScan accepts, deidentifyScan can write.
    deidentifyParsed(parsed, summary, VALIDATION_ONLY_SECRET);
    return { ok: true, summary };
  } catch (e) {
    return toRefusal(e);
  }
}
