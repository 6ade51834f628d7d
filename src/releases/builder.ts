/**
 * The file work of a dataset release, in idempotent steps the `releaseDataset` workflow calls as activities:
 *
 * 1. `prepare`  — refuses a version that exists, gives pseudonyms to new readers, and writes the snapshot: the
 *    released scans of the chosen splits in (split, image_id) order, fixed for the rest of the release.
 * 2. `copyImages(from, count)` — copies a chunk of de-identified files to `<split>/<image_id>.dicom` (atomic
 *    writes) and runs the gate's per-image check on the bytes on disk; the chunk's result is one atomic file.
 * 3. `writeLabels` — the four VinDr-CXR CSVs, streamed page by page from Postgres (rad_id = pseudonym; the test
 *    split holds the consensus per image), with per-label counts, readers per scan, policies and agreement.
 * 4. `gate`     — every image checked and labelled, every label one of the taxonomy's (a label outside it would be
 *    left out of `image_labels_*.csv` or written as-is in `annotations_*.csv`), pseudonyms unchanged since the
 *    previous release.
 * 5. `publish`  — README, manifest (with the change list since the previous version) and SHA256SUMS, then one
 *    directory rename from `.staging/<version>` to `<version>`; or `abandon`, which publishes nothing.
 *
 * Every step may run again after a worker dies (its outputs are written atomically and re-used), and no file holds a
 * timestamp: the same released scans give byte-identical files. Memory stays flat: scans are read in pages, one image
 * is in memory at a time, CSVs stream through csv-stringify. (The only per-image state held whole is the previous
 * release's image list while the change list is computed: a few MB for 18,000 images.)
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import type { WriteStream } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';

import type { DataSource } from 'typeorm';

import type { StoredBox } from '../db/entities';
import type { ReaderRecord, Taxonomy, VindrSplit } from '../domain';
import { compareStrings, labelsOutside, VINDR_CXR_TAXONOMY, VINDR_SPLITS, vindrAnnotationRowsFor, vindrImageLabelsRowFor } from '../domain';
import { writeVindrAnnotationsCsv, writeVindrImageLabelsCsv } from './stream-writers';
import { fsyncDir, tempPathIn, writeFileAtomic } from '../storage/atomic-file';
import type { BlobStore } from '../storage/blob-store';
import { CHECKSUMS_FILE, csvPaths, imagePath, MANIFEST_FILE, README_FILE, releaseDir, stagingDir } from './layout';
import { assignPseudonyms, pseudonymMap } from './pseudonyms';
import { renderReadme } from './readme';
import type { GateProblem, ReleaseImageVerifier } from './verifier';
import { localImageVerifier } from './verifier';

export interface ReleaseBuilderDeps {
  dataSource: DataSource;
  store: BlobStore;
  /** `<storage>/releases`. */
  releasesDir: string;
  verifier?: ReleaseImageVerifier;
  taxonomy?: Taxonomy;
}

/** One released scan of the snapshot. */
export interface SnapshotEntry {
  scanId: string;
  imageId: string;
  split: VindrSplit;
  policy: string;
  deidentifiedKey: string;
}

/** The outcome of one image of a chunk. */
export interface ImageResult {
  split: VindrSplit;
  imageId: string;
  sha256: string;
  size: number;
  problems: GateProblem[];
}

export interface SplitStats {
  images: number;
  /** Label name → number of images with it (train: marked by at least one reader; test: in the consensus). */
  imagesPerLabel: Record<string, number>;
  /** Label name → number of rows with it (train: reader readings). */
  rowsPerLabel: Record<string, number>;
  boxes: number;
  /** Readers per scan → number of scans. */
  readersPerScan: Record<string, number>;
  /** Policy → number of scans. */
  policies: Record<string, number>;
  /** Mean overall agreement (scan_results.agreement.overall) over the scans that have one; null if none. */
  meanAgreement: number | null;
  /** Scans whose agreement was flagged for review. */
  flaggedForReview: number;
}

export interface LabelsOutcome {
  stats: Partial<Record<VindrSplit, SplitStats>>;
  problems: GateProblem[];
}

export interface GateOutcome {
  ok: boolean;
  /** The first problems (at most 200), each naming what failed. */
  problems: GateProblem[];
  problemCount: number;
  images: number;
}

