/**
 * Reader capacity (issue #12): the `reserveReaders` activity is the one owner of the readers' open-task caps. In one
 * transaction under one advisory lock it counts every reader's open tasks, serves the waiting scans ahead of the
 * request in queue order (domain `reserveAfter`) and, when readers are left for it, inserts the open tasks it grants:
 * two scans assigning at the same moment can no longer push a reader past the cap. A scan that gets no readers is put
 * on `reader_waitlist` and waits; the projection writes that free capacity name the waiting scans to wake
 * ({@link scansToWake}).
 *
 * Granted tasks are inserted `reserved`: they hold the readers' capacity but stay out of the inboxes until the scan's
 * own projection write opens them, so nobody can submit to a task before the workflow has taken it up (a worker that
 * dies between the commit and its report would otherwise leave readers a task the workflow answers "not found" to).
 *
 * Idempotent: the task ids are the workflow's, and a retry after a committed grant returns the same readers.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { DataSource } from 'typeorm';

import { releaseClosedAhead, sweepClosedScans, scansToWake as wakeable } from '../db/capacity-queue';
import type { CapacitySweep, RunHoldings, SweepMemory, SweepProbes, WorkflowProbe } from '../db/capacity-queue';
import { repositories } from '../db/repositories';
import type { WaitlistEntry } from '../db/repositories';
import type { ReaderRequest, Reservation } from '../domain/capacity';
import { reserveAfter } from '../domain/capacity';
import type { RosterEntry } from '../domain';
import type { TaskRole } from '../domain/vocabulary';
import { statusQuery } from '../workflows/scan-lifecycle.messages';

/** A task the workflow wants to open (ids and times are the workflow's); the reader is chosen by the reservation. */
export interface TaskTemplate {
  id: string;
  slot: number;
  round: number;
  assignedAt: string;
  dueAt: string;
}

/** Input of `reserveReaders`. */
export interface ReserveReadersInput {
  scanId: string;
  role: TaskRole;
  /** One task per reader wanted (`count` = `tasks.length`). */
  tasks: TaskTemplate[];
  excludedReaderIds: string[];
  spareSeniors?: boolean;
  preferredReaderId?: string;
  /** Place in the queue: a higher priority first, then `enqueuedAt` (ISO-8601, the workflow's time when it first waited). */
  priority: number;
  enqueuedAt: string;
  /** False for a manager's reassignment: decided at once, never queued (and served before the queue). */
  queue: boolean;
  /** The scan still waits for other readers after this grant (another task's replacement): it keeps its place. */
  keepQueued?: boolean;
}

/** The capacity activities (names are part of the contract, see docs/architecture.md). */
export interface CapacityActivities {
  reserveReaders(input: ReserveReadersInput): Promise<Reservation>;
  /** The periodic sweep (`capacitySweeper`): releases what closed scan workflows hold, names the scans to wake. */
  sweepCapacity(): Promise<CapacitySweep>;
}

/**
 * Execution statuses of a closed workflow: its own code will never close its tasks. Anything else (running, paused,
 * continued as new: describe answers the latest run) is left alone.
 */
const CLOSED_STATUSES: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

function requestOf(input: ReserveReadersInput): ReaderRequest {
  const r: ReaderRequest = { scanId: input.scanId, role: input.role, count: input.tasks.length, excludedReaderIds: input.excludedReaderIds };
  if (input.spareSeniors) r.spareSeniors = true;
  if (input.preferredReaderId !== undefined) r.preferredReaderId = input.preferredReaderId;
  return r;
}

