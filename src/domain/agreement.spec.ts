import fc from 'fast-check';
import { boxF1, iou, labelSetF1, matchCount, readerAgreementWithFused, scanAgreement } from './agreement';
import type { ReaderReading } from './fusion';
import { fuseReadings } from './fusion';
import type { Box } from './reading';
import { VINDR_CXR_TAXONOMY } from './taxonomy';

const b = (label: string, x_min: number, y_min: number, x_max: number, y_max: number): Box => ({ label, x_min, y_min, x_max, y_max });
const rr = (readerId: string, boxes: Box[], globalLabels: string[] = []): ReaderReading => ({ readerId, reading: { boxes, globalLabels } });

describe('iou', () => {
  it('matches hand-computed values', () => {
    expect(iou(b('A', 0, 0, 10, 10), b('A', 0, 0, 10, 10))).toBe(1);
    expect(iou(b('A', 0, 0, 10, 10), b('A', 5, 0, 15, 10))).toBeCloseTo(50 / 150, 12);
    expect(iou(b('A', 0, 0, 10, 10), b('A', 10, 0, 20, 10))).toBe(0);
    expect(iou(b('A', 0, 0, 10, 10), b('A', 2, 2, 4, 4))).toBeCloseTo(4 / 100, 12);
  });
});

describe('box F1', () => {
  it('is 1 for two empty sets and 0 when only one side has boxes', () => {
    expect(boxF1([], [])).toBe(1);
    expect(boxF1([b('ILD', 0, 0, 10, 10)], [])).toBe(0);
  });

  it('matches one-to-one, same label only, at IoU ≥ 0.4 inclusive', () => {
    const a = [b('ILD', 0, 0, 10, 10), b('ILD', 0, 0, 10, 9), b('Edema', 50, 50, 60, 60)];
    const c = [b('ILD', 0, 0, 10, 10), b('Edema', 100, 100, 110, 110), b('Atelectasis', 50, 50, 60, 60)];
    expect(matchCount(a, c)).toBe(1);
    expect(boxF1(a, c)).toBeCloseTo(2 / 6, 12);
    // IoU exactly 0.4: (0,0,10,10) vs (0,0,10,4) → 40/100.
    expect(boxF1([b('ILD', 0, 0, 10, 10)], [b('ILD', 0, 0, 10, 4)])).toBe(1);
    expect(boxF1([b('ILD', 0, 0, 10, 10)], [b('ILD', 0, 0, 10, 3.9)])).toBe(0);
  });

  it('labelSetF1 compares label sets', () => {
    expect(labelSetF1([], [])).toBe(1);
    expect(labelSetF1(['COPD', 'Pneumonia'], ['COPD'])).toBeCloseTo(2 / 3, 12);
  });
});

describe('scanAgreement', () => {
  it('gives perfect agreement for all-"No finding" readings', () => {
    const a = scanAgreement([rr('r1', [], ['No finding']), rr('r2', [], ['No finding']), rr('r3', [], ['No finding'])]);
    expect(a).toEqual({
      pairwiseBoxF1: [
        { a: 'r1', b: 'r2', f1: 1 },
        { a: 'r1', b: 'r3', f1: 1 },
        { a: 'r2', b: 'r3', f1: 1 },
      ],
      meanBoxF1: 1,
      globalLabelAgreement: { 'No finding': 1 },
      overall: 1,
      flagged: false,
    });
  });

  it('computes pairwise F1 and per-label agreement, and flags low agreement', () => {
    const box = b('ILD', 0, 0, 10, 10);
    const readings = [rr('r3', [], ['COPD']), rr('r1', [box], ['COPD']), rr('r2', [box], [])];
    const a = scanAgreement(readings, { flagBelow: 0.6 });
    expect(a.pairwiseBoxF1).toEqual([
      { a: 'r1', b: 'r2', f1: 1 },
      { a: 'r1', b: 'r3', f1: 0 },
      { a: 'r2', b: 'r3', f1: 0 },
    ]);
    expect(a.meanBoxF1).toBeCloseTo(1 / 3, 12);
    // COPD: yes = {r1, r3}, no = {r2} → 1 agreeing pair of 3.
    expect(a.globalLabelAgreement).toEqual({ COPD: 1 / 3 });
    expect(a.overall).toBeCloseTo(1 / 3, 12);
    expect(a.flagged).toBe(true);
    expect(scanAgreement(readings, { flagBelow: 0.3 }).flagged).toBe(false);
  });

  it('lists every taxonomy global label when given one, without inflating overall', () => {
    const a = scanAgreement([rr('a', [], ['COPD']), rr('b', [], ['Pneumonia'])], { taxonomy: VINDR_CXR_TAXONOMY });
    expect(Object.keys(a.globalLabelAgreement)).toEqual([...VINDR_CXR_TAXONOMY.globalLabels]);
    expect(a.globalLabelAgreement['Tuberculosis']).toBe(1);
    expect(a.overall).toBe(0.5); // box F1 1 (both empty), labels used: COPD 0, Pneumonia 0
  });

  it('is independent of reader order (property)', () => {
    const readingArb = fc.record({
      boxes: fc.array(fc.record({ x: fc.integer({ min: 0, max: 50 }), y: fc.integer({ min: 0, max: 50 }), s: fc.integer({ min: 5, max: 30 }) }).map(({ x, y, s }) => b('ILD', x, y, x + s, y + s)), { maxLength: 4 }),
      globalLabels: fc.subarray(['COPD', 'Pneumonia']),
    });
    fc.assert(
      fc.property(fc.array(readingArb, { minLength: 1, maxLength: 5 }), (rs) => {
        const readings = rs.map((reading, i) => ({ readerId: `r${i}`, reading }));
        const a = scanAgreement(readings);
        expect(scanAgreement([...readings].reverse())).toEqual(a);
        expect(a.overall).toBeGreaterThanOrEqual(0);
        expect(a.overall).toBeLessThanOrEqual(1);
        for (const p of a.pairwiseBoxF1) expect(p.f1).toBeCloseTo(boxF1(readings[Number(p.b.slice(1))].reading.boxes, readings[Number(p.a.slice(1))].reading.boxes), 12);
      }),
      { seed: 9, numRuns: 150 },
    );
  });
});

describe('over many scans', () => {
  it('readerAgreementWithFused scores each reader against the fused result', () => {
    const box = b('ILD', 0, 0, 10, 10);
    const readings = [rr('r1', [box], ['COPD']), rr('r2', [box], ['COPD']), rr('r3', [], ['No finding'])];
    const fused = fuseReadings(readings, { method: 'wbf', iouThreshold: 0.5, quorum: 2 }, { rows: 100, columns: 100 });
    expect(readerAgreementWithFused([{ readings, fused }])).toEqual([
      { readerId: 'r1', scans: 1, meanBoxF1: 1, meanGlobalF1: 1 },
      { readerId: 'r2', scans: 1, meanBoxF1: 1, meanGlobalF1: 1 },
      { readerId: 'r3', scans: 1, meanBoxF1: 0, meanGlobalF1: 0 },
    ]);
  });
});
