/**
 * VinDr-CXR / PhysioNet CSV layouts as pure row mappers (quoting is left to a CSV library).
 *
 * The layouts follow the files of the VinDr-CXR 1.0.0 release as public loaders read them:
 * - `annotations_train.csv`: `image_id, rad_id, class_name, x_min, y_min, x_max, y_max` — one row per box of each
 *   reader, plus one row with empty coordinates for a `No finding` reading.
 * - `image_labels_train.csv`: `image_id, rad_id`, then one 0/1 column per label in taxonomy order (a local label is
 *   1 when the reader drew at least one box of it).
 * - `annotations_test.csv` / `image_labels_test.csv`: the consensus of each image, so no `rad_id` column; the test
 *   labels file keeps the release's own spelling `Other disease` (train: `Other diseases`).
 * `rad_id` carries whatever the caller puts in `ReaderRecord.readerId` (the release writes pseudonyms R1…R17).
 * Coordinates are rounded to 2 decimals, as the release does.
 *
 * The test files' headers, checked against public code that reads the PhysioNet 1.0.0 files (issue #15):
 * - stan-hua/ped_vs_adults-cxr `src/scripts/prep_data.py`: `image_labels_train.csv` has `rad_id` (dropped before the
 *   majority vote); `image_labels_test.csv` is read with `index_col="image_id"` and no reader column is dropped (unlike
 *   VinDr-PCXR's `rad_ID`, dropped from both files), and its `Other disease` is renamed to the train spelling.
 * - PabloMessina/MedVQA `medvqa/datasets/vinbig/__init__.py`: 3 rows per image in `image_labels_train.csv`, 1 in
 *   `image_labels_test.csv`; test label columns spell `Other disease`, train `Other diseases`; both
 *   `annotations_{train,test}.csv` are read by `image_id, class_name, x_min, y_min, x_max, y_max`.
 * - matt-baugh/many-tasks-make-light-work `multitask_method/preprocessing/vindr_cxr_preproc.py`: the four file names
 *   under `annotations/`.
 * - A public VinDr-CXR evaluation audit (code corpus, repository not named by the index) states the official test box
 *   schema as exactly `image_id,class_name,x_min,y_min,x_max,y_max`.
 * The loaders read columns by name: they confirm the names and the absence of a reader column in the test files; the
 * test column order rests on that audit and the train order.
 */
import type { Taxonomy } from '../taxonomy';
import type { LabelSet, ReaderRecord } from './records';
import { formatCoordinate } from './records';

/** The two VinDr-CXR splits and their file layouts. */
export const VINDR_SPLITS = ['train', 'test'] as const;
export type VindrSplit = (typeof VINDR_SPLITS)[number];

/** Columns of `annotations_train.csv` (per reader). */
export const VINDR_ANNOTATION_COLUMNS = ['image_id', 'rad_id', 'class_name', 'x_min', 'y_min', 'x_max', 'y_max'] as const;
/** Columns of `annotations_test.csv` (consensus, one row set per image). */
export const VINDR_TEST_ANNOTATION_COLUMNS = ['image_id', 'class_name', 'x_min', 'y_min', 'x_max', 'y_max'] as const;

/** Label columns the release spells differently in its test labels file. */
export const VINDR_TEST_LABEL_SPELLING: Readonly<Record<string, string>> = Object.freeze({ 'Other diseases': 'Other disease' });

/** Whether a split's files carry `rad_id` (train: one row set per reader; test: the consensus). */
export function vindrHasRadId(split: VindrSplit): boolean {
  return split === 'train';
}

/** Which labels a split's files carry: train every reader's reading, test the final (consensus) labels of each image. */
export function vindrLabelSet(split: VindrSplit): LabelSet {
  return vindrHasRadId(split) ? 'readers' : 'final';
}

/** Header of `annotations_{split}.csv` (default: the per-reader train layout). */
export function vindrAnnotationsHeader(split: VindrSplit = 'train'): string[] {
  return vindrHasRadId(split) ? [...VINDR_ANNOTATION_COLUMNS] : [...VINDR_TEST_ANNOTATION_COLUMNS];
}

/** Rows of `annotations_{split}.csv` for one record (boxes in the reading's order). */
export function vindrAnnotationRowsFor(record: ReaderRecord, taxonomy: Taxonomy, split: VindrSplit = 'train'): string[][] {
  const lead = vindrHasRadId(split) ? [record.imageId, record.readerId] : [record.imageId];
  const rows = record.reading.boxes.map((b) => [
    ...lead,
    b.label,
    formatCoordinate(b.x_min),
    formatCoordinate(b.y_min),
    formatCoordinate(b.x_max),
    formatCoordinate(b.y_max),
  ]);
  if (record.reading.globalLabels.includes(taxonomy.noFinding)) {
    rows.push([...lead, taxonomy.noFinding, '', '', '', '']);
  }
  return rows;
}

/** Streams the rows of `annotations_{split}.csv` (without header) for many records. */
export function* vindrAnnotationRows(records: Iterable<ReaderRecord>, taxonomy: Taxonomy, split: VindrSplit = 'train'): Generator<string[]> {
  for (const record of records) yield* vindrAnnotationRowsFor(record, taxonomy, split);
}

/** Header of `image_labels_{split}.csv`: `image_id`, `rad_id` (train only), then every label in taxonomy order. */
export function vindrImageLabelsHeader(taxonomy: Taxonomy, split: VindrSplit = 'train'): string[] {
  if (vindrHasRadId(split)) return ['image_id', 'rad_id', ...taxonomy.labels.map((l) => l.name)];
  return ['image_id', ...taxonomy.labels.map((l) => VINDR_TEST_LABEL_SPELLING[l.name] ?? l.name)];
}

/** The `image_labels_{split}.csv` row of one record. */
export function vindrImageLabelsRowFor(record: ReaderRecord, taxonomy: Taxonomy, split: VindrSplit = 'train'): string[] {
  const present = new Set<string>([...record.reading.globalLabels, ...record.reading.boxes.map((b) => b.label)]);
  const lead = vindrHasRadId(split) ? [record.imageId, record.readerId] : [record.imageId];
  return [...lead, ...taxonomy.labels.map((l) => (present.has(l.name) ? '1' : '0'))];
}

/** Streams the rows of `image_labels_{split}.csv` (without header). */
export function* vindrImageLabelRows(records: Iterable<ReaderRecord>, taxonomy: Taxonomy, split: VindrSplit = 'train'): Generator<string[]> {
  for (const record of records) yield vindrImageLabelsRowFor(record, taxonomy, split);
}
