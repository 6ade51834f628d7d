/**
 * Small, pure statistics for reader calibration: log-gamma, Fisher's exact test on a 2×2 table, Holm's step-down
 * correction for multiple comparisons, and the median. Deterministic; no I/O (safe anywhere in the domain).
 */

/** Lanczos approximation (g = 7, n = 9), accurate to ~15 significant digits for x > 0. */
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (reflection formula below 0.5). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma of ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln(n!) for a non-negative integer n (exact sums below 32, log-gamma above). */
export function logFactorial(n: number): number {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`logFactorial of ${n}`);
  if (n < 32) {
    let s = 0;
    for (let k = 2; k <= n; k++) s += Math.log(k);
    return s;
  }
  return logGamma(n + 1);
}

/** ln(k!) for k = 0…n (cumulative sums of logarithms): O(1) look-ups for many tests over the same counts. */
export function logFactorialTable(n: number): Float64Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`logFactorialTable of ${n}`);
  const t = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) t[k] = t[k - 1] + Math.log(k);
  return t;
}

/**
 * Fisher's exact test of a 2×2 table `[[a, b], [c, d]]` (rows: group 1, group 2; columns: positive, negative),
 * two-sided: the sum of the hypergeometric probabilities of every table with the same margins that is no more
 * likely than the one observed (with a relative tolerance of 1e-7, as R's `fisher.test`). Returns p in [0, 1].
 * `table`: a {@link logFactorialTable} covering a + b + c + d, to make many tests over large counts cheap.
 */
export function fisherExactTwoSided(a: number, b: number, c: number, d: number, table?: Float64Array): number {
  for (const v of [a, b, c, d]) if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`invalid 2×2 table cell ${v}`);
  const r1 = a + b;
  const r2 = c + d;
  const c1 = a + c;
  const n = r1 + r2;
  if (n === 0) return 1;
  const lf = table && table.length > n ? (k: number): number => table[k] : logFactorial;
  const logChoose = (m: number, k: number): number => lf(m) - lf(k) - lf(m - k);
  const lo = Math.max(0, c1 - r2);
  const hi = Math.min(r1, c1);
  const base = logChoose(n, c1);
  const logP = (x: number): number => logChoose(r1, x) + logChoose(r2, c1 - x) - base;
  const observed = logP(a);
  const bound = observed + Math.log1p(1e-7);
  let p = 0;
  for (let x = lo; x <= hi; x++) {
    const lp = logP(x);
    if (lp <= bound) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/**
 * Holm's step-down adjustment of p-values (family-wise error rate): sorted ascending, p₍ᵢ₎ × (m − i + 1), made
 * monotone and capped at 1. Returns the adjusted values in the input's order (as R's `p.adjust(p, "holm")`).
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p || x.i - y.i);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, p * (m - rank)));
    out[i] = running;
  });
  return out;
}

/** The median of some numbers (mean of the two middle ones for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
