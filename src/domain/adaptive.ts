/**
 * Adaptive reading (`adaptive-3-5`): after the first readers, measure how much they agree and, below the
 * policy's bound, spend more readings on the scan (once). Pure rules shared by the scan workflow and the bench.
 */
import { AGREEMENT_IOU, scanAgreement } from './agreement';
import { compareBoxes, iou } from './geometry';
import type { ScanAgreement } from './agreement';
import { fuseReadings } from './fusion';
import type { FusedResult, ReaderReading } from './fusion';
import type { FusionSettings, ReadingPolicy } from './policy';
import type { Box, ImageSize } from './reading';
import { DEFAULT_NO_FINDING } from './taxonomy';
import type { Taxonomy } from './taxonomy';

/** The extension decision of an adaptive scan once its first readings are in. */
export interface ExtensionDecision {
  /** True: add `extraReaders` readers (never one who read the scan) and fuse all readings with `extendedQuorum`. */
  extend: boolean;
  /** The agreement measured (see {@link adaptiveAgreement}), in [0, 1]. */
  agreement: number;
  /** The policy's `adaptive.extendBelow`. */
  bound: number;
  /** Readers added (0 when not extended). */
  extraReaders: number;
  /** The components of the agreement. */
  meanBoxF1: number;
  /** Mean per-label agreement of the image-level labels somebody used (1 when none was used). */
  meanLabelAgreement: number;
  /** Findings the readers placed at the same spot under different labels, neither label reaching the quorum. */
  disputedFindings: number;
  /**
   * The likeliest of the boxes the first readers' fusion drops to be a true finding the other readers missed
   * (see {@link unconfirmedFindingProbability}); 0 without a track record or without such a box.
   */
  unconfirmedFinding: number;
  /** Why: `disputed-finding`, `unconfirmed-finding`, `agreement-below-bound`, or `agreed`. */
  reason: ExtensionReason;
}

/** Why an adaptive scan was (or was not) extended. */
export const EXTENSION_REASONS = ['disputed-finding', 'unconfirmed-finding', 'agreement-below-bound', 'agreed'] as const;
export type ExtensionReason = (typeof EXTENSION_REASONS)[number];

/**
 * What a deployment knows of one reader from the scans already fused (their track record): their readings and boxes,
 * how many of those boxes the fusion kept, and, over the fused boxes of the scans they read, how many they had drawn.
 */
export interface ReaderTrackRecord {
  readings: number;
  boxes: number;
  /** Boxes matched (same label, IoU ≥ 0.4) by a fused box of their scan. */
  confirmedBoxes: number;
  /** Fused boxes of the scans they read. */
  fusedBoxes: number;
  /** Of those, boxes they had drawn (same label, IoU ≥ 0.4). */
  foundBoxes: number;
}

/** The readers' track records and the pool's label figures, from the scans already fused (see {@link recordFusedScan}). */
export interface TrackRecord {
  /** Scans fused. */
  scans: number;
  readers: Record<string, ReaderTrackRecord>;
  /** Fused boxes by label (how prevalent each finding is). */
  fusedBoxesByLabel: Record<string, number>;
  /** Readers' boxes the fusion did not keep, by label (what false positives look like). */
  unconfirmedBoxesByLabel: Record<string, number>;
}

/** An empty track record. */
export function emptyTrackRecord(): TrackRecord {
  return { scans: 0, readers: {}, fusedBoxesByLabel: {}, unconfirmedBoxesByLabel: {} };
}

const sameFinding = (a: Box, b: Box): boolean => a.label === b.label && iou(a, b) >= AGREEMENT_IOU;

/** Adds one fused scan (its readings and fused boxes) to a track record, in place. */
export function recordFusedScan(record: TrackRecord, readings: readonly ReaderReading[], fused: Pick<FusedResult, 'boxes'>): TrackRecord {
  record.scans++;
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  for (const fb of fused.boxes) bump(record.fusedBoxesByLabel, fb.label);
  for (const r of readings) {
    const t = (record.readers[r.readerId] ??= { readings: 0, boxes: 0, confirmedBoxes: 0, fusedBoxes: 0, foundBoxes: 0 });
    t.readings++;
    for (const b of r.reading.boxes) {
      t.boxes++;
      if (fused.boxes.some((fb) => sameFinding(fb, b))) t.confirmedBoxes++;
      else bump(record.unconfirmedBoxesByLabel, b.label);
    }
    for (const fb of fused.boxes) {
      t.fusedBoxes++;
      if (r.reading.boxes.some((b) => sameFinding(fb, b))) t.foundBoxes++;
    }
  }
  return record;
}

