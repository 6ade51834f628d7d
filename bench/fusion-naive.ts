/**
 * Naive O(n²)-per-insertion Weighted Boxes Fusion used only as the benchmark baseline.
 *
 * Same semantics as `fuseReadings(..., { method: 'wbf' })`, but written the straightforward way: all boxes
 * of all labels in one list, and on every insertion the fused box of every cluster is recomputed from all
 * of its members before it is compared with the new box.
 */
import type { Box, FusedBox, FusedResult, FusionSettings, ImageSize, ReaderReading } from '../src/domain';
import { compareContributions, iou } from '../src/domain';
import type { Contribution } from '../src/domain';

function fusedOf(members: readonly Contribution[]): Box {
  let sw = 0;
  let x0 = 0;
  let y0 = 0;
  let x1 = 0;
  let y1 = 0;
  for (const m of members) {
    sw += m.weight;
    x0 += m.weight * m.box.x_min;
    y0 += m.weight * m.box.y_min;
    x1 += m.weight * m.box.x_max;
    y1 += m.weight * m.box.y_max;
  }
  return { label: members[0].box.label, x_min: x0 / sw, y_min: y0 / sw, x_max: x1 / sw, y_max: y1 / sw };
}

/** Naive WBF with the same clustering rules (canonical order, IoU > threshold, one box per reader per cluster). */
export function naiveWbf(readings: readonly ReaderReading[], settings: FusionSettings, image: ImageSize): FusedResult {
  const all: Contribution[] = [];
  let total = 0;
  for (const r of readings) {
    const weight = r.weight ?? 1;
    total += weight;
    for (const box of r.reading.boxes) all.push({ readerId: r.readerId, weight, box });
  }
  all.sort((a, b) => (a.box.label < b.box.label ? -1 : a.box.label > b.box.label ? 1 : compareContributions(a, b)));
  const clusters: Contribution[][] = [];
  for (const c of all) {
    let best = -1;
    let bestIou = settings.iouThreshold;
    for (let k = 0; k < clusters.length; k++) {
      const members = clusters[k];
      if (members[0].box.label !== c.box.label || members.some((m) => m.readerId === c.readerId)) continue;
      const v = iou(fusedOf(members), c.box);
      if (v > bestIou) {
        bestIou = v;
        best = k;
      }
    }
    if (best >= 0) clusters[best].push(c);
    else clusters.push([c]);
  }
  const boxes: FusedBox[] = [];
  for (const members of clusters) {
    const readers = [...new Set(members.map((m) => m.readerId))].sort();
    if (readers.length < settings.quorum) continue;
    const f = fusedOf(members);
    boxes.push({
      ...f,
      x_min: Math.max(0, f.x_min),
      y_min: Math.max(0, f.y_min),
      x_max: Math.min(image.columns, f.x_max),
      y_max: Math.min(image.rows, f.y_max),
      score: members.reduce((s, m) => s + m.weight, 0) / total,
      readerIds: readers,
    });
  }
  boxes.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.x_min - b.x_min || a.y_min - b.y_min || a.x_max - b.x_max || a.y_max - b.y_max));
  return { boxes, globalLabels: [], method: 'wbf' };
}
