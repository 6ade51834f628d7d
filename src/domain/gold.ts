/**
 * Hidden gold scans: when a reader is due a gold task (a durable per-reader counter, kept by the `goldScheduler`
 * workflow), and each reader's accuracy on gold scans against the manager's reference reading. Pure.
 */
import { AGREEMENT_IOU, boxF1, labelSetF1 } from './agreement';
import { compareStrings } from './problems';
import type { Reading } from './reading';

/** Gold settings (typed config `READFLOW_GOLD_EVERY`): about one task in `every` a reader gets is gold. */
export interface GoldRate {
  /** ≥ 2: one gold task per `every` tasks on average. */
  every: number;
}

/** The durable counter of one reader: the ordinary task count at which the next gold task is due. */
export interface GoldCounter {
  /** Gold tasks this reader has had so far (as last seen). */
  golds: number;
  /** Ordinary reading tasks at which the next gold task is due. */
  nextAt: number;
}

/**
 * Ordinary tasks before the next gold task: uniform in 1…2(every−1)−1, mean `every − 1`, so that one task in `every`
 * is gold on average and no fixed position in the sequence gives it away. `random()` is the caller's seeded source.
 */
export function goldGap(rate: GoldRate, random: () => number): number {
  const mean = Math.max(1, rate.every - 1);
  const max = Math.max(1, 2 * mean - 1);
  return 1 + Math.floor(random() * max);
}

/**
 * Advances one reader's counter from what was observed (ordinary and gold tasks assigned so far, whether a gold task
 * is open) and says whether a gold task is due now. A gold task that came another way (a reassigned one) restarts
 * the gap. A reader with an open gold task is never due another.
 */
export function goldStep(
  counter: GoldCounter | undefined,
  seen: { ordinary: number; golds: number; openGold: boolean },
  rate: GoldRate,
  random: () => number,
): { counter: GoldCounter; due: boolean } {
  let c: GoldCounter = counter ? { ...counter } : { golds: seen.golds, nextAt: seen.ordinary + goldGap(rate, random) };
  if (seen.golds > c.golds) c = { golds: seen.golds, nextAt: seen.ordinary + goldGap(rate, random) };
  return { counter: c, due: !seen.openGold && seen.ordinary >= c.nextAt };
}

/** The counter after a gold task was given to the reader. */
export function goldGiven(counter: GoldCounter, ordinary: number, rate: GoldRate, random: () => number): GoldCounter {
  return { golds: counter.golds + 1, nextAt: ordinary + goldGap(rate, random) };
}

/** One submitted gold task: the reader's reading and the reference of its gold scan. */
export interface GoldReading {
  readerId: string;
  goldScanId: string;
  /** ISO-8601 time of submission. */
  submittedAt: string;
  reading: Pick<Reading, 'boxes' | 'globalLabels'>;
  reference: Pick<Reading, 'boxes' | 'globalLabels'>;
}

/** A reader's gold accuracy over one period. */
export interface GoldAccuracyPeriod {
  /** `YYYY-MM` (month) or `YYYY-MM-DD` (day) of submission, UTC. */
  period: string;
  goldTasks: number;
  /** Mean box F1 at IoU ≥ 0.4 (same label) between the reader's boxes and the reference's. */
  boxF1: number;
  /** Mean F1 between the reader's image-level labels and the reference's. */
  labelAgreement: number;
}

/** A reader's accuracy on gold scans, overall and by period (oldest first). */
export interface GoldAccuracy {
  readerId: string;
  goldTasks: number;
  boxF1: number;
  labelAgreement: number;
  periods: GoldAccuracyPeriod[];
}

/**
 * Per-reader accuracy on gold scans: box F1 at IoU ≥ 0.4 and image-level label agreement with the reference, each
 * gold reading weighing the same, overall and per period. Sorted by reader id.
 */
export function goldAccuracy(readings: readonly GoldReading[], opts: { period?: 'month' | 'day'; iouThreshold?: number } = {}): GoldAccuracy[] {
  const thr = opts.iouThreshold ?? AGREEMENT_IOU;
  const len = opts.period === 'day' ? 10 : 7;
  const byReader = new Map<string, { n: number; box: number; label: number; periods: Map<string, { n: number; box: number; label: number }> }>();
  for (const g of readings) {
    const box = boxF1(g.reading.boxes, g.reference.boxes, thr);
    const label = labelSetF1(g.reading.globalLabels, g.reference.globalLabels);
    const r = byReader.get(g.readerId) ?? { n: 0, box: 0, label: 0, periods: new Map() };
    r.n++;
    r.box += box;
    r.label += label;
    const key = g.submittedAt.slice(0, len);
    const p = r.periods.get(key) ?? { n: 0, box: 0, label: 0 };
    p.n++;
    p.box += box;
    p.label += label;
    r.periods.set(key, p);
    byReader.set(g.readerId, r);
  }
  return [...byReader.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([readerId, r]) => ({
      readerId,
      goldTasks: r.n,
      boxF1: r.box / r.n,
      labelAgreement: r.label / r.n,
      periods: [...r.periods.entries()]
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([period, p]) => ({ period, goldTasks: p.n, boxF1: p.box / p.n, labelAgreement: p.label / p.n })),
    }));
}
