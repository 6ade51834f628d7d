/**
 * Inter-reader agreement: per scan (pairwise box F1, per-label global agreement) and over many
 * scans (per-reader agreement with the fused result, served by the readers' statistics endpoint).
 */
import { compareBoxes, iou } from './geometry';
import type { FusedResult, ReaderReading } from './fusion';
import { compareStrings } from './problems';
import type { Box } from './reading';
import type { Taxonomy } from './taxonomy';

export { iou } from './geometry';

/** The VinDr-CXR / Kaggle evaluation IoU threshold for a box match. */
export const AGREEMENT_IOU = 0.4;
/** Default agreement bound below which a scan is flagged. */
export const DEFAULT_FLAG_BELOW = 0.5;

/** Agreement among the readers of one scan. */
export interface ScanAgreement {
  /** One entry per unordered pair of readers (`a < b` by reader id), sorted by `a` then `b`. */
  pairwiseBoxF1: { a: string; b: string; f1: number }[];
  /** Mean of the pairwise F1 (1 with fewer than two readers). */
  meanBoxF1: number;
  /** Per global label: share of reader pairs that agree on its presence (1 = unanimous). */
  globalLabelAgreement: Record<string, number>;
  /** Mean of `meanBoxF1` and the mean agreement over global labels that at least one reader used. */
  overall: number;
  /** `overall < flagBelow`. */
  flagged: boolean;
}

/**
 * Number of one-to-one matches between two box sets: same label and IoU ≥ `iouThreshold`, matched
 * greedily by decreasing IoU (ties broken by canonical box order, so input order does not matter).
 */
export function matchCount(a: readonly Box[], b: readonly Box[], iouThreshold = AGREEMENT_IOU): number {
  const sa = [...a].sort(compareBoxes);
  const sb = [...b].sort(compareBoxes);
  const pairs: { i: number; j: number; v: number }[] = [];
  for (let i = 0; i < sa.length; i++) {
    for (let j = 0; j < sb.length; j++) {
      if (sa[i].label !== sb[j].label) continue;
      const v = iou(sa[i], sb[j]);
      if (v >= iouThreshold && v > 0) pairs.push({ i, j, v });
    }
  }
  pairs.sort((p, q) => q.v - p.v || p.i - q.i || p.j - q.j);
  const usedA = new Set<number>();
  const usedB = new Set<number>();
  let matched = 0;
  for (const p of pairs) {
    if (usedA.has(p.i) || usedB.has(p.j)) continue;
    usedA.add(p.i);
    usedB.add(p.j);
    matched++;
  }
  return matched;
}

/**
 * Box F1 between two box sets: `2·matches / (|a| + |b|)`. Two empty sets agree perfectly (1);
 * one empty and one non-empty set give 0.
 */
export function boxF1(a: readonly Box[], b: readonly Box[], iouThreshold = AGREEMENT_IOU): number {
  if (a.length + b.length === 0) return 1;
  return (2 * matchCount(a, b, iouThreshold)) / (a.length + b.length);
}

/** F1 between two label sets (1 when both are empty). */
export function labelSetF1(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size + sb.size === 0) return 1;
  let common = 0;
  for (const l of sa) if (sb.has(l)) common++;
  return (2 * common) / (sa.size + sb.size);
}

/**
 * Agreement among the readers of one scan. Box agreement is the pairwise box F1 at IoU ≥ 0.4
 * (configurable); global-label agreement is, per label, the share of reader pairs agreeing on its
 * presence. With a taxonomy, every global label of the taxonomy is listed (unused labels score 1);
 * `overall` only averages labels somebody used, so unused labels never inflate it.
 * All-"No finding" readings agree perfectly (empty box sets have F1 = 1).
 */
export function scanAgreement(
  readings: readonly ReaderReading[],
  opts: { iouThreshold?: number; flagBelow?: number; taxonomy?: Taxonomy } = {},
): ScanAgreement {
  const thr = opts.iouThreshold ?? AGREEMENT_IOU;
  const flagBelow = opts.flagBelow ?? DEFAULT_FLAG_BELOW;
  const sorted = [...readings].sort((x, y) => compareStrings(x.readerId, y.readerId));
  const pairwiseBoxF1: ScanAgreement['pairwiseBoxF1'] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      pairwiseBoxF1.push({
        a: sorted[i].readerId,
        b: sorted[j].readerId,
        f1: boxF1(sorted[i].reading.boxes, sorted[j].reading.boxes, thr),
      });
    }
  }
  const meanBoxF1 = pairwiseBoxF1.length === 0 ? 1 : pairwiseBoxF1.reduce((s, p) => s + p.f1, 0) / pairwiseBoxF1.length;

  const used = new Set<string>();
  for (const r of sorted) for (const l of r.reading.globalLabels) used.add(l);
  const labels = opts.taxonomy ? [...new Set([...opts.taxonomy.globalLabels, ...used])] : [...used].sort(compareStrings);
  const globalLabelAgreement: Record<string, number> = {};
  const n = sorted.length;
  const pairs = (n * (n - 1)) / 2;
  for (const label of labels) {
    const yes = sorted.filter((r) => r.reading.globalLabels.includes(label)).length;
    const no = n - yes;
    globalLabelAgreement[label] = pairs === 0 ? 1 : ((yes * (yes - 1)) / 2 + (no * (no - 1)) / 2) / pairs;
  }
  const usedLabels = [...used];
  const meanGlobal = usedLabels.length === 0 ? undefined : usedLabels.reduce((s, l) => s + globalLabelAgreement[l], 0) / usedLabels.length;
  const overall = meanGlobal === undefined ? meanBoxF1 : (meanBoxF1 + meanGlobal) / 2;
  return { pairwiseBoxF1, meanBoxF1, globalLabelAgreement, overall, flagged: overall < flagBelow };
}

/** A reader's agreement with the fused results of the scans they read. */
export interface ReaderAgreement {
  readerId: string;
  /** Scans the reader took part in. */
  scans: number;
  /** Mean box F1 (IoU ≥ 0.4) between the reader's boxes and the fused boxes. */
  meanBoxF1: number;
  /** Mean F1 between the reader's global labels and the fused global labels. */
  meanGlobalF1: number;
}

/** Per-reader agreement with the fused result, over many scans; sorted by reader id. */
export function readerAgreementWithFused(
  scans: readonly { readings: readonly ReaderReading[]; fused: FusedResult }[],
  opts: { iouThreshold?: number } = {},
): ReaderAgreement[] {
  const thr = opts.iouThreshold ?? AGREEMENT_IOU;
  const acc = new Map<string, { scans: number; box: number; global: number }>();
  for (const scan of scans) {
    for (const r of scan.readings) {
      const a = acc.get(r.readerId) ?? { scans: 0, box: 0, global: 0 };
      a.scans++;
      a.box += boxF1(r.reading.boxes, scan.fused.boxes, thr);
      a.global += labelSetF1(r.reading.globalLabels, scan.fused.globalLabels);
      acc.set(r.readerId, a);
    }
  }
  return [...acc.entries()]
    .sort(([x], [y]) => compareStrings(x, y))
    .map(([readerId, a]) => ({ readerId, scans: a.scans, meanBoxF1: a.box / a.scans, meanGlobalF1: a.global / a.scans }));
}
