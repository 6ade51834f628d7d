import { goldAccuracy, goldGiven, goldStep } from './gold';
import type { GoldCounter } from './gold';
import { mulberry32 } from './seeded';

describe('gold scheduling', () => {
  it('gives about one task in `every` as gold over a seeded run, never a second while one is open', () => {
    for (const every of [5, 20, 50]) {
      const random = mulberry32(every);
      const counters = new Map<string, GoldCounter>();
      let ordinaryTotal = 0;
      let goldTotal = 0;
      for (let reader = 0; reader < 17; reader++) {
        const id = `rad${reader}`;
        let ordinary = 0;
        let golds = 0;
        let openGold = false;
        for (let step = 0; step < 3000; step++) {
          // The reader works through an ordinary task, or submits the gold task they hold.
          if (openGold) openGold = false;
          else ordinary++;
          const { counter, due } = goldStep(counters.get(id), { ordinary, golds, openGold }, { every }, random);
          counters.set(id, due ? goldGiven(counter, ordinary, { every }, random) : counter);
          if (due) {
            expect(openGold).toBe(false);
            golds++;
            openGold = true;
          }
        }
        ordinaryTotal += ordinary;
        goldTotal += golds;
      }
      const rate = goldTotal / (goldTotal + ordinaryTotal);
      expect(Math.abs(rate - 1 / every) / (1 / every)).toBeLessThan(0.1);
    }
  });

  it('restarts the gap when a gold task came another way (a reassigned one)', () => {
    const r = goldStep({ golds: 0, nextAt: 100 }, { ordinary: 10, golds: 1, openGold: true }, { every: 50 }, () => 0);
    expect(r).toEqual({ counter: { golds: 1, nextAt: 11 }, due: false });
  });
});

describe('goldAccuracy', () => {
  const ref = { boxes: [{ label: 'Cardiomegaly', x_min: 100, y_min: 100, x_max: 300, y_max: 300 }], globalLabels: ['Other diseases'] };
  it('scores box F1 at IoU ≥ 0.4 and label agreement per reader, overall and per month', () => {
    const out = goldAccuracy([
      { readerId: 'b', goldScanId: 'g1', submittedAt: '2026-11-03T10:00:00.000Z', reading: ref, reference: ref },
      // IoU of this box with the reference is 0.5 (≥ 0.4: a match); labels differ.
      { readerId: 'a', goldScanId: 'g1', submittedAt: '2026-11-03T10:00:00.000Z', reading: { boxes: [{ label: 'Cardiomegaly', x_min: 100, y_min: 100, x_max: 300, y_max: 200 }], globalLabels: ['Pneumonia'] }, reference: ref },
      // Wrong label on the right place: no match, and a wrong image-level label too.
      { readerId: 'a', goldScanId: 'g2', submittedAt: '2026-12-01T10:00:00.000Z', reading: { boxes: [{ label: 'Nodule/Mass', x_min: 100, y_min: 100, x_max: 300, y_max: 300 }], globalLabels: ['Other diseases', 'Pneumonia'] }, reference: ref },
    ]);
    expect(out.map((r) => r.readerId)).toEqual(['a', 'b']);
    expect(out[1]).toMatchObject({ goldTasks: 1, boxF1: 1, labelAgreement: 1 });
    expect(out[0].goldTasks).toBe(2);
    expect(out[0].boxF1).toBeCloseTo(0.5);
    expect(out[0].labelAgreement).toBeCloseTo((0 + 2 / 3) / 2);
    expect(out[0].periods).toEqual([
      { period: '2026-11', goldTasks: 1, boxF1: 1, labelAgreement: 0 },
      { period: '2026-12', goldTasks: 1, boxF1: 0, labelAgreement: expect.closeTo(2 / 3) },
    ]);
    expect(goldAccuracy([], { period: 'day' })).toEqual([]);
  });
});
