/**
 * The readers' track record of the adaptive decision (issue #16), kept by the worker instead of rebuilt per decision.
 *
 * The record covers the {@link TRACK_RECORD_SCANS} most recently released scans. Built from scratch it means reading
 * every reader reading of those scans (15,000 rows at 3 readers a scan) and matching each box against the fused boxes,
 * on every decision. {@link TrackRecordWindow} keeps what each scan of the window adds (`recordFusedScan` of that scan
 * alone) and their sum: a decision reads the window's keys (scan id and release time, from an index), summarises only
 * the scans that entered it (usually the few released since the last decision), takes away those that left it, and
 * answers the sum — the same record, count for count, as the one built from scratch (bench/track-record.ts prints both).
 * A scan whose release time changed is summarised again. The first decision of a worker process builds the whole
 * window once.
 *
 * May import: `src/domain`, `src/db/repositories` (and the entities' JSON types).
 */
import type { StoredBox } from '../db/entities/reading.entity';
import type { StoredFusedBox } from '../db/entities/scan-result.entity';
import { ReadingsRepository, ScanResultsRepository } from '../db/repositories';
import type { Db } from '../db/repositories';
import { emptyTrackRecord, mergeTrackRecord, recordFusedScan } from '../domain';
import type { ReaderReading, TrackRecord } from '../domain';

/** Released scans the readers' track record covers (the most recent; bounded so the record follows the campaign). */
export const TRACK_RECORD_SCANS = 5000;

/** Reader readings of released scans with their scan's fused boxes, by scan (the input of {@link trackRecordFromReadings}). */
export interface TrackRecordReading {
  scan_id: string;
  reader_id: string;
  boxes: StoredBox[];
  fused_boxes: StoredFusedBox[];
}

/**
 * The track record of released scans from all their reader readings (rows grouped by scan), `recordFusedScan` scan by
 * scan: what every decision computed before {@link TrackRecordWindow} (the reference it must equal).
 */
export function trackRecordFromReadings(rows: readonly TrackRecordReading[], record: TrackRecord = emptyTrackRecord()): TrackRecord {
  for (let i = 0; i < rows.length; ) {
    const scanId = rows[i].scan_id;
    const readings: ReaderReading[] = [];
    for (; i < rows.length && rows[i].scan_id === scanId; i++) readings.push({ readerId: rows[i].reader_id, reading: { boxes: rows[i].boxes, globalLabels: [] } });
    recordFusedScan(record, readings, { boxes: rows[i - 1].fused_boxes });
  }
  return record;
}

/** A copy of a track record (the kept one is never handed out). */
function copy(r: TrackRecord): TrackRecord {
  return {
    scans: r.scans,
    readers: Object.fromEntries(Object.entries(r.readers).map(([id, t]) => [id, { ...t }])),
    fusedBoxesByLabel: { ...r.fusedBoxesByLabel },
    unconfirmedBoxesByLabel: { ...r.unconfirmedBoxesByLabel },
  };
}

/**
 * The track record of the window of the `size` most recently released scans, kept in memory per worker process and
 * brought up to date with Postgres on every {@link load}.
 */
export class TrackRecordWindow {
  /** What each scan of the window adds, with the release time it was summarised at. */
  private readonly parts = new Map<string, { released: string; part: TrackRecord }>();
  private readonly sum = emptyTrackRecord();

  constructor(
    private readonly db: Db,
    private readonly size = TRACK_RECORD_SCANS,
  ) {}

  /** Scans summarised in memory (the window as last loaded). */
  get scansKept(): number {
    return this.parts.size;
  }

  /** The track record of the window as Postgres has it now. */
  async load(): Promise<TrackRecord> {
    const window = await new ScanResultsRepository(this.db).latestReleased(this.size);
    const entering = window.filter((w) => this.parts.get(w.scan_id)?.released !== w.released);
    const summaries = entering.length > 0 ? await this.summarise(entering.map((w) => w.scan_id)) : new Map<string, { released: string; part: TrackRecord }>();
    // From here on synchronous: calls overlapping at the awaits above each leave the window they read, whole.
    const released = new Map(window.map((w) => [w.scan_id, w.released]));
    for (const [scanId, kept] of this.parts) {
      if (released.get(scanId) === kept.released) continue;
      mergeTrackRecord(this.sum, kept.part, -1);
      this.parts.delete(scanId);
    }
    for (const w of entering) {
      if (this.parts.has(w.scan_id)) continue; // an overlapping call summarised it meanwhile
      // A scan without reader readings adds nothing (it is kept, so that it is not asked for again).
      const s = summaries.get(w.scan_id) ?? { released: w.released, part: emptyTrackRecord() };
      mergeTrackRecord(this.sum, s.part);
      // Released again between the two reads: kept under the time it was summarised at, so the next load redoes it.
      this.parts.set(w.scan_id, s);
    }
    return copy(this.sum);
  }

  /** What each of `scanIds` adds to the track record, from its readings and fused boxes. */
  private async summarise(scanIds: string[]): Promise<Map<string, { released: string; part: TrackRecord }>> {
    const rows = await new ReadingsRepository(this.db).forTrackRecordOf(scanIds);
    const out = new Map<string, { released: string; part: TrackRecord }>();
    for (let i = 0; i < rows.length; ) {
      const first = i;
      for (; i < rows.length && rows[i].scan_id === rows[first].scan_id; i++);
      out.set(rows[first].scan_id, { released: rows[first].released, part: trackRecordFromReadings(rows.slice(first, i)) });
    }
    return out;
  }
}
