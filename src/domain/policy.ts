/**
 * Reading policies as validated data: how many readers, whether senior reviewers follow,
 * deadlines, reassignment limits and fusion settings.
 */
import type { Problem } from './problems';
import { isRecord, joinPath, problem } from './problems';

/** Names of the supported reading policies (the `policy` of a scan, `scans.policy`, the API's `policy` field). */
export const POLICY_NAMES = ['independent-3', 'consensus-5', 'independent-5'] as const;

/** One of {@link POLICY_NAMES}. */
export type PolicyName = (typeof POLICY_NAMES)[number];

/** How the readers' boxes are fused (see `fuseReadings`). */
export interface FusionSettings {
  /** `wbf` = Weighted Boxes Fusion; `majority` = cluster + coordinate median; `union` = keep everything. */
  method: 'wbf' | 'majority' | 'union';
  /** Boxes join a cluster when their IoU with it is strictly greater than this (0..1). */
  iouThreshold: number;
  /** Minimum number of distinct readers behind a fused box (ignored by `union`). */
  quorum: number;
}

/** A reading policy. All durations are in milliseconds. */
export interface ReadingPolicy {
  name: PolicyName;
  /** Blinded readers per scan. */
  readers: number;
  /** Senior reviewers after the readers (`consensus-5`: 2, otherwise 0). */
  reviewers: 0 | 2;
  /** Deadline of one reading task before it is reassigned. */
  taskDeadlineMs: number;
  /** Deadline of one review step before it is reassigned. */
  reviewDeadlineMs: number;
  /** How often one task may be reassigned before the scan goes to a manager. */
  maxReassignmentsPerTask: number;
  /** Review rounds (edit → confirm/return) before the scan goes to a manager; 0 without reviewers. */
  maxReviewRounds: number;
  fusion: FusionSettings;
  /** A scan whose overall agreement is below this bound (0..1) is flagged for review. */
  agreementFlagBelow: number;
  /** Cap on boxes per reading. */
  maxBoxes: number;
}

/**
 * The policy of a scan uploaded without one, by split, as VinDr-CXR read its data: every training scan by 3
 * independent readers, every test scan settled by a consensus of 5 (3 readers + 2 senior reviewers).
 */
export const DEFAULT_POLICY_BY_SPLIT: Readonly<Record<'train' | 'test', PolicyName>> = Object.freeze({
  train: 'independent-3',
  test: 'consensus-5',
});

/** One day in milliseconds. */
export const DAY_MS = 24 * 60 * 60 * 1000;

const FUSION_METHODS: readonly FusionSettings['method'][] = ['wbf', 'majority', 'union'];

/** Expected readers/reviewers for each policy name: the name is part of the contract. */
const SHAPES: Readonly<Record<PolicyName, { readers: number; reviewers: 0 | 2 }>> = {
  'independent-3': { readers: 3, reviewers: 0 },
  'consensus-5': { readers: 3, reviewers: 2 },
  'independent-5': { readers: 5, reviewers: 0 },
};

function freezePolicy(p: ReadingPolicy): ReadingPolicy {
  return Object.freeze({ ...p, fusion: Object.freeze({ ...p.fusion }) });
}