/**
 * Adds (`sign` 1) or takes away (`sign` -1) the scans of `part` to or from `record`, in place: a track record of a
 * window of scans kept up to date as scans enter and leave it. Counts that reach 0 leave their map, so that the record
 * equals the one built from the window's scans by {@link recordFusedScan} (the same readers and labels, the same
 * counts).
 */
export function mergeTrackRecord(record: TrackRecord, part: TrackRecord, sign: 1 | -1 = 1): TrackRecord {
  record.scans += sign * part.scans;
  const mergeCounts = (into: Record<string, number>, from: Record<string, number>): void => {
    for (const [k, n] of Object.entries(from)) {
      const v = (into[k] ?? 0) + sign * n;
      if (v === 0) delete into[k];
      else into[k] = v;
    }
  };
  mergeCounts(record.fusedBoxesByLabel, part.fusedBoxesByLabel);
  mergeCounts(record.unconfirmedBoxesByLabel, part.unconfirmedBoxesByLabel);
  for (const [id, t] of Object.entries(part.readers)) {
    const r = (record.readers[id] ??= { readings: 0, boxes: 0, confirmedBoxes: 0, fusedBoxes: 0, foundBoxes: 0 });
    for (const k of Object.keys(t) as (keyof ReaderTrackRecord)[]) r[k] += sign * t[k];
    if (r.readings === 0) delete record.readers[id];
  }
  return record;
}

/** Pooled readings below which a track record says too little: the unconfirmed-finding rule stays silent. */
export const MIN_TRACK_RECORD_READINGS = 50;
/** Pseudo-readings (and pseudo-boxes) shrinking a reader's rates toward the pool's. */
const SHRINK = 20;
/** An image large enough that clamping never drops a box (membership of fused boxes does not depend on it). */
const UNCLAMPED: ImageSize = { rows: Number.MAX_SAFE_INTEGER, columns: Number.MAX_SAFE_INTEGER };

/**
 * Boxes of the first readings that their fusion drops (no fused box of the same label, at IoU ≥ 0.4, that the reader
 * contributed to): a finding only its reader saw, or placed where no other reader did.
 */
export function unconfirmedBoxes(readings: readonly ReaderReading[], fusion: FusionSettings): { readerId: string; box: Box }[] {
  const fused = fuseReadings(readings, fusion, UNCLAMPED);
  const out: { readerId: string; box: Box }[] = [];
  for (const r of readings) {
    for (const box of r.reading.boxes) {
      if (!fused.boxes.some((fb) => fb.readerIds.includes(r.readerId) && sameFinding(fb, box))) out.push({ readerId: r.readerId, box });
    }
  }
  return out;
}

/**
 * Probability that an unconfirmed box is a true finding the other readers missed rather than its reader's false
 * positive, from the track record only (never the truth): odds = [prevalence of its label per scan × its reader's
 * sensitivity × each other reader's miss rate] / [its reader's unconfirmed boxes per reading × the share of its label
 * among unconfirmed boxes]. Reader rates are shrunk toward the pool's ({@link SHRINK} pseudo-counts); label figures
 * get one pseudo-count each. The highest over the scan's unconfirmed boxes; 0 without one, or when the record pools
 * fewer than {@link MIN_TRACK_RECORD_READINGS} readings.
 */
