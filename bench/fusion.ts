/**
 * Fusion throughput benchmark: `fuseReadings` (WBF) on seeded synthetic scans with 3 and 5 readers
 * (~10 boxes each), against a naive O(n²) WBF baseline measured in the same run.
 *
 * Run: `npm run bench:fusion` (builds, then `node dist/bench/fusion.js`).
 */
import { performance } from 'node:perf_hooks';
import type { Box, FusedResult, FusionSettings, ImageSize, ReaderReading } from '../src/domain';
import { VINDR_CXR_TAXONOMY, fuseReadings, mulberry32 } from '../src/domain';
import { naiveWbf } from './fusion-naive';

const IMAGE: ImageSize = { rows: 2500, columns: 2000 };
const SETTINGS: FusionSettings = { method: 'wbf', iouThreshold: 0.5, quorum: 2 };
const SCANS = 2000;
const MIN_MS = 1500;

/** A scan: 7–11 true findings; each reader finds each with p = 0.9 (jittered ±4 %) and adds 0–3 false positives. */
function makeScans(readers: number, seed: number): ReaderReading[][] {
  const rand = mulberry32(seed);
  const labels = VINDR_CXR_TAXONOMY.localLabels;
  const randomBox = (): Box => {
    const w = 40 + rand() * 500;
    const h = 40 + rand() * 500;
    const x = rand() * (IMAGE.columns - w);
    const y = rand() * (IMAGE.rows - h);
    // a handful of frequent labels, so that same-label clusters are realistic
    return { label: labels[Math.floor(rand() * rand() * 8)], x_min: x, y_min: y, x_max: x + w, y_max: y + h };
  };
  const clampX = (v: number) => Math.min(IMAGE.columns, Math.max(0, v));
  const clampY = (v: number) => Math.min(IMAGE.rows, Math.max(0, v));
  return Array.from({ length: SCANS }, () => {
    const truth = Array.from({ length: 7 + Math.floor(rand() * 5) }, randomBox);
    return Array.from({ length: readers }, (_, r): ReaderReading => {
      const boxes: Box[] = [];
      for (const t of truth) {
        if (rand() > 0.9) continue;
        const w = t.x_max - t.x_min;
        const h = t.y_max - t.y_min;
        const j = () => (rand() - 0.5) * 0.08;
        const x0 = clampX(t.x_min + j() * w);
        const y0 = clampY(t.y_min + j() * h);
        boxes.push({ label: t.label, x_min: x0, y_min: y0, x_max: Math.max(x0 + 1, clampX(t.x_max + j() * w)), y_max: Math.max(y0 + 1, clampY(t.y_max + j() * h)) });
      }
      const fp = Math.floor(rand() * 4);
      for (let i = 0; i < fp; i++) boxes.push(randomBox());
      return { readerId: `rad${String(r + 1).padStart(2, '0')}`, reading: { boxes, globalLabels: [] } };
    });
  });
}

function measure(scans: readonly ReaderReading[][], fuse: (r: readonly ReaderReading[]) => FusedResult): number {
  for (let i = 0; i < Math.min(300, scans.length); i++) fuse(scans[i]); // warm-up
  let done = 0;
  let sink = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MIN_MS) {
    for (const s of scans) sink += fuse(s).boxes.length;
    done += scans.length;
    elapsed = performance.now() - start;
  }
  if (sink < 0) console.log(sink);
  return (done / elapsed) * 1000;
}

function sameBoxes(a: FusedResult, b: FusedResult): boolean {
  return (
    a.boxes.length === b.boxes.length &&
    a.boxes.every((x, i) => {
      const y = b.boxes[i];
      return x.label === y.label && x.readerIds.join() === y.readerIds.join() &&
        Math.abs(x.x_min - y.x_min) < 1e-6 && Math.abs(x.y_min - y.y_min) < 1e-6 && Math.abs(x.x_max - y.x_max) < 1e-6 && Math.abs(x.y_max - y.y_max) < 1e-6;
    })
  );
}

function main(): void {
  console.log(`fusion benchmark — node ${process.version}, ${SCANS} seeded scans per configuration, ≥${MIN_MS} ms per measurement`);
  console.log('readers  boxes/reader  fused/scan  fuseReadings (scans/s)  naive O(n²) (scans/s)  speed-up  same result');
  for (const readers of [3, 5]) {
    const scans = makeScans(readers, 1000 + readers);
    const settings = readers === 5 ? { ...SETTINGS, quorum: 3 } : SETTINGS;
    const boxesPerReader = scans.reduce((s, sc) => s + sc.reduce((t, r) => t + r.reading.boxes.length, 0), 0) / (SCANS * readers);
    const fast = (r: readonly ReaderReading[]) => fuseReadings(r, settings, IMAGE, VINDR_CXR_TAXONOMY);
    const naive = (r: readonly ReaderReading[]) => naiveWbf(r, settings, IMAGE);
    const agree = scans.filter((s) => sameBoxes(fast(s), naive(s))).length;
    const fusedPerScan = scans.reduce((s, sc) => s + fast(sc).boxes.length, 0) / SCANS;
    const fastRate = measure(scans, fast);
    const naiveRate = measure(scans, naive);
    console.log(
      `${String(readers).padStart(7)}  ${boxesPerReader.toFixed(1).padStart(12)}  ${fusedPerScan.toFixed(1).padStart(10)}  ` +
        `${fastRate.toFixed(0).padStart(22)}  ${naiveRate.toFixed(0).padStart(21)}  ${(fastRate / naiveRate).toFixed(1).padStart(7)}×  ${agree}/${SCANS}`,
    );
  }
}

main();
