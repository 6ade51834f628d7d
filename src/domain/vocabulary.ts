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

/** True when `value` is one of `list` (narrows it to the list's type). */
export function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (list as readonly string[]).includes(value);
}