/** Production defaults: 3-day reading tasks, 2-day reviews, IoU 0.5 WBF with a majority quorum. */
export const DEFAULT_POLICIES: Readonly<Record<PolicyName, ReadingPolicy>> = Object.freeze({
  'independent-3': freezePolicy({
    name: 'independent-3',
    readers: 3,
    reviewers: 0,
    taskDeadlineMs: 3 * DAY_MS,
    reviewDeadlineMs: 2 * DAY_MS,
    maxReassignmentsPerTask: 2,
    maxReviewRounds: 0,
    fusion: { method: 'wbf', iouThreshold: 0.5, quorum: 2 },
    agreementFlagBelow: 0.5,
    maxBoxes: 100,
  }),
  'consensus-5': freezePolicy({
    name: 'consensus-5',
    readers: 3,
    reviewers: 2,
    taskDeadlineMs: 3 * DAY_MS,
    reviewDeadlineMs: 2 * DAY_MS,
    maxReassignmentsPerTask: 2,
    maxReviewRounds: 3,
    fusion: { method: 'wbf', iouThreshold: 0.5, quorum: 2 },
    agreementFlagBelow: 0.5,
    maxBoxes: 100,
  }),
  'independent-5': freezePolicy({
    name: 'independent-5',
    readers: 5,
    reviewers: 0,
    taskDeadlineMs: 3 * DAY_MS,
    reviewDeadlineMs: 2 * DAY_MS,
    maxReassignmentsPerTask: 2,
    maxReviewRounds: 0,
    fusion: { method: 'wbf', iouThreshold: 0.5, quorum: 3 },
    agreementFlagBelow: 0.5,
    maxBoxes: 100,
  }),
});

const POLICY_KEYS = new Set<string>([
  'name',
  'readers',
  'reviewers',
  'taskDeadlineMs',
  'reviewDeadlineMs',
  'maxReassignmentsPerTask',
  'maxReviewRounds',
  'fusion',
  'agreementFlagBelow',
  'maxBoxes',
]);
const FUSION_KEYS = new Set<string>(['method', 'iouThreshold', 'quorum']);

/**
 * Parses and validates a policy from JSON. `name` is required; every other field defaults to
 * {@link DEFAULT_POLICIES}`[name]` (and `fusion` fields individually), so a project can override
 * only what it needs. Unknown fields are reported (`unknown-field`) to catch typos.
 *
 * Rules: readers/reviewers must match the policy name (independent-3: 3/0, consensus-5: 3+2,
 * independent-5: 5/0); deadlines are positive integers (ms); `maxReassignmentsPerTask` ≥ 0;
 * `maxReviewRounds` ≥ 1 with reviewers and 0 without; `fusion.iouThreshold` in [0, 1);
 * `fusion.quorum` in 1..readers; `agreementFlagBelow` in [0, 1]; `maxBoxes` ≥ 1.
 */
