/**
 * Choosing readers and reviewers for a scan: a pure function of the roster snapshot,
 * the scan id and the scan's history (the excluded reader ids).
 */
import { compareStrings } from './problems';
import { hashString } from './seeded';

/** A reader as seen in a roster snapshot taken by the caller. */
export interface RosterEntry {
  readerId: string;
  active: boolean;
  /** Senior readers may review (`consensus-5`). */
  senior: boolean;
  /** Tasks currently assigned and not finished. */
  openTasks: number;
  /** The reader takes no new task while `openTasks >= openTaskCap`. */
  openTaskCap: number;
  /** Epoch ms of the last assignment, supplied by the caller (never read from a clock here). */
  lastAssignedAt?: number;
  /**
   * Tasks assigned to the reader so far (over whatever window the caller balances), supplied by the caller.
   * Optional; when given it breaks ties between readers with equal open work and equal last-assignment
   * time (e.g. readers assigned to the same scan), which keeps cumulative load balanced over a long run.
   */
  assignedCount?: number;
}

/** Why a specific reader cannot take a task. */
export type IneligibleWhy = 'unknown-reader' | 'inactive' | 'excluded' | 'at-capacity' | 'not-senior';

/** Outcome of an assignment: never thrown, always typed, so the workflow can escalate. */
export type AssignmentResult =
  | { ok: true; readerIds: string[] }
  | { ok: false; reason: 'no-eligible-readers'; needed: number; eligible: number }
  | { ok: false; reason: 'reader-not-eligible'; readerId: string; why: IneligibleWhy };

/** Returns why `entry` cannot take a `role` task, or `undefined` when it can. */
export function ineligibility(
  entry: RosterEntry,
  role: 'reader' | 'reviewer',
  excluded: ReadonlySet<string> | readonly string[],
): IneligibleWhy | undefined {
  const isExcluded = Array.isArray(excluded)
    ? (excluded as readonly string[]).includes(entry.readerId)
    : (excluded as ReadonlySet<string>).has(entry.readerId);
  if (!entry.active) return 'inactive';
  if (isExcluded) return 'excluded';
  if (!(entry.openTasks < entry.openTaskCap)) return 'at-capacity';
  if (role === 'reviewer' && !entry.senior) return 'not-senior';
  return undefined;
}

/**
 * Eligible roster entries in preference order: least open work, then least recent assignment
 * (never assigned first), then fewest assignments so far (when supplied), then a stable pseudo-random
 * tie-break seeded by the scan id, then reader id.
 * Duplicate reader ids in the roster are collapsed to their first entry.
 */
export function rankEligible(args: {
  roster: readonly RosterEntry[];
  scanId: string;
  role: 'reader' | 'reviewer';
  excludedReaderIds: readonly string[];
}): RosterEntry[] {
  const excluded = new Set(args.excludedReaderIds);
  const seen = new Set<string>();
  const seed = hashString(args.scanId);
  const ranked: { entry: RosterEntry; tie: number }[] = [];
  for (const entry of args.roster) {
    if (seen.has(entry.readerId)) continue;
    seen.add(entry.readerId);
    if (ineligibility(entry, args.role, excluded) !== undefined) continue;
    ranked.push({ entry, tie: hashString(entry.readerId, seed) });
  }
  ranked.sort(
    (a, b) =>
      a.entry.openTasks - b.entry.openTasks ||
      (a.entry.lastAssignedAt ?? -Infinity) - (b.entry.lastAssignedAt ?? -Infinity) ||
      (a.entry.assignedCount ?? 0) - (b.entry.assignedCount ?? 0) ||
      a.tie - b.tie ||
      compareStrings(a.entry.readerId, b.entry.readerId),
  );
  return ranked.map((r) => r.entry);
}

/**
 * Chooses `count` distinct eligible readers for a scan. Eligible: active, not in `excludedReaderIds`
 * (everyone ever involved with the scan, including readers it was taken from), `openTasks < openTaskCap`,
 * and senior for the `reviewer` role. Returns `ok: false` (never a partial list) when fewer than
 * `count` are eligible.
 *
 * @throws RangeError when `count` is not a non-negative integer (a programming error).
 */
export function chooseReaders(args: {
  roster: readonly RosterEntry[];
  scanId: string;
  count: number;
  role: 'reader' | 'reviewer';
  excludedReaderIds: readonly string[];
}): AssignmentResult {
  if (!(Number.isInteger(args.count) && args.count >= 0)) throw new RangeError(`invalid count ${args.count}`);
  const ranked = rankEligible(args);
  if (ranked.length < args.count) {
    return { ok: false, reason: 'no-eligible-readers', needed: args.count, eligible: ranked.length };
  }
  return { ok: true, readerIds: ranked.slice(0, args.count).map((e) => e.readerId) };
}

/**
 * Picks one replacement reader (deadline missed or manager's decision) under the same rules as
 * {@link chooseReaders}. The reader being replaced must be in `excludedReaderIds`.
 * A manager's `preferredReaderId` is used only if that reader is eligible; otherwise the result is
 * `{ ok: false, reason: 'reader-not-eligible', why }` (no silent fallback to someone else).
 */
export function chooseReplacement(args: {
  roster: readonly RosterEntry[];
  scanId: string;
  role: 'reader' | 'reviewer';
  excludedReaderIds: readonly string[];
  preferredReaderId?: string;
}): AssignmentResult {
  if (args.preferredReaderId !== undefined) {
    const entry = args.roster.find((e) => e.readerId === args.preferredReaderId);
    if (!entry) return { ok: false, reason: 'reader-not-eligible', readerId: args.preferredReaderId, why: 'unknown-reader' };
    const why = ineligibility(entry, args.role, args.excludedReaderIds);
    if (why) return { ok: false, reason: 'reader-not-eligible', readerId: args.preferredReaderId, why };
    return { ok: true, readerIds: [entry.readerId] };
  }
  return chooseReaders({ ...args, count: 1 });
}
