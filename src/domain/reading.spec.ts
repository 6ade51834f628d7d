import fc from 'fast-check';
import type { Box, Reading } from './reading';
import { canonicalReading, readingsEqual, validateReading } from './reading';
import { VINDR_CXR_TAXONOMY } from './taxonomy';

const ctx = { taxonomy: VINDR_CXR_TAXONOMY, image: { rows: 2000, columns: 1500 } };
const b = (label: string, x_min: number, y_min: number, x_max: number, y_max: number): Box => ({ label, x_min, y_min, x_max, y_max });
const codes = (input: unknown, c = ctx) => {
  const r = validateReading(input, c);
  return r.ok ? [] : r.problems.map((p) => `${p.path}:${p.code}`);
};

describe('validateReading', () => {
  it('accepts a valid reading and returns it in canonical order, unknown fields rejected', () => {
    const r = validateReading(
      { boxes: [b('Nodule/Mass', 10.5, 20, 30, 40), b('Cardiomegaly', 400, 900, 1100, 1400)], globalLabels: ['Pneumonia', 'COPD'], comment: 'ok' },
      ctx,
    );
    expect(r).toEqual({
      ok: true,
      reading: { boxes: [b('Cardiomegaly', 400, 900, 1100, 1400), b('Nodule/Mass', 10.5, 20, 30, 40)], globalLabels: ['COPD', 'Pneumonia'], comment: 'ok' },
    });
  });

  it('accepts a box touching the image border and a lone No finding', () => {
    expect(codes({ boxes: [b('ILD', 0, 0, 1500, 2000)], globalLabels: [] })).toEqual([]);
    expect(codes({ boxes: [], globalLabels: ['No finding'] })).toEqual([]);
  });

  it('rejects an empty submission instead of reading it as No finding', () => {
    expect(codes({ boxes: [], globalLabels: [] })).toEqual([':empty-reading']);
  });

  it('reports unknown labels and labels of the wrong kind with their path', () => {
    expect(codes({ boxes: [b('Nodule', 1, 1, 2, 2), b('COPD', 1, 1, 2, 2)], globalLabels: ['Cardiomegaly', 'Flu'] })).toEqual([
      'boxes[0].label:unknown-label',
      'boxes[1].label:label-not-local',
      'globalLabels[0]:label-not-global',
      'globalLabels[1]:unknown-label',
    ]);
  });

  it('reports coordinates outside the image, non-finite numbers, wrong types and missing fields', () => {
    expect(
      codes({
        boxes: [
          b('ILD', -1, 0, 10, 10),
          b('ILD', 0, 0, 1501, 2001),
          { label: 'ILD', x_min: NaN, y_min: 0, x_max: Infinity, y_max: '10' },
          { label: 'ILD', x_min: 0, y_min: 0, x_max: 5 },
        ],
        globalLabels: [],
      }),
    ).toEqual([
      'boxes[0].x_min:out-of-image',
      'boxes[1].x_max:out-of-image',
      'boxes[1].y_max:out-of-image',
      'boxes[2].x_min:not-finite',
      'boxes[2].x_max:not-finite',
      'boxes[2].y_max:invalid-type',
      'boxes[3].y_max:required',
    ]);
  });

  it('reports zero and negative area', () => {
    expect(codes({ boxes: [b('ILD', 10, 10, 10, 20), b('ILD', 10, 30, 20, 25)], globalLabels: [] })).toEqual([
      'boxes[0]:non-positive-area',
      'boxes[1]:non-positive-area',
    ]);
  });

  it('reports duplicate boxes and labels', () => {
    expect(codes({ boxes: [b('ILD', 1, 1, 5, 5), b('Edema', 1, 1, 5, 5), b('ILD', 1, 1, 5, 5)], globalLabels: ['COPD', 'COPD'] })).toEqual([
      'boxes[2]:duplicate-box',
      'globalLabels[1]:duplicate-label',
    ]);
  });

  it('enforces the configurable box cap', () => {
    const boxes = Array.from({ length: 4 }, (_, i) => b('ILD', i, i, i + 10, i + 10));
    expect(codes({ boxes, globalLabels: [] }, { ...ctx, maxBoxes: 3 } as typeof ctx)).toEqual(['boxes:too-many-boxes']);
    expect(codes({ boxes, globalLabels: [] }, { ...ctx, maxBoxes: 4 } as typeof ctx)).toEqual([]);
  });

  it('makes No finding exclusive of boxes and other global labels', () => {
    expect(codes({ boxes: [b('ILD', 1, 1, 5, 5)], globalLabels: ['COPD', 'No finding'] })).toEqual([
      'globalLabels[1]:no-finding-conflict',
      'globalLabels[1]:no-finding-conflict',
    ]);
  });

  it('reports structural problems', () => {
    expect(codes('nope')).toEqual([':invalid-type']);
    expect(codes({})).toEqual(['boxes:required', 'globalLabels:required']);
    expect(codes({ boxes: {}, globalLabels: 'COPD', extra: 1, comment: 5 })).toEqual([
      'extra:unknown-field',
      'boxes:invalid-type',
      'globalLabels:invalid-type',
      'comment:invalid-type',
    ]);
    expect(codes({ boxes: [null, { label: 'ILD', x_min: 1, y_min: 1, x_max: 2, y_max: 2, score: 1 }], globalLabels: [3] })).toEqual([
      'boxes[0]:invalid-type',
      'boxes[1].score:unknown-field',
      'globalLabels[0]:invalid-type',
    ]);
    expect(() => validateReading({}, { ...ctx, image: { rows: 0, columns: 10 } })).toThrow(RangeError);
  });
});

