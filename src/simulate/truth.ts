import type { Box, Reading } from '../domain/reading';
import { VINDR_GLOBAL_LABELS, VINDR_LOCAL_LABELS } from '../domain/taxonomy';
import type { Rng } from './random';

/** The seeded ground truth of one synthetic scan: boxes in pixel coordinates and image-level labels. */
export interface Truth {
  boxes: Box[];
  globalLabels: string[];
}

const DISEASES = VINDR_GLOBAL_LABELS.filter((l) => l !== 'No finding');
/** Labels that occur often in VinDr-CXR come first; the generator draws from this skewed list. */
const COMMON = ['Aortic enlargement', 'Cardiomegaly', 'Pleural thickening', 'Pulmonary fibrosis', 'Lung Opacity', 'Nodule/Mass'];

/** About a third of scans have no finding (VinDr-CXR: ~70 % of training images are "No finding"; we want work). */
export function drawTruth(rng: Rng, rows: number, columns: number): Truth {
  if (rng.chance(0.3)) return { boxes: [], globalLabels: ['No finding'] };
  const n = rng.int(1, 4);
  const boxes: Box[] = [];
  for (let i = 0; i < n; i++) {
    const label = rng.chance(0.7) ? rng.pick(COMMON) : rng.pick(VINDR_LOCAL_LABELS);
    const w = Math.round(columns * (0.08 + rng.float() * 0.3));
    const h = Math.round(rows * (0.08 + rng.float() * 0.3));
    const x = rng.int(0, columns - w - 1);
    const y = rng.int(0, rows - h - 1);
    boxes.push({ label, x_min: x, y_min: y, x_max: x + w, y_max: y + h });
  }
  const globalLabels = rng.chance(0.5) ? [rng.pick(DISEASES)] : ['Other diseases'];
  return { boxes, globalLabels };
}

/** How one simulated radiologist errs. */
export interface ReaderNoise {
  /** Box corner jitter, as a fraction of the box size (standard deviation). */
  jitter: number;
  /** Probability of missing a true box. */
  missRate: number;
  /** Expected false-positive boxes per reading. */
  falsePositives: number;
  /** Probability of calling a true box by another label (a fixed confusion per reader). */
  labelBias: number;
  /** The label this reader confuses others with. */
  biasLabel: string;
}

export function drawNoise(rng: Rng, level: number): ReaderNoise {
  return {
    jitter: level * (0.03 + rng.float() * 0.07),
    missRate: level * (0.02 + rng.float() * 0.12),
    falsePositives: level * rng.float() * 0.4,
    labelBias: level * rng.float() * 0.1,
    biasLabel: rng.pick(VINDR_LOCAL_LABELS),
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

/** A reading of the truth by a reader with the given noise. */
export function noisyReading(truth: Truth, noise: ReaderNoise, rng: Rng, rows: number, columns: number): Reading {
  const boxes: Box[] = [];
  for (const b of truth.boxes) {
    if (rng.chance(noise.missRate)) continue;
    const w = b.x_max - b.x_min;
    const h = b.y_max - b.y_min;
    const j = (s: number): number => Math.round(rng.normal() * noise.jitter * s);
    const x0 = clamp(b.x_min + j(w), 0, columns - 2);
    const y0 = clamp(b.y_min + j(h), 0, rows - 2);
    const x1 = clamp(b.x_max + j(w), x0 + 1, columns - 1);
    const y1 = clamp(b.y_max + j(h), y0 + 1, rows - 1);
    const label = rng.chance(noise.labelBias) ? noise.biasLabel : b.label;
    boxes.push({ label, x_min: x0, y_min: y0, x_max: x1, y_max: y1 });
  }
  let fp = noise.falsePositives;
  while (fp > 0 && rng.chance(Math.min(1, fp))) {
    fp -= 1;
    const w = Math.round(columns * (0.05 + rng.float() * 0.15));
    const h = Math.round(rows * (0.05 + rng.float() * 0.15));
    const x = rng.int(0, columns - w - 1);
    const y = rng.int(0, rows - h - 1);
    boxes.push({ label: rng.pick(VINDR_LOCAL_LABELS), x_min: x, y_min: y, x_max: x + w, y_max: y + h });
  }
  const globalLabels = boxes.length === 0 ? ['No finding'] : truth.globalLabels.filter((l) => l !== 'No finding');
  return { boxes, globalLabels: globalLabels.length ? globalLabels : ['Other diseases'] };
}
