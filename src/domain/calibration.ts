/**
 * Reader calibration (issue #16): per reader and label, the positive rate, sensitivity and precision against the
 * reference labels (the fused labels of a training scan, the consensus of a test scan), box F1 against the
 * reference boxes (IoU ≥ 0.4, the agreement module's matching), and the median read time, each beside the pool's.
 *
 * A reader whose positive rate for a label departs from the rest of the pool is flagged: for every (reader, label)
 * Fisher's exact test (two-sided) of the 2×2 table reader vs rest of the pool × positive vs negative readings, then
 * Holm's correction over every test performed (family-wise error ≤ `alpha`). Labels nobody or everybody called are
 * not tested (no information). Pure: the caller loads the readings.
 */
import { AGREEMENT_IOU, matchCount } from './agreement';
import { compareStrings } from './problems';
import type { Box } from './reading';
import { fisherExactTwoSided, holmAdjust, logFactorialTable, median } from './statistics';
import type { Taxonomy } from './taxonomy';
import type { ScanSplit } from './vocabulary';

/** One reader's reading of a scan whose reference labels are known. */
export interface CalibrationReading {
  readerId: string;
  scanId: string;
  split: ScanSplit;
  boxes: readonly Box[];
  globalLabels: readonly string[];
  /** The fused labels (train) or the consensus (test) of the scan. */
  reference: { boxes: readonly Box[]; globalLabels: readonly string[] };
  /** Seconds from assignment to submission (null: unknown). */
  readSeconds: number | null;
}

/** The test and correction used, stated in every report. */
export const CALIBRATION_METHOD: Readonly<{
  test: string;
  testDescription: string;
  correction: string;
  correctionDescription: string;
  reference: string;
  iouThreshold: number;
}> = Object.freeze({
  test: 'fisher-exact-two-sided',
  testDescription:
    "Fisher's exact test (two-sided) of the reader's positive readings vs those of the rest of the pool, per label",
  correction: 'holm',
  correctionDescription: "Holm's step-down correction over every (reader, label) test performed",
  reference: 'fused labels of training scans; consensus (final) labels of test scans',
  iouThreshold: AGREEMENT_IOU,
});

/** Default family-wise error rate. */
export const DEFAULT_CALIBRATION_ALPHA = 0.05;

/** Counts and rates of one label over a set of readings. */
export interface LabelFigures {
  readings: number;
  /** Readings that call the label (a box of it, or the global label). */
  positives: number;
  positiveRate: number | null;
  /** Readings whose reference has the label. */
  referencePositives: number;
  truePositives: number;
  /** TP / reference positives; null when the reference never has the label. */
  sensitivity: number | null;
  /** TP / positives; null when never called. */
  precision: number | null;
  /** Share of readings that agree with the reference on the label's presence. */
  agreement: number | null;
  /** Box labels: micro box F1 against the reference boxes (IoU ≥ 0.4); null for global labels or no boxes at all. */
  boxF1: number | null;
}

/** The positive-rate test of one reader and label against the rest of the pool. */
export interface LabelRateTest {
  /** Positive readings and readings of the rest of the pool (every other reader). */
  restPositives: number;
  restReadings: number;
  restPositiveRate: number | null;
  pValue: number;
  /** Holm-adjusted p-value. */
  adjustedPValue: number;
  /** `higher` or `lower` than the rest of the pool. */
  direction: 'higher' | 'lower' | 'same';
  flagged: boolean;
}

export interface ReaderLabelCalibration extends LabelFigures {
  label: string;
  kind: 'local' | 'global';
  /** Null when the label was not tested (nobody, or everybody, called it). */
  test: LabelRateTest | null;
}

export interface ReaderCalibration {
  readerId: string;
  readings: number;
  scans: number;
  medianReadSeconds: number | null;
  /** Micro box F1 over every box label against the reference boxes. */
  boxF1: number | null;
  /** Labels whose positive rate departs significantly from the rest of the pool. */
  flaggedLabels: string[];
  flagged: boolean;
  labels: ReaderLabelCalibration[];
}

export interface PoolLabelCalibration extends LabelFigures {
  label: string;
  kind: 'local' | 'global';
}

export interface CalibrationReport {
  method: typeof CALIBRATION_METHOD & { alpha: number; tests: number };
  pool: {
    readers: number;
    readings: number;
    scans: number;
    medianReadSeconds: number | null;
    boxF1: number | null;
    labels: PoolLabelCalibration[];
  };
  /** By reader id. */
  readers: ReaderCalibration[];
}