describe('canonicalReading / readingsEqual', () => {
  const r1: Reading = { boxes: [b('ILD', 5, 5, 9, 9), b('Edema', 1, 1, 3, 3), b('ILD', 1, 2, 3, 4)], globalLabels: ['Pneumonia', 'COPD'] };

  it('sorts boxes by label then coordinates and labels by name, without mutating', () => {
    const c = canonicalReading(r1);
    expect(c.boxes).toEqual([b('Edema', 1, 1, 3, 3), b('ILD', 1, 2, 3, 4), b('ILD', 5, 5, 9, 9)]);
    expect(c.globalLabels).toEqual(['COPD', 'Pneumonia']);
    expect(r1.boxes[0].label).toBe('ILD');
  });

  it('treats the same content in another order as equal, and any change as different', () => {
    const shuffled: Reading = { boxes: [r1.boxes[2], r1.boxes[0], r1.boxes[1]], globalLabels: ['COPD', 'Pneumonia'], comment: '' };
    expect(readingsEqual(r1, shuffled)).toBe(true);
    expect(readingsEqual(r1, { ...r1, comment: 'second look' })).toBe(false);
    expect(readingsEqual(r1, { ...r1, boxes: [...r1.boxes.slice(1), b('ILD', 5, 5, 9, 9.5)] })).toBe(false);
    expect(readingsEqual(r1, { ...r1, globalLabels: ['COPD'] })).toBe(false);
  });

  const readingArb = fc
    .record({
      boxes: fc.uniqueArray(
        fc
          .record({ label: fc.constantFrom('ILD', 'Edema', 'Nodule/Mass'), x: fc.integer({ min: 0, max: 1400 }), y: fc.integer({ min: 0, max: 1900 }), w: fc.integer({ min: 1, max: 100 }), h: fc.integer({ min: 1, max: 100 }) })
          .map(({ label, x, y, w, h }) => b(label, x, y, x + w, y + h)),
        { maxLength: 8, selector: (x) => JSON.stringify(x) },
      ),
      globalLabels: fc.subarray(['COPD', 'Pneumonia', 'Tuberculosis']),
    })
    .map((r): Reading => (r.boxes.length + r.globalLabels.length === 0 ? { boxes: [], globalLabels: ['No finding'] } : r));

  it('validates every generated valid reading to an equal canonical reading (property)', () => {
    fc.assert(
      fc.property(readingArb, fc.infiniteStream(fc.nat()), (r, rnd) => {
        const res = validateReading(r, ctx);
        expect(res.ok).toBe(true);
        if (!res.ok) return;
        expect(readingsEqual(res.reading, r)).toBe(true);
        expect(canonicalReading(res.reading)).toEqual(res.reading);
        const perm = [...r.boxes].sort(() => (rnd.next().value % 3) - 1);
        expect(canonicalReading({ ...r, boxes: perm })).toEqual(canonicalReading(r));
      }),
      { seed: 5, numRuns: 200 },
    );
  });
});