/** One reservation in one transaction; also the waiters it found ahead (for the closed-workflow check). */
async function reserveOnce(ds: DataSource, input: ReserveReadersInput, runId?: string): Promise<{ reservation: Reservation; ahead: WaitlistEntry[] }> {
  return ds.transaction(async (em) => {
    const db = repositories(em);
    await db.readerWaitlist.lockCapacity();
    const existing = await db.tasks.readersOf(input.tasks.map((t) => t.id));
    if (existing.size === input.tasks.length && existing.size > 0) {
      return { reservation: { granted: true, readerIds: input.tasks.map((t) => existing.get(t.id) as string) }, ahead: [] };
    }
    const req = requestOf(input);
    let roster = await db.readers.roster();
    // The scan's other tasks of these rounds in Postgres that the workflow may not know (an earlier run's, when the
    // scan was re-run under its id): their readers are never granted again for them (one task per reader, role and
    // round); one still held counts as busy until the capacity sweep frees it, so the scan waits instead of failing.
    const rounds = [...new Set(input.tasks.map((t) => t.round))];
    const others = await db.tasks.readersOfScanRounds(input.scanId, input.role, rounds, input.tasks.map((t) => t.id));
    const excluded = new Set(req.excludedReaderIds);
    const busy = new Set(others.filter((o) => o.held && !excluded.has(o.reader_id)).map((o) => o.reader_id));
    const done = others.filter((o) => !o.held && !excluded.has(o.reader_id)).map((o) => o.reader_id);
    if (done.length > 0) req.excludedReaderIds = [...req.excludedReaderIds, ...done];
    if (busy.size > 0) roster = roster.map((r): RosterEntry => (busy.has(r.readerId) ? { ...r, openTasks: Math.max(r.openTasks, r.openTaskCap) } : r));
    const waiting = (await db.readerWaitlist.ordered()).filter((w) => w.scanId !== input.scanId);
    const ahead = input.queue
      ? waiting.filter(
          (w) =>
            w.priority > input.priority ||
            (w.priority === input.priority && (w.enqueuedAt < input.enqueuedAt || (w.enqueuedAt === input.enqueuedAt && w.scanId < input.scanId))),
        )
      : [];
    const r = reserveAfter(
      roster,
      ahead.map((w) => w.request),
      req,
    );
    if (r.granted) {
      for (const [i, t] of input.tasks.entries()) {
        await db.tasks.upsert(
          { id: t.id, scanId: input.scanId, readerId: r.readerIds[i], role: input.role, slot: t.slot, round: t.round, status: 'reserved', assignedAt: t.assignedAt, dueAt: t.dueAt },
          runId,
        );
      }
      if (!input.keepQueued) await db.readerWaitlist.remove(input.scanId);
    } else if (r.waiting && input.queue) {
      await db.readerWaitlist.upsert({ scanId: input.scanId, priority: input.priority, enqueuedAt: input.enqueuedAt, request: req, ...(runId ? { runId } : {}) });
    } else if (!r.waiting) {
      await db.readerWaitlist.remove(input.scanId);
    }
    return { reservation: r, ahead };
  });
}

/**
 * Reserves readers in one transaction: see the module header. With a probe, a request that must wait behind scans
 * whose workflows have closed (terminated from outside, never leaving the queue) has them released and is asked again.
 * `runId`: the asking workflow run, recorded with the tasks granted and the queue place (the capacity sweep frees what
 * an earlier run of a re-run scan holds).
 */
export async function reserveReaders(ds: DataSource, input: ReserveReadersInput, probe?: WorkflowProbe, runId?: string): Promise<Reservation> {
  for (let attempt = 0; ; attempt++) {
    const { reservation, ahead } = await reserveOnce(ds, input, runId);
    if (reservation.granted || !reservation.waiting || !probe || attempt >= 3) return reservation;
    if (!(await releaseClosedAhead(ds, ahead, probe))) return reservation;
  }
}

/**
 * After a write that freed capacity (a task left `open`): the waiting scans the readers can serve now, in queue
 * order, each holding its readers before the next is considered (so a few freed slots wake a few scans, not all).
 * Read after the commit; a wake-up that comes too early or twice costs one reservation that finds nothing. A waiting
 * scan whose workflow has closed is released on the way (src/db/capacity-queue.ts).
 */
export function scansToWake(ds: DataSource, probe?: WorkflowProbe): Promise<string[]> {
  return wakeable(ds, probe);
}

/**
 * The closed-workflow check of a running activity: its worker's client describes the scan's workflow. Outside an
 * activity (no context), none.
 */
export function activityProbe(): WorkflowProbe | undefined {
  let client: Client;
  try {
    client = Context.current().client;
  } catch {
    return undefined;
  }
  return clientProbe(client);
}

/** The workflow run of the running activity (recorded with what it reserves); outside an activity, none. */
export function activityRunId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.runId;
  } catch {
    return undefined;
  }
}

/** {@link WorkflowProbe} through a Temporal client: `describe` of the scan's workflow (id = scan id, latest run). */
export function clientProbe(client: Client): WorkflowProbe {
  return async (scanId) => {
    try {
      const d = await client.workflow.getHandle(scanId).describe();
      return CLOSED_STATUSES.has(d.status.name) ? { running: false, status: d.status.name } : { running: true, runId: d.runId };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { running: false, status: 'NOT_FOUND' };
      return { running: true }; // cannot tell: remove nothing
    }
  };
}

/** Workflow ids listed per visibility query. */
const LIST_CHUNK = 100;
/** Ids the visibility query can carry between double quotes as they are (scan ids are hex digests). */
const PLAIN_ID = /^[\w.:-]+$/;

/** Deadline of one `status` query of a scan's current run (a worker must answer it). */
const HOLDINGS_QUERY_MS = 10_000;