interface Acc {
  readings: number;
  positives: number;
  referencePositives: number;
  truePositives: number;
  agree: number;
  boxMatches: number;
  boxReader: number;
  boxReference: number;
}

function emptyAcc(): Acc {
  return { readings: 0, positives: 0, referencePositives: 0, truePositives: 0, agree: 0, boxMatches: 0, boxReader: 0, boxReference: 0 };
}

function ratio(n: number, d: number): number | null {
  return d === 0 ? null : n / d;
}

function figures(a: Acc, kind: 'local' | 'global'): LabelFigures {
  return {
    readings: a.readings,
    positives: a.positives,
    positiveRate: ratio(a.positives, a.readings),
    referencePositives: a.referencePositives,
    truePositives: a.truePositives,
    sensitivity: ratio(a.truePositives, a.referencePositives),
    precision: ratio(a.truePositives, a.positives),
    agreement: ratio(a.agree, a.readings),
    boxF1: kind === 'local' ? ratio(2 * a.boxMatches, a.boxReader + a.boxReference) : null,
  };
}

function add(into: Acc, from: Acc): void {
  for (const k of Object.keys(into) as (keyof Acc)[]) into[k] += from[k];
}

/** Groups boxes by label (only the labels present). */
function byLabel(boxes: readonly Box[]): Map<string, Box[]> {
  const m = new Map<string, Box[]>();
  for (const b of boxes) {
    const list = m.get(b.label);
    if (list) list.push(b);
    else m.set(b.label, [b]);
  }
  return m;
}

/**
 * Adds one reading to the per-label accumulators (`index`: label → position). Only the labels the reading or its
 * reference has are touched; `readings` and `agree` are completed by {@link finish} (absent on both sides: agreement).
 */
function accumulate(into: Acc[], r: CalibrationReading, index: ReadonlyMap<string, { i: number; kind: 'local' | 'global' }>, iou: number): void {
  const mine = byLabel(r.boxes);
  const ref = byLabel(r.reference.boxes);
  const count = (label: string, called: boolean, truth: boolean): Acc | undefined => {
    const at = index.get(label);
    if (!at) return undefined; // a label outside the taxonomy is not calibrated
    const a = into[at.i];
    if (called) a.positives++;
    if (truth) a.referencePositives++;
    if (called && truth) a.truePositives++;
    return a;
  };
  const local = (label: string): void => {
    if (index.get(label)?.kind !== 'local') return;
    const m = mine.get(label);
    const f = ref.get(label);
    const a = count(label, m !== undefined, f !== undefined)!;
    a.boxReader += m?.length ?? 0;
    a.boxReference += f?.length ?? 0;
    if (m && f) a.boxMatches += matchCount(m, f, iou);
  };
  for (const label of mine.keys()) local(label);
  for (const label of ref.keys()) if (!mine.has(label)) local(label);
  const global = (label: string): void => {
    if (index.get(label)?.kind === 'global') count(label, r.globalLabels.includes(label), r.reference.globalLabels.includes(label));
  };
  for (const label of new Set(r.globalLabels)) global(label);
  for (const label of new Set(r.reference.globalLabels)) if (!r.globalLabels.includes(label)) global(label);
}

/** Sets the reading count of each accumulator and the readings agreeing on presence (all but the disagreements). */
function finish(acc: Acc[], readings: number): void {
  for (const a of acc) {
    a.readings = readings;
    a.agree = readings - (a.positives - a.truePositives) - (a.referencePositives - a.truePositives);
  }
}

/**
 * Calibration of every reader of `readings` over the labels of `taxonomy` (box labels first, then global labels,
 * in taxonomy order). `alpha`: the family-wise error rate of the flags (default 0.05).
 */
