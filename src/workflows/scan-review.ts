/**
 * The `reviewing` phase (consensus policies): two senior reviewers who did not read the scan. Each round, slot 0
 * edits the fused proposal and submits it; slot 1 then confirms it (final labels) or returns it with a reason
 * (next round). After `maxReviewRounds` returns the scan needs a manager; `resumeScan` grants a round.
 *
 * Since `ASSIGNMENT_RESERVES_CAPACITY` each review task is granted by the capacity owner when it opens (the slot's
 * reviewer of earlier rounds, or a senior with capacity), waiting in `waiting-for-readers` when nobody has capacity.
 *
 * May import: `@temporalio/workflow`, `./activities`, `./patches`, the assignment steps, the deadline wait, and
 * `import type` of the scan state.
 */

import { scanActivities } from './activities';
import { ASSIGNMENT_RESERVES_CAPACITY } from './patches';
import { createTasks, openReviewTask, pickReaders } from './scan-assignment';
import { awaitTasks } from './scan-deadlines';
import type { ScanState } from './scan-state';
import { rosterSummary } from './scan-ui';

/** Runs the review rounds (none for policies without reviewers). False when the scan was cancelled. */
export async function runReview(s: ScanState): Promise<boolean> {
  if (s.policy.reviewers === 0) return true;
  await s.projection.setStage('reviewing', { detail: { overall: s.agreement?.overall, flagged: s.agreement?.flagged } });
  const reserving = s.has(ASSIGNMENT_RESERVES_CAPACITY);
  for (;;) {
    if (reserving) break;
    const roster = await scanActivities.loadRoster.executeWithOptions({ summary: rosterSummary({ reviewers: s.policy.reviewers }) }, []);
    if (s.cancelled) return false;
    const r = pickReaders(s, roster, 'reviewer', s.policy.reviewers);
    if (r.ok) {
      s.reviewers = [...r.readerIds];
      break;
    }
    if (!(await s.attention.escalateAndWait('no-eligible-reviewers', { ...r }))) return false;
  }
  for (let round = 1; ; round++) {
    while (round > s.policy.maxReviewRounds + s.extraReviewRounds) {
      if (!(await s.attention.escalateAndWait('review-rounds-exhausted', { rounds: round - 1 }))) return false;
      s.extraReviewRounds += 1;
    }
    s.reviewRound = round;
    if (reserving) {
      if (!(await openReviewTask(s, round, 0))) return false;
    } else await createTasks(s, 'reviewer', round, [{ readerId: s.reviewers[0], slot: 0 }]);
    s.attention.decided();
    if (!(await awaitTasks(s, () => s.reviewTask(round, 0)?.status === 'submitted'))) return false;
    if (reserving) {
      if (!(await openReviewTask(s, round, 1))) return false;
    } else await createTasks(s, 'reviewer', round, [{ readerId: s.reviewers[1], slot: 1 }]);
    if (!(await awaitTasks(s, () => s.reviewTask(round, 1)?.status === 'submitted'))) return false;
    const verdict = s.reviewTask(round, 1)!;
    if (verdict.decision === 'confirm') {
      s.final = s.reviewTask(round, 0)!.reading;
      return true;
    }
    s.returns.push({ round, readerId: verdict.readerId, reason: verdict.reason ?? '' });
  }
}
