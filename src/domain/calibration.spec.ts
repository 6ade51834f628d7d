import { simulateCalibrationCampaign } from '../simulate/calibration';
import type { SimulatedScan } from '../simulate/calibration';
import type { CalibrationReading } from './calibration';
import { calibrate, CALIBRATION_METHOD } from './calibration';
import { fisherExactTwoSided, holmAdjust, logFactorial, logFactorialTable, logGamma, median } from './statistics';
import { VINDR_CXR_TAXONOMY } from './taxonomy';

/** The simulated readers' readings of training scans, against the scans' fused labels. */
function trainReadings(scans: SimulatedScan[]): CalibrationReading[] {
  return scans.flatMap((s) =>
    s.readings.map((r) => ({
      readerId: r.readerId,
      scanId: `scan-${s.index}`,
      split: 'train' as const,
      boxes: r.reading.boxes,
      globalLabels: r.reading.globalLabels,
      reference: { boxes: s.fused.boxes, globalLabels: s.fused.globalLabels },
      readSeconds: r.readSeconds,
    })),
  );
}

describe('statistics (known values)', () => {
  it('logGamma and logFactorial', () => {
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
    expect(logGamma(1)).toBeCloseTo(0, 13);
    expect(logFactorial(0)).toBe(0);
    expect(logFactorial(5)).toBeCloseTo(Math.log(120), 13);
    // 40! = 815915283247897734345611269596115894272000000000
    expect(logFactorial(40)).toBeCloseTo(110.3206397147574, 9);
    expect(() => logGamma(0)).toThrow(RangeError);
    expect(() => logFactorial(1.5)).toThrow(RangeError);
  });

  it("Fisher's exact test, two-sided, matches R's fisher.test", () => {
    // Lady tasting tea: fisher.test(matrix(c(3,1,1,3), 2)) → p = 0.4857
    expect(fisherExactTwoSided(3, 1, 1, 3)).toBeCloseTo(0.4857142857, 9);
    // Wikipedia's example (men/women × dieting): p = 0.002759
    expect(fisherExactTwoSided(1, 9, 11, 3)).toBeCloseTo(0.0027594562, 9);
    // Perfect separation of 10/10: 2 / C(20, 10)
    expect(fisherExactTwoSided(10, 0, 0, 10)).toBeCloseTo(2 / 184756, 12);
    // Same rates: p = 1
    expect(fisherExactTwoSided(5, 5, 5, 5)).toBeCloseTo(1, 12);
    expect(fisherExactTwoSided(0, 0, 0, 0)).toBe(1);
    // Symmetric in the rows and the columns
    expect(fisherExactTwoSided(2, 7, 8, 2)).toBeCloseTo(fisherExactTwoSided(8, 2, 2, 7), 12);
    expect(fisherExactTwoSided(2, 7, 8, 2)).toBeCloseTo(fisherExactTwoSided(7, 2, 2, 8), 12);
    expect(() => fisherExactTwoSided(-1, 0, 0, 0)).toThrow(RangeError);
    // With a log-factorial table: the same values.
    const table = logFactorialTable(5000);
    expect(fisherExactTwoSided(1, 9, 11, 3, table)).toBeCloseTo(0.0027594562, 9);
    expect(fisherExactTwoSided(300, 2700, 150, 1850, table)).toBeCloseTo(fisherExactTwoSided(300, 2700, 150, 1850), 10);
    expect(table[40]).toBeCloseTo(logFactorial(40), 9);
  });

  it("Holm's adjustment matches R's p.adjust(…, 'holm')", () => {
    expect(holmAdjust([0.01, 0.04, 0.03, 0.005])).toEqual([0.03, 0.06, 0.06, 0.02].map((x) => expect.closeTo(x, 12)));
    expect(holmAdjust([0.5, 0.9])).toEqual([1, 1]);
    expect(holmAdjust([])).toEqual([]);
  });

  it('median', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

const box = (label: string, x: number) => ({ label, x_min: x, y_min: 10, x_max: x + 100, y_max: 110 });

describe('calibrate', () => {
  it('computes positive rate, sensitivity, precision and box F1 against the reference', () => {
    const ref = { boxes: [box('Nodule/Mass', 0), box('Cardiomegaly', 500)], globalLabels: ['Other diseases'] };
    const readings: CalibrationReading[] = [
      // A matches both boxes; B draws the nodule far off (IoU 0) and misses cardiomegaly; both call Other diseases.
      { readerId: 'A', scanId: 's1', split: 'train', boxes: [box('Nodule/Mass', 5), box('Cardiomegaly', 500)], globalLabels: ['Other diseases'], reference: ref, readSeconds: 60 },
      { readerId: 'B', scanId: 's1', split: 'train', boxes: [box('Nodule/Mass', 900)], globalLabels: ['Other diseases'], reference: ref, readSeconds: 120 },
      // s2: nothing there; A calls a nodule (false positive), B says No finding.
      { readerId: 'A', scanId: 's2', split: 'test', boxes: [box('Nodule/Mass', 0)], globalLabels: ['Other diseases'], reference: { boxes: [], globalLabels: ['No finding'] }, readSeconds: 100 },
      { readerId: 'B', scanId: 's2', split: 'test', boxes: [], globalLabels: ['No finding'], reference: { boxes: [], globalLabels: ['No finding'] }, readSeconds: null },
    ];
    const report = calibrate(readings, VINDR_CXR_TAXONOMY);
    expect(report.method).toMatchObject({ test: CALIBRATION_METHOD.test, correction: 'holm', alpha: 0.05, iouThreshold: 0.4 });
    const a = report.readers.find((r) => r.readerId === 'A')!;
    const b = report.readers.find((r) => r.readerId === 'B')!;
    const nodA = a.labels.find((l) => l.label === 'Nodule/Mass')!;
    expect(nodA).toMatchObject({ kind: 'local', readings: 2, positives: 2, positiveRate: 1, referencePositives: 1, truePositives: 1, sensitivity: 1, precision: 0.5, agreement: 0.5 });
    // A: nodule boxes 2 drawn, 1 reference, 1 matched → 2·1/3
    expect(nodA.boxF1).toBeCloseTo(2 / 3, 12);
    const nodB = b.labels.find((l) => l.label === 'Nodule/Mass')!;
    // B called the nodule on s1 (image-level true positive) but the box does not match (box F1 0).
    expect(nodB).toMatchObject({ positives: 1, truePositives: 1, sensitivity: 1, precision: 1, boxF1: 0 });
    expect(b.labels.find((l) => l.label === 'Cardiomegaly')).toMatchObject({ positives: 0, sensitivity: 0, precision: null, boxF1: 0 });
    expect(b.labels.find((l) => l.label === 'No finding')).toMatchObject({ kind: 'global', positives: 1, sensitivity: 1, precision: 1, boxF1: null });
    // Overall micro box F1: A matched 2 of (3 drawn + 2 reference) → 0.8; B 0 of (1 + 2).
    expect(a.boxF1).toBeCloseTo(0.8, 12);
    expect(b.boxF1).toBe(0);
    expect(a.medianReadSeconds).toBe(80);
    expect(b.medianReadSeconds).toBe(120);
    expect(report.pool).toMatchObject({ readers: 2, readings: 4, scans: 2, medianReadSeconds: 100 });
    expect(report.pool.labels.find((l) => l.label === 'Nodule/Mass')).toMatchObject({ readings: 4, positives: 3, positiveRate: 0.75, truePositives: 2, referencePositives: 2 });
    // Too little data: nothing is flagged; a label nobody used is not tested.
    expect(report.readers.every((r) => !r.flagged)).toBe(true);
    expect(a.labels.find((l) => l.label === 'Rib fracture')!.test).toBeNull();
    expect(nodA.test).toMatchObject({ restPositives: 1, restReadings: 2, direction: 'higher', flagged: false });
  });

  it('refuses an alpha outside (0, 1)', () => {
    expect(() => calibrate([], VINDR_CXR_TAXONOMY, { alpha: 0 })).toThrow(RangeError);
  });

  it('on a seeded simulation (the simulator’s noise model), flags the biased reader, and only that one, with its label', () => {
    const readerIds = Array.from({ length: 10 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
    for (const seed of ['calibration-1', 'calibration-2', 'calibration-3']) {
      const { scans } = simulateCalibrationCampaign({
        seed,
        scans: 400,
        readerIds,
        noiseLevel: 1,
        biased: { readerId: 'r04', label: 'Pleural effusion', labelBias: 0.35 },
      });
      const readings = trainReadings(scans);
      const report = calibrate(readings, VINDR_CXR_TAXONOMY);
      expect(report.readers.filter((r) => r.flagged).map((r) => r.readerId)).toEqual(['r04']);
      const biased = report.readers.find((r) => r.readerId === 'r04')!;
      expect(biased.flaggedLabels).toContain('Pleural effusion');
      const effusion = biased.labels.find((l) => l.label === 'Pleural effusion')!;
      expect(effusion.test).toMatchObject({ direction: 'higher', flagged: true });
      expect(effusion.test!.adjustedPValue).toBeLessThan(0.05);
      // Calling other findings effusion costs precision on it.
      expect(effusion.precision!).toBeLessThan(report.pool.labels.find((l) => l.label === 'Pleural effusion')!.precision!);
    }
  });

  it('on the same simulation without a biased reader, flags nobody', () => {
    const readerIds = Array.from({ length: 10 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
    const { scans } = simulateCalibrationCampaign({ seed: 'calibration-1', scans: 400, readerIds, noiseLevel: 1 });
    const readings = trainReadings(scans);
    const report = calibrate(readings, VINDR_CXR_TAXONOMY);
    expect(report.method.tests).toBeGreaterThan(100);
    expect(report.readers.filter((r) => r.flagged).map((r) => r.readerId)).toEqual([]);
  });
});
