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
