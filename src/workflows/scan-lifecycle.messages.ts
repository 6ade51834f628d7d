/**
 * Messages of the `scanLifecycle` workflow: its input/result, the `status` and `reviewContext` queries,
 * the `submitReading` update and the manager updates. This is the only workflow module the API imports:
 * it holds nothing but `@temporalio/workflow` define* calls and types.
 *
 * Rejections are `ApplicationFailure`s whose `type` is one of {@link ScanRejectionType}; the API maps
 * them to problem+json (InvalidSubmission → 422, TaskNotFound → 404, TaskNotOpen / ConflictingSubmission /
 * InvalidState / NoEligibleReader / InvalidDeadline → 409 or 422, see docs/architecture.md).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

import type {
  ExtensionReason,
  FinalStage,
  FusedResult,
  Problem,
  Reading,
  ReadingPolicy,
  ReviewDecision,
  ScanAgreement,
  ScanRejectionType,
  ScanSplit,
  ScanStage,
  TaskRole,
  TaskFacts,
  TaskStatus,
  Taxonomy,
} from '../domain';

/**
 * The value lists of these messages are declared once in `src/domain` (`SCAN_STAGES`, `SCAN_SPLITS`, `TASK_ROLES`,
 * `TASK_STATUSES`, `REVIEW_DECISIONS`, `SCAN_REJECTION_TYPES`); their types are re-exported here for the API.
 */
export type { ReviewDecision, ScanRejectionType, ScanSplit, ScanStage, TaskRole, TaskStatus };

/** Image metadata of the de-identified scan (from `deidentifyScan`). */
export interface ScanImage {
  rows: number;
  columns: number;
  pixelSpacing?: number[];
  modality: string;
  viewPosition?: string;
  photometricInterpretation: string;
  bitsStored: number;
  transferSyntax: string;
  windowCenter?: number;
  windowWidth?: number;
}

/** Input of `scanLifecycle`. The workflow id must be `scanId` (see `scanIdFor`). */
export interface ScanLifecycleInput {
  /** `scan-` + 24 hex (`scanIdFor`); equals the workflow id. */
  scanId: string;
  /** Key of the staged file in the `incoming` store (`stageIncoming`). */
  sourceKey: string;
  /**
   * Deprecated, no longer set: file names can identify a patient and stay in the restricted originals store
   * (`stageIncoming`). Kept optional so that histories of scans started with one still replay.
   */
  filename?: string;
  split: ScanSplit;
  /** The full policy (domain `ReadingPolicy`, e.g. `DEFAULT_POLICIES['independent-3']`); deadlines included. */
  policy: ReadingPolicy;
  /**
   * The project's own taxonomy (`READFLOW_TAXONOMY_FILE`, validated at boot by `parseTaxonomy`): the labels this scan's
   * readings are checked, fused and compared against. Unset: the built-in VinDr-CXR taxonomy (every scan started before
   * project taxonomies, and projects without one). Guarded by the `project-taxonomy` patch.
   */
  taxonomy?: Taxonomy;
  /** The ingest batch that started this scan, if any. */
  batchId?: string;
  /** Who started the scan (`system`, an uploader's reader id…), for the audit trail. */
  startedBy?: string;
  /**
   * Place in the queue for readers when none has capacity (`waiting-for-readers`): a higher priority is served first,
   * then first come, first served. Default 0 (a manager's priority, or a project putting its test split first).
   */
  priority?: number;
  /**
   * The projection activities' retry budget (tests shorten it). When a write outlives it (a long database outage) the
   * scan pauses `pauseMs` and writes again, for as long as it takes: an outage never fails a scan.
   * Default: 200 attempts with backoff capped at 30 s (about 1.6 h), then pauses of 5 minutes.
   */
  projectionRetry?: { maximumAttempts: number; maximumIntervalMs: number; pauseMs: number };
}

