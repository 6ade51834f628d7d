/**
 * The floor of bench:e2e: only Temporal's irreducible part of ReadFlow's reading protocol for one scan — one ingest
 * activity, N reading tasks each with a deadline timer and answered by an update (validated, accepted at once), one
 * release activity. No projection writes, no queries, no search attributes. Runs on its own task queue.
 */
import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

import type * as activities from './activities';

export const floorSubmitUpdate = defineUpdate<'accepted', [slot: number]>('submit');

const { floorIngest, floorRelease } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

export async function floorScan(input: { scanId: string; readers: number; deadlineMs: number }): Promise<void> {
  const answered = new Set<number>();
  setHandler(
    floorSubmitUpdate,
    (slot) => {
      answered.add(slot);
      return 'accepted';
    },
    {
      validator: (slot) => {
        if (!Number.isInteger(slot) || slot < 0 || slot >= input.readers) throw new Error(`no task ${slot}`);
        if (answered.has(slot)) throw new Error(`task ${slot} already answered`);
      },
    },
  );
  await floorIngest(input.scanId);
  // One deadline timer per task, as ReadFlow keeps one per open task.
  await Promise.all(Array.from({ length: input.readers }, (_, slot) => condition(() => answered.has(slot), input.deadlineMs)));
  await floorRelease(input.scanId);
}
