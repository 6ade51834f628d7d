/**
 * De-identification throughput: ReadFlow (`deidentifyObject`: parse, PS3.15 basic profile, byte-preserving write,
 * read + write of the files) against GDCM's `gdcmanon` (basic profile, `-e -c cert`) on the same files, same run.
 *
 * Corpus: test/fixtures/dicom/{cxr,valid}, the files both tools can de-identify, replicated COPIES times.
 * gdcmanon runs once over the whole input directory (one process, no per-file start-up) and, for reference, once
 * per file. ReadFlow runs single-threaded in this process. Best of ROUNDS for each.
 *
 * Run: `npm run bench:deidentify` (builds, then `node dist/bench/deidentify.js`). Needs libgdcm-tools and openssl.
 *
 * With BENCH_OCR=1 (instead of the throughput run; BENCH_OCR_N generated films of each kind, default 10), measures the burned-in text check (src/ingest/burned-in-text.ts, tesseract): the rate of
 * false quarantines on clean chest films (the real CR/DX files of the corpus and generated films with laterality
 * markers and position labels) and the rate of detection on generated films with a name, a birth date and an MRN.
 * With BENCH_OCR=batch, OCR in batches against one process per film (see `ocrBatch`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { deidentifyObject } from '../src/dicom';
import { tesseractTextCheck } from '../src/ingest/burned-in-text';
import { procStat } from '../src/simulate/resources';
import { syntheticChestImage } from '../test/fixtures/dicom/corpus';
import { chestLikePixels, drawText } from '../test/fixtures/dicom/text-image';

const COPIES = Number(process.env.BENCH_COPIES ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECRET = 'bench-secret-bench-secret-bench-secret-0001';

function repoRoot(): string {
  let d = __dirname;
  while (!existsSync(path.join(d, 'package.json'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error('package.json not found');
    d = up;
  }
  return d;
}

function listDir(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => path.join(dir, f));
}

function main(): void {
  const fixtures = path.join(repoRoot(), 'test/fixtures/dicom');
  const work = mkdtempSync(path.join(tmpdir(), 'bench-deid-'));
  try {
    const cert = path.join(work, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(work, 'key.pem'), '-out', cert, '-days', '1', '-subj', '/CN=readflow-bench'], {
      stdio: 'ignore',
    });

    // Files both tools de-identify.
    const probe = path.join(work, 'probe.dcm');
    const corpus = [...listDir(path.join(fixtures, 'cxr')), ...listDir(path.join(fixtures, 'valid'))].filter((f) => {
      try {
        deidentifyObject(readFileSync(f), { secret: SECRET });
      } catch {
        return false;
      }
      return spawnSync('gdcmanon', ['-e', '-c', cert, f, probe], { stdio: 'ignore' }).status === 0;
    });
    const input = path.join(work, 'in');
    mkdirSync(input);
    for (let c = 0; c < COPIES; c++) for (const f of corpus) writeFileSync(path.join(input, `${c}-${path.basename(f)}`), readFileSync(f));
    const files = listDir(input);
    const totalBytes = files.reduce((s, f) => s + statSync(f).size, 0);
    const mb = totalBytes / 1e6;

    const readflowOnce = (): number => {
      const out = path.join(work, 'out-readflow');
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      const t0 = performance.now();
      for (const f of files) {
        const d = deidentifyObject(readFileSync(f), { secret: SECRET });
        writeFileSync(path.join(out, path.basename(f)), d.output);
      }
      return (performance.now() - t0) / 1000;
    };
    const gdcmDirOnce = (): number => {
      const out = path.join(work, 'out-gdcm');
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      const t0 = performance.now();
      const r = spawnSync('gdcmanon', ['-e', '-c', cert, '-i', input, '-o', out], { stdio: 'ignore' });
      const s = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`gdcmanon exited with ${r.status}`);
      if (readdirSync(out).length !== files.length) throw new Error('gdcmanon did not write every file');
      return s;
    };
    const gdcmPerFileOnce = (): number => {
      const out = path.join(work, 'out-gdcm-1');
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      const t0 = performance.now();
      for (const f of files) spawnSync('gdcmanon', ['-e', '-c', cert, f, path.join(out, path.basename(f))], { stdio: 'ignore' });
      return (performance.now() - t0) / 1000;
    };

    readflowOnce(); // warm-up (JIT)
    const best = (fn: () => number, rounds: number): number => Math.min(...Array.from({ length: rounds }, fn));
    const rf = best(readflowOnce, ROUNDS);
    const gd = best(gdcmDirOnce, ROUNDS);
    const gd1 = best(gdcmPerFileOnce, 1);

    const row = (name: string, s: number): string =>
      `${name.padEnd(34)} ${s.toFixed(3).padStart(8)} s ${(mb / s).toFixed(1).padStart(9)} MB/s ${(files.length / s).toFixed(1).padStart(9)} files/s`;
    console.log(`corpus: ${corpus.length} distinct files × ${COPIES} copies = ${files.length} files, ${mb.toFixed(1)} MB; best of ${ROUNDS}`);
    console.log(row('ReadFlow deidentifyObject', rf));
    console.log(row('gdcmanon -e (one process, dir)', gd));
    console.log(row('gdcmanon -e (one process per file)', gd1));
    console.log(`ratio ReadFlow / gdcmanon (dir):      ${(gd / rf).toFixed(2)}× (target > 1×)`);
    console.log(`ratio ReadFlow / gdcmanon (per file): ${(gd1 / rf).toFixed(2)}×`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function ocr(): Promise<void> {
  const fixtures = path.join(repoRoot(), 'test/fixtures/dicom');
  const check = tesseractTextCheck();
  const N = Number(process.env.BENCH_OCR_N ?? 10);
  const clean: { name: string; data: Buffer }[] = ['cxr', 'valid'].flatMap((d) =>
    listDir(path.join(fixtures, d))
      .filter((f) => /cxr\/|dx_image/.test(f))
      .map((f) => ({ name: path.basename(f), data: readFileSync(f) })),
  );
  const labels = ['PA', 'AP ERECT', 'PORTABLE', 'SUPINE', 'PA ERECT'];
  for (let i = 0; i < N; i++) {
    const size = [512, 768, 1024][i % 3];
    const px = chestLikePixels(size, size, 100 + i);
    drawText(px, size, i % 2 ? 'L' : 'R', 16 + i * 3, 16, Math.max(3, size / 128));
    drawText(px, size, labels[i % labels.length], size / 2, size - 40, Math.max(2, size / 256));
    clean.push({ name: `generated-clean-${i}`, data: syntheticChestImage(px, size, size, [], { sop: `1.2.3.9.${i}` }) });
  }
  const withText: { name: string; data: Buffer }[] = [];
  const people = ['DOE JOHN', 'SMITH ANNA', 'NGUYEN VAN AN', 'MILLER PAUL', 'GARCIA MARIA'];
  for (let i = 0; i < N; i++) {
    const size = [512, 768, 1024][i % 3];
    const px = chestLikePixels(size, size, 200 + i);
    const scale = Math.max(2, Math.floor(size / 256));
    drawText(px, size, people[i % people.length], 12, 12, scale);
    drawText(px, size, `19${50 + i}-0${1 + (i % 9)}-1${i % 10}`, 12, 12 + 10 * scale, scale);
    drawText(px, size, `MRN${100000 + i * 7919}`, 12, 12 + 20 * scale, scale);
    withText.push({ name: `generated-text-${i}`, data: syntheticChestImage(px, size, size, [], { sop: `1.2.3.8.${i}` }) });
  }
  let falseQ = 0;
  let found = 0;
  const t0 = performance.now();
  for (const c of clean) {
    const r = await check.check(c.data);
    const q = !r.ok || r.verdict.identifying;
    if (q) falseQ++;
    console.log(`clean ${c.name.padEnd(24)} ${q ? 'QUARANTINED' : 'ok'} ${r.ok ? r.verdict.reasons.join('; ') : r.detail}`);
  }
  for (const c of withText) {
    const r = await check.check(c.data);
    const q = !r.ok || r.verdict.identifying;
    if (q) found++;
    console.log(`text  ${c.name.padEnd(24)} ${q ? 'QUARANTINED' : 'MISSED'} ${r.ok ? r.verdict.reasons.join('; ') : r.detail}`);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`burned-in text check: false quarantines ${falseQ}/${clean.length} clean films (${((100 * falseQ) / clean.length).toFixed(0)}%), detected ${found}/${withText.length} films with text (${((100 * found) / withText.length).toFixed(0)}%), ${check.calls()} OCR calls, ${(s / check.calls()).toFixed(2)} s per call`);
}

/** CPU seconds of this process's finished children (tesseract, gdcmconv). */
function childCpuSeconds(): number {
  return procStat(process.pid)?.childrenCpuSeconds ?? Number.NaN;
}