/**
 * {@link RunHoldings} through a Temporal client: the `status` query of that run (strongly consistent: answered after
 * the run has applied its history). Every task it knows is its own, whatever its state; it waits while in
 * `waiting-for-readers`. No answer (no worker, not a scan workflow, a newer run): undefined.
 */
export function clientHoldings(client: Client): RunHoldings {
  return async (scanId, runId) => {
    try {
      const s = await client.withDeadline(Date.now() + HOLDINGS_QUERY_MS, () => client.workflow.getHandle(scanId, runId).query(statusQuery));
      if (!s || !Array.isArray(s.tasks)) return undefined;
      return { taskIds: s.tasks.map((t) => t.taskId), waiting: s.stage === 'waiting-for-readers' || s.waitingForReaders !== undefined };
    } catch {
      return undefined;
    }
  };
}

/**
 * Visibility list calls sent at once by {@link visibilityRunning}: one (`npm run bench:capacity-sweep`: four at once
 * took longer on the dev server's SQLite visibility, 15.1 s vs 11.7 s for 173 calls).
 */
const LIST_CONCURRENCY = 1;

/**
 * The scans of `scanIds` Temporal visibility lists as running, each with its running run's id (one list call per
 * hundred): the sweep describes only the others, and the ones whose rows name a run not listed.
 * Eventually consistent, so only ever used to skip work: a scan missing from it is described. A list that fails lists
 * nothing (every scan is described).
 */
export function visibilityRunning(client: Client, opts: { concurrency?: number } = {}): (scanIds: readonly string[]) => Promise<Map<string, string[]>> {
  return async (scanIds) => {
    const running = new Map<string, string[]>();
    const plain = scanIds.filter((id) => PLAIN_ID.test(id));
    const chunks: string[][] = [];
    for (let i = 0; i < plain.length; i += LIST_CHUNK) chunks.push(plain.slice(i, i + LIST_CHUNK));
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < chunks.length) {
        const ids = chunks[next++];
        const query = `WorkflowId IN (${ids.map((id) => `"${id}"`).join(', ')}) AND ExecutionStatus = "Running"`;
        try {
          for await (const w of client.workflow.list({ query })) running.set(w.workflowId, [...(running.get(w.workflowId) ?? []), w.runId]);
        } catch {
          // Visibility unavailable: these are described instead.
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? LIST_CONCURRENCY, chunks.length) }, lane));
    return running;
  };
}

/**
 * The workflows (ids) with a run closed at or after `since`, from Temporal visibility (one list call per thousand):
 * what an incremental sweep round checks. Undefined when visibility cannot answer (the round is then a full one).
 */
export function visibilityClosedSince(client: Client): (since: Date) => Promise<Set<string> | undefined> {
  return async (since) => {
    const ids = new Set<string>();
    try {
      const query = `ExecutionStatus != "Running" AND CloseTime >= "${since.toISOString()}"`;
      for await (const w of client.workflow.list({ query, pageSize: 1000 })) ids.add(w.workflowId);
      return ids;
    } catch {
      return undefined;
    }
  };
}

/** The sweep's questions to Temporal through a client. */
export function clientSweepProbes(client: Client, opts: { listConcurrency?: number } = {}): SweepProbes {
  return {
    probe: clientProbe(client),
    listedRunning: visibilityRunning(client, opts.listConcurrency === undefined ? {} : { concurrency: opts.listConcurrency }),
    closedSince: visibilityClosedSince(client),
    holdings: clientHoldings(client),
  };
}

/**
 * One capacity sweep with the running activity's client (see {@link sweepClosedScans}). `memory`: what this worker's
 * earlier rounds left (incremental rounds); without it, a full round.
 */
export async function sweepCapacity(ds: DataSource, client: Client, memory?: SweepMemory): Promise<CapacitySweep> {
  return sweepClosedScans(ds, clientSweepProbes(client), memory);
}

export function createCapacityActivities(deps: { dataSource: DataSource }): CapacityActivities {
  // The sweeper's rounds on this worker, per task queue (a sweeper per task queue; a round on another worker, or a
  // worker restart, only makes the next round here look further back or be a full one).
  const memories = new Map<string, SweepMemory>();
  return {
    reserveReaders: (input) => reserveReaders(deps.dataSource, input, activityProbe(), activityRunId()),
    sweepCapacity: () => {
      const ctx = Context.current();
      const queue = ctx.info.taskQueue;
      let memory = memories.get(queue);
      if (!memory) memories.set(queue, (memory = { seen: new Set(), lastAt: 0, fullAt: Number.NEGATIVE_INFINITY }));
      return sweepCapacity(deps.dataSource, ctx.client, memory);
    },
  };
}
