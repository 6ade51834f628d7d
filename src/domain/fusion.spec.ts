import fc from 'fast-check';
import { iou } from './geometry';
import type { FusionSettings } from './policy';
import { DEFAULT_POLICIES } from './policy';
import type { Box, ImageSize, Reading } from './reading';
import { readingsEqual, validateReading } from './reading';
import type { ReaderReading } from './fusion';
import { DEFAULT_FUSION, fuseReadings, fusedToReading } from './fusion';
import { VINDR_CXR_TAXONOMY } from './taxonomy';

const IMAGE: ImageSize = { rows: 1000, columns: 1000 };
const WBF: FusionSettings = { method: 'wbf', iouThreshold: 0.5, quorum: 2 };
const b = (label: string, x_min: number, y_min: number, x_max: number, y_max: number): Box => ({ label, x_min, y_min, x_max, y_max });
const rr = (readerId: string, boxes: Box[], globalLabels: string[] = [], weight?: number): ReaderReading =>
  weight === undefined ? { readerId, reading: { boxes, globalLabels } } : { readerId, reading: { boxes, globalLabels }, weight };

/**
 * Hand-worked example (see the comments for the arithmetic).
 * Nodule/Mass: all three readers, rad02 also draws a second overlapping nodule.
 * Cardiomegaly: rad01 + rad02. Pleural effusion: rad03 only. Atelectasis: two non-overlapping boxes.
 */
function goldenReadings(weights?: [number, number, number]): ReaderReading[] {
  return [
    rr('rad01', [b('Nodule/Mass', 100, 100, 200, 200), b('Cardiomegaly', 300, 500, 700, 800), b('Atelectasis', 50, 50, 150, 100)], ['COPD'], weights?.[0]),
    rr(
      'rad02',
      [b('Nodule/Mass', 110, 100, 210, 200), b('Nodule/Mass', 120, 120, 220, 220), b('Cardiomegaly', 310, 510, 690, 790), b('Atelectasis', 400, 400, 500, 450)],
      ['COPD', 'Pneumonia'],
      weights?.[1],
    ),
    rr('rad03', [b('Nodule/Mass', 100, 110, 200, 210), b('Pleural effusion', 800, 600, 950, 900)], ['Pneumonia'], weights?.[2]),
  ];
}

function expectBoxClose(actual: Box, expected: Box): void {
  expect(actual.label).toBe(expected.label);
  for (const k of ['x_min', 'y_min', 'x_max', 'y_max'] as const) {
    expect(Math.abs(actual[k] - expected[k])).toBeLessThan(1e-6);
  }
}