/**
 * BENCH_OCR=batch: the burned-in text check on BENCH_OCR_N distinct generated films per size (128 px as the
 * simulator's VinDr preset writes, 1024 px as the check's OCR copy of a real film), BENCH_OCR_PARALLEL checks at once
 * as a worker's concurrent ingests run them: one tesseract process per film, as before (`maxBatch: 1`, every check
 * at once), against the batched default. Rounds alternate; the verdicts must be the same.
 */
async function ocrBatch(): Promise<void> {
  const N = Number(process.env.BENCH_OCR_N ?? 48);
  const parallel = Number(process.env.BENCH_OCR_PARALLEL ?? 16);
  for (const size of [128, 1024]) {
    const films = Array.from({ length: N }, (_, i) => {
      const px = chestLikePixels(size, size, 1000 * size + i);
      if (i % 4 === 0) {
        const scale = Math.max(2, Math.floor(size / 256));
        drawText(px, size, `DOE ${i}`, 4, 4, scale);
        drawText(px, size, '1965-04-12', 4, 4 + 10 * scale, scale);
      }
      return syntheticChestImage(px, size, size, [], { sop: `1.2.3.7.${size}.${i}` });
    });
    const variants = { 'one process per film': { maxBatch: 1, concurrency: parallel }, batched: {} } as const;
    const best: Record<string, { wall: number; cpu: number; spawns: number; verdicts: string }> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, o] of Object.entries(variants)) {
        const check = tesseractTextCheck(o);
        const cpu0 = childCpuSeconds();
        const t0 = performance.now();
        const verdicts: string[] = new Array(N);
        let next = 0;
        await Promise.all(
          Array.from({ length: parallel }, async () => {
            while (next < N) {
              const i = next++;
              const r = await check.check(films[i]);
              verdicts[i] = r.ok ? String(r.verdict.identifying) : `unavailable: ${r.detail}`;
            }
          }),
        );
        const m = { wall: (performance.now() - t0) / 1000, cpu: childCpuSeconds() - cpu0, spawns: check.spawns(), verdicts: verdicts.join(',') };
        if (!best[name] || m.cpu < best[name].cpu) best[name] = m;
      }
    }
    const [a, b] = [best['one process per film'], best.batched];
    console.log(`${size} px, ${N} distinct films, ${parallel} checks at once, best of ${ROUNDS}:`);
    for (const [name, m] of Object.entries(best)) {
      console.log(`  ${name.padEnd(22)} ${m.wall.toFixed(2).padStart(6)} s wall ${m.cpu.toFixed(2).padStart(6)} CPU-s of tesseract (${((1000 * m.cpu) / N).toFixed(0)} ms per film) ${m.spawns} processes`);
    }
    console.log(`  batched / per film: CPU ${(b.cpu / a.cpu).toFixed(2)}×, wall ${(b.wall / a.wall).toFixed(2)}×; same verdicts: ${a.verdicts === b.verdicts ? 'yes' : 'NO'} (${a.verdicts.split(',').filter((v) => v === 'true').length} identifying)`);
  }
}

if (process.env.BENCH_OCR === '1') void ocr();
else if (process.env.BENCH_OCR === 'batch') void ocrBatch();
else main();
