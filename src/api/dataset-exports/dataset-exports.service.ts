import type { Writable } from 'node:stream';

import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { ReadingsRepository, ScanResultsRepository, ScansRepository } from '../../db/repositories';
import type { ReleasedScanRecord } from '../../db/repositories';
import type { StoredBox, StoredFusedBox } from '../../db/entities';
import type { Config } from '../../config/config';
import { DEFAULT_POLICIES, isOneOf, POLICY_NAMES } from '../../domain';
import type { FusedRecord, ReaderRecord, ScanSplit } from '../../domain';
import { assignPseudonyms } from '../../releases/pseudonyms';
import { CONFIG, DATA_SOURCE } from '../deps';
import { findLabelsOutside, labelsOutsideTaxonomyError } from '../common/labels-outside-taxonomy';
import { CsvExport, FINAL_RAD_ID, LabelSet } from './dataset-exports.dto';
import { writeCocoJson, writeKaggleTrainCsv, writeVindrAnnotationsCsv, writeVindrImageLabelsCsv } from '../../releases/stream-writers';

/** Final boxes with the score and readers of the fused box they equal (score 1, no readers, for boxes a reviewer drew). */
function scoredFinalBoxes(finals: StoredBox[], fused: StoredFusedBox[]): StoredFusedBox[] {
  const key = (b: StoredBox): string => `${b.label}|${b.x_min}|${b.y_min}|${b.x_max}|${b.y_max}`;
  const byKey = new Map(fused.map((f) => [key(f), f]));
  return finals.map((b) => {
    const f = byKey.get(key(b));
    return { label: b.label, x_min: b.x_min, y_min: b.y_min, x_max: b.x_max, y_max: b.y_max, score: f?.score ?? 1, readerIds: f?.readerIds ?? [] };
  });
}

/** rad_id of a scan's final rows. */
function finalRadId(policy: string): string {
  const reviewers = isOneOf(POLICY_NAMES, policy) ? DEFAULT_POLICIES[policy].reviewers : 0;
  return reviewers > 0 ? FINAL_RAD_ID.consensus : FINAL_RAD_ID.fused;
}

/** Scans per page when streaming an export (keyset over scans.id on ix_scans_split_stage_id). */
const PAGE = 200;

/**
 * Streams released labels out of Postgres page by page (never the whole dataset in memory) into the domain's
 * dataset formats: per-reader readings or final labels for the CSVs, final labels for COCO.
 */
@Injectable()
export class DatasetExportsService {
  constructor(
    private readonly scans: ScansRepository,
    private readonly readings: ReadingsRepository,
    private readonly results: ScanResultsRepository,
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  private async *releasedScans(split: ScanSplit): AsyncGenerator<ReleasedScanRecord[]> {
    let after = '';
    for (;;) {
      const page = await this.scans.released(split, after, PAGE);
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1].id;
    }
  }

  /**
   * Every reader's reading (role `reader`) of the released scans of a split, by image then reader; `rad_id` is the
   * reader's stable pseudonym (R1…R17), never the login id.
   */
  async *readerRecords(split: ScanSplit): AsyncGenerator<ReaderRecord> {
    await assignPseudonyms(this.ds);
    for await (const scans of this.releasedScans(split)) {
      const rows = await this.readings.readersOf(scans.map((s) => s.id));
      const imageOf = new Map(scans.map((s) => [s.id, s.image_id.trim()]));
      for (const r of rows) {
        yield { imageId: imageOf.get(r.scan_id) ?? '', readerId: r.reader_id, reading: { boxes: r.boxes, globalLabels: r.global_labels } };
      }
    }
  }

  /** The final (released) labels of each released scan of a split, as one record per scan (rad_id: {@link FINAL_RAD_ID}). */
  async *finalRecords(split: ScanSplit): AsyncGenerator<ReaderRecord> {
    for await (const scans of this.releasedScans(split)) {
      const rows = await this.results.of(scans.map((s) => s.id));
      const byId = new Map(scans.map((s) => [s.id, s]));
      for (const r of rows) {
        const s = byId.get(r.scan_id)!;
        yield { imageId: s.image_id.trim(), readerId: finalRadId(s.policy), reading: { boxes: r.final_boxes, globalLabels: r.final_global_labels } };
      }
    }
  }

  /**
   * The final labels of the released scans of a split, for COCO: the fused labels for independent policies, the
   * confirmed consensus for consensus policies (boxes keep the score of the fused box they equal, else 1).
   */
  async *cocoRecords(split: ScanSplit): AsyncGenerator<FusedRecord> {
    for await (const scans of this.releasedScans(split)) {
      const rows = await this.results.of(scans.map((s) => s.id));
      const byId = new Map(scans.map((s) => [s.id, s]));
      for (const r of rows) {
        const s = byId.get(r.scan_id)!;
        yield {
          imageId: s.image_id.trim(),
          rows: s.rows,
          columns: s.columns,
          fused: {
            boxes: scoredFinalBoxes(r.final_boxes, r.fused_boxes),
            globalLabels: r.final_global_labels,
            method: r.method as FusedRecord['fused']['method'],
          },
        };
      }
    }
  }

  /**
   * Refuses an export, before anything is written, when a released scan of the split carries a label outside the
   * configured taxonomy (its labels were read under another label set): the formats have no column or category for
   * it, and an export that left it out or stopped halfway would be a wrong or truncated dataset.
   * @throws ConflictError `labels-outside-taxonomy` naming the scans (the first `NAMED_SCANS`) and their labels.
   */
  async assertLabelsInTaxonomy(split: ScanSplit, labels: LabelSet): Promise<void> {
    const { taxonomy } = this.config;
    const outside = await findLabelsOutside(this.scans, taxonomy, [{ split, labels }]);
    if (outside.total === 0) return;
    throw labelsOutsideTaxonomyError(
      taxonomy,
      outside,
      (n) => `released ${split} scan${n === 1 ? '' : 's'}`,
      'Nothing was exported: configure the taxonomy these scans were read with, or take them out of the export.',
      { extra: { labels } },
    );
  }

  csv(kind: CsvExport, split: ScanSplit, labels: LabelSet, out: Writable): Promise<void> {
    const records = labels === 'final' ? this.finalRecords(split) : this.readerRecords(split);
    // Final labels use the release's consensus layout (no rad_id, `Other disease`), readers' the per-reader layout.
    const layout = labels === 'final' ? 'test' : 'train';
    const writers = {
      annotations: () => writeVindrAnnotationsCsv(records, out, this.config.taxonomy, layout),
      image_labels: () => writeVindrImageLabelsCsv(records, out, this.config.taxonomy, layout),
      kaggle: () => writeKaggleTrainCsv(records, out, this.config.taxonomy),
    } satisfies Record<CsvExport, () => Promise<void>>;
    return writers[kind]();
  }

  coco(split: ScanSplit, out: Writable): Promise<void> {
    return writeCocoJson(() => this.cocoRecords(split), out, this.config.taxonomy, {
      info: { description: `ReadFlow final labels, split ${split} (${this.config.taxonomy.version})` },
    });
  }
}
