import { Inject, Injectable } from '@nestjs/common';
import { stringify } from 'csv-stringify/sync';

import { ReadersRepository, ReadingsRepository, ScanResultsRepository } from '../../db/repositories';
import type { CalibrationReadingRecord } from '../../db/repositories';
import type { Config } from '../../config/config';
import { calibrate, DEFAULT_CALIBRATION_ALPHA, readerAgreementWithFused } from '../../domain';
import type { CalibrationReading, CalibrationReport, ReaderAgreement, ReaderCalibration, ScanSplit } from '../../domain';
import { CONFIG } from '../deps';
import { NotFoundError } from '../errors';
import { GoldService } from '../gold/gold.service';
import type { CalibrationReportDto, GoldAccuracyDto, ReaderCalibrationResponseDto } from './calibration.dto';


function round(x: number | null, digits = 4): number | null {
  if (x === null) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Rounds every number of a figures object (rates to 4 digits) so answers, and their ETags, are stable. */
function rounded<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === 'number' && !Number.isInteger(v) ? round(v, 6) : v;
  return out as T;
}

/**
 * Reader calibration (issue #16) over the readers' readings of released scans: the domain's `calibrate` (Fisher's
 * exact test per reader and label vs the rest of the pool, Holm-corrected), the reference being the fused labels of
 * training scans and the consensus of test scans. Also the agreement figures the board's per-reader table shows.
 */
@Injectable()
export class CalibrationService {
  /**
   * Per split: the readings loaded for one version of the released results (`ScanResultsRepository.version`), and the
   * reports computed from them. Released results and their readings never change, so while the version stands the
   * board's polls cost one small query (a VinDr-sized campaign, 54,000 readings, takes ~1 s to calibrate).
   */
  private cache = new Map<string, { version: string; rows: Promise<CalibrationReadingRecord[]>; reports: Map<number, CalibrationReport>; agreement?: Map<string, ReaderAgreement> }>();

