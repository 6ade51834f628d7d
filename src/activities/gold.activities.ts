/**
 * Activities of the gold scheduler: what it observes of the readers and of the open gold scans (read-only).
 */
import type { DataSource } from 'typeorm';

import { GoldRepository } from '../db/repositories/gold.repository';

/** What `goldScheduler` sees each round. */
export interface GoldObservation {
  /** Active radiologists: ordinary reading tasks and gold tasks assigned so far, and whether a gold task is open. */
  readers: { readerId: string; ordinary: number; golds: number; openGold: boolean }[];
  /** Gold scans taking tasks, with every reader who ever had them. */
  goldScans: { scanId: string; readerIds: string[] }[];
}

export function createGoldActivities(deps: { dataSource: DataSource }) {
  const repo = new GoldRepository(deps.dataSource);
  return {
    async goldObservation(): Promise<GoldObservation> {
      const [counts, open] = await Promise.all([repo.readerCounts(), repo.open()]);
      return {
        readers: counts.map((c) => ({ readerId: c.reader_id, ordinary: c.ordinary, golds: c.golds, openGold: c.open_gold > 0 })),
        goldScans: open.map((g) => ({ scanId: g.scan_id, readerIds: [...g.reader_ids].sort() })),
      };
    },
  };
}

export type GoldActivities = ReturnType<typeof createGoldActivities>;
