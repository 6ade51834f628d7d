/**
 * Kaggle VinBigData `train.csv` layout as a pure row mapper:
 * `image_id, class_name, class_id, rad_id, x_min, y_min, x_max, y_max`.
 *
 * Only labels with a Kaggle class id are exported; No finding is class 14 with empty coordinates.
 * Box labels without a Kaggle id (e.g. Clavicle fracture) are skipped unless `mapUnmappedTo` names a
 * label that has one (e.g. `Other lesion`). Other global labels are not part of `train.csv`.
 */
import type { Taxonomy } from '../taxonomy';
import { findLabel } from '../taxonomy';
import type { ReaderRecord } from './records';
import { formatNumber } from './records';

/** Options of the Kaggle export. */
export interface KaggleExportOptions {
  /** Label (with a Kaggle id) used for box labels that have none; default: skip such boxes. */
  mapUnmappedTo?: string;
}

/** Header of Kaggle `train.csv`. */
export function kaggleTrainHeader(): string[] {
  return ['image_id', 'class_name', 'class_id', 'rad_id', 'x_min', 'y_min', 'x_max', 'y_max'];
}

/**
 * Rows of Kaggle `train.csv` for one reader record.
 * @throws RangeError when `mapUnmappedTo` is not a label with a Kaggle class id.
 */
export function kaggleTrainRowsFor(record: ReaderRecord, taxonomy: Taxonomy, opts: KaggleExportOptions = {}): string[][] {
  let fallback: { name: string; id: number } | undefined;
  if (opts.mapUnmappedTo !== undefined) {
    const def = findLabel(taxonomy, opts.mapUnmappedTo);
    if (def?.kaggleClassId === undefined) throw new RangeError(`"${opts.mapUnmappedTo}" has no Kaggle class id`);
    fallback = { name: def.name, id: def.kaggleClassId };
  }
  const rows: string[][] = [];
  for (const b of record.reading.boxes) {
    const def = findLabel(taxonomy, b.label);
    const target = def?.kaggleClassId !== undefined ? { name: def.name, id: def.kaggleClassId } : fallback;
    if (!target) continue;
    rows.push([
      record.imageId,
      target.name,
      String(target.id),
      record.readerId,
      formatNumber(b.x_min),
      formatNumber(b.y_min),
      formatNumber(b.x_max),
      formatNumber(b.y_max),
    ]);
  }
  if (record.reading.globalLabels.includes(taxonomy.noFinding)) {
    const id = findLabel(taxonomy, taxonomy.noFinding)?.kaggleClassId;
    if (id !== undefined) rows.push([record.imageId, taxonomy.noFinding, String(id), record.readerId, '', '', '', '']);
  }
  return rows;
}

/** Streams the rows of Kaggle `train.csv` (without header). */
export function* kaggleTrainRows(records: Iterable<ReaderRecord>, taxonomy: Taxonomy, opts: KaggleExportOptions = {}): Generator<string[]> {
  for (const record of records) yield* kaggleTrainRowsFor(record, taxonomy, opts);
}
