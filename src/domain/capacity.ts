/**
 * Reader capacity, granted by one owner: requests for readers are served in queue order (a higher priority first,
 * then first come, first served) and each satisfiable request holds its readers against their open-task caps before
 * the next one is considered, so a newcomer never takes the capacity an earlier waiter can use, while a waiter that
 * cannot use the freed readers (it excludes them) does not block the others behind it.
 *
 * Pure: the caller takes the roster snapshot and the queue under one lock (the `reserveReaders` activity,
 * src/activities/capacity.activities.ts) and writes what is granted in the same transaction.
 */
import type { AssignmentResult, RosterEntry } from './assignment';
import { chooseReaders, chooseReplacement } from './assignment';

/** What a scan asks of the roster: `count` readers for a role, never one of `excludedReaderIds`. */
export interface ReaderRequest {
  scanId: string;
  role: 'reader' | 'reviewer';
  count: number;
  excludedReaderIds: readonly string[];
  /** Take the readers from non-seniors when enough are eligible (consensus readings keep the seniors for review). */
  spareSeniors?: boolean;
  /** A named reader (count 1): a manager's choice, or the reviewer who holds this review slot. */
  preferredReaderId?: string;
}

/** Outcome of a reservation: granted readers, or why not and whether waiting can ever help. */
export type Reservation =
  | { granted: true; readerIds: string[] }
  | {
      granted: false;
      /** True: readers exist who could take it once they have capacity (wait); false: a manager must decide. */
      waiting: boolean;
      result: Exclude<AssignmentResult, { ok: true }>;
    };

/** Chooses readers for one request on a roster (the domain assignment rules, sparing seniors when asked). */
export function chooseFor(roster: readonly RosterEntry[], req: ReaderRequest): AssignmentResult {
  const choose = (extra: readonly string[]): AssignmentResult =>
    req.count === 1
      ? chooseReplacement({
          roster,
          scanId: req.scanId,
          role: req.role,
          excludedReaderIds: [...req.excludedReaderIds, ...extra],
          preferredReaderId: req.preferredReaderId,
        })
      : chooseReaders({ roster, scanId: req.scanId, role: req.role, count: req.count, excludedReaderIds: [...req.excludedReaderIds, ...extra] });
  if (req.spareSeniors && req.preferredReaderId === undefined) {
    const sparing = choose(roster.filter((e) => e.senior).map((e) => e.readerId));
    if (sparing.ok) return sparing;
  }
  return choose([]);
}

/** The roster with one more open task for each of `readerIds` (capacity held for a grant). */
export function holdCapacity(roster: readonly RosterEntry[], readerIds: readonly string[]): RosterEntry[] {
  const held = new Set(readerIds);
  return roster.map((e) => (held.has(e.readerId) ? { ...e, openTasks: e.openTasks + 1 } : e));
}

function someCapacityLeft(roster: readonly RosterEntry[]): boolean {
  return roster.some((e) => e.active && e.openTasks < e.openTaskCap);
}

/**
 * Grants the requests of `queue` in its order while capacity lasts: each satisfiable request holds its readers;
 * one that cannot be satisfied now is passed over. Returns the grants by scan id and the roster after them.
 */
export function grantInOrder(
  roster: readonly RosterEntry[],
  queue: readonly ReaderRequest[],
): { granted: Map<string, string[]>; roster: RosterEntry[] } {
  let left = [...roster];
  const granted = new Map<string, string[]>();
  for (const req of queue) {
    if (!someCapacityLeft(left)) break;
    const r = chooseFor(left, req);
    if (!r.ok) continue;
    granted.set(req.scanId, r.readerIds);
    left = holdCapacity(left, r.readerIds);
  }
  return { granted, roster: left };
}

/** True when some readers could take the request if nobody had open work: waiting for capacity can help. */
export function couldEverServe(roster: readonly RosterEntry[], req: ReaderRequest): boolean {
  return chooseFor(
    roster.map((e) => ({ ...e, openTasks: 0 })),
    req,
  ).ok;
}

/**
 * Decides a request that comes after `ahead` (the waiters before it in queue order; empty for a manager's
 * reassignment, which does not queue): granted from the capacity the satisfiable waiters ahead leave, else
 * waiting when it could ever be served, else refused for a manager to decide.
 */
export function reserveAfter(roster: readonly RosterEntry[], ahead: readonly ReaderRequest[], req: ReaderRequest): Reservation {
  const { roster: left } = grantInOrder(roster, ahead);
  const r = chooseFor(left, req);
  if (r.ok) return { granted: true, readerIds: r.readerIds };
  return { granted: false, waiting: couldEverServe(roster, req), result: r };
}

/** Scans of the queue (in order) that the current capacity can serve now: the ones to wake. */
export function servableNow(roster: readonly RosterEntry[], queue: readonly ReaderRequest[]): string[] {
  return [...grantInOrder(roster, queue).granted.keys()];
}
