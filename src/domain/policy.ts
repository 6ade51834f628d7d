/**
 * Reading policies as validated data: how many readers, whether senior reviewers follow,
 * deadlines, reassignment limits and fusion settings.
 */
import type { Problem } from './problems';
import { isRecord, joinPath, problem } from './problems';

/** Names of the supported reading policies (the `policy` of a scan, `scans.policy`, the API's `policy` field). */
export const POLICY_NAMES = ['independent-3', 'consensus-5', 'independent-5', 'adaptive-3-5'] as const;

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

/**
 * Adaptive reading (`adaptive-3-5`): once the first `readers` readings are in, a scan whose agreement is below
 * `extendBelow` gets `extraReaders` more readers (once), and all readings are fused with `extendedQuorum`.
 */
export interface AdaptiveSettings {
  /**
   * The scan is extended when its agreement among the first readers is strictly below this bound (0..1). The
   * agreement is the lower of the mean pairwise box F1 (IoU ≥ 0.4) and the mean per-label agreement of the
   * image-level labels somebody used (see `adaptiveAgreement`).
   */
  extendBelow: number;
  /**
   * Also extend when two readers put different labels on the same finding and neither label reaches the quorum
   * (`disputedFindings`): the fusion would drop the finding, and more readers settle it.
   */
  extendOnDispute: boolean;
  /**
   * Also extend when a box the first readers' fusion drops is, by the readers' track record, at least this likely a
   * true finding the others missed (`unconfirmedFindingProbability`, in (0, 1]). Absent: never (policies written
   * before it, and scans without a track record).
   */
  extendOnUnconfirmed?: number;
  /**
   * Once extended, also keep the findings the first readers had settled under `fusion.quorum` (`fuseAdaptive`): the
   * extension settles what they could not, it does not reopen what they agreed on. Absent: false.
   */
  keepSettled?: boolean;
  /** Readers added by the one extension (`adaptive-3-5`: 2, to 5 readers). */
  extraReaders: number;
  /** Fusion quorum once extended (`adaptive-3-5`: 3 of 5, as `independent-5`). */
  extendedQuorum: number;
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
  /** Only `adaptive-3-5` (required there, refused elsewhere): when and how a scan gets more readers. */
  adaptive?: AdaptiveSettings;
}

/**
 * The policy of a scan uploaded without one, by split, as VinDr-CXR read its data: every training scan by 3
 * independent readers, every test scan settled by a consensus of 5 (3 readers + 2 senior reviewers).
 */
export const DEFAULT_POLICY_BY_SPLIT: Readonly<Record<'train' | 'test', PolicyName>> = Object.freeze({
  train: 'independent-3',
  test: 'consensus-5',
});

/**
 * Place in the queue for readers (`waiting-for-readers`) of a scan uploaded without one, by split: the test split
 * first, as its consensus settles the labels the campaign is judged on. An upload or batch may give its own
 * (`priority`, an integer in {@link SCAN_PRIORITY_RANGE}); a higher priority is served first, then first come, first
 * served.
 */
export const DEFAULT_PRIORITY_BY_SPLIT: Readonly<Record<'train' | 'test', number>> = Object.freeze({
  train: 0,
  test: 10,
});

/** The priorities an upload or batch may give (inclusive). */
export const SCAN_PRIORITY_RANGE = Object.freeze({ min: -1000, max: 1000 });

/** One day in milliseconds. */
export const DAY_MS = 24 * 60 * 60 * 1000;

const FUSION_METHODS: readonly FusionSettings['method'][] = ['wbf', 'majority', 'union'];

/** Expected readers/reviewers for each policy name: the name is part of the contract. */
const SHAPES: Readonly<Record<PolicyName, { readers: number; reviewers: 0 | 2 }>> = {
  'independent-3': { readers: 3, reviewers: 0 },
  'consensus-5': { readers: 3, reviewers: 2 },
  'independent-5': { readers: 5, reviewers: 0 },
  'adaptive-3-5': { readers: 3, reviewers: 0 },
};

/** Readers an adaptive policy may add, by name (the name is part of the contract: 3 → 5). */
const ADAPTIVE_EXTRA: Readonly<Partial<Record<PolicyName, number>>> = { 'adaptive-3-5': 2 };

/**
 * Defaults of `adaptive-3-5`, tuned with `npm run bench:adaptive` (seeded truth, the simulator's noisy readers, seeds
 * 42, 7 and 2026): disputed findings and findings the track record makes likely (probability ≥ 0.05) are extended,
 * plus scans whose agreement is below 0.2 (mostly image-level disagreement); extended scans keep what the first
 * readers settled. At least `independent-5`'s box F1 at ≤ 3.6 readings per scan there (see the bench).
 */
export const DEFAULT_ADAPTIVE_EXTEND_BELOW = 0.2;
export const DEFAULT_ADAPTIVE_EXTEND_ON_UNCONFIRMED = 0.05;

function freezePolicy(p: ReadingPolicy): ReadingPolicy {
  return Object.freeze({ ...p, fusion: Object.freeze({ ...p.fusion }), ...(p.adaptive ? { adaptive: Object.freeze({ ...p.adaptive }) } : {}) });
}

/** VinDr-CXR's training protocol: three independent readers, fused by WBF with a majority quorum. */
const INDEPENDENT_3: ReadingPolicy = freezePolicy({
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
});