/** Final result of `scanLifecycle` (it ends released, quarantined or cancelled). */
export interface ScanLifecycleResult {
  scanId: string;
  stage: FinalStage;
  imageId?: string;
  /** The fused proposal of the readers (released scans). */
  fused?: FusedResult;
  /** The released labels: the fused proposal, or the confirmed review for consensus policies. */
  final?: Reading;
  agreement?: ScanAgreement;
  /** Reader ids whose readings were fused, sorted. */
  readerIds?: string[];
  quarantine?: { reason: string; detail: string };
  cancelled?: { by: string; reason?: string };
}

/** One task as exposed by the `status` query (never its reading: readers are blinded). */
export interface TaskView extends TaskFacts {
  taskId: string;
  /** True while the task is open and past its deadline. */
  overdue: boolean;
  /** The task this one replaced (reassignment). */
  replaces?: string;
  /** For reviewers: the decision sent. */
  decision?: ReviewDecision;
}

/** The extension decision of an adaptive scan (`adaptive-3-5`), once its first readings are in. */
export interface ScanExtension {
  /** True: more readers were added (slots `readers`…), and all readings are fused with the extended quorum. */
  extended: boolean;
  /** Why: a finding in dispute, a dropped finding the track record makes likely, agreement below the bound, or the readers agreed. */
  reason: ExtensionReason;
  /** The agreement measured on the first readings (lower of mean box F1 at IoU ≥ 0.4 and image-level label agreement). */
  agreement: number;
  meanBoxF1: number;
  meanLabelAgreement: number;
  disputedFindings: number;
  /**
   * Probability that the likeliest box the first readers' fusion drops is a finding the others missed, from the
   * readers' track record (`adaptive.extendOnUnconfirmed`); absent on decisions made before it.
   */
  unconfirmedFinding?: number;
  /** The policy's bound (`adaptive.extendBelow`). */
  bound: number;
  /** Readers added (0 when not extended) and the readings needed in total. */
  extraReaders: number;
  readingsRequired: number;
  /** Readers whose readings were measured (sorted). */
  measuredReaders: string[];
  /** ISO-8601 time of the decision. */
  decidedAt: string;
}

/** Live view of a scan, returned by the `status` query. */
export interface ScanStatus {
  scanId: string;
  stage: ScanStage;
  split: ScanSplit;
  policy: ReadingPolicy['name'];
  imageId?: string;
  image?: ScanImage;
  tasks: TaskView[];
  /** Readers holding an open task (the `Readers` search attribute). */
  openReaders: string[];
  overdue: boolean;
  /** Readings in so far / needed (reading stage). */
  readingsSubmitted: number;
  readingsRequired: number;
  /** Current review round (consensus policies), 0 before review. */
  reviewRound: number;
  /** Adaptive policies: the extension decision, once made. */
  extension?: ScanExtension;
  quarantine?: { reason: string; detail: string };
  /** Why the scan is waiting for a manager (`needs-attention`). */
  attentionReason?: string;
  cancelled?: { by: string; reason?: string };
  /** Why a manager cancelled the scan (`cancelScan`'s reason), when one was given. */
  cancelReason?: string;
  /** ISO-8601 time of release. */
  releasedAt?: string;
  /** While in `waiting-for-readers`: since when (ISO-8601) and for which role the scan waits for a reader with capacity. */
  waitingForReaders?: { since: string; role: TaskRole; needed: number };
  /** While a projection write outlives its retries (database outage): since when it waits and how often it tried. */
  projectionStalled?: { since: string; pauses: number; activity: string };
}

/** What a reviewer sees (reviewer tasks only; readers never get other readers' work). */
export interface ReviewContext {
  taskId: string;
  round: number;
  /** 0: edit the proposal and `submit`; 1: `confirm` or `return` the slot-0 proposal. */
  slot: number;
  image: ScanImage;
  /** The blinded readers' readings, by reader. */
  readings: { readerId: string; reading: Reading }[];
  fused: FusedResult;
  agreement: ScanAgreement;
  /** For slot 1: the reading submitted by the slot-0 reviewer of this round. */
  proposal?: { readerId: string; reading: Reading };
  /** Reasons given by earlier `return`s, oldest first. */
  returns: { round: number; readerId: string; reason: string }[];
}

