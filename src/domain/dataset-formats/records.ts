/**
 * Input records of the exporters.
 */
import type { FusedResult } from '../fusion';
import type { Reading } from '../reading';

/** Which labels of a released scan an export carries: each reader's reading, or the scan's released (final) labels. */
export const LABEL_SETS = ['readers', 'final'] as const;
export type LabelSet = (typeof LABEL_SETS)[number];

/** One reader's reading of one image (per-reader exports). `readerId` is written as `rad_id`, as given. */
export interface ReaderRecord {
  imageId: string;
  readerId: string;
  reading: Reading;
}

/** The fused labels of one image with its size (COCO export). */
export interface FusedRecord {
  imageId: string;
  /** Image height in pixels. */
  rows: number;
  /** Image width in pixels. */
  columns: number;
  fused: FusedResult;
}

/** Formats a coordinate for CSV: shortest round-trip decimal (`691`, `1034.5`). */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`cannot export non-finite number ${n}`);
  return String(n);
}

/** Formats a box coordinate as the VinDr-CXR release does: rounded to 2 decimals, shortest form (`691`, `592.61`). */
export function formatCoordinate(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`cannot export non-finite number ${n}`);
  const r = Number(n.toFixed(2));
  return String(r === 0 ? 0 : r);
}