export function unconfirmedFindingProbability(readings: readonly ReaderReading[], fusion: FusionSettings, record: TrackRecord | undefined, labelCount: number): number {
  if (!record) return 0;
  const pool = { readings: 0, boxes: 0, confirmedBoxes: 0, fusedBoxes: 0, foundBoxes: 0 };
  for (const t of Object.values(record.readers)) for (const k of Object.keys(pool) as (keyof ReaderTrackRecord)[]) pool[k] += t[k];
  if (pool.readings < MIN_TRACK_RECORD_READINGS || pool.fusedBoxes === 0) return 0;
  const poolSens = pool.foundBoxes / pool.fusedBoxes;
  const poolFp = Math.max(pool.boxes - pool.confirmedBoxes, 1) / pool.readings;
  const none: ReaderTrackRecord = { readings: 0, boxes: 0, confirmedBoxes: 0, fusedBoxes: 0, foundBoxes: 0 };
  const sens = (t: ReaderTrackRecord): number => (t.foundBoxes + SHRINK * poolSens) / (t.fusedBoxes + SHRINK);
  const fpRate = (t: ReaderTrackRecord): number => (t.boxes - t.confirmedBoxes + SHRINK * poolFp) / (t.readings + SHRINK);
  const sum = (m: Record<string, number>): number => Object.values(m).reduce((a, b) => a + b, 0);
  const unconfirmedTotal = sum(record.unconfirmedBoxesByLabel);
  let best = 0;
  for (const u of unconfirmedBoxes(readings, fusion)) {
    // Another reader drew it too (same label, IoU ≥ 0.4) but the fusion's clustering kept them apart: a finding.
    if (readings.some((o) => o.readerId !== u.readerId && o.reading.boxes.some((b) => sameFinding(b, u.box)))) return 1;
    const t = record.readers[u.readerId] ?? none;
    let missed = 1;
    for (const o of readings) if (o.readerId !== u.readerId) missed *= 1 - sens(record.readers[o.readerId] ?? none);
    const prevalence = ((record.fusedBoxesByLabel[u.box.label] ?? 0) + 1) / (record.scans + labelCount);
    const fpShare = ((record.unconfirmedBoxesByLabel[u.box.label] ?? 0) + 1) / (unconfirmedTotal + labelCount);
    const odds = (prevalence * sens(t) * missed) / (fpRate(t) * fpShare);
    best = Math.max(best, odds / (1 + odds));
  }
  return best;
}

/**
 * Findings in dispute: two readers drew overlapping boxes (IoU ≥ 0.4) with different labels, and neither label has
 * `quorum` readers at that spot, so the fusion keeps neither. More readers settle it; the first readers cannot.
 * Counted once per pair of boxes.
 */
export function disputedFindings(readings: readonly ReaderReading[], quorum: number, iouThreshold = AGREEMENT_IOU): number {
  const boxes = readings.flatMap((r) => r.reading.boxes.map((box) => ({ readerId: r.readerId, box })));
  const support = (i: number): number => {
    const a = boxes[i];
    const readers = new Set<string>();
    for (const b of boxes) if (b.box.label === a.box.label && iou(a.box, b.box) >= iouThreshold) readers.add(b.readerId);
    return readers.size;
  };
  let disputes = 0;
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.readerId === b.readerId || a.box.label === b.box.label || iou(a.box, b.box) < iouThreshold) continue;
      if (support(i) < quorum && support(j) < quorum) disputes++;
    }
  }
  return disputes;
}

/**
 * Agreement that decides an extension: the lower of the mean pairwise box F1 (IoU ≥ 0.4, same label) and the
 * mean per-label agreement of the image-level labels at least one reader used. Taking the lower of the two (rather
 * than their mean, as `ScanAgreement.overall`) extends a scan when either its boxes or its labels are disputed.
 */
export function adaptiveAgreement(a: ScanAgreement, readings: readonly ReaderReading[]): { agreement: number; meanBoxF1: number; meanLabelAgreement: number } {
  const used = new Set<string>();
  for (const r of readings) for (const l of r.reading.globalLabels) used.add(l);
  const labels = [...used];
  const meanLabelAgreement = labels.length === 0 ? 1 : labels.reduce((s, l) => s + (a.globalLabelAgreement[l] ?? 1), 0) / labels.length;
  return { agreement: Math.min(a.meanBoxF1, meanLabelAgreement), meanBoxF1: a.meanBoxF1, meanLabelAgreement };
}

