import { Inject, Injectable } from '@nestjs/common';

import type { Config } from '../../config/config';
import { QuarantinedInputsRepository, ReadersRepository, ScansRepository, TasksRepository } from '../../db/repositories';
import { chooseReplacement, SCAN_SPLITS, SCAN_STAGES } from '../../domain';
import type { ScanSplit } from '../../domain';
import { CalibrationService } from '../calibration/calibration.service';
import { CONFIG } from '../deps';
import { taskSlotOf } from '../common/task-rows';
import { ValidationFailedError } from '../errors';
import { TemporalGateway } from '../temporal-gateway/temporal-gateway.service';
import {
  LabelStatsDto,
  MAX_THROUGHPUT_BUCKETS,
  OverdueStatsDto,
  PipelineStatsDto,
  ReaderStatsDto,
  ThroughputBucket,
  ThroughputDto,
  ThroughputQuery,
} from './stats.dto';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function round(x: number | null, digits = 4): number | null {
  if (x === null) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Rounds `t` down (`up`: up) to a UTC hour or day. */
export function bucketEdge(t: number, bucket: ThroughputBucket, up = false): number {
  const width = bucket === 'hour' ? HOUR_MS : DAY_MS;
  const down = Math.floor(t / width) * width;
  return up && down < t ? down + width : down;
}

/**
 * The manager board's figures (issue #14), each one an endpoint REST clients can use too: pipeline counts by stage
 * and split, throughput, per-reader workload and agreement, per-label agreement and the overdue list. SQL aggregates
 * in the repositories; the agreement figures through the calibration service (domain fusion/agreement code).
 */
@Injectable()
export class StatsService {
  constructor(
    private readonly scans: ScansRepository,
    private readonly tasks: TasksRepository,
    private readonly roster: ReadersRepository,
    private readonly quarantine: QuarantinedInputsRepository,
    private readonly calibration: CalibrationService,
    private readonly workflows: TemporalGateway,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** The Temporal UI's list of scan workflows matching a visibility query. */
  private listUrl(query: string): string {
    const { uiUrl, namespace } = this.config.temporal;
    return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
  }

  async pipeline(): Promise<PipelineStatsDto> {
    const [counts, open, quarantined, reasons] = await Promise.all([
      this.scans.countByStageAndSplit(),
      this.tasks.openCounts(),
      this.quarantine.count(),
      this.quarantine.countByReason(),
    ]);
    const splits = Object.fromEntries(SCAN_SPLITS.map((s) => [s, 0])) as Record<ScanSplit, number>;
    const stages = SCAN_STAGES.map((stage) => {
      const row = { stage, train: 0, test: 0, total: 0, workflowsUrl: this.listUrl(`Stage="${stage}"`) };
      for (const c of counts.filter((x) => x.stage === stage)) {
        row[c.split] += c.n;
        row.total += c.n;
        splits[c.split] += c.n;
      }
      return row;
    });
    return {
      total: stages.reduce((s, r) => s + r.total, 0),
      splits,
      stages,
      openTasks: open.open,
      overdueTasks: open.overdue,
      quarantinedInputs: quarantined,
      quarantineReasons: reasons.map((r) => ({ reason: r.reason, count: r.n })),
    };
  }

  async throughput(q: ThroughputQuery, now = Date.now()): Promise<ThroughputDto> {
    const bucket = q.bucket ?? 'hour';
    const to = bucketEdge(q.to ? Date.parse(q.to) : now, bucket, true);
    const from = bucketEdge(q.from ? Date.parse(q.from) : to - (bucket === 'hour' ? 48 * HOUR_MS : 30 * DAY_MS), bucket);
    if (!(from < to)) throw new ValidationFailedError([{ path: 'from', code: 'out-of-range', message: '`from` must be before `to`.' }]);
    const n = (to - from) / (bucket === 'hour' ? HOUR_MS : DAY_MS);
    if (n > MAX_THROUGHPUT_BUCKETS) {
      throw new ValidationFailedError([
        { path: 'from', code: 'out-of-range', message: `The window spans ${n} ${bucket}s; at most ${MAX_THROUGHPUT_BUCKETS} per request.` },
      ]);
    }
    const rows = await this.scans.releasedPerBucket(bucket, new Date(from), new Date(to));
    const series = rows.map((r) => ({ start: r.start.toISOString(), released: r.train + r.test, train: r.train, test: r.test }));
    return {
      bucket,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      total: series.reduce((s, p) => s + p.released, 0),
      series,
    };
  }

  async readers(): Promise<ReaderStatsDto> {
    const [roster, workload, agreement, report] = await Promise.all([
      this.roster.ofRole('radiologist'),
      this.tasks.workloadByReader(),
      this.calibration.agreementWithFused(),
      this.calibration.compute(),
    ]);
    const byReader = new Map(workload.map((w) => [w.reader_id, w]));
    return {
      items: roster.map((r) => {
        const w = byReader.get(r.id);
        const a = agreement.get(r.id);
        return {
          readerId: r.id,
          displayName: r.display_name,
          active: r.active,
          senior: r.senior,
          openTaskCap: r.open_task_cap,
          openTasks: w?.open ?? 0,
          overdueTasks: w?.overdue ?? 0,
          completedTasks: w?.submitted ?? 0,
          expiredTasks: w?.expired ?? 0,
          reassignedTasks: w?.reassigned ?? 0,
          medianReadSeconds: w ? round(w.median_read_seconds, 3) : null,
          agreement: a ? { scans: a.scans, meanBoxF1: round(a.meanBoxF1)!, meanGlobalF1: round(a.meanGlobalF1)! } : null,
        };
      }),
      poolMedianReadSeconds: round(report.pool.medianReadSeconds, 3),
    };
  }

  async labels(split?: ScanSplit): Promise<LabelStatsDto> {
    const report = await this.calibration.compute(split);
    return {
      reference: report.method.reference,
      scans: report.pool.scans,
      items: report.pool.labels.map((l) => ({
        label: l.label,
        kind: l.kind,
        readings: l.readings,
        positives: l.positives,
        positiveRate: round(l.positiveRate, 6),
        referencePositives: l.referencePositives,
        truePositives: l.truePositives,
        sensitivity: round(l.sensitivity, 6),
        precision: round(l.precision, 6),
        agreement: round(l.agreement, 6),
        boxF1: round(l.boxF1, 6),
      })),
    };
  }

  async overdue(limit = 100): Promise<OverdueStatsDto> {
    const [rows, counts, roster] = await Promise.all([
      this.tasks.managed({ status: 'open', overdue: true }, { limit }),
      this.tasks.openCounts(),
      this.roster.roster(),
    ]);
    const items = rows.slice(0, limit);
    const had = new Map<string, string[]>();
    for (const t of await this.tasks.ofScans([...new Set(items.map((t) => t.scan_id))])) {
      had.set(t.scan_id, [...(had.get(t.scan_id) ?? []), t.reader_id]);
    }
    return {
      total: counts.overdue,
      items: items.map((t) => {
        const choice = chooseReplacement({ roster, scanId: t.scan_id, role: t.role, excludedReaderIds: had.get(t.scan_id) ?? [t.reader_id] });
        return {
          ...taskSlotOf(t),
          scanId: t.scan_id,
          suggestedReaderId: choice.ok ? choice.readerIds[0] : null,
          workflowUrl: this.workflows.uiUrl(t.scan_id),
        };
      }),
    };
  }
}