/** Input of the `submitReading` update. */
export interface SubmitReadingInput {
  taskId: string;
  /** Authenticated reader id (the API passes the token's reader, never the body's). */
  readerId: string;
  /** Untrusted reading `{ boxes, globalLabels, comment? }`, validated with the domain rules. Optional for `confirm`/`return`. */
  reading?: unknown;
  /** Reviewer tasks only. */
  decision?: ReviewDecision;
  /** Required with `return`. */
  reason?: string;
}

/** Result of an accepted `submitReading`. */
export interface SubmitReadingResult {
  status: 'accepted';
  /** True when the same submission had already been accepted (idempotent retry). */
  duplicate: boolean;
  taskId: string;
}

/** Input of `reassignTask`: to a named reader, or to the next eligible one. */
export interface ReassignTaskInput {
  taskId: string;
  toReaderId?: string;
  /** Manager id, for the audit trail. */
  by: string;
}

/** Result of `reassignTask`. */
export interface ReassignTaskResult {
  /** The task that replaces `taskId`. */
  newTaskId: string;
  readerId: string;
  dueAt: string;
}

/** Input of `extendDeadline`: moves an open task's deadline (must be in the future). */
export interface ExtendDeadlineInput {
  taskId: string;
  /** New deadline, ISO-8601. */
  dueAt: string;
  by: string;
}

/** Input of `cancelScan`. */
export interface CancelScanInput {
  by: string;
  reason?: string;
}

/** Input of `resumeScan` (from `needs-attention`). */
export interface ResumeScanInput {
  by: string;
}

/**
 * Details of an `InvalidSubmission` rejection: `failure.details[0]`. Each problem's `path` is its place in the
 * submission as a client sends it, the reading's fields at the top (`boxes[0].label`, `globalLabels[1]`, `comment`)
 * beside `decision` and `reason` (`''`: the submission as a whole), so the API reports them as they are.
 */
export type InvalidSubmissionDetails = Problem[];

/** Details of a `TaskNotOpen` rejection: `failure.details[0]`. */
export interface TaskNotOpenDetails {
  taskId: string;
  status: TaskStatus;
  /** e.g. `expired`: the deadline passed and the task went to another reader. */
  reason: string;
}

/** Live view of the scan: stage, image metadata, tasks (readers and deadlines, never readings). */
export const statusQuery = defineQuery<ScanStatus>('status');

/**
 * The readings, fused proposal and agreement a reviewer reviews. Only for reviewer tasks
 * (`TaskNotFound` otherwise); the API checks that the caller holds the task.
 */
export const reviewContextQuery = defineQuery<ReviewContext, [taskId: string]>('reviewContext');

/**
 * A reader's (or reviewer's) submission. The validator rejects with `InvalidSubmission` (details: problems),
 * `TaskNotFound` (unknown task or another reader's), `TaskNotOpen` (expired, reassigned, cancelled) or
 * `ConflictingSubmission` (already submitted differently). An identical repeat is accepted with `duplicate: true`.
 * Accepted means recorded durably in the workflow and in Postgres (`readings`, `tasks`).
 */
export const submitReadingUpdate = defineUpdate<SubmitReadingResult, [SubmitReadingInput]>('submitReading');

/** Manager: moves an open task to another reader (named, or the next eligible); the old task becomes `reassigned`. */
export const reassignTaskUpdate = defineUpdate<ReassignTaskResult, [ReassignTaskInput]>('reassignTask');

/** Manager: sets a new deadline for an open task. */
export const extendDeadlineUpdate = defineUpdate<TaskView, [ExtendDeadlineInput]>('extendDeadline');

/** Manager: cancels the scan (open tasks become `cancelled`); rejected once released, quarantined or cancelled. */
export const cancelScanUpdate = defineUpdate<ScanStatus, [CancelScanInput]>('cancelScan');

/**
 * Reader capacity freed that this scan (waiting for readers) can use: sent by the scan whose projection write freed
 * it (the write names the scans to wake, in queue order). The woken scan asks for its reservation again.
 */
export const readersAvailableSignal = defineSignal('readersAvailable');

/** Manager: continues a scan in `needs-attention` (re-reads the roster and retries what was blocked). */
export const resumeScanUpdate = defineUpdate<ScanStatus, [ResumeScanInput]>('resumeScan');
