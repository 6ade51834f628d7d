/**
 * The 409 `labels-outside-taxonomy` shared by the exports and the releases: released scans whose labels the configured
 * taxonomy does not name (they were read under another label set). A file written with the taxonomy has no column or
 * category for them, so it would leave them out or carry names its taxonomy does not list; the request is refused
 * before anything is written or started, naming the scans and their labels.
 */
import type { ScansRepository } from '../../db/repositories';
import type { LabelSet, ScanSplit, Taxonomy } from '../../domain';
import { ConflictError } from '../errors';

/** Scans a refusal names in its problem document (`scanCount` counts them all). */
export const NAMED_SCANS = 100;
/** Of those, the ones its `detail` names. */
const NAMED_IN_DETAIL = 5;

/** One refused scan: its split and its labels outside the taxonomy, sorted. */
export interface ScanOutsideTaxonomy {
  scanId: string;
  split: ScanSplit;
  labels: string[];
}

/**
 * The released scans whose labels (of `sets`: a split and the labels its files carry) the taxonomy does not name:
 * the first {@link NAMED_SCANS}, by split then id; `total` counts them all.
 */
export async function findLabelsOutside(
  scans: ScansRepository,
  taxonomy: Taxonomy,
  sets: readonly { split: ScanSplit; labels: LabelSet }[],
): Promise<{ total: number; scans: ScanOutsideTaxonomy[] }> {
  const allowed = { boxLabels: taxonomy.localLabels, imageLabels: taxonomy.globalLabels };
  let total = 0;
  const named: ScanOutsideTaxonomy[] = [];
  for (const { split, labels } of sets) {
    const found = await scans.labelsOutside(split, labels, allowed, NAMED_SCANS);
    total += found.total;
    named.push(...found.scans.map((s) => ({ scanId: s.scanId, split, labels: s.labels })));
  }
  return { total, scans: named.slice(0, NAMED_SCANS) };
}

/**
 * The refusal: `what(n)` names the scans searched (`released train scans`), `outcome` what was not done and how to go
 * on; the detail names each scan's split when `splitInDetail` (the scans searched span several splits).
 * Its problem document carries `taxonomy`, `scanCount` and `scans`, plus `extra`.
 */
export function labelsOutsideTaxonomyError(
  taxonomy: Taxonomy,
  found: { total: number; scans: ScanOutsideTaxonomy[] },
  what: (n: number) => string,
  outcome: string,
  opts: { extra?: Record<string, unknown>; splitInDetail?: boolean } = {},
): ConflictError {
  const named = found.scans
    .slice(0, NAMED_IN_DETAIL)
    .map((s) => `${s.scanId} (${opts.splitInDetail ? `${s.split}: ` : ''}${s.labels.join(', ')})`);
  const more = found.total - named.length;
  return new ConflictError(
    'labels-outside-taxonomy',
    `${found.total} ${what(found.total)} ${found.total === 1 ? 'carries' : 'carry'} labels outside the configured taxonomy ${taxonomy.version}: ${named.join('; ')}` +
      `${more > 0 ? `; and ${more} more` : ''}. ${outcome}`,
    { ...opts.extra, taxonomy: taxonomy.version, scanCount: found.total, scans: found.scans },
  );
}