/** Production defaults: 3-day reading tasks, 2-day reviews, IoU 0.5 WBF with a majority quorum. */
export const DEFAULT_POLICIES: Readonly<Record<PolicyName, ReadingPolicy>> = Object.freeze({
  'independent-3': INDEPENDENT_3,
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
  'adaptive-3-5': freezePolicy({
    ...INDEPENDENT_3,
    name: 'adaptive-3-5',
    adaptive: {
      extendBelow: DEFAULT_ADAPTIVE_EXTEND_BELOW,
      extendOnDispute: true,
      extendOnUnconfirmed: DEFAULT_ADAPTIVE_EXTEND_ON_UNCONFIRMED,
      keepSettled: true,
      extraReaders: 2,
      extendedQuorum: 3,
    },
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
  'adaptive',
]);
const FUSION_KEYS = new Set<string>(['method', 'iouThreshold', 'quorum']);
const ADAPTIVE_KEYS = new Set<string>(['extendBelow', 'extendOnDispute', 'extendOnUnconfirmed', 'keepSettled', 'extraReaders', 'extendedQuorum']);

/**
 * Parses and validates a policy from JSON. `name` is required; every other field defaults to
 * {@link DEFAULT_POLICIES}`[name]` (and `fusion` fields individually), so a project can override
 * only what it needs. Unknown fields are reported (`unknown-field`) to catch typos.
 *
 * Rules: readers/reviewers must match the policy name (independent-3: 3/0, consensus-5: 3+2,
 * independent-5: 5/0); deadlines are positive integers (ms); `maxReassignmentsPerTask` ≥ 0;
 * `maxReviewRounds` ≥ 1 with reviewers and 0 without; `fusion.iouThreshold` in [0, 1);
 * `fusion.quorum` in 1..readers; `agreementFlagBelow` in [0, 1]; `maxBoxes` ≥ 1. `adaptive` only for
 * `adaptive-3-5` (fields default individually): `extendBelow` in [0, 1], `extendOnDispute` boolean, `extendOnUnconfirmed` in (0, 1]
 * or null (never), `keepSettled` boolean, `extraReaders` = 2 (3 → 5 readers),
 * `extendedQuorum` in 1..readers + extraReaders.
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
  const adaptive = parseAdaptive(json, name as PolicyName, base, merged.readers, problems);
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
  if (adaptive) policy.adaptive = adaptive;
  return { ok: true, policy: freezePolicy(policy) };
}

/** The `adaptive` field: required (from the defaults) for adaptive policies, refused for the others. */
function parseAdaptive(
  json: Record<string, unknown>,
  name: PolicyName,
  base: ReadingPolicy,
  readers: unknown,
  problems: Problem[],
): AdaptiveSettings | undefined {
  const extra = ADAPTIVE_EXTRA[name];
  if (extra === undefined || !base.adaptive) {
    if (json.adaptive !== undefined) problems.push(problem('adaptive', 'not-allowed', `${name} is not adaptive: no "adaptive" settings`));
    return undefined;
  }
  let raw: Record<string, unknown> = { ...base.adaptive };
  if (json.adaptive !== undefined) {
    if (!isRecord(json.adaptive)) {
      problems.push(problem('adaptive', 'invalid-type', 'adaptive must be an object { extendBelow, extendOnDispute, extraReaders, extendedQuorum }'));
      return undefined;
    }
    for (const key of Object.keys(json.adaptive)) {
      if (!ADAPTIVE_KEYS.has(key)) problems.push(problem(joinPath('adaptive', key), 'unknown-field', `unknown field "${key}"`));
    }
    raw = { ...raw, ...json.adaptive };
  }
  const before = problems.length;
  const below = raw.extendBelow;
  if (typeof below !== 'number' || !(below >= 0 && below <= 1)) {
    problems.push(problem('adaptive.extendBelow', 'out-of-range', 'adaptive.extendBelow must be a number in [0, 1]'));
  }
  if (typeof raw.extendOnDispute !== 'boolean') {
    problems.push(problem('adaptive.extendOnDispute', 'invalid-type', 'adaptive.extendOnDispute must be a boolean'));
  }
  const unconfirmed = raw.extendOnUnconfirmed;
  if (unconfirmed !== undefined && unconfirmed !== null && (typeof unconfirmed !== 'number' || !(unconfirmed > 0 && unconfirmed <= 1))) {
    problems.push(problem('adaptive.extendOnUnconfirmed', 'out-of-range', 'adaptive.extendOnUnconfirmed must be a number in (0, 1], or null (never)'));
  }
  if (raw.keepSettled !== undefined && typeof raw.keepSettled !== 'boolean') {
    problems.push(problem('adaptive.keepSettled', 'invalid-type', 'adaptive.keepSettled must be a boolean'));
  }
  if (raw.extraReaders !== extra) {
    problems.push(problem('adaptive.extraReaders', 'inconsistent', `${name} adds exactly ${extra} readers (got ${String(raw.extraReaders)})`));
  }
  const total = (typeof readers === 'number' ? readers : base.readers) + extra;
  const q = raw.extendedQuorum;
  if (typeof q !== 'number' || !Number.isInteger(q)) {
    problems.push(problem('adaptive.extendedQuorum', 'invalid-type', 'adaptive.extendedQuorum must be an integer'));
  } else if (q < 1 || q > total) {
    problems.push(problem('adaptive.extendedQuorum', 'out-of-range', `adaptive.extendedQuorum must be in 1..${total} (got ${q})`));
  }
  if (problems.length > before) return undefined;
  return {
    extendBelow: below as number,
    extendOnDispute: raw.extendOnDispute as boolean,
    ...(typeof unconfirmed === 'number' ? { extendOnUnconfirmed: unconfirmed } : {}),
    ...(raw.keepSettled === true ? { keepSettled: true } : {}),
    extraReaders: extra,
    extendedQuorum: q as number,
  };
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
