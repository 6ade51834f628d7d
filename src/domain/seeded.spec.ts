import fc from 'fast-check';
import { fnv1a32, hashString, mulberry32, seededRandom } from './seeded';

describe('seeded hashing', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashString depends on the seed and is stable', () => {
    expect(hashString('scan-1')).toBe(hashString('scan-1'));
    expect(hashString('scan-1', 1)).not.toBe(hashString('scan-1', 2));
  });

  it('mulberry32 is deterministic, in [0, 1), and roughly uniform', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(seededRandom('x')()).toBe(seededRandom('x')());
  });

  it('hashString returns unsigned 32-bit integers (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer(), (s, seed) => {
        const h = hashString(s, seed);
        expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
      }),
      { seed: 3, numRuns: 200 },
    );
  });
});