  constructor(
    private readonly readings: ReadingsRepository,
    private readonly readers: ReadersRepository,
    private readonly results: ScanResultsRepository,
    private readonly goldScans: GoldService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /**
   * Each reader's accuracy on the hidden gold scans (issue #16): box F1 (IoU ≥ 0.4) and label agreement with the gold
   * reference readings, over every gold task the reader submitted; null for a reader who has read no gold scan. Gold
   * scans are never released, so they never enter the calibration against fused labels above.
   */
  private async goldAccuracyByReader(readerId?: string): Promise<Map<string, GoldAccuracyDto>> {
    const { readers } = await this.goldScans.accuracy({ readerId });
    return new Map(readers.map((a) => [a.readerId, { scans: a.goldTasks, boxF1: round(a.boxF1, 6), labelAgreement: round(a.labelAgreement, 6) }]));
  }


  /** The readings of the current version of the released results (concurrent callers share one load). */
  private async load(
    split: ScanSplit | undefined,
  ): Promise<{ rows: Promise<CalibrationReadingRecord[]>; reports: Map<number, CalibrationReport>; agreement?: Map<string, ReaderAgreement> }> {
    const key = split ?? '*';
    const version = await this.results.version();
    const hit = this.cache.get(key);
    if (hit && hit.version === version) return hit;
    const entry = { version, rows: this.readings.forCalibration({ split }), reports: new Map<number, CalibrationReport>() };
    this.cache.set(key, entry);
    entry.rows.catch(() => {
      if (this.cache.get(key) === entry) this.cache.delete(key);
    });
    return entry;
  }

  private static toReading(r: CalibrationReadingRecord): CalibrationReading {
    const test = r.split === 'test';
    return {
      readerId: r.reader_id,
      scanId: r.scan_id,
      split: r.split,
      boxes: r.boxes,
      globalLabels: r.global_labels,
      reference: test ? { boxes: r.final_boxes, globalLabels: r.final_global_labels } : { boxes: r.fused_boxes, globalLabels: r.fused_global_labels },
      readSeconds: r.read_seconds === null ? null : Number(r.read_seconds),
    };
  }

  /** The domain report. */
  async compute(split?: ScanSplit, alpha = DEFAULT_CALIBRATION_ALPHA): Promise<CalibrationReport> {
    const entry = await this.load(split);
    const rows = await entry.rows;
    let report = entry.reports.get(alpha);
    if (!report) {
      report = calibrate(rows.map(CalibrationService.toReading), this.config.taxonomy, { alpha });
      entry.reports.set(alpha, report);
    }
    return report;
  }

  /** Each reader's agreement with the fused labels (as `GET /readers`: domain `readerAgreementWithFused`). */
  async agreementWithFused(): Promise<Map<string, ReaderAgreement>> {
    const entry = await this.load(undefined);
    const rows = await entry.rows;
    if (!entry.agreement) {
      const scans = rows.map((r) => ({
        readings: [{ readerId: r.reader_id, reading: { boxes: r.boxes, globalLabels: r.global_labels } }],
        fused: { boxes: r.fused_boxes, globalLabels: r.fused_global_labels, method: 'wbf' as const },
      }));
      entry.agreement = new Map(readerAgreementWithFused(scans).map((a) => [a.readerId, a]));
    }
    return entry.agreement;
  }

  async report(split?: ScanSplit, alpha?: number): Promise<CalibrationReportDto> {
    const report = await this.compute(split, alpha);
    const names = await this.displayNames();
    const gold = await this.goldAccuracyByReader();
    return {
      method: rounded(report.method),
      pool: {
        ...rounded({ readers: report.pool.readers, readings: report.pool.readings, scans: report.pool.scans, medianReadSeconds: report.pool.medianReadSeconds, boxF1: report.pool.boxF1 }),
        labels: report.pool.labels.map(rounded),
      },
      readers: report.readers.map((r) => ({
        readerId: r.readerId,
        displayName: names.get(r.readerId) ?? null,
        readings: r.readings,
        medianReadSeconds: round(r.medianReadSeconds, 3),
        boxF1: round(r.boxF1, 6),
        flagged: r.flagged,
        flaggedLabels: r.flaggedLabels,
        labels: r.labels.map((l) => ({ ...rounded({ ...l, test: undefined }), test: l.test && rounded(l.test) })),
        gold: gold.get(r.readerId) ?? null,
      })),
      flaggedReaders: report.readers.filter((r) => r.flagged).map((r) => r.readerId),
    };
  }

  async reader(readerId: string, split?: ScanSplit, alpha?: number): Promise<ReaderCalibrationResponseDto> {
    const who = await this.readers.get(readerId);
    if (!who) throw new NotFoundError('reader');
    const report = await this.compute(split, alpha);
    const r: ReaderCalibration =
      report.readers.find((x) => x.readerId === readerId) ??
      ({
        readerId,
        readings: 0,
        scans: 0,
        medianReadSeconds: null,
        boxF1: null,
        flagged: false,
        flaggedLabels: [],
        labels: report.pool.labels.map((p) => ({
          label: p.label,
          kind: p.kind,
          readings: 0,
          positives: 0,
          positiveRate: null,
          referencePositives: 0,
          truePositives: 0,
          sensitivity: null,
          precision: null,
          agreement: null,
          boxF1: null,
          test: null,
        })),
      } satisfies ReaderCalibration);
    return {
      method: rounded(report.method),
      reader: {
        readerId,
        displayName: who.display_name,
        readings: r.readings,
        scans: r.scans,
        medianReadSeconds: round(r.medianReadSeconds, 3),
        poolMedianReadSeconds: round(report.pool.medianReadSeconds, 3),
        boxF1: round(r.boxF1, 6),
        poolBoxF1: round(report.pool.boxF1, 6),
        flagged: r.flagged,
        flaggedLabels: r.flaggedLabels,
        labels: r.labels.map((l, i) => {
          const { label: _l, kind: _k, ...pool } = report.pool.labels[i];
          return { ...rounded({ ...l, test: undefined }), test: l.test && rounded(l.test), pool: rounded(pool) };
        }),
        gold: (await this.goldAccuracyByReader(readerId)).get(readerId) ?? null,
      },
    };
  }

  /** One CSV row per reader and label, the pool's figures beside the reader's (RFC 4180, csv-stringify). */
  async csv(split?: ScanSplit, alpha?: number): Promise<string> {
    const report = await this.compute(split, alpha);
    const names = await this.displayNames();
    const rows = report.readers.flatMap((r) =>
      r.labels.map((l, i) => {
        const p = report.pool.labels[i];
        return {
          reader_id: r.readerId,
          display_name: names.get(r.readerId) ?? '',
          label: l.label,
          kind: l.kind,
          readings: l.readings,
          positives: l.positives,
          positive_rate: round(l.positiveRate, 6),
          pool_positive_rate: round(p.positiveRate, 6),
          rest_positive_rate: round(l.test?.restPositiveRate ?? null, 6),
          sensitivity: round(l.sensitivity, 6),
          pool_sensitivity: round(p.sensitivity, 6),
          precision: round(l.precision, 6),
          pool_precision: round(p.precision, 6),
          box_f1: round(l.boxF1, 6),
          pool_box_f1: round(p.boxF1, 6),
          median_read_seconds: round(r.medianReadSeconds, 3),
          pool_median_read_seconds: round(report.pool.medianReadSeconds, 3),
          p_value: l.test ? l.test.pValue : null,
          adjusted_p_value: l.test ? l.test.adjustedPValue : null,
          direction: l.test?.direction ?? '',
          flagged: l.test?.flagged ?? false,
        };
      }),
    );
    return stringify(rows, {
      header: true,
      columns: [
        'reader_id',
        'display_name',
        'label',
        'kind',
        'readings',
        'positives',
        'positive_rate',
        'pool_positive_rate',
        'rest_positive_rate',
        'sensitivity',
        'pool_sensitivity',
        'precision',
        'pool_precision',
        'box_f1',
        'pool_box_f1',
        'median_read_seconds',
        'pool_median_read_seconds',
        'p_value',
        'adjusted_p_value',
        'direction',
        'flagged',
      ],
      cast: { boolean: (v) => (v ? 'true' : 'false') },
      record_delimiter: '\r\n',
    });
  }

  private async displayNames(): Promise<Map<string, string>> {
    return new Map((await this.readers.ofRole('radiologist')).map((r) => [r.id, r.display_name]));
  }
}
