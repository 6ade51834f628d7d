/**
 * What the Temporal UI shows while a scan runs (Temporal user metadata), so an operator reads "waiting for rad07's
 * reading until 21:30" instead of bare event numbers:
 * - the workflow's current details (`setCurrentDetails`, read by the UI through the built-in
 *   `__temporal_workflow_metadata` query): stage, who holds each task and until when, what the scan waits for;
 * - summaries of the activities and timers the scan schedules ("write projection: submitted by rad07", "deadline of
 *   rad07's reading").
 *
 * Metadata only: none of this issues or changes a command, so histories replay unchanged (a summary is not part of
 * the determinism check). Only non-identifying values: scan id, split, policy, stage, reader ids, task slots, times,
 * reason codes. Never a file name, a staged key, a free-text reason or comment, or anything from the DICOM header.
 * The static summary set at start is `scan-ui.messages.ts`.
 *
 * May import: `@temporalio/workflow`, `import type` of the scan state, tasks and the activities' row types.
 */
import { setCurrentDetails } from '@temporalio/workflow';

import type { ProjectionStep } from '../activities/scan.activities';
import type { TaskRole } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { iso } from './scan-tasks';

/** Summaries are single lines; the UI shows them in a column. */
const MAX_SUMMARY = 200;

function clip(text: string): string {
  return text.length <= MAX_SUMMARY ? text : `${text.slice(0, MAX_SUMMARY - 1)}…`;
}

/** `rad04`, `rad04 and rad07`, `rad04, rad07 and rad09`. */
function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** What a task is, in words: `reading 2`, `review (round 1)`, `verdict (round 1)`. */
function taskName(t: Pick<TaskState, 'role' | 'slot' | 'round'>): string {
  if (t.role === 'reader') return `reading ${t.slot + 1}`;
  return t.slot === 0 ? `review (round ${t.round})` : `verdict (round ${t.round})`;
}

/** The task's kind without its slot: `reading`, `review`, `verdict`. */
function taskKind(t: Pick<TaskState, 'role' | 'slot'>): string {
  if (t.role === 'reader') return 'reading';
  return t.slot === 0 ? 'review' : 'verdict';
}

// ---- activity summaries ----

/** Summary of the ingest activities. */
export const INGEST_SUMMARY = {
  validate: 'ingest: validate the uploaded DICOM',
  deidentify: 'ingest: de-identify (DICOM PS3.15 basic profile)',
  ingest: 'ingest: validate and de-identify (DICOM PS3.15 basic profile) the uploaded DICOM',
} as const;

/** Summary of a roster read: what it is for. */
export function rosterSummary(purpose: { readers: number } | { reviewers: number } | { replacing: Pick<TaskState, 'readerId' | 'role' | 'slot'> }): string {
  if ('readers' in purpose) return `read roster: choose ${purpose.readers} readers`;
  if ('reviewers' in purpose) return `read roster: choose ${purpose.reviewers} senior reviewers`;
  return `read roster: replace ${purpose.replacing.readerId} on the ${taskKind(purpose.replacing)}`;
}

/**
 * Summary of a request to the owner of reader capacity: `reserve capacity: 3 readers`, `reserve capacity: reviewer for
 * review 1 round 2 (prefers rad02)`.
 */
export function reserveSummary(role: TaskRole, slots: readonly { slot: number; round: number }[], preferredReaderId?: string): string {
  const who = slots.length === 1 ? role : `${slots.length} ${role}s`;
  const where =
    slots.length === 1 ? ` for ${role === 'reader' ? 'reading' : 'review'} ${slots[0].slot + 1}${slots[0].round > 0 ? ` round ${slots[0].round}` : ''}` : '';
  return `reserve capacity: ${who}${where}${preferredReaderId ? ` (prefers ${preferredReaderId})` : ''}`;
}

/** What an audit action of a projection step says, with the reader it concerns when it is a task event. */
const ACTION_WORDS: Record<string, string> = {
  'task:assigned': 'assigned',
  'task:expired': 'expired',
  'task:reassigned': 'reassigned from',
  'task:submitted': 'submitted by',
  'task:deadline-extended': 'deadline extended for',
  'task:cancelled': 'cancelled for',
  deidentified: 'de-identified image recorded',
};

/**
 * Summary of a projection write, from its audit events: `write projection: stage reading`, `write projection: assigned
 * rad04, rad07 and rad09`, `write projection: submitted by rad07`. Only action codes and reader ids (never a detail's
 * free text).
 */