export function calibrate(
  readings: readonly CalibrationReading[],
  taxonomy: Pick<Taxonomy, 'localLabels' | 'globalLabels'>,
  opts: { alpha?: number; iouThreshold?: number } = {},
): CalibrationReport {
  const alpha = opts.alpha ?? DEFAULT_CALIBRATION_ALPHA;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  const iou = opts.iouThreshold ?? AGREEMENT_IOU;
  const labels: { label: string; kind: 'local' | 'global' }[] = [
    ...taxonomy.localLabels.map((label) => ({ label, kind: 'local' as const })),
    ...taxonomy.globalLabels.map((label) => ({ label, kind: 'global' as const })),
  ];
  const index = new Map(labels.map((l, i) => [l.label, { i, kind: l.kind }]));
  const byReader = new Map<string, CalibrationReading[]>();
  for (const r of readings) {
    const list = byReader.get(r.readerId) ?? [];
    list.push(r);
    byReader.set(r.readerId, list);
  }
  const readerIds = [...byReader.keys()].sort(compareStrings);

  // Per reader and label accumulators; the pool is their sum.
  const acc = new Map<string, Acc[]>();
  for (const id of readerIds) {
    const perLabel = labels.map(() => emptyAcc());
    const rs = byReader.get(id)!;
    for (const r of rs) accumulate(perLabel, r, index, iou);
    finish(perLabel, rs.length);
    acc.set(id, perLabel);
  }
  const pool = labels.map((_, i) => {
    const a = emptyAcc();
    for (const id of readerIds) add(a, acc.get(id)![i]);
    return a;
  });

  // Tests: reader vs rest of the pool, per label, where the pool's readings are neither all negative nor all positive.
  const tests: { readerId: string; labelIndex: number; p: number; restPositives: number; restReadings: number }[] = [];
  const table = logFactorialTable(readings.length);
  for (const id of readerIds) {
    acc.get(id)!.forEach((mine, i) => {
      const total = pool[i];
      const restPositives = total.positives - mine.positives;
      const restReadings = total.readings - mine.readings;
      if (total.positives === 0 || total.positives === total.readings || restReadings === 0 || mine.readings === 0) return;
      const p = fisherExactTwoSided(mine.positives, mine.readings - mine.positives, restPositives, restReadings - restPositives, table);
      tests.push({ readerId: id, labelIndex: i, p, restPositives, restReadings });
    });
  }
  const adjusted = holmAdjust(tests.map((t) => t.p));
  const testOf = new Map<string, LabelRateTest>();
  tests.forEach((t, k) => {
    const mine = acc.get(t.readerId)![t.labelIndex];
    const rate = mine.positives / mine.readings;
    const rest = t.restPositives / t.restReadings;
    testOf.set(`${t.readerId}\u0000${t.labelIndex}`, {
      restPositives: t.restPositives,
      restReadings: t.restReadings,
      restPositiveRate: rest,
      pValue: t.p,
      adjustedPValue: adjusted[k],
      direction: rate > rest ? 'higher' : rate < rest ? 'lower' : 'same',
      flagged: adjusted[k] < alpha,
    });
  });

  const microBoxF1 = (perLabel: Acc[]): number | null => {
    let m = 0;
    let n = 0;
    labels.forEach((l, i) => {
      if (l.kind !== 'local') return;
      m += perLabel[i].boxMatches;
      n += perLabel[i].boxReader + perLabel[i].boxReference;
    });
    return ratio(2 * m, n);
  };

  const readers: ReaderCalibration[] = readerIds.map((id) => {
    const rs = byReader.get(id)!;
    const perLabel = acc.get(id)!;
    const out = labels.map((l, i): ReaderLabelCalibration => ({
      label: l.label,
      kind: l.kind,
      ...figures(perLabel[i], l.kind),
      test: testOf.get(`${id}\u0000${i}`) ?? null,
    }));
    const flaggedLabels = out.filter((l) => l.test?.flagged).map((l) => l.label);
    return {
      readerId: id,
      readings: rs.length,
      scans: new Set(rs.map((r) => r.scanId)).size,
      medianReadSeconds: median(rs.flatMap((r) => (r.readSeconds === null ? [] : [r.readSeconds]))),
      boxF1: microBoxF1(perLabel),
      flaggedLabels,
      flagged: flaggedLabels.length > 0,
      labels: out,
    };
  });

  return {
    method: { ...CALIBRATION_METHOD, alpha, iouThreshold: iou, tests: tests.length },
    pool: {
      readers: readerIds.length,
      readings: readings.length,
      scans: new Set(readings.map((r) => r.scanId)).size,
      medianReadSeconds: median(readings.flatMap((r) => (r.readSeconds === null ? [] : [r.readSeconds]))),
      boxF1: microBoxF1(pool),
      labels: labels.map((l, i) => ({ label: l.label, kind: l.kind, ...figures(pool[i], l.kind) })),
    },
    readers,
  };
}
