/**
 * Fusion of several readers' readings of one scan into one proposal: Weighted Boxes Fusion
 * (default), plain majority vote, or union, plus majority vote on global labels.
 *
 * The result depends only on the *content* of the readings (reader ids, weights, boxes), never on
 * the order of readers or boxes: boxes are processed in a canonical order before clustering.
 */
import { clampToImage, compareBoxes } from './geometry';
import type { FusionSettings } from './policy';
import { compareStrings } from './problems';
import type { Box, ImageSize, Reading } from './reading';
import type { Taxonomy } from './taxonomy';
import { DEFAULT_NO_FINDING } from './taxonomy';

/** One reader's reading, with an optional weight (default 1; must be finite and > 0). */
export interface ReaderReading {
  readerId: string;
  reading: Reading;
  weight?: number;
}

/** A fused box with its support. */
export interface FusedBox extends Box {
  /** Share of the total reader weight behind this box, in (0, 1]; 1 when every reader drew it. */
  score: number;
  /** Distinct readers that contributed, sorted. */
  readerIds: string[];
}

/** The fused proposal for a scan. Boxes are sorted by label then coordinates; global labels by name. */
export interface FusedResult {
  boxes: FusedBox[];
  globalLabels: string[];
  method: FusionSettings['method'];
}

/** Default fusion: WBF at IoU 0.5 with 2 of 3 readers. */
export const DEFAULT_FUSION: Readonly<FusionSettings> = Object.freeze({ method: 'wbf', iouThreshold: 0.5, quorum: 2 });

/** A box tagged with its reader, as processed by the clustering. */
export interface Contribution {
  readerId: string;
  weight: number;
  box: Box;
}

/** Canonical processing order: higher weight first, then coordinates, then reader id. */
export function compareContributions(a: Contribution, b: Contribution): number {
  return b.weight - a.weight || compareBoxes(a.box, b.box) || compareStrings(a.readerId, b.readerId);
}

