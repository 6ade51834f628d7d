/**
 * `capacitySweeper` (one per task queue, id `capacity-sweeper-<taskQueue>`): the periodic sweep of reader capacity
 * (issue #12). Every `intervalMs` the `sweepCapacity` activity finds the scans whose workflow is gone (terminated,
 * cancelled, failed or timed out from outside: their own code never closed their tasks) yet still hold reader capacity
 * (`reserved`/`open` tasks) or a `reader_waitlist` entry; their tasks are cancelled and audited, their entries
 * removed (src/db/capacity-queue.ts). The waiting scans the freed readers can serve are then signalled
 * `readersAvailable` from here, as a projection write that freed readers does. A failed sweep (database down) is
 * reported by the `sweepStatus` query and tried again next round: the sweeper never fails. Continues as new every
 * few hundred rounds.
 *
 * May import: `@temporalio/workflow`, `import type` of the activities, the sweeper's and the scan's messages.
 */
import {
  ActivityFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityInterfaceFor } from '@temporalio/workflow';

import type { CapacityActivities } from '../activities/capacity.activities';
import type { CapacitySweepStatus, CapacitySweeperInput } from './capacity-sweeper.messages';
import { capacitySweepSettingsSignal, sweepStatusQuery } from './capacity-sweeper.messages';
import { readersAvailableSignal } from './scan-lifecycle.messages';

/** The sweep's activity with the run's retry budget (`input.retry`, default 5 attempts with backoff to 30 s). */
function sweepActivities(retry: CapacitySweeperInput['retry']): ActivityInterfaceFor<Pick<CapacityActivities, 'sweepCapacity'>> {
  return proxyActivities<Pick<CapacityActivities, 'sweepCapacity'>>({
    startToCloseTimeout: '5 minutes',
    retry: retry
      ? { initialInterval: Math.min(1000, retry.maximumIntervalMs), backoffCoefficient: 2, maximumInterval: retry.maximumIntervalMs, maximumAttempts: retry.maximumAttempts }
      : { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
  });
}

/** Rounds before continuing as new (keeps the history short: about 10 events a round, more when it wakes scans). */
const ROUNDS_PER_RUN = 300;

export async function capacitySweeper(input: CapacitySweeperInput): Promise<void> {
  const capacity = sweepActivities(input.retry);
  let intervalMs = input.intervalMs;
  let kicked = false;
  const st: CapacitySweepStatus = { intervalMs, rounds: input.totals?.rounds ?? 0, released: input.totals?.released ?? 0, woken: input.totals?.woken ?? 0 };
  setHandler(capacitySweepSettingsSignal, (s) => {
    if (Number.isInteger(s.intervalMs) && s.intervalMs > 0) intervalMs = st.intervalMs = s.intervalMs;
    kicked = true;
  });
  setHandler(sweepStatusQuery, () => st);

  for (let round = 0; round < ROUNDS_PER_RUN && !workflowInfo().continueAsNewSuggested; round++) {
    kicked = false;
    try {
      const r = await capacity.sweepCapacity.executeWithOptions({ summary: 'release capacity held by closed scan workflows' }, []);
      await Promise.all(
        r.wake.map(async (scanId) => {
          try {
            await getExternalWorkflowHandle(scanId).signal(readersAvailableSignal);
          } catch {
            // Closed meanwhile: the next sweep takes it off the queue.
          }
        }),
      );
      st.released += r.released.length;
      st.woken += r.wake.length;
      st.last = { at: new Date().toISOString(), checked: r.checked, released: r.released, woken: r.wake.length };
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const failure = err.cause?.message ?? err.message;
      log.warn('Capacity sweep failed; trying again next round', { failure });
      st.last = { at: new Date().toISOString(), checked: 0, released: [], woken: 0, failure };
    }
    st.rounds += 1;
    await condition(() => kicked, intervalMs, { summary: 'next capacity sweep' });
  }
  await continueAsNew<typeof capacitySweeper>({
    intervalMs,
    ...(input.retry ? { retry: input.retry } : {}),
    totals: { rounds: st.rounds, released: st.released, woken: st.woken },
  });
}