export interface Changes {
  previousVersion: string | null;
  imagesAdded: string[];
  imagesRemoved: string[];
  labelsChanged: string[];
  splitChanged: string[];
}

export interface PublishOutcome {
  version: string;
  images: number;
  manifestSha256: string;
  changes: { previousVersion: string | null; imagesAdded: number; imagesRemoved: number; labelsChanged: number; splitChanged: number };
}

/** Raised when a version already exists (published): never overwritten. */
export class ReleaseExistsError extends Error {
  readonly code = 'release-exists';
  constructor(readonly version: string) {
    super(`release ${version} already exists; a published version is never overwritten`);
    this.name = 'ReleaseExistsError';
  }
}

const PAGE = 500;
const MAX_LISTED_PROBLEMS = 200;
const WORK = '.work';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

async function exists(p: string): Promise<boolean> {
  return fsp
    .stat(p)
    .then(() => true)
    .catch(() => false);
}

/** Deletes the temp files of interrupted atomic writes under `dir` (any depth). */
async function removeTempFiles(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.name.startsWith('.tmp-')) await fsp.rm(p, { force: true });
    else if (e.isDirectory()) await removeTempFiles(p);
  }
}

/** Streams into `target` atomically: `write` gets a writable on a temp file, renamed over `target` once it ends. */
async function streamFileAtomic(target: string, write: (out: WriteStream) => Promise<void>): Promise<void> {
  const dir = path.dirname(target);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = tempPathIn(dir);
  const out = createWriteStream(tmp);
  const closed = once(out, 'close');
  try {
    await write(out);
    await closed;
  } catch (e) {
    out.destroy();
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  const fh = await fsp.open(tmp, 'r+');
  await fh.sync().finally(() => fh.close());
  await fsp.rename(tmp, target);
  await fsyncDir(dir);
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function emptyStats(taxonomy: Taxonomy): SplitStats {
  const zero = Object.fromEntries(taxonomy.labels.map((l) => [l.name, 0]));
  return { images: 0, imagesPerLabel: { ...zero }, rowsPerLabel: { ...zero }, boxes: 0, readersPerScan: {}, policies: {}, meanAgreement: null, flaggedForReview: 0 };
}

/** Builds releases under `deps.releasesDir`; see the module comment for the steps. */
export class ReleaseBuilder {
  private readonly ds: DataSource;
  private readonly store: BlobStore;
  private readonly root: string;
  private readonly verifier: ReleaseImageVerifier;
  private readonly taxonomy: Taxonomy;
  private onPage?: () => void;

  constructor(deps: ReleaseBuilderDeps) {
    this.ds = deps.dataSource;
    this.store = deps.store;
    this.root = path.resolve(deps.releasesDir);
    this.verifier = deps.verifier ?? localImageVerifier;
    this.taxonomy = deps.taxonomy ?? VINDR_CXR_TAXONOMY;
  }

  private staging(version: string): string {
    return stagingDir(this.root, version);
  }

  private work(version: string, ...parts: string[]): string {
    return path.join(this.staging(version), WORK, ...parts);
  }

  /** Whether `version` is published on disk. */
  async isPublished(version: string): Promise<boolean> {
    return exists(path.join(releaseDir(this.root, version), MANIFEST_FILE));
  }

  // ---- 1. snapshot ------------------------------------------------------------------------------------------------

  /**
   * `attempt` names the attempt building the release (the workflow run): a staging directory left by another attempt
   * (its workflow closed without publishing: terminated, failed, timed out) is removed first, so that a new attempt
   * snapshots the scans released now instead of re-using a stale snapshot and its chunks. Without `attempt` (direct
   * use), whatever is staged is re-used.
   */
  async prepare(version: string, splits: readonly VindrSplit[], attempt?: string): Promise<{ total: number; perSplit: Partial<Record<VindrSplit, number>> }> {
    if (await exists(releaseDir(this.root, version))) throw new ReleaseExistsError(version);
    if (attempt !== undefined) {
      const marker = this.work(version, 'attempt');
      const recorded = await fsp.readFile(marker, 'utf8').catch(() => undefined);
      if (recorded !== attempt) {
        await fsp.rm(this.staging(version), { recursive: true, force: true });
        await writeFileAtomic(marker, attempt);
      }
    }
    const snapshot = this.work(version, 'snapshot.jsonl');
    if (!(await exists(snapshot))) {
      await assignPseudonyms(this.ds);
      await writeFileAtomic(this.work(version, 'pseudonyms.json'), JSON.stringify(Object.fromEntries(await pseudonymMap(this.ds))));
      await streamFileAtomic(snapshot, async (out) => {
        for (const split of VINDR_SPLITS.filter((s) => splits.includes(s))) {
          let after = '';
          for (;;) {
            const rows: { id: string; image_id: string; policy: string; deidentified_key: string | null }[] = await this.ds.query(
              `SELECT id, image_id, policy, deidentified_key FROM scans
                WHERE stage = 'released' AND split = $1 AND image_id > $2
                  AND NOT EXISTS (SELECT 1 FROM gold_scans g WHERE g.scan_id = scans.id) ORDER BY image_id LIMIT $3`,
              [split, after, PAGE],
            );
            if (rows.length === 0) break;
            for (const r of rows) {
              const entry: SnapshotEntry = { scanId: r.id, imageId: r.image_id.trim(), split, policy: r.policy, deidentifiedKey: r.deidentified_key ?? '' };
              if (!out.write(`${JSON.stringify(entry)}\n`)) await once(out, 'drain');
            }
            after = rows[rows.length - 1].image_id;
          }
        }
        out.end();
      });
    }
    const perSplit: Partial<Record<VindrSplit, number>> = {};
    let total = 0;
    for await (const e of this.entries(version)) {
      perSplit[e.split] = (perSplit[e.split] ?? 0) + 1;
      total++;
    }
    return { total, perSplit };
  }

  /** The snapshot's entries from `from` (streamed), optionally only `count` of them. */
  async *entries(version: string, from = 0, count = Infinity): AsyncGenerator<SnapshotEntry> {
    const rl = createInterface({ input: createReadStream(this.work(version, 'snapshot.jsonl')), crlfDelay: Infinity });
    let i = 0;
    try {
      for await (const line of rl) {
        if (line === '') continue;
        if (i >= from + count) break;
        if (i++ >= from) yield JSON.parse(line) as SnapshotEntry;
      }
    } finally {
      rl.close();
    }
  }

  // ---- 2. images --------------------------------------------------------------------------------------------------

  private chunkFile(version: string, from: number): string {
    return this.work(version, 'chunks', `${String(from).padStart(9, '0')}.json`);
  }

  /** The attempt that prepared the staging directory (`prepare`'s `attempt`), if one was named. */
  private async stagedAttempt(version: string): Promise<string | undefined> {
    return fsp.readFile(this.work(version, 'attempt'), 'utf8').catch(() => undefined);
  }

  /**
   * Copies and checks the images [from, from + count) of the snapshot. Re-running a finished chunk does nothing.
   * A copy that outlives its attempt (its workflow was terminated and a new attempt prepared the staging directory
   * meanwhile) records nothing: its chunk belongs to the old snapshot.
   */
  async copyImages(version: string, from: number, count: number, onImage: () => void | Promise<void> = () => {}): Promise<{ images: number; problems: number }> {
    const done = this.chunkFile(version, from);
    if (await exists(done)) {
      const results = JSON.parse(await fsp.readFile(done, 'utf8')) as ImageResult[];
      return { images: results.length, problems: results.reduce((n, r) => n + r.problems.length, 0) };
    }
    const attempt = await this.stagedAttempt(version);
    const results: ImageResult[] = [];
    for await (const e of this.entries(version, from, count)) {
      results.push(await this.copyOne(version, e));
      await onImage();
    }
    if ((await this.stagedAttempt(version)) !== attempt) {
      throw new Error(`release ${version} was prepared again by another attempt while images ${from}… were copied; this copy records nothing`);
    }
    await writeFileAtomic(done, JSON.stringify(results));
    return { images: results.length, problems: results.reduce((n, r) => n + r.problems.length, 0) };
  }

  private async copyOne(version: string, e: SnapshotEntry): Promise<ImageResult> {
    const target = path.join(this.staging(version), imagePath(e.split, e.imageId));
    const missing = (detail: string): ImageResult => ({ split: e.split, imageId: e.imageId, sha256: '', size: 0, problems: [{ code: 'missing-file', imageId: e.imageId, detail }] });
    let sidecar: { sourceKey: string; deidentifiedSha256: string; uidMap: Record<string, string> };
    try {
      sidecar = JSON.parse((await this.store.get('originals', `${e.scanId}.uids.json`)).toString('utf8')) as typeof sidecar;
    } catch {
      return missing('the de-identification record of this scan is missing');
    }
    let deidentified: Buffer;
    try {
      deidentified = await this.store.get('deidentified', e.deidentifiedKey);
    } catch {
      return missing('the de-identified file is missing from the store');
    }
    if (!(await exists(target))) await writeFileAtomic(target, deidentified);
    const candidate = await fsp.readFile(target);
    const original = await this.store.get('originals', sidecar.sourceKey).catch(() => undefined);
    const problems = original
      ? this.verifier.verify({
          imageId: e.imageId,
          candidate,
          deidentified,
          deidentifiedSha256: sidecar.deidentifiedSha256,
          original,
          sourceUids: Object.keys(sidecar.uidMap ?? {}),
        })
      : [{ code: 'missing-file' as const, imageId: e.imageId, detail: 'the source is missing from the restricted store: the file cannot be checked against it' }];
    return { split: e.split, imageId: e.imageId, sha256: sha256(candidate), size: candidate.length, problems };
  }

  /** Every image result in snapshot order (chunk files in order). */
  private async *imageResults(version: string): AsyncGenerator<ImageResult> {
    const dir = this.work(version, 'chunks');
    const files = (await fsp.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
    for (const f of files) {
      for (const r of JSON.parse(await fsp.readFile(path.join(dir, f), 'utf8')) as ImageResult[]) yield r;
    }
  }

  // ---- 3. labels --------------------------------------------------------------------------------------------------

  /** The snapshot's entries of one split in pages. */
  private async *pages(version: string, split: VindrSplit): AsyncGenerator<SnapshotEntry[]> {
    let page: SnapshotEntry[] = [];
    for await (const e of this.entries(version)) {
      if (e.split !== split) continue;
      page.push(e);
      if (page.length === PAGE) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  /**
   * The records of a split's CSVs, in image order: train — every reader's reading (rad_id = pseudonym, by pseudonym
   * number); test — the final (consensus or fused) labels, one record per image. `onImage` sees each image's records.
   */
  private async *records(
    version: string,
    split: VindrSplit,
    onImage?: (e: SnapshotEntry, records: ReaderRecord[], extra: { agreement?: { overall?: number; flagged?: boolean } }) => void,
  ): AsyncGenerator<ReaderRecord> {
    for await (const page of this.pages(version, split)) {
      this.onPage?.();
      const ids = page.map((e) => e.scanId);
      const byScan = new Map<string, ReaderRecord[]>();
      const agreement = new Map<string, { overall?: number; flagged?: boolean }>();
      if (split === 'train') {
        const rows: { scan_id: string; pseudonym: string; boxes: StoredBox[]; global_labels: string[] }[] = await this.ds.query(
          `SELECT g.scan_id, p.pseudonym, g.boxes, g.global_labels
             FROM readings g JOIN reader_pseudonyms p ON p.reader_id = g.reader_id
            WHERE g.scan_id = ANY($1) AND g.role = 'reader' ORDER BY g.scan_id, p.number`,
          [ids],
        );
        for (const r of rows) {
          const list = byScan.get(r.scan_id) ?? [];
          list.push({ imageId: '', readerId: r.pseudonym, reading: { boxes: r.boxes, globalLabels: r.global_labels } });
          byScan.set(r.scan_id, list);
        }
      }
      const finals: { scan_id: string; final_boxes: StoredBox[]; final_global_labels: string[]; agreement: { overall?: number; flagged?: boolean } }[] =
        await this.ds.query(`SELECT scan_id, final_boxes, final_global_labels, agreement FROM scan_results WHERE scan_id = ANY($1)`, [ids]);
      for (const f of finals) {
        agreement.set(f.scan_id, f.agreement);
        if (split === 'test') byScan.set(f.scan_id, [{ imageId: '', readerId: '', reading: { boxes: f.final_boxes, globalLabels: f.final_global_labels } }]);
      }
      for (const e of page) {
        const list = (byScan.get(e.scanId) ?? []).map((r) => ({ ...r, imageId: e.imageId }));
        onImage?.(e, list, { agreement: agreement.get(e.scanId) });
        yield* list;
      }
    }
  }

  /**
   * Writes the CSVs of every split of the snapshot; returns the README's statistics and the gate's label problems: the
   * images without labels, and those carrying labels outside the taxonomy (`labels-outside-taxonomy`, naming the scan
   * and the labels).
   */
  async writeLabels(version: string, onPage: () => void = () => {}): Promise<LabelsOutcome> {
    this.onPage = onPage;
    const outcomeFile = this.work(version, 'labels.json');
    if (await exists(outcomeFile)) return JSON.parse(await fsp.readFile(outcomeFile, 'utf8')) as LabelsOutcome;
    const splits = new Set<VindrSplit>();
    for await (const e of this.entries(version)) splits.add(e.split);
    const outcome: LabelsOutcome = { stats: {}, problems: [] };
    for (const split of VINDR_SPLITS.filter((s) => splits.has(s))) {
      const stats = emptyStats(this.taxonomy);
      let agreementSum = 0;
      let agreementN = 0;
      const digests: string[] = [];
      const files = csvPaths(split);
      await streamFileAtomic(path.join(this.staging(version), files.annotations), (out) =>
        writeVindrAnnotationsCsv(this.records(version, split), out, this.taxonomy, split),
      );
      const onImage = (e: SnapshotEntry, recs: ReaderRecord[], extra: { agreement?: { overall?: number; flagged?: boolean } }): void => {
        stats.images++;
        stats.policies[e.policy] = (stats.policies[e.policy] ?? 0) + 1;
        const readers = split === 'train' ? recs.length : 0;
        if (split === 'train') stats.readersPerScan[String(readers)] = (stats.readersPerScan[String(readers)] ?? 0) + 1;
        if (typeof extra.agreement?.overall === 'number') {
          agreementSum += extra.agreement.overall;
          agreementN++;
        }
        if (extra.agreement?.flagged) stats.flaggedForReview++;
        if (recs.length === 0) {
          outcome.problems.push({
            code: 'missing-labels',
            imageId: e.imageId,
            detail: split === 'train' ? 'no reader reading is stored for this image' : 'no final (consensus) labels are stored for this image',
          });
        }
        // A label the taxonomy does not name has no column in image_labels_*.csv (it would be left out) and no place
        // in the README's taxonomy (annotations_*.csv would carry it as-is): the gate refuses the release instead.
        const outside = [...new Set(recs.flatMap((r) => labelsOutside(this.taxonomy, r.reading)))].sort(compareStrings);
        if (outside.length > 0) {
          outcome.problems.push({
            code: 'labels-outside-taxonomy',
            imageId: e.imageId,
            detail:
              `scan ${e.scanId}: ${split === 'train' ? 'its readers’ readings carry' : 'its final (consensus) labels carry'} ` +
              `labels outside the taxonomy ${this.taxonomy.version}: ${outside.join(', ')}`,
          });
        }
        const present = new Set<string>();
        const rows: string[][] = [];
        for (const r of recs) {
          stats.boxes += r.reading.boxes.length;
          const labels = new Set([...r.reading.globalLabels, ...r.reading.boxes.map((b) => b.label)]);
          for (const l of labels) {
            if (stats.rowsPerLabel[l] !== undefined) stats.rowsPerLabel[l]++;
            present.add(l);
          }
          rows.push(...vindrAnnotationRowsFor(r, this.taxonomy, split), vindrImageLabelsRowFor(r, this.taxonomy, split));
        }
        for (const l of present) if (stats.imagesPerLabel[l] !== undefined) stats.imagesPerLabel[l]++;
        digests.push(`${JSON.stringify({ imageId: e.imageId, labelsSha256: sha256(JSON.stringify(rows)) })}\n`);
      };
      await streamFileAtomic(path.join(this.staging(version), files.imageLabels), (out) =>
        writeVindrImageLabelsCsv(this.records(version, split, onImage), out, this.taxonomy, split),
      );
      stats.meanAgreement = agreementN > 0 ? Math.round((agreementSum / agreementN) * 1000) / 1000 : null;
      outcome.stats[split] = stats;
      await writeFileAtomic(this.work(version, `labels-${split}.jsonl`), digests.join(''));
    }
    await writeFileAtomic(outcomeFile, JSON.stringify(outcome));
    return outcome;
  }

  // ---- 4. gate ----------------------------------------------------------------------------------------------------

  /**
   * The publication gate: every image present and checked, every image labelled with labels of the taxonomy only
   * (`writeLabels` records the images that are not), pseudonyms stable.
   */
  async gate(version: string, previousVersion: string | null): Promise<GateOutcome> {
    const problems: GateProblem[] = [];
    let problemCount = 0;
    const add = (p: GateProblem): void => {
      problemCount++;
      if (problems.length < MAX_LISTED_PROBLEMS) problems.push(p);
    };
    let snapshotCount = 0;
    for await (const e of this.entries(version)) {
      void e;
      snapshotCount++;
    }
    let checked = 0;
    for await (const r of this.imageResults(version)) {
      checked++;
      for (const p of r.problems) add(p);
      if (r.problems.length === 0 && !(await exists(path.join(this.staging(version), imagePath(r.split, r.imageId))))) {
        add({ code: 'missing-file', imageId: r.imageId, detail: 'the copied file is gone from the staging directory' });
      }
    }
    if (snapshotCount === 0) add({ code: 'no-images', detail: 'no released scan in the chosen splits: nothing to publish' });
    if (checked !== snapshotCount) add({ code: 'missing-file', detail: `${snapshotCount - checked} image(s) of the snapshot were not copied and checked` });
    const labels = JSON.parse(await fsp.readFile(this.work(version, 'labels.json'), 'utf8')) as LabelsOutcome;
    for (const p of labels.problems) add(p);
    const now = await pseudonymMap(this.ds);
    const atSnapshot = JSON.parse(await fsp.readFile(this.work(version, 'pseudonyms.json'), 'utf8')) as Record<string, string>;
    const previous: Record<string, string> = previousVersion
      ? (((await this.ds.query(`SELECT pseudonyms FROM releases WHERE version = $1`, [previousVersion])) as { pseudonyms: Record<string, string> | null }[])[0]
          ?.pseudonyms ?? {})
      : {};
    for (const [reader, pseudonym] of [...Object.entries(previous), ...Object.entries(atSnapshot)]) {
      if (now.get(reader) !== pseudonym) {
        add({ code: 'pseudonym-moved', detail: `a reader published as ${pseudonym} is now ${now.get(reader) ?? 'without a pseudonym'}` });
      }
    }
    return { ok: problemCount === 0, problems, problemCount, images: snapshotCount };
  }

  // ---- 5. publish -------------------------------------------------------------------------------------------------

  private async previousImages(previousVersion: string | null): Promise<Map<string, { split: string; labelsSha256: string; sha256: string }>> {
    const map = new Map<string, { split: string; labelsSha256: string; sha256: string }>();
    if (!previousVersion) return map;
    const manifestPath = path.join(releaseDir(this.root, previousVersion), MANIFEST_FILE);
    const manifest = JSON.parse(await fsp.readFile(manifestPath, 'utf8')) as { images: { image_id: string; split: string; labels_sha256: string; sha256: string }[] };
    for (const i of manifest.images) map.set(i.image_id, { split: i.split, labelsSha256: i.labels_sha256, sha256: i.sha256 });
    return map;
  }

  /** Writes README, manifest and checksums, and publishes by renaming the staging directory. Idempotent. */
  async publish(version: string, previousVersion: string | null): Promise<PublishOutcome> {
    const finalDir = releaseDir(this.root, version);
    const staged = this.staging(version);
    const summaryFile = path.join(this.root, '.staging', `${version}.published.json`);
    if (await this.isPublished(version)) {
      if (await exists(summaryFile)) return JSON.parse(await fsp.readFile(summaryFile, 'utf8')) as PublishOutcome;
      throw new ReleaseExistsError(version);
    }
    // A worker killed mid-write leaves its temp file behind (`.tmp-<pid>-…`): every step that wrote is done by now,
    // so whatever temp file remains belongs to no one and must not be published.
    await removeTempFiles(staged);
    const labels = JSON.parse(await fsp.readFile(this.work(version, 'labels.json'), 'utf8')) as LabelsOutcome;
    const previous = await this.previousImages(previousVersion);
    const labelDigests = new Map<string, string>();
    for (const split of VINDR_SPLITS) {
      const file = this.work(version, `labels-${split}.jsonl`);
      if (!(await exists(file))) continue;
      const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
      for await (const line of rl) {
        if (!line) continue;
        const d = JSON.parse(line) as { imageId: string; labelsSha256: string };
        labelDigests.set(`${split}/${d.imageId}`, d.labelsSha256);
      }
    }
    const changes: Changes = { previousVersion, imagesAdded: [], imagesRemoved: [], labelsChanged: [], splitChanged: [] };
    const sums: { file: string; sha256: string }[] = [];
    const images: { image_id: string; split: VindrSplit; file: string; sha256: string; size: number; labels_sha256: string }[] = [];
    for await (const r of this.imageResults(version)) {
      const labelsSha256 = labelDigests.get(`${r.split}/${r.imageId}`) ?? '';
      const file = imagePath(r.split, r.imageId);
      images.push({ image_id: r.imageId, split: r.split, file, sha256: r.sha256, size: r.size, labels_sha256: labelsSha256 });
      sums.push({ file, sha256: r.sha256 });
      const before = previous.get(r.imageId);
      if (!before) changes.imagesAdded.push(r.imageId);
      else {
        if (before.split !== r.split) changes.splitChanged.push(r.imageId);
        else if (before.labelsSha256 !== labelsSha256) changes.labelsChanged.push(r.imageId);
        previous.delete(r.imageId);
      }
    }
    changes.imagesRemoved = [...previous.keys()].sort();
    const splits = VINDR_SPLITS.filter((s) => labels.stats[s] !== undefined);
    const csvFiles = splits.flatMap((s) => [csvPaths(s).annotations, csvPaths(s).imageLabels]);
    const manifest = {
      format: 'vindr-cxr',
      version,
      previous_version: previousVersion,
      taxonomy_version: this.taxonomy.version,
      verifier: this.verifier.name,
      splits: Object.fromEntries(splits.map((s) => [s, { images: labels.stats[s]!.images, ...csvPaths(s) }])),
      changes: {
        images_added: changes.imagesAdded,
        images_removed: changes.imagesRemoved,
        labels_changed: changes.labelsChanged,
        split_changed: changes.splitChanged,
      },
      images,
    };
    const manifestText = `${JSON.stringify(manifest, null, 1)}\n`;
    await writeFileAtomic(path.join(staged, MANIFEST_FILE), manifestText);
    const readme = renderReadme({ version, taxonomy: this.taxonomy, stats: labels.stats, changes, verifier: this.verifier.name });
    await writeFileAtomic(path.join(staged, README_FILE), readme);
    for (const f of [...csvFiles, README_FILE, MANIFEST_FILE]) sums.push({ file: f, sha256: await sha256File(path.join(staged, f)) });
    sums.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    await writeFileAtomic(path.join(staged, CHECKSUMS_FILE), sums.map((s) => `${s.sha256}  ${s.file}\n`).join(''));
    const outcome: PublishOutcome = {
      version,
      images: images.length,
      manifestSha256: sha256(manifestText),
      changes: {
        previousVersion,
        imagesAdded: changes.imagesAdded.length,
        imagesRemoved: changes.imagesRemoved.length,
        labelsChanged: changes.labelsChanged.length,
        splitChanged: changes.splitChanged.length,
      },
    };
    await writeFileAtomic(summaryFile, JSON.stringify(outcome));
    await fsp.rm(path.join(staged, WORK), { recursive: true, force: true });
    await fsp.mkdir(this.root, { recursive: true });
    // The publication: one rename. It fails if the version exists (never overwritten).
    await fsp.rename(staged, finalDir);
    await fsyncDir(this.root);
    return outcome;
  }

  /** Removes everything a failed release wrote (nothing of it was published). */
  async abandon(version: string): Promise<void> {
    await fsp.rm(this.staging(version), { recursive: true, force: true });
  }

  /** The restricted reader → pseudonym mapping the release was built with (kept in Postgres, never in files). */
  async pseudonymsAtSnapshot(version: string): Promise<Record<string, string>> {
    return JSON.parse(await fsp.readFile(this.work(version, 'pseudonyms.json'), 'utf8').catch(() => '{}')) as Record<string, string>;
  }
}
