/**
 * Box geometry shared by validation, fusion and agreement.
 */
import type { Box, ImageSize } from './reading';
import { compareStrings } from './problems';

/** Area of a box in square pixels (0 for degenerate or inverted boxes). */
export function boxArea(b: Box): number {
  return Math.max(0, b.x_max - b.x_min) * Math.max(0, b.y_max - b.y_min);
}

/**
 * Intersection over union of two boxes in continuous pixel coordinates (labels are ignored).
 * Returns 0 when the union is empty.
 */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x_max, b.x_max) - Math.max(a.x_min, b.x_min);
  if (w <= 0) return 0;
  const h = Math.min(a.y_max, b.y_max) - Math.max(a.y_min, b.y_min);
  if (h <= 0) return 0;
  const inter = w * h;
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Canonical box order: label, then x_min, y_min, x_max, y_max. */
export function compareBoxes(a: Box, b: Box): number {
  return (
    compareStrings(a.label, b.label) ||
    a.x_min - b.x_min ||
    a.y_min - b.y_min ||
    a.x_max - b.x_max ||
    a.y_max - b.y_max
  );
}

/** True when two boxes have the same label and coordinates. */
export function sameBox(a: Box, b: Box): boolean {
  return a.label === b.label && a.x_min === b.x_min && a.y_min === b.y_min && a.x_max === b.x_max && a.y_max === b.y_max;
}

/** Clamps a box into the image (`0 ≤ x ≤ columns`, `0 ≤ y ≤ rows`). */
export function clampToImage<B extends Box>(b: B, image: ImageSize): B {
  return {
    ...b,
    x_min: clamp(b.x_min, 0, image.columns),
    y_min: clamp(b.y_min, 0, image.rows),
    x_max: clamp(b.x_max, 0, image.columns),
    y_max: clamp(b.y_max, 0, image.rows),
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