export function projectionSummary(step: ProjectionStep): string {
  const readerOf = new Map((step.tasks ?? []).map((t) => [t.id, t.readerId]));
  const groups: { words: string; readers: string[] }[] = [];
  for (const e of step.audit ?? []) {
    let words: string;
    let reader: string | undefined;
    if (e.action.startsWith('stage:')) {
      words = `stage ${e.action.slice('stage:'.length)}`;
    } else {
      words = ACTION_WORDS[e.action] ?? e.action;
      if (e.action.startsWith('task:')) {
        const fromDetail = typeof e.detail?.readerId === 'string' ? e.detail.readerId : undefined;
        reader = fromDetail ?? (e.taskId ? readerOf.get(e.taskId) : undefined) ?? e.actor;
      }
    }
    const last = groups[groups.length - 1];
    if (last && last.words === words && reader) last.readers.push(reader);
    else groups.push({ words, readers: reader ? [reader] : [] });
  }
  if (groups.length === 0 && step.scan) groups.push({ words: `scan ${step.scan.stage}`, readers: [] });
  const text = groups.map((g) => (g.readers.length ? `${g.words} ${list(g.readers)}` : g.words)).join('; ');
  return clip(`write projection: ${text || 'update'}`);
}

// ---- timer summaries ----

/**
 * Summary of the timer that waits for the earliest deadline: `deadline of rad07's reading`, `deadline of rad04's,
 * rad07's and rad09's readings`, `deadline of rad02's review (round 1)`.
 */
export function deadlineSummary(s: ScanState, dueAt: number): string {
  const due = s.openTasks().filter((t) => !t.escalated && t.dueAt === dueAt);
  if (due.length === 0) return `deadline at ${iso(dueAt)}`;
  const kinds = [...new Set(due.map(taskKind))];
  const what = kinds.length === 1 ? kinds[0] : 'tasks';
  const round = due[0].role === 'reviewer' ? ` (round ${due[0].round})` : '';
  const owners = list(due.map((t) => `${t.readerId}'s`));
  return clip(`deadline of ${owners} ${what}${due.length > 1 && kinds.length === 1 ? 's' : ''}${round}`);
}

// ---- current details ----

/** What the scan waits for, in one sentence. */
function waitingFor(s: ScanState): string {
  const open = s.openTasks();
  switch (s.stage) {
    case 'ingesting':
      return 'validation of the uploaded file';
    case 'deidentifying':
      return 'de-identification';
    case 'assigning':
      return `a roster read to choose ${s.policy.readers} readers`;
    case 'reading': {
      const waiting = open.filter((t) => t.role === 'reader').map((t) => t.readerId);
      return `${s.policy.readers - s.submittedReadings().length} of ${s.policy.readers} readings (${list(waiting) || 'none open'})`;
    }
    case 'reviewing': {
      const reviews = open.filter((t) => t.role === 'reviewer');
      return reviews.length ? list(reviews.map((t) => `${t.readerId}'s ${taskName(t)}`)) : 'the next review step';
    }
    case 'waiting-for-readers': {
      const w = s.capacity.waitingFor;
      return w
        ? `${w.needed} ${w.role}${w.needed === 1 ? '' : 's'} with free capacity (waiting since ${w.since}; assigned in turn as tasks close)`
        : 'readers with free capacity';
    }
    case 'fusing':
      return 'the release write';
    case 'needs-attention':
      return `a manager (reason: ${s.attention.reason ?? 'unknown'}): resume, reassign, extend a deadline or cancel`;
    case 'released':
      return 'nothing: released';
    case 'quarantined':
      return `nothing: quarantined (${s.quarantine?.reason ?? 'refused'})`;
    case 'cancelled':
      return `nothing: cancelled by ${s.cancelled?.by ?? 'a manager'}`;
    default:
      return open.length ? list(open.map((t) => `${t.readerId}'s ${taskName(t)}`)) : 'the workflow';
  }
}

/** One line per task that matters now: the open ones, and those submitted in the current reading or review round. */
function taskLines(s: ScanState): string[] {
  const now = s.now();
  const shown = [...s.tasks.values()].filter(
    (t) => t.status === 'open' || (t.status === 'submitted' && (t.role === 'reader' || t.round === s.reviewRound)),
  );
  shown.sort((a, b) => (a.role === b.role ? a.round - b.round || a.slot - b.slot : a.role === 'reader' ? -1 : 1));
  return shown.map((t) => {
    if (t.status === 'submitted') return `- ${taskName(t)}: submitted by ${t.readerId}${t.decision && t.decision !== 'submit' ? ` (${t.decision})` : ''}`;
    const late = t.escalated ? ' — overdue, with a manager' : t.overdue || t.dueAt <= now ? ' — overdue' : '';
    return `- ${taskName(t)}: ${t.readerId} until ${iso(t.dueAt)}${late}`;
  });
}

/** The current details (Temporal markdown): stage, what the scan waits for, who holds each task and until when. */
export function currentDetails(s: ScanState): string {
  const head = `**Stage** ${s.stage} · **waiting for** ${waitingFor(s)}`;
  const lines = [head, `Scan ${s.scanId} · ${s.input.split} · ${s.policy.name}`];
  const tasks = taskLines(s);
  if (tasks.length) lines.push('', ...tasks);
  return lines.join('\n');
}

/** Publishes the current details (no command: the UI reads them through a query). Call after any state change. */
export function refreshCurrentDetails(s: ScanState): void {
  setCurrentDetails(currentDetails(s));
}