export function parsePolicy(json: unknown): { ok: true; policy: ReadingPolicy } | { ok: false; problems: Problem[] } {
  if (!isRecord(json)) return { ok: false, problems: [problem('', 'invalid-type', 'policy must be a JSON object')] };
  const problems: Problem[] = [];
  for (const key of Object.keys(json)) {
    if (!POLICY_KEYS.has(key)) problems.push(problem(key, 'unknown-field', `unknown field "${key}"`));
  }
  const name = json.name;
  if (typeof name !== 'string' || !(POLICY_NAMES as readonly string[]).includes(name)) {
    problems.push(problem('name', 'invalid-value', `name must be one of ${POLICY_NAMES.join(', ')}`));
    return { ok: false, problems };
  }
  const base = DEFAULT_POLICIES[name as PolicyName];
  const merged: Record<string, unknown> = { ...base, ...json };
  let fusionRaw: Record<string, unknown> = { ...base.fusion };
  if (json.fusion !== undefined) {
    if (!isRecord(json.fusion)) {
      problems.push(problem('fusion', 'invalid-type', 'fusion must be an object { method, iouThreshold, quorum }'));
    } else {
      for (const key of Object.keys(json.fusion)) {
        if (!FUSION_KEYS.has(key)) problems.push(problem(joinPath('fusion', key), 'unknown-field', `unknown field "${key}"`));
      }
      fusionRaw = { ...fusionRaw, ...json.fusion };
    }
  }

  const shape = SHAPES[name as PolicyName];
  const int = (key: string, min: number, value: unknown = merged[key], path = key): value is number => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      problems.push(problem(path, 'invalid-type', `${key} must be an integer`));
      return false;
    }
    if (value < min) {
      problems.push(problem(path, 'out-of-range', `${key} must be ≥ ${min} (got ${value})`));
      return false;
    }
    return true;
  };
  const readersOk = int('readers', 1);
  if (readersOk && merged.readers !== shape.readers) {
    problems.push(problem('readers', 'inconsistent', `${name} needs exactly ${shape.readers} readers (got ${String(merged.readers)})`));
  }
  if (merged.reviewers !== shape.reviewers) {
    problems.push(problem('reviewers', 'inconsistent', `${name} needs ${shape.reviewers} reviewers (got ${String(merged.reviewers)})`));
  }
  int('taskDeadlineMs', 1);
  int('reviewDeadlineMs', 1);
  int('maxReassignmentsPerTask', 0);
  if (int('maxReviewRounds', 0)) {
    if (shape.reviewers > 0 && (merged.maxReviewRounds as number) < 1) {
      problems.push(problem('maxReviewRounds', 'out-of-range', 'a policy with reviewers needs at least 1 review round'));
    }
    if (shape.reviewers === 0 && merged.maxReviewRounds !== 0) {
      problems.push(problem('maxReviewRounds', 'inconsistent', 'a policy without reviewers has 0 review rounds'));
    }
  }
  int('maxBoxes', 1);
  const flag = merged.agreementFlagBelow;
  if (typeof flag !== 'number' || !(flag >= 0 && flag <= 1)) {
    problems.push(problem('agreementFlagBelow', 'out-of-range', 'agreementFlagBelow must be a number in [0, 1]'));
  }
  if (isRecord(json.fusion) || json.fusion === undefined) {
    const method = fusionRaw.method;
    if (typeof method !== 'string' || !(FUSION_METHODS as readonly string[]).includes(method)) {
      problems.push(problem('fusion.method', 'invalid-value', `fusion.method must be one of ${FUSION_METHODS.join(', ')}`));
    }
    const thr = fusionRaw.iouThreshold;
    if (typeof thr !== 'number' || !(thr >= 0 && thr < 1)) {
      problems.push(problem('fusion.iouThreshold', 'out-of-range', 'fusion.iouThreshold must be a number in [0, 1)'));
    }
    if (int('quorum', 1, fusionRaw.quorum, 'fusion.quorum') && readersOk && (fusionRaw.quorum as number) > (merged.readers as number)) {
      problems.push(problem('fusion.quorum', 'out-of-range', `fusion.quorum ${String(fusionRaw.quorum)} exceeds the ${String(merged.readers)} readers`));
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const policy: ReadingPolicy = {
    name: name as PolicyName,
    readers: merged.readers as number,
    reviewers: merged.reviewers as 0 | 2,
    taskDeadlineMs: merged.taskDeadlineMs as number,
    reviewDeadlineMs: merged.reviewDeadlineMs as number,
    maxReassignmentsPerTask: merged.maxReassignmentsPerTask as number,
    maxReviewRounds: merged.maxReviewRounds as number,
    fusion: {
      method: fusionRaw.method as FusionSettings['method'],
      iouThreshold: fusionRaw.iouThreshold as number,
      quorum: fusionRaw.quorum as number,
    },
    agreementFlagBelow: flag as number,
    maxBoxes: merged.maxBoxes as number,
  };
  return { ok: true, policy: freezePolicy(policy) };
}

/**
 * Returns a copy of `p` with other deadlines (tests use seconds instead of days).
 * @throws RangeError when a deadline is not a positive integer.
 */
export function policyWithDeadlines(
  p: ReadingPolicy,
  o: { taskDeadlineMs?: number; reviewDeadlineMs?: number },
): ReadingPolicy {
  for (const [key, v] of Object.entries(o)) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new RangeError(`${key} must be a positive integer, got ${v}`);
  }
  return freezePolicy({
    ...p,
    taskDeadlineMs: o.taskDeadlineMs ?? p.taskDeadlineMs,
    reviewDeadlineMs: o.reviewDeadlineMs ?? p.reviewDeadlineMs,
  });
}
