import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

import { LABEL_SETS, SCAN_SPLITS, vindrLabelSet } from '../../domain';
import type { LabelSet, ScanSplit } from '../../domain';

/** The CSV files of a split, as VinDr-CXR and the Kaggle VinBigData challenge publish them. */
export const CSV_EXPORTS = ['annotations', 'image_labels', 'kaggle'] as const;
export type CsvExport = (typeof CSV_EXPORTS)[number];

/** Which labels a CSV carries (declared in the domain, served by GET /meta). */
export { LABEL_SETS } from '../../domain';
export type { LabelSet } from '../../domain';

/** `rad_id` of final rows: the confirmed consensus review, or the fused labels of independent policies. */
export const FINAL_RAD_ID = { consensus: 'consensus', fused: 'fused' } as const;

/** The VinDr-CXR convention: the training set is published per reader, the test set as the consensus. */
export function defaultLabelSet(split: ScanSplit): LabelSet {
  return vindrLabelSet(split);
}

/** `annotations_test.csv`, `kaggle_train.csv`; with labels other than the split's default: `annotations_train_final.csv`. */
export function csvFileName(kind: CsvExport, split: ScanSplit, labels: LabelSet): string {
  return `${kind}_${split}${labels === defaultLabelSet(split) ? '' : `_${labels}`}.csv`;
}

export class ExportQuery {
  @ApiPropertyOptional({ enum: SCAN_SPLITS, default: 'train' })
  @IsOptional()
  @IsIn(SCAN_SPLITS)
  split?: ScanSplit;
}

export class CsvExportQuery extends ExportQuery {
  @ApiPropertyOptional({
    enum: LABEL_SETS,
    description:
      'CSV exports only. `readers`: one row set per reader (rad_id = reader id). `final`: one row set per scan with its ' +
      `released labels, rad_id = "${FINAL_RAD_ID.consensus}" for consensus policies (the reviewers' confirmed labels) ` +
      `and "${FINAL_RAD_ID.fused}" for independent policies (the fused labels). Default: readers for split=train, ` +
      'final for split=test (as VinDr-CXR publishes its test set).',
  })
  @IsOptional()
  @IsIn(LABEL_SETS)
  labels?: LabelSet;
}
