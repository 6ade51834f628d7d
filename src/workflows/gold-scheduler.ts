/**
 * `goldScheduler` (one per namespace, id `gold-scheduler`): decides when each reader is due a gold task. It keeps a
 * durable per-reader counter (domain `goldStep`: the ordinary-task count at which the next gold task is due, a
 * seeded random gap of mean `every − 1`), looks at the readers' task counts every `checkIntervalMs` (activity
 * `goldObservation`), and for a reader who is due signals one open gold scan the reader never had (`assignGold`);
 * the reader is not asked again until the task is seen, and is due again if the gold scan refused (capacity).
 * Continues as new every few hundred rounds, carrying its counters.
 *
 * May import: `@temporalio/workflow`, `src/domain`, `import type` of the activities, and the gold messages.
 */
import { condition, continueAsNew, getExternalWorkflowHandle, proxyActivities, setHandler } from '@temporalio/workflow';

import type { GoldActivities } from '../activities/gold.activities';
import type { GoldCounter } from '../domain';
import { goldGiven, goldStep } from '../domain';
import type { GoldSchedulerInput } from './gold.messages';
import { assignGoldSignal, goldSettingsSignal } from './gold.messages';

const gold = proxyActivities<GoldActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 50 },
});

/** Rounds a signalled reader is left alone while the gold task is not yet seen. */
const ASK_ROUNDS = 5;
/** Rounds before continuing as new (keeps the history short). */
const ROUNDS_PER_RUN = 200;

export async function goldScheduler(input: GoldSchedulerInput): Promise<void> {
  let every = input.every;
  let checkIntervalMs = input.checkIntervalMs;
  let kicked = false;
  const counters = new Map<string, GoldCounter>(Object.entries(input.counters ?? {}));
  setHandler(goldSettingsSignal, (s) => {
    if (Number.isInteger(s.every) && s.every >= 2) every = s.every;
    if (Number.isInteger(s.checkIntervalMs) && s.checkIntervalMs > 0) checkIntervalMs = s.checkIntervalMs;
    kicked = true;
  });
  /** Readers signalled and not yet seen with the task: skipped for a few rounds (the gold scan may refuse: capacity). */
  const asked = new Map<string, { golds: number; rounds: number; before: GoldCounter }>();
  for (let round = 0; round < ROUNDS_PER_RUN; round++) {
    const seen = await gold.goldObservation();
    for (const r of seen.readers) {
      const { counter, due } = goldStep(counters.get(r.readerId), { ordinary: r.ordinary, golds: r.golds, openGold: r.openGold }, { every }, Math.random);
      counters.set(r.readerId, counter);
      const pending = asked.get(r.readerId);
      if (pending && r.golds <= pending.golds) {
        if (pending.rounds < ASK_ROUNDS) {
          pending.rounds += 1;
          continue;
        }
        // The gold scan refused (the reader was at capacity, or left): the reader is due again.
        counters.set(r.readerId, pending.before);
      }
      asked.delete(r.readerId);
      if (!due) continue;
      const candidates = seen.goldScans.filter((g) => !g.readerIds.includes(r.readerId));
      if (candidates.length === 0) continue;
      const pick = candidates[Math.floor(Math.random() * candidates.length)];
      try {
        await getExternalWorkflowHandle(pick.scanId).signal(assignGoldSignal, { readerId: r.readerId });
        // The gap restarts now; the reader is not asked again until the task is seen, and if the gold scan refused
        // (at capacity) the counter goes back and the reader is due again a few rounds later.
        counters.set(r.readerId, goldGiven(counter, r.ordinary, { every }, Math.random));
        asked.set(r.readerId, { golds: r.golds, rounds: 0, before: counter });
      } catch {
        // The gold scan was retired meanwhile: the reader stays due and gets another one next round.
      }
    }
    kicked = false;
    await condition(() => kicked, checkIntervalMs);
  }
  await continueAsNew<typeof goldScheduler>({ every, checkIntervalMs, counters: Object.fromEntries(counters) });
}
