/**
 * Adaptive versus fixed reading, on the simulator's seeded truth and noisy readers (src/simulate/truth.ts), through
 * the domain rules the workflow runs (`fuseReadings`, `decideExtension`, `fusionSettingsFor`); no Temporal.
 *
 * Every scan gets five readings from five distinct readers of a 17-reader pool (3 seniors with half the noise, as in
 * `npm run simulate`); `independent-3` fuses the first three, `independent-5` all five, `adaptive-3-5` the first
 * three, or all five when `decideExtension` extends the scan. Same scans, same readers, same readings. The scans are
 * read in order, and the adaptive decision sees only what a deployment has: the readings and the readers' track record
 * (`TrackRecord`) built from the scans fused before (never the truth). `adaptive-3-5 (before)` is the policy as it
 * was before the track record and `keepSettled` (agreement bound 0.6, disputes).
 * Prints readings per scan and the fused labels' accuracy against the truth (box F1 at IoU ≥ 0.4 per label and
 * overall; image-level label F1), with ratios against `independent-5` and a sweep of the bound.
 *
 * Run: `npm run bench:adaptive` (builds, then `node dist/bench/adaptive.js [--scans N] [--seed S] [--noise L] [--bound B]`).
 */
import type { Box, FusedResult, ReaderReading, ReadingPolicy, TrackRecord } from '../src/domain';
import {
  AGREEMENT_IOU,
  DEFAULT_POLICIES,
  decideExtension,
  emptyTrackRecord,
  fuseAdaptive,
  fuseReadings,
  matchCount,
  readersRequired,
  recordFusedScan,
  VINDR_CXR_TAXONOMY,
} from '../src/domain';
import { Rng } from '../src/simulate/random';
import type { ReaderNoise, Truth } from '../src/simulate/truth';
import { drawNoise, drawTruth, noisyReading } from '../src/simulate/truth';

const SIZE = 1024;
const POOL = 17;
const SENIORS = 3;

interface Options {
  scans: number;
  seed: number;
  noise: number;
  bound?: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { scans: 3000, seed: 42, noise: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v)) throw new Error(`${argv[i]} needs a number`);
    if (argv[i] === '--scans') o.scans = v;
    else if (argv[i] === '--seed') o.seed = v;
    else if (argv[i] === '--noise') o.noise = v;
    else if (argv[i] === '--bound') o.bound = v;
    else throw new Error(`unknown option ${argv[i]} (--scans N --seed S --noise L --bound B)`);
  }
  return o;
}

interface SimScan {
  truth: Truth;
  /** Five readings by five distinct readers, in assignment order. */
  readings: ReaderReading[];
}