/** Internal state of one cluster during greedy clustering. */
export interface Cluster {
  readers: Set<string>;
  members: Contribution[];
  /** Coordinates of the first member; sums are kept relative to it so identical boxes fuse exactly. */
  bx0: number;
  by0: number;
  bx1: number;
  by1: number;
  sw: number;
  sdx0: number;
  sdy0: number;
  sdx1: number;
  sdy1: number;
  /** Current fused box (WBF) or seed box (majority). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  area: number;
}

function newCluster(c: Contribution): Cluster {
  const { x_min, y_min, x_max, y_max } = c.box;
  return {
    readers: new Set([c.readerId]),
    members: [c],
    bx0: x_min,
    by0: y_min,
    bx1: x_max,
    by1: y_max,
    sw: c.weight,
    sdx0: 0,
    sdy0: 0,
    sdx1: 0,
    sdy1: 0,
    x0: x_min,
    y0: y_min,
    x1: x_max,
    y1: y_max,
    area: (x_max - x_min) * (y_max - y_min),
  };
}

function addToCluster(k: Cluster, c: Contribution, updateFused: boolean): void {
  k.readers.add(c.readerId);
  k.members.push(c);
  const w = c.weight;
  k.sw += w;
  k.sdx0 += w * (c.box.x_min - k.bx0);
  k.sdy0 += w * (c.box.y_min - k.by0);
  k.sdx1 += w * (c.box.x_max - k.bx1);
  k.sdy1 += w * (c.box.y_max - k.by1);
  if (updateFused) {
    k.x0 = k.bx0 + k.sdx0 / k.sw;
    k.y0 = k.by0 + k.sdy0 / k.sw;
    k.x1 = k.bx1 + k.sdx1 / k.sw;
    k.y1 = k.by1 + k.sdy1 / k.sw;
    k.area = Math.max(0, k.x1 - k.x0) * Math.max(0, k.y1 - k.y0);
  }
}

/**
 * Greedy clustering of one label's contributions (already in canonical order): each box joins the
 * cluster — not yet holding a box of the same reader — whose current box has the highest IoU with it,
 * if that IoU is strictly greater than `iouThreshold`; otherwise it starts a new cluster. Ties go to the
 * older cluster. With `updateFused` (WBF) a cluster's box is the running weighted mean; otherwise it
 * stays the seed box.
 */
export function clusterContributions(sorted: readonly Contribution[], iouThreshold: number, updateFused: boolean): Cluster[] {
  const clusters: Cluster[] = [];
  for (const c of sorted) {
    const { x_min, y_min, x_max, y_max } = c.box;
    const area = (x_max - x_min) * (y_max - y_min);
    let best: Cluster | undefined;
    let bestIou = iouThreshold;
    for (const k of clusters) {
      if (k.readers.has(c.readerId)) continue;
      const w = Math.min(x_max, k.x1) - Math.max(x_min, k.x0);
      if (w <= 0) continue;
      const h = Math.min(y_max, k.y1) - Math.max(y_min, k.y0);
      if (h <= 0) continue;
      const inter = w * h;
      const union = area + k.area - inter;
      const v = union > 0 ? inter / union : 0;
      if (v > bestIou) {
        bestIou = v;
        best = k;
      }
    }
    if (best) addToCluster(best, c, updateFused);
    else clusters.push(newCluster(c));
  }
  return clusters;
}

function median(values: number[]): number {
  const s = values.sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : s[m - 1] + (s[m] - s[m - 1]) / 2;
}

function checkSettings(settings: FusionSettings): void {
  if (!(settings.iouThreshold >= 0 && settings.iouThreshold < 1)) {
    throw new RangeError(`fusion.iouThreshold must be in [0, 1), got ${settings.iouThreshold}`);
  }
  if (!(Number.isInteger(settings.quorum) && settings.quorum >= 1)) {
    throw new RangeError(`fusion.quorum must be a positive integer, got ${settings.quorum}`);
  }
  if (settings.method !== 'wbf' && settings.method !== 'majority' && settings.method !== 'union') {
    throw new RangeError(`unknown fusion method ${String(settings.method)}`);
  }
}

/**
 * Fuses the readings of one scan.
 *
 * Boxes, per label:
 * - `wbf`: greedy clustering against each cluster's running fused box (IoU > `iouThreshold`), a reader
 *   contributing at most one box per cluster; coordinates are the reader-weighted mean.
 * - `majority`: the same clustering against each cluster's seed box; coordinates are the unweighted
 *   coordinate-wise median of the members.
 * - `union`: every box is kept (identical boxes of several readers are merged).
 *
 * `wbf` and `majority` keep a cluster only if at least `quorum` distinct readers contributed.
 * `score` is the share of the total reader weight behind a box. Fused boxes are clamped into the image
 * (boxes that would become empty are dropped).
 *
 * Global labels: a label survives when the readers reporting it hold a strict majority of the total
 * weight (`union`: when any reader reports it). The taxonomy's No-finding label survives only if it
 * wins that vote **and** no box and no other global label survives; if nothing survives at all, the
 * result is empty (no agreement — a case for review, never silently "No finding").
 *
 * @throws RangeError on invalid settings, non-positive weights or duplicate reader ids.
 */
export function fuseReadings(
  readings: readonly ReaderReading[],
  settings: FusionSettings,
  image: ImageSize,
  taxonomy?: Taxonomy,
): FusedResult {
  checkSettings(settings);
  const noFinding = taxonomy?.noFinding ?? DEFAULT_NO_FINDING;
  const seenReaders = new Set<string>();
  let totalWeight = 0;
  const byLabel = new Map<string, Contribution[]>();
  const labelWeight = new Map<string, number>();
  for (const rr of readings) {
    if (seenReaders.has(rr.readerId)) throw new RangeError(`duplicate reader ${rr.readerId} in fusion input`);
    seenReaders.add(rr.readerId);
    const weight = rr.weight ?? 1;
    if (!(weight > 0 && Number.isFinite(weight))) throw new RangeError(`reader ${rr.readerId} has invalid weight ${weight}`);
    totalWeight += weight;
    for (const box of rr.reading.boxes) {
      if (box.label === noFinding) continue;
      let list = byLabel.get(box.label);
      if (!list) byLabel.set(box.label, (list = []));
      list.push({ readerId: rr.readerId, weight, box });
    }
    for (const label of new Set(rr.reading.globalLabels)) {
      labelWeight.set(label, (labelWeight.get(label) ?? 0) + weight);
    }
  }

  const boxes: FusedBox[] = [];
  const labels = [...byLabel.keys()].sort(compareStrings);
  for (const label of labels) {
    const contributions = byLabel.get(label) as Contribution[];
    contributions.sort(compareContributions);
    if (settings.method === 'union') {
      for (const fb of unionBoxes(contributions, totalWeight)) pushClamped(boxes, fb, image);
      continue;
    }
    const isWbf = settings.method === 'wbf';
    for (const k of clusterContributions(contributions, settings.iouThreshold, isWbf)) {
      if (k.readers.size < settings.quorum) continue;
      let x0 = k.x0;
      let y0 = k.y0;
      let x1 = k.x1;
      let y1 = k.y1;
      if (!isWbf) {
        x0 = median(k.members.map((m) => m.box.x_min));
        y0 = median(k.members.map((m) => m.box.y_min));
        x1 = median(k.members.map((m) => m.box.x_max));
        y1 = median(k.members.map((m) => m.box.y_max));
      }
      pushClamped(
        boxes,
        { label, x_min: x0, y_min: y0, x_max: x1, y_max: y1, score: k.sw / totalWeight, readerIds: [...k.readers].sort(compareStrings) },
        image,
      );
    }
  }
  boxes.sort((a, b) => compareBoxes(a, b) || b.score - a.score);

  const survives = (label: string): boolean => {
    const w = labelWeight.get(label) ?? 0;
    return settings.method === 'union' ? w > 0 : 2 * w > totalWeight;
  };
  const globalLabels = [...labelWeight.keys()].filter((l) => l !== noFinding && survives(l)).sort(compareStrings);
  if (boxes.length === 0 && globalLabels.length === 0 && survives(noFinding)) globalLabels.push(noFinding);
  return { boxes, globalLabels, method: settings.method };
}

function unionBoxes(sorted: readonly Contribution[], totalWeight: number): FusedBox[] {
  const out: FusedBox[] = [];
  const byKey = new Map<string, { fb: FusedBox; w: number }>();
  for (const c of sorted) {
    const key = `${c.box.x_min},${c.box.y_min},${c.box.x_max},${c.box.y_max}`;
    const prior = byKey.get(key);
    if (prior) {
      if (!prior.fb.readerIds.includes(c.readerId)) {
        prior.fb.readerIds.push(c.readerId);
        prior.w += c.weight;
        prior.fb.score = prior.w / totalWeight;
      }
      continue;
    }
    const { label, x_min, y_min, x_max, y_max } = c.box;
    const fb: FusedBox = { label, x_min, y_min, x_max, y_max, score: c.weight / totalWeight, readerIds: [c.readerId] };
    byKey.set(key, { fb, w: c.weight });
    out.push(fb);
  }
  for (const fb of out) fb.readerIds.sort(compareStrings);
  return out;
}

function pushClamped(out: FusedBox[], fb: FusedBox, image: ImageSize): void {
  const c = clampToImage(fb, image);
  if (c.x_max > c.x_min && c.y_max > c.y_min) out.push(c);
}

/** Drops scores and reader ids: the fused proposal as a plain {@link Reading} (e.g. for a reviewer to edit). */
export function fusedToReading(f: FusedResult): Reading {
  return {
    boxes: f.boxes.map((b) => ({ label: b.label, x_min: b.x_min, y_min: b.y_min, x_max: b.x_max, y_max: b.y_max })),
    globalLabels: [...f.globalLabels],
  };
}