describe('fuseReadings — golden 3-reader example', () => {
  it('equal weights: WBF means, quorum 2 of 3, one box per reader per cluster', () => {
    const f = fuseReadings(goldenReadings(), WBF, IMAGE, VINDR_CXR_TAXONOMY);
    // Cardiomegaly: mean of (300,500,700,800) and (310,510,690,790).
    // Nodule/Mass, processing order rad01 (100,100) → rad03 (100,110) → rad02 (110,100):
    //   rad03 vs seed: inter 100×90 = 9000, union 11000, IoU 0.818 → joins, fused (100,105,200,205);
    //   rad02 vs fused: inter 90×95 = 8550, union 11450, IoU 0.747 → joins, fused = mean of the 3 boxes.
    //   rad02's second nodule cannot join (rad02 is already in) → its own 1-reader cluster → dropped.
    expect(f.boxes).toHaveLength(2);
    expectBoxClose(f.boxes[0], b('Cardiomegaly', 305, 505, 695, 795));
    expect(f.boxes[0].score).toBeCloseTo(2 / 3, 12);
    expect(f.boxes[0].readerIds).toEqual(['rad01', 'rad02']);
    expectBoxClose(f.boxes[1], b('Nodule/Mass', 310 / 3, 310 / 3, 610 / 3, 610 / 3));
    expect(f.boxes[1].score).toBe(1);
    expect(f.boxes[1].readerIds).toEqual(['rad01', 'rad02', 'rad03']);
    // COPD 2/3, Pneumonia 2/3: both strict majorities.
    expect(f.globalLabels).toEqual(['COPD', 'Pneumonia']);
    expect(f.method).toBe('wbf');
  });

  it('reader weights 2:1:1 shift the fused coordinates and the global vote', () => {
    const f = fuseReadings(goldenReadings([2, 1, 1]), WBF, IMAGE, VINDR_CXR_TAXONOMY);
    // Cardiomegaly: ((2·300+310)/3, (2·500+510)/3, (2·700+690)/3, (2·800+790)/3), score 3/4.
    expectBoxClose(f.boxes[0], b('Cardiomegaly', 910 / 3, 1510 / 3, 2090 / 3, 2390 / 3));
    expect(f.boxes[0].score).toBeCloseTo(0.75, 12);
    // Nodule/Mass: (2·100+100+110)/4 = 102.5, (2·100+110+100)/4 = 102.5, (2·200+200+210)/4 = 202.5, idem.
    expectBoxClose(f.boxes[1], b('Nodule/Mass', 102.5, 102.5, 202.5, 202.5));
    expect(f.boxes[1].score).toBe(1);
    // COPD: weight 3 of 4 → kept; Pneumonia: 2 of 4 is not a strict majority → dropped.
    expect(f.globalLabels).toEqual(['COPD']);
  });

  it('majority method: coordinate-wise median of the cluster members', () => {
    const f = fuseReadings(goldenReadings(), { ...WBF, method: 'majority' }, IMAGE);
    expect(f.boxes.map((x) => x.label)).toEqual(['Cardiomegaly', 'Nodule/Mass']);
    expectBoxClose(f.boxes[0], b('Cardiomegaly', 305, 505, 695, 795));
    // medians of x_min {100,100,110}, y_min {100,110,100}, x_max {200,200,210}, y_max {200,210,200}
    expectBoxClose(f.boxes[1], b('Nodule/Mass', 100, 100, 200, 200));
  });

  it('union method keeps every box and every global label', () => {
    const f = fuseReadings(goldenReadings(), { ...WBF, method: 'union' }, IMAGE);
    expect(f.boxes).toHaveLength(9);
    expect(f.boxes.every((x) => x.readerIds.length === 1 && Math.abs(x.score - 1 / 3) < 1e-12)).toBe(true);
    expect(f.globalLabels).toEqual(['COPD', 'Pneumonia']);
  });
});