/**
 * Whether an adaptive scan gets more readers: when a finding is disputed (`adaptive.extendOnDispute`, see
 * {@link disputedFindings}) or the agreement is below `adaptive.extendBelow`, from its first `policy.readers` readings. `undefined` for a policy
 * that is not adaptive. At most one extension per scan: the caller asks once.
 */
export function decideExtension(
  readings: readonly ReaderReading[],
  policy: Pick<ReadingPolicy, 'adaptive' | 'fusion'>,
  taxonomy?: Taxonomy,
  record?: TrackRecord,
): ExtensionDecision | undefined {
  const ad = policy.adaptive;
  if (!ad) return undefined;
  const m = adaptiveAgreement(scanAgreement(readings, { taxonomy }), readings);
  const disputed = ad.extendOnDispute ? disputedFindings(readings, policy.fusion.quorum) : 0;
  const labelCount = taxonomy ? taxonomy.localLabels.length : Math.max(1, Object.keys(record?.fusedBoxesByLabel ?? {}).length);
  const unconfirmed = ad.extendOnUnconfirmed === undefined ? 0 : unconfirmedFindingProbability(readings, policy.fusion, record, labelCount);
  const reason: ExtensionReason =
    disputed > 0
      ? 'disputed-finding'
      : ad.extendOnUnconfirmed !== undefined && unconfirmed > 0 && unconfirmed >= ad.extendOnUnconfirmed
        ? 'unconfirmed-finding'
        : m.agreement < ad.extendBelow
          ? 'agreement-below-bound'
          : 'agreed';
  const extend = reason !== 'agreed';
  return {
    extend,
    agreement: m.agreement,
    bound: ad.extendBelow,
    extraReaders: extend ? ad.extraReaders : 0,
    meanBoxF1: m.meanBoxF1,
    meanLabelAgreement: m.meanLabelAgreement,
    disputedFindings: disputed,
    unconfirmedFinding: unconfirmed,
    reason,
  };
}

/** Readers a scan needs in total: the policy's, plus the extension's once decided. */
export function readersRequired(policy: Pick<ReadingPolicy, 'readers' | 'adaptive'>, extended: boolean): number {
  return policy.readers + (extended && policy.adaptive ? policy.adaptive.extraReaders : 0);
}

/** Fusion settings for a scan: an extended adaptive scan fuses all its readings with the extended quorum. */
export function fusionSettingsFor(policy: Pick<ReadingPolicy, 'fusion' | 'adaptive'>, extended: boolean): FusionSettings {
  return extended && policy.adaptive ? { ...policy.fusion, quorum: policy.adaptive.extendedQuorum } : policy.fusion;
}

/**
 * Fuses an adaptive scan's readings. Not extended (or not adaptive): `fuseReadings` with the policy's fusion. Extended:
 * all readings with the extended quorum and, when `adaptive.keepSettled`, also the findings the first readers had
 * settled (a fused box of `firstReaderIds`' readings under the policy's quorum that no box of the extended fusion
 * matches, same label at IoU ≥ 0.4): the extension settles what the first readers could not, it does not reopen
 * what they agreed on.
 */
export function fuseAdaptive(
  readings: readonly ReaderReading[],
  policy: Pick<ReadingPolicy, 'fusion' | 'adaptive'>,
  extended: boolean,
  firstReaderIds: readonly string[],
  image: ImageSize,
  taxonomy?: Taxonomy,
): FusedResult {
  const all = fuseReadings(readings, fusionSettingsFor(policy, extended), image, taxonomy);
  if (!extended || !policy.adaptive?.keepSettled) return all;
  const first = readings.filter((r) => firstReaderIds.includes(r.readerId));
  const settled = fuseReadings(first, policy.fusion, image, taxonomy).boxes.filter((b) => !all.boxes.some((a) => sameFinding(a, b)));
  if (settled.length === 0) return all;
  const boxes = [...all.boxes, ...settled.map((b) => ({ ...b, score: (b.score * first.length) / readings.length }))];
  boxes.sort((a, b) => compareBoxes(a, b) || b.score - a.score);
  const noFinding = taxonomy?.noFinding ?? DEFAULT_NO_FINDING;
  return { ...all, boxes, globalLabels: all.globalLabels.filter((l) => l !== noFinding) };
}
