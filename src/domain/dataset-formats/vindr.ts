/**
 * VinDr-CXR / PhysioNet CSV layouts as pure row mappers (quoting is left to a CSV library).
 *
 * - `annotations_{split}.csv`: `image_id, rad_id, x_min, y_min, x_max, y_max, class_name` — one row per
 *   box, plus one row with empty coordinates and `class_name = No finding` for a No-finding reading.
 * - `image_labels_{split}.csv`: `image_id, rad_id`, then one 0/1 column per label in taxonomy order
 *   (a local label is 1 when the reader drew at least one box of it).
 */
import type { Taxonomy } from '../taxonomy';
import type { ReaderRecord } from './records';
import { formatNumber } from './records';

/** Header of `annotations_{split}.csv`. */
export function vindrAnnotationsHeader(): string[] {
  return ['image_id', 'rad_id', 'x_min', 'y_min', 'x_max', 'y_max', 'class_name'];
}

/** Rows of `annotations_{split}.csv` for one reader record (boxes in the reading's order). */
export function vindrAnnotationRowsFor(record: ReaderRecord, taxonomy: Taxonomy): string[][] {
  const rows = record.reading.boxes.map((b) => [
    record.imageId,
    record.readerId,
    formatNumber(b.x_min),
    formatNumber(b.y_min),
    formatNumber(b.x_max),
    formatNumber(b.y_max),
    b.label,
  ]);
  if (record.reading.globalLabels.includes(taxonomy.noFinding)) {
    rows.push([record.imageId, record.readerId, '', '', '', '', taxonomy.noFinding]);
  }
  return rows;
}

/** Streams the rows of `annotations_{split}.csv` (without header) for many records. */
export function* vindrAnnotationRows(records: Iterable<ReaderRecord>, taxonomy: Taxonomy): Generator<string[]> {
  for (const record of records) yield* vindrAnnotationRowsFor(record, taxonomy);
}

/** Header of `image_labels_{split}.csv`: `image_id, rad_id`, then every label in taxonomy order. */
export function vindrImageLabelsHeader(taxonomy: Taxonomy): string[] {
  return ['image_id', 'rad_id', ...taxonomy.labels.map((l) => l.name)];
}

/** The `image_labels_{split}.csv` row of one reader record. */
export function vindrImageLabelsRowFor(record: ReaderRecord, taxonomy: Taxonomy): string[] {
  const present = new Set<string>([...record.reading.globalLabels, ...record.reading.boxes.map((b) => b.label)]);
  return [record.imageId, record.readerId, ...taxonomy.labels.map((l) => (present.has(l.name) ? '1' : '0'))];
}

/** Streams the rows of `image_labels_{split}.csv` (without header). */
export function* vindrImageLabelRows(records: Iterable<ReaderRecord>, taxonomy: Taxonomy): Generator<string[]> {
  for (const record of records) yield vindrImageLabelsRowFor(record, taxonomy);
}
