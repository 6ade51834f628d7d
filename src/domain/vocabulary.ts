/**
 * The closed lists of values ReadFlow's parts share, each declared once as an `as const` array with its type
 * derived from it (like the stages in `stages.ts` and the policy names in `policy.ts`). The workflow messages, the
 * database entities and CHECK constraints (a migration test compares them), the API's DTOs and OpenAPI enums, and
 * the web page (through `GET /api/v1/meta`) all take them from here.
 */

/** Dataset split of a scan: read by 3 independent readers (`train`) or settled by consensus (`test`), as VinDr-CXR. */
export const SCAN_SPLITS = ['train', 'test'] as const;
export type ScanSplit = (typeof SCAN_SPLITS)[number];

/** Role of a task: a blinded reading, or a consensus review step (`consensus-5`). */
export const TASK_ROLES = ['reader', 'reviewer'] as const;
export type TaskRole = (typeof TASK_ROLES)[number];

/** Status of a task: `open` until submitted, or closed by its deadline, a manager's reassignment or a cancellation. */
export const TASK_STATUSES = ['open', 'submitted', 'expired', 'reassigned', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/**
 * Status of a `tasks` row: the task statuses, and `reserved` for a task the capacity owner granted whose scan has not
 * taken it up yet (it holds the reader's capacity but is in no inbox, so nobody can submit to a task the workflow
 * does not know). The scan's next projection write opens it. Never served by the API.
 */
export const TASK_ROW_STATUSES = ['reserved', ...TASK_STATUSES] as const;
export type TaskRowStatus = (typeof TASK_ROW_STATUSES)[number];
/**
 * What the scan workflow decides of a task: who reads it, which slot and round it fills, where it stands, and its times
 * (ISO 8601, from the workflow clock). The workflow's `status` query answers it (`TaskView`) and its projection writes
 * the same values to the `tasks` row (`TaskWrite`, whose status may also be a row status).
 */
export interface TaskFacts<Status extends TaskRowStatus = TaskStatus> {
  readerId: string;
  role: TaskRole;
  /** The policy slot this task fills (reassignment keeps the slot). */
  slot: number;
  /** Review round (0 for reading tasks, 1… for review tasks). */
  round: number;
  status: Status;
  assignedAt: string;
  dueAt: string;
  submittedAt?: string;
  closedAt?: string;
}

/** Row statuses that hold a reader's capacity. */
export const CAPACITY_HOLDING_STATUSES = ['reserved', 'open'] as const satisfies readonly TaskRowStatus[];

/**
 * A reviewer's decision. Slot 0 of a review round edits the fused proposal and sends `submit`; slot 1 then
 * `confirm`s it (it becomes the final label) or `return`s it with a `reason` (a new round starts).
 */
export const REVIEW_DECISIONS = ['submit', 'confirm', 'return'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

/** Role of a member of the roster: radiologists read, managers steer, admins manage accounts and tokens. */
export const READER_ROLES = ['radiologist', 'manager', 'admin'] as const;
export type ReaderRole = (typeof READER_ROLES)[number];

/** `ApplicationFailure` types with which the scan workflow rejects a message (update validators and handlers). */
export const SCAN_REJECTION_TYPES = [
  'InvalidSubmission',
  'TaskNotFound',
  'TaskNotOpen',
  'ConflictingSubmission',
  'InvalidState',
  'NoEligibleReader',
  'InvalidDeadline',
] as const;
export type ScanRejectionType = (typeof SCAN_REJECTION_TYPES)[number];

/**
 * Status of a dataset release (`releases` row): `running` while its `releaseDataset` workflow builds it, `published`
 * once its directory is renamed into place (never written again), `failed` when nothing was published (see
 * `RELEASE_FAILURE_REASONS`); a failed version may be started again.
 */
export const RELEASE_STATUSES = ['running', 'published', 'failed'] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

/**
 * Why a release failed: its publication gate refused it (`gate`, with the problems it found), or its workflow closed
 * without publishing (failed, terminated, cancelled or timed out from outside; or it never started, e.g. the API
 * stopped between claiming the version and starting the workflow). Nothing of a failed release is published.
 */
export const RELEASE_FAILURE_REASONS = [
  'gate',
  'workflow-failed',
  'workflow-terminated',
  'workflow-cancelled',
  'workflow-timed-out',
  'workflow-not-started',
] as const;
export type ReleaseFailureReason = (typeof RELEASE_FAILURE_REASONS)[number];

/** True when `value` is one of `list` (narrows it to the list's type). */
export function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (list as readonly string[]).includes(value);
}