describe('fuseReadings — rules', () => {
  it('respects the quorum setting (3 of 5)', () => {
    const nodule = (dx: number) => b('Nodule/Mass', 100 + dx, 100, 200 + dx, 200);
    const two = [rr('r1', [nodule(0)]), rr('r2', [nodule(2)]), rr('r3', [], ['COPD']), rr('r4', [], ['COPD']), rr('r5', [], ['COPD'])];
    expect(fuseReadings(two, DEFAULT_POLICIES['independent-5'].fusion, IMAGE).boxes).toEqual([]);
    const three = [rr('r1', [nodule(0)]), rr('r2', [nodule(2)]), rr('r3', [nodule(4)]), rr('r4', [], ['No finding']), rr('r5', [], ['No finding'])];
    const f = fuseReadings(three, DEFAULT_POLICIES['independent-5'].fusion, IMAGE);
    expect(f.boxes).toHaveLength(1);
    expect(f.boxes[0].x_min).toBeCloseTo(102, 9);
    expect(f.boxes[0].score).toBeCloseTo(0.6, 12);
    expect(f.globalLabels).toEqual([]);
  });

  it('uses strict IoU > threshold to join a cluster', () => {
    // IoU of (0,0,100,100) and (0,0,100,50) is exactly 0.5 → not joined at threshold 0.5.
    const readings = [rr('a', [b('ILD', 0, 0, 100, 100)]), rr('b', [b('ILD', 0, 0, 100, 50)])];
    expect(iou(readings[0].reading.boxes[0], readings[1].reading.boxes[0])).toBe(0.5);
    expect(fuseReadings(readings, WBF, IMAGE).boxes).toEqual([]);
    expect(fuseReadings(readings, { ...WBF, iouThreshold: 0.49 }, IMAGE).boxes).toHaveLength(1);
  });

  it('never merges boxes of different labels', () => {
    const readings = [rr('a', [b('ILD', 0, 0, 100, 100)]), rr('b', [b('Infiltration', 0, 0, 100, 100)])];
    expect(fuseReadings(readings, WBF, IMAGE).boxes).toEqual([]);
  });

  it('No finding survives only when nothing else does and a majority said it', () => {
    const nf = ['No finding'];
    expect(fuseReadings([rr('a', [], nf), rr('b', [], nf), rr('c', [b('ILD', 0, 0, 10, 10)])], WBF, IMAGE).globalLabels).toEqual(nf);
    // A majority for COPD beats a minority for No finding.
    expect(fuseReadings([rr('a', [], nf), rr('b', [], ['COPD']), rr('c', [], ['COPD'])], WBF, IMAGE).globalLabels).toEqual(['COPD']);
    // Surviving boxes exclude No finding even if two readers said it (with 4 readers, 2 boxes agree).
    const box = b('ILD', 0, 0, 10, 10);
    const f = fuseReadings([rr('a', [], nf), rr('b', [], nf), rr('c', [box]), rr('d', [box])], WBF, IMAGE);
    expect(f.globalLabels).toEqual([]);
    expect(f.boxes).toHaveLength(1);
    // Total disagreement: nothing survives and No finding is no majority → empty, not "No finding".
    const g = fuseReadings([rr('a', [], ['COPD']), rr('b', [], ['Pneumonia']), rr('c', [], nf)], WBF, IMAGE);
    expect(g).toEqual({ boxes: [], globalLabels: [], method: 'wbf' });
  });

  it('honours a custom taxonomy No-finding label', () => {
    const tax = { ...VINDR_CXR_TAXONOMY, noFinding: 'Normal' };
    const f = fuseReadings([rr('a', [], ['Normal']), rr('b', [], ['Normal'])], WBF, IMAGE, tax);
    expect(f.globalLabels).toEqual(['Normal']);
  });

  it('clamps fused boxes into the image even for unvalidated input', () => {
    const f = fuseReadings([rr('a', [b('ILD', -10, -10, 50, 50)]), rr('b', [b('ILD', -10, -10, 50, 50)])], WBF, { rows: 40, columns: 30 });
    expect(f.boxes[0]).toMatchObject({ x_min: 0, y_min: 0, x_max: 30, y_max: 40 });
  });

  it('rejects duplicate readers, bad weights and bad settings', () => {
    expect(() => fuseReadings([rr('a', [], ['COPD']), rr('a', [], ['COPD'])], WBF, IMAGE)).toThrow(RangeError);
    expect(() => fuseReadings([rr('a', [], ['COPD'], 0)], WBF, IMAGE)).toThrow(/weight/);
    expect(() => fuseReadings([], { ...WBF, quorum: 0 }, IMAGE)).toThrow(/quorum/);
    expect(() => fuseReadings([], { ...WBF, iouThreshold: 1 }, IMAGE)).toThrow(/iouThreshold/);
  });

  it('returns an empty result for no readings', () => {
    expect(fuseReadings([], DEFAULT_FUSION, IMAGE)).toEqual({ boxes: [], globalLabels: [], method: 'wbf' });
  });

  it('fusedToReading drops scores and reader ids and validates for a majority result', () => {
    const f = fuseReadings(goldenReadings(), WBF, IMAGE);
    const r = fusedToReading(f);
    expect(Object.keys(r.boxes[0]).sort()).toEqual(['label', 'x_max', 'x_min', 'y_max', 'y_min']);
    expect(validateReading(r, { taxonomy: VINDR_CXR_TAXONOMY, image: IMAGE }).ok).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------
const LABELS = ['Nodule/Mass', 'Cardiomegaly', 'ILD', 'Pleural effusion'];
const GLOBALS = ['COPD', 'Pneumonia', 'Tuberculosis'];
const PROPS = { seed: 20240603, numRuns: 200 };

const boxArb = (image: ImageSize): fc.Arbitrary<Box> =>
  fc
    .record({
      label: fc.constantFrom(...LABELS),
      x: fc.integer({ min: 0, max: image.columns - 2 }),
      y: fc.integer({ min: 0, max: image.rows - 2 }),
      w: fc.integer({ min: 1, max: 120 }),
      h: fc.integer({ min: 1, max: 120 }),
    })
    .map(({ label, x, y, w, h }) => b(label, x, y, Math.min(image.columns, x + w), Math.min(image.rows, y + h)));

/** Readings clustered around a few "true" findings so that clusters actually form. */
const scanArb = (readers: { min: number; max: number }): fc.Arbitrary<ReaderReading[]> =>
  fc
    .record({
      truth: fc.array(boxArb({ rows: 300, columns: 300 }), { minLength: 0, maxLength: 4 }),
      readers: fc.integer(readers),
    })
    .chain(({ truth, readers: n }) =>
      fc.tuple(
        ...Array.from({ length: n }, (_, i) =>
          fc
            .record({
              keep: fc.array(fc.boolean(), { minLength: truth.length, maxLength: truth.length }),
              jitter: fc.array(fc.integer({ min: -8, max: 8 }), { minLength: truth.length * 4, maxLength: truth.length * 4 }),
              extra: fc.array(boxArb({ rows: 300, columns: 300 }), { maxLength: 2 }),
              globals: fc.subarray(GLOBALS),
              weight: fc.constantFrom(1, 1, 2, 0.5),
            })
            .map(({ keep, jitter, extra, globals, weight }): ReaderReading => {
              const boxes = truth
                .filter((_, k) => keep[k])
                .map((t, k) => {
                  const x0 = clamp(t.x_min + jitter[4 * k], 0, 299);
                  const y0 = clamp(t.y_min + jitter[4 * k + 1], 0, 299);
                  return b(t.label, x0, y0, clamp(t.x_max + jitter[4 * k + 2], x0 + 1, 300), clamp(t.y_max + jitter[4 * k + 3], y0 + 1, 300));
                })
                .concat(extra);
              const unique = boxes.filter((x, k) => boxes.findIndex((y) => JSON.stringify(y) === JSON.stringify(x)) === k);
              const globalLabels = unique.length === 0 && globals.length === 0 ? ['No finding'] : globals;
              return { readerId: `rad${String(i + 1).padStart(2, '0')}`, reading: { boxes: unique, globalLabels }, weight };
            }),
        ),
      ),
    );
const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
const SMALL: ImageSize = { rows: 300, columns: 300 };
const settingsArb: fc.Arbitrary<FusionSettings> = fc.record({
  method: fc.constantFrom<FusionSettings['method']>('wbf', 'majority', 'union'),
  iouThreshold: fc.constantFrom(0.3, 0.5, 0.7),
  quorum: fc.integer({ min: 1, max: 3 }),
});

function shuffle<T>(items: readonly T[], order: readonly number[]): T[] {
  const keyed = items.map((item, i) => ({ item, key: order[i % order.length] * 1000 + i }));
  return keyed.sort((x, y) => x.key - y.key).map((k) => k.item);
}

describe('fuseReadings — properties (fast-check)', () => {
  it('is invariant to reader order and box order', () => {
    fc.assert(
      fc.property(scanArb({ min: 1, max: 5 }), settingsArb, fc.array(fc.nat(50), { minLength: 1, maxLength: 10 }), (readings, settings, order) => {
        const shuffled = shuffle(readings, order).map((r) => ({
          ...r,
          reading: { ...r.reading, boxes: shuffle([...r.reading.boxes].reverse(), order), globalLabels: [...r.reading.globalLabels].reverse() },
        }));
        expect(fuseReadings(shuffled, settings, SMALL)).toEqual(fuseReadings(readings, settings, SMALL));
      }),
      PROPS,
    );
  });

  it('fusing N identical readings returns that reading', () => {
    fc.assert(
      fc.property(scanArb({ min: 1, max: 1 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom<FusionSettings['method']>('wbf', 'majority', 'union'), (one, n, method) => {
        const reading: Reading = one[0].reading;
        const readings = Array.from({ length: n }, (_, i) => ({ readerId: `r${i}`, reading, weight: i + 1 }));
        const f = fuseReadings(readings, { method, iouThreshold: 0.5, quorum: n }, SMALL);
        expect(readingsEqual(fusedToReading(f), reading)).toBe(true);
        expect(f.boxes.every((x) => x.score === 1 && x.readerIds.length === n)).toBe(true);
      }),
      PROPS,
    );
  });

  it('fused boxes lie inside the image and have positive area', () => {
    fc.assert(
      fc.property(scanArb({ min: 1, max: 5 }), settingsArb, (readings, settings) => {
        for (const x of fuseReadings(readings, settings, SMALL).boxes) {
          expect(x.x_min).toBeGreaterThanOrEqual(0);
          expect(x.y_min).toBeGreaterThanOrEqual(0);
          expect(x.x_max).toBeLessThanOrEqual(SMALL.columns);
          expect(x.y_max).toBeLessThanOrEqual(SMALL.rows);
          expect(x.x_max).toBeGreaterThan(x.x_min);
          expect(x.y_max).toBeGreaterThan(x.y_min);
        }
      }),
      PROPS,
    );
  });

  it('respects the quorum, counts each reader once per box, and keeps output sorted', () => {
    fc.assert(
      fc.property(scanArb({ min: 2, max: 5 }), settingsArb, (readings, settings) => {
        const f = fuseReadings(readings, settings, SMALL);
        const total = readings.reduce((s, r) => s + (r.weight ?? 1), 0);
        for (const x of f.boxes) {
          if (settings.method !== 'union') expect(x.readerIds.length).toBeGreaterThanOrEqual(settings.quorum);
          expect(new Set(x.readerIds).size).toBe(x.readerIds.length);
          // every contributing reader really drew a box of that label
          for (const id of x.readerIds) {
            expect(readings.find((r) => r.readerId === id)?.reading.boxes.some((y) => y.label === x.label)).toBe(true);
          }
          const support = x.readerIds.reduce((s, id) => s + (readings.find((r) => r.readerId === id)?.weight ?? 1), 0);
          expect(x.score).toBeCloseTo(support / total, 12);
        }
        const keys = f.boxes.map((x) => [x.label, x.x_min, x.y_min, x.x_max, x.y_max] as const);
        const sorted = [...keys].sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : p[1] - q[1] || p[2] - q[2] || p[3] - q[3] || p[4] - q[4]));
        expect(keys).toEqual(sorted);
        expect(f.globalLabels).toEqual([...f.globalLabels].sort());
      }),
      PROPS,
    );
  });

  it('each fused WBF box lies within the hull of some of the readers’ boxes of its label', () => {
    fc.assert(
      fc.property(scanArb({ min: 2, max: 5 }), (readings) => {
        const all = readings.flatMap((r) => r.reading.boxes);
        for (const x of fuseReadings(readings, DEFAULT_FUSION, SMALL).boxes) {
          const same = all.filter((y) => y.label === x.label);
          expect(x.x_min).toBeGreaterThanOrEqual(Math.min(...same.map((y) => y.x_min)) - 1e-9);
          expect(x.x_max).toBeLessThanOrEqual(Math.max(...same.map((y) => y.x_max)) + 1e-9);
        }
      }),
      PROPS,
    );
  });
});
