import { hashString, mulberry32 } from '../domain/seeded';

/** A seeded random source with the few draws the simulator needs. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number | string) {
    this.next = mulberry32(typeof seed === 'string' ? hashString(seed) : seed >>> 0);
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** A new independent source derived from this one and a key. */
  fork(key: string): Rng {
    return new Rng(hashString(key, Math.floor(this.next() * 0xffffffff)));
  }
}

/** Reading time distributions (milliseconds). `fixed:0` makes readers instant. */
export type Distribution =
  | { kind: 'fixed'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  | { kind: 'lognormal'; medianMs: number; sigma: number };

/** Parses `fixed:MS`, `uniform:MIN-MAX`, `lognormal:MEDIAN:SIGMA` (milliseconds), or a bare number (fixed). */
export function parseDistribution(text: string): Distribution {
  if (/^\d+$/.test(text)) return { kind: 'fixed', ms: Number(text) };
  let m = /^fixed:(\d+)$/.exec(text);
  if (m) return { kind: 'fixed', ms: Number(m[1]) };
  m = /^uniform:(\d+)-(\d+)$/.exec(text);
  if (m && Number(m[1]) <= Number(m[2])) return { kind: 'uniform', minMs: Number(m[1]), maxMs: Number(m[2]) };
  m = /^lognormal:(\d+):(\d+(?:\.\d+)?)$/.exec(text);
  if (m) return { kind: 'lognormal', medianMs: Number(m[1]), sigma: Number(m[2]) };
  throw new Error(`bad distribution "${text}": use fixed:MS, uniform:MIN-MAX or lognormal:MEDIAN:SIGMA (ms)`);
}

export function draw(d: Distribution, rng: Rng, speed = 1): number {
  const scale = speed > 0 ? 1 / speed : 1;
  switch (d.kind) {
    case 'fixed':
      return d.ms * scale;
    case 'uniform':
      return (d.minMs + rng.float() * (d.maxMs - d.minMs)) * scale;
    case 'lognormal':
      return d.medianMs * Math.exp(d.sigma * rng.normal()) * scale;
  }
}