function simulate(o: Options): SimScan[] {
  const rng = new Rng(o.seed);
  const noise: ReaderNoise[] = Array.from({ length: POOL }, (_, i) => drawNoise(rng, i < SENIORS ? o.noise / 2 : o.noise));
  const scans: SimScan[] = [];
  for (let n = 0; n < o.scans; n++) {
    const scanRng = rng.fork(`scan-${n}`);
    const truth = drawTruth(scanRng, SIZE, SIZE);
    const pool = Array.from({ length: POOL }, (_, i) => i);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = scanRng.int(0, i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const readings = pool.slice(0, 5).map((r) => ({
      readerId: `rad${String(r + 1).padStart(2, '0')}`,
      reading: noisyReading(truth, noise[r], scanRng.fork(`reader-${r}`), SIZE, SIZE),
    }));
    scans.push({ truth, readings });
  }
  return scans;
}

interface Tally {
  tp: number;
  truth: number;
  found: number;
}

interface Outcome {
  readings: number;
  extended: number;
  box: Map<string, Tally>;
  global: Tally;
}

function add(map: Map<string, Tally>, label: string, t: Tally): void {
  const a = map.get(label) ?? { tp: 0, truth: 0, found: 0 };
  a.tp += t.tp;
  a.truth += t.truth;
  a.found += t.found;
  map.set(label, a);
}

const f1 = (t: Tally): number => (t.truth + t.found === 0 ? 1 : (2 * t.tp) / (t.truth + t.found));

function score(out: Outcome, truth: Truth, fused: FusedResult): void {
  const boxes: Box[] = fused.boxes;
  const labels = new Set([...truth.boxes.map((b) => b.label), ...boxes.map((b) => b.label)]);
  for (const label of labels) {
    const t = truth.boxes.filter((b) => b.label === label);
    const f = boxes.filter((b) => b.label === label);
    add(out.box, label, { tp: matchCount(t, f, AGREEMENT_IOU), truth: t.length, found: f.length });
  }
  const tl = new Set(truth.globalLabels);
  const fl = new Set(fused.globalLabels);
  out.global.tp += [...fl].filter((l) => tl.has(l)).length;
  out.global.truth += tl.size;
  out.global.found += fl.size;
}

type Run = (scan: SimScan) => { fused: FusedResult; readings: number; extended: boolean };

function fixed(policy: ReadingPolicy): Run {
  return (scan) => {
    const rs = scan.readings.slice(0, policy.readers);
    return { fused: fuseReadings(rs, policy.fusion, { rows: SIZE, columns: SIZE }, VINDR_CXR_TAXONOMY), readings: rs.length, extended: false };
  };
}

/** Adaptive reading; the track record grows with every scan fused (what the calibration reads in a deployment). */
function adaptive(policy: ReadingPolicy): Run {
  const record: TrackRecord = emptyTrackRecord();
  return (scan) => {
    const first = scan.readings.slice(0, policy.readers);
    const d = decideExtension(first, policy, VINDR_CXR_TAXONOMY, record)!;
    const rs = scan.readings.slice(0, readersRequired(policy, d.extend));
    const fused = fuseAdaptive(
      rs,
      policy,
      d.extend,
      first.map((r) => r.readerId),
      { rows: SIZE, columns: SIZE },
      VINDR_CXR_TAXONOMY,
    );
    recordFusedScan(record, rs, fused);
    return { fused, readings: rs.length, extended: d.extend };
  };
}

/** `adaptive-3-5` as it was before the track record: extended below an agreement bound of 0.6 or on a dispute. */
const BEFORE: ReadingPolicy = {
  ...DEFAULT_POLICIES['adaptive-3-5'],
  adaptive: { extendBelow: 0.6, extendOnDispute: true, extraReaders: 2, extendedQuorum: 3 },
};

function evaluate(scans: SimScan[], run: Run): Outcome {
  const out: Outcome = { readings: 0, extended: 0, box: new Map(), global: { tp: 0, truth: 0, found: 0 } };
  for (const scan of scans) {
    const r = run(scan);
    out.readings += r.readings;
    if (r.extended) out.extended++;
    score(out, scan.truth, r.fused);
  }
  return out;
}

function overall(o: Outcome): number {
  const sum: Tally = { tp: 0, truth: 0, found: 0 };
  for (const t of o.box.values()) {
    sum.tp += t.tp;
    sum.truth += t.truth;
    sum.found += t.found;
  }
  return f1(sum);
}

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const scans = simulate(o);
  const adaptivePolicy: ReadingPolicy =
    o.bound === undefined ? DEFAULT_POLICIES['adaptive-3-5'] : { ...DEFAULT_POLICIES['adaptive-3-5'], adaptive: { ...DEFAULT_POLICIES['adaptive-3-5'].adaptive!, extendBelow: o.bound } };
  const ad = adaptivePolicy.adaptive!;
  const rows: [string, Outcome][] = [
    ['independent-3', evaluate(scans, fixed(DEFAULT_POLICIES['independent-3']))],
    ['independent-5', evaluate(scans, fixed(DEFAULT_POLICIES['independent-5']))],
    ['adaptive-3-5 (before: extendBelow 0.6)', evaluate(scans, adaptive(BEFORE))],
    [
      `adaptive-3-5 (extendBelow ${ad.extendBelow}, extendOnUnconfirmed ${ad.extendOnUnconfirmed ?? 'never'}, keepSettled ${ad.keepSettled === true})`,
      evaluate(scans, adaptive(adaptivePolicy)),
    ],
  ];
  const base = rows[1][1];
  console.log(`adaptive vs fixed reading: ${o.scans} seeded scans (seed ${o.seed}), ${POOL} readers (noise ${o.noise}, ${SENIORS} seniors at half), ${SIZE}×${SIZE}`);
  console.log('box F1 at IoU ≥ 0.4 of the fused boxes against the truth; image-level label F1 of the fused labels; ratios vs independent-5\n');
  console.log(`| policy | readings/scan | extended | box F1 (overall) | vs independent-5 | image-level label F1 |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const [name, r] of rows) {
    console.log(
      `| ${name} | ${(r.readings / o.scans).toFixed(2)} | ${pct(r.extended / o.scans)} | ${pct(overall(r))} | ${(overall(r) / overall(base)).toFixed(4)} | ${pct(f1(r.global))} |`,
    );
  }
  const labels = [...new Set(rows.flatMap(([, r]) => [...r.box.keys()]))].sort();
  console.log(`\nper label (box F1; truth boxes):\n`);
  console.log(`| label | truth | ${rows.map(([n]) => n.split(' ')[0]).join(' | ')} |`);
  console.log(`| --- | ---: | ${rows.map(() => '---:').join(' | ')} |`);
  for (const l of labels) {
    const truth = rows[0][1].box.get(l)?.truth ?? 0;
    console.log(`| ${l} | ${truth} | ${rows.map(([, r]) => pct(f1(r.box.get(l) ?? { tp: 0, truth: 0, found: 0 }))).join(' | ')} |`);
  }
  console.log(`\nsweep of adaptive.keepSettled, adaptive.extendOnUnconfirmed and adaptive.extendBelow (disputes extended; same scans):\n`);
  console.log(`| keepSettled | extendOnUnconfirmed | extendBelow | readings/scan | box F1 | vs independent-5 | label F1 |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const keepSettled of [true, false]) {
    for (const u of [undefined, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08]) {
      for (const b of [0, 0.2, 0.6]) {
        const p: ReadingPolicy = {
          ...DEFAULT_POLICIES['adaptive-3-5'],
          adaptive: { extendBelow: b, extendOnDispute: true, ...(u === undefined ? {} : { extendOnUnconfirmed: u }), keepSettled, extraReaders: 2, extendedQuorum: 3 },
        };
        const r = evaluate(scans, adaptive(p));
        console.log(
          `| ${keepSettled} | ${u ?? 'never'} | ${b} | ${(r.readings / o.scans).toFixed(2)} | ${pct(overall(r))} | ${(overall(r) / overall(base)).toFixed(4)} | ${pct(f1(r.global))} |`,
        );
      }
    }
  }
}

main();
