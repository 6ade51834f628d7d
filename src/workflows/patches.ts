/**
 * `patched()` ids of the workflows. Each guards a change of the commands a workflow issues, so histories
 * recorded before it (scans that may still be running) replay unchanged (test/histories/). Never rename or
 * reuse one; add new ones here with what they changed.
 *
 * May import: nothing.
 */

/**
 * `resumeScan` reassigns every open task that is escalated or past its deadline before it answers, and answers
 * with the stage after the main loop's next decision (see `scan-attention.ts`). Before it, only escalated tasks
 * got a fresh allowance and the main loop reassigned them after the update had answered.
 */
export const RESUME_REASSIGNS_ALL_OVERDUE = 'resume-reassigns-all-overdue';

/**
 * Adaptive policies (`adaptive-3-5`): once the first readings are in, the scan decides whether to add readers
 * (audit `reading:adaptive-decision`, search attribute `ReadingExtended`, extra reader tasks in slots 3 and 4) before
 * fusing (see `scan-adaptive.ts`). Only adaptive scans ever reach this `patched()` call.
 */
export const ADAPTIVE_EXTENSION = 'adaptive-extension';

/**
 * Assignment through the one owner of reader capacity (issue #12): readers and reviewers are granted by the
 * `reserveReaders` activity (tasks inserted under the capacity lock, never past a reader's cap), and a scan nobody has
 * capacity for waits in `waiting-for-readers` until a `readersAvailable` signal (or a long backstop timer) instead of
 * escalating. Before it: a roster snapshot (`loadRoster`), tasks written by `recordTasks`, escalation when full.
 */
export const ASSIGNMENT_RESERVES_CAPACITY = 'assignment-reserves-capacity';

/**
 * Projection writes never fail a scan (issue #12, #10 item 1): a write that outlives its retries (database outage)
 * pauses and is written again; a write Postgres refuses for its data (`ProjectionDataError`) holds the scan in
 * `needs-attention` (`projection-refused`) until a manager resumes it, then is written again. The writes also wake the
 * scans waiting for the readers they freed. Before it: the failure failed the workflow task and the scan.
 */
export const PROJECTION_OUTLASTS_OUTAGES = 'projection-outlasts-outages';

/**
 * A project's own taxonomy (`READFLOW_TAXONOMY_FILE`) carried in the scan's input (`ScanLifecycleInput.taxonomy`):
 * submissions are validated, and readings fused and compared, against it. Only scans started with a taxonomy in their
 * input reach this `patched()` call; the others (and every scan before it) use the built-in VinDr-CXR taxonomy.
 */
export const PROJECT_TAXONOMY = 'project-taxonomy';

/**
 * Adaptive decisions from the readers' track record (issue #16): an adaptive scan whose policy sets
 * `adaptive.extendOnUnconfirmed` loads the track record (`loadTrackRecord` activity) before deciding, and is extended
 * when a box its first readers' fusion drops is likely a finding the others missed (reason `unconfirmed-finding`).
 * Before it: no activity, the decision from the readings alone.
 */
export const ADAPTIVE_TRACK_RECORD = 'adaptive-track-record';

/**
 * An extended adaptive scan whose policy sets `adaptive.keepSettled` keeps the findings its first readers settled
 * (`fuseAdaptive`). Before it: all readings fused with the extended quorum only.
 */
export const ADAPTIVE_KEEP_SETTLED = 'adaptive-keep-settled';

/**
 * Gold tasks through the one owner of reader capacity (issue #16): `assignGold` asks `reserveReaders` for the named
 * reader (never queued), so a gold task never pushes a reader past the cap. Before it: a roster snapshot
 * (`loadRoster`, `pickReaders`) and `recordTasks`.
 */
export const GOLD_RESERVES_CAPACITY = 'gold-reserves-capacity';

/**
 * Writes the workflow issues back to back go to Postgres as one projection step, one activity (issue #12,
 * `bench:e2e`): the de-identified image metadata with the move to `assigning`, and the move to `fusing` with the
 * release. Postgres gets the same rows and audit events in the same order, in one transaction (the `scans` row goes
 * from `reading` straight to `released`; the `stage:fusing` event stays in the audit trail). Before it: two activities.
 */
export const MERGED_PROJECTION_STEPS = 'merged-projection-steps';

/**
 * A scan's history, lean (issue #12, `bench:e2e`). Decided once per run, at its start (`ScanState.lean`), and recorded
 * as the run's only patch marker: a lean run takes every earlier patch above as present without recording it (each
 * marker costs two events). Under it, with the same commands' effects and the same Postgres rows in the same order:
 * - projection writes and capacity reservations try a local activity first (one `MarkerRecorded` instead of three
 *   activity events and a workflow task), one at a time, one attempt within a workflow task (never a backoff, so never
 *   the SDK's backoff timer); a retryable failure goes on with the regular activity and its full budget, as before;
 * - the `Stage`, `Readers` and `Overdue` search attributes are upserted where the run blocks (a timer, a regular
 *   activity, a handler's end), once for the changes made since, not once per change;
 * - the deadline timer is kept while the earliest deadline stays the same (a submission no longer restarts it);
 * - the run waits for its `readersAvailable` signals to be delivered before it ends.
 * Before it: every write a regular activity, an upsert per change, a timer per wait, signals not awaited.
 */
export const LEAN_SCAN_HISTORY = 'lean-scan-history';

/**
 * A scan's history, batched (issue #12, `bench:e2e`). Decided once per run, first thing, in place of
 * `LEAN_SCAN_HISTORY` (a batched run is lean and records only this marker). Under it, with the same rows and audit
 * events in Postgres:
 * - ingest is one activity (`ingestScan`: validate, then de-identify) instead of two; the scan shows `ingesting` while
 *   it runs, and the move to `deidentifying` (its `stage:deidentifying` audit event) is written with the de-identified
 *   image and the move to `assigning`, in one step;
 * - projection writes issued while another is being written go to Postgres together, as one step, once it is done
 *   (e.g. submissions that arrive together: one local activity for all of them);
 * - the submission that completes a non-adaptive scan's readings is written with the step that follows at once (the
 *   release, or the move to `reviewing`); its update answers once that step is in Postgres.
 * Before it: two ingest activities, one write per step, every submission written on its own.
 */
export const BATCHED_SCAN_STEPS = 'batched-scan-steps';

/**
 * At most `MAX_LOCAL_WRITES_PER_TASK` local activities in one workflow task (issue #12, found by the outage test): the
 * worker heartbeats a workflow task whose local activities outlast 80 % of its timeout, and the heartbeat's next task
 * can carry an update; on replay the SDK resolves those local activities from their markers before that update, the
 * code after them issues its commands first, and the replay fails (TMPRL1100 "Activity machine does not handle this
 * event: WorkflowExecutionUpdateAccepted", seen on a status query of a scan whose three submissions met an outage:
 * three 2 s local attempts in one task). Past the bound a write goes as the regular activity. Asked only where the bound
 * applies (a marker only in runs that reach it); a run without the marker there takes the local activity, as before.
 */
export const BOUNDED_LOCAL_WRITES = 'bounded-local-writes';
