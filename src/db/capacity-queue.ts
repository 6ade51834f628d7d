/**
 * The waiting side of reader capacity (issue #12), shared by the projection activities (a write freed readers) and the
 * API (a reader's cap raised, a reader activated or added): which scans of `reader_waitlist` the readers can serve now,
 * so their workflows are woken with `readersAvailable`.
 *
 * A waiting scan whose workflow ended without leaving the queue (terminated or timed out from outside: its own code
 * never ran) would be served first for ever and hold the capacity of the scans behind it. Before a scan is named to
 * wake, its workflow is asked for ({@link WorkflowProbe}); a closed one is taken off the queue, its held tasks are
 * closed and its row is moved to `cancelled` with an audit event, and the queue is read again.
 */
import type { DataSource } from 'typeorm';

import { servableNow } from '../domain/capacity';
import type { ReaderRequest } from '../domain/capacity';
import { grantInOrder } from '../domain/capacity';
import { repositories } from './repositories';
import type { Db, WaitlistEntry } from './repositories';

/**
 * How a scan's workflow stands: `running` (with its current run's id when known), or `closed` (ended, or unknown to
 * Temporal) with the execution status name. A probe that cannot tell (server unreachable) answers `running` without a
 * run id: nothing is removed on a guess.
 */
export type WorkflowProbe = (scanId: string) => Promise<{ running: true; runId?: string } | { running: false; status: string }>;

/**
 * What the running run `runId` of a scan's workflow holds of reader capacity (its `status` query): every task it knows
 * (by id) and whether it waits for readers. `undefined` when it cannot tell (no worker answered, not a scan workflow):
 * nothing is released on a guess.
 */
export type RunHoldings = (scanId: string, runId: string) => Promise<{ taskIds: string[]; waiting: boolean } | undefined>;

/** Reason written in the audit trail for what an earlier run of a re-run scan held. */
const EARLIER_RUN_REASON = 'held by an earlier run of the scan (re-run under its scan id)';

/** At most this many rounds of "find closed waiters, remove them, read the queue again" per call. */
const MAX_ROUNDS = 5;

/**
 * Takes a scan whose workflow has closed off the capacity queue: its waitlist row goes, its `reserved` and `open`
 * tasks are cancelled (their readers' capacity is free again) and its row leaves a non-final stage for `cancelled`,
 * each audited (actor `system`, `foundBy`: the queue's check or the periodic sweep). Idempotent. Returns true when
 * something was released.
 */
export async function releaseClosedScan(ds: DataSource, scanId: string, workflowStatus: string, foundBy: 'queue' | 'sweep' = 'queue'): Promise<boolean> {
  return ds.transaction(async (em) => {
    const db = repositories(em);
    await db.readerWaitlist.lockCapacity();
    const entry = (await db.readerWaitlist.ordered()).find((w) => w.scanId === scanId);
    await db.readerWaitlist.remove(scanId);
    const tasks = await db.tasks.cancelHeldOf(scanId);
    const from = await db.scans.closeOutside(scanId, 'cancelled');
    if (!entry && tasks.length === 0 && from === undefined) return false;
    const at = new Date().toISOString();
    const key = `${scanId}:workflow-closed:${entry?.enqueuedAt ?? at}`;
    const reason = `workflow ${workflowStatus.toLowerCase()} outside ReadFlow`;
    await db.auditEvents.insert([
      ...(from !== undefined ? [{ key: `${key}:stage`, scanId, actor: 'system', action: 'stage:cancelled', detail: { from, to: 'cancelled', reason, workflowStatus, foundBy }, at }] : []),
      ...tasks.map((t) => ({
        key: `${key}:${t.id}`,
        scanId,
        taskId: t.id,
        actor: 'system',
        action: 'task:cancelled',
        detail: { readerId: t.reader_id, was: t.status, reason, workflowStatus, foundBy },
        at,
      })),
    ]);
    return true;
  });
}

/**
 * A scan re-run under its scan id (an operator reset it, or terminated and started it again) while an earlier run's
 * tasks or queue place were left: asked by workflow id Temporal answers "running" (the new run), so
 * {@link releaseClosedScan} never applies. Its `reserved`/`open` tasks recorded with another run than `currentRunId`
 * are cancelled (audited) unless the current run holds them (`held.taskIds`: a reset run took them over, they are
 * recorded as its own), and its waitlist entry queued by another run leaves the list unless the current run waits.
 * The scan's row is the current run's: untouched. Returns the earlier runs released from (empty: nothing released).
 */
export async function releaseEarlierRuns(
  ds: DataSource,
  scanId: string,
  currentRunId: string,
  held: { taskIds: readonly string[]; waiting: boolean },
  foundBy: 'queue' | 'sweep' = 'sweep',
): Promise<string[]> {
  return ds.transaction(async (em) => {
    const db = repositories(em);
    await db.readerWaitlist.lockCapacity();
    const tasks = await db.tasks.releaseEarlierRuns(scanId, currentRunId, held.taskIds);
    const left = await db.readerWaitlist.releaseEarlierRun(scanId, currentRunId, held.waiting);
    const at = new Date().toISOString();
    await db.auditEvents.insert(
      tasks.map((t) => ({
        key: `${scanId}:run-superseded:${t.run_id}:${t.id}`,
        scanId,
        taskId: t.id,
        actor: 'system',
        action: 'task:cancelled',
        detail: { readerId: t.reader_id, was: t.status, reason: EARLIER_RUN_REASON, runId: t.run_id, currentRunId, foundBy },
        at,
      })),
    );
    const runs = new Set(tasks.map((t) => t.run_id));
    if (left) runs.add('(queue place)');
    return [...runs];
  });
}

/** Asks `probe` about `scanIds` and releases the closed ones. Returns how many were released. */
async function releaseClosed(ds: DataSource, scanIds: readonly string[], probe: WorkflowProbe): Promise<number> {
  const states = await Promise.all(scanIds.map(async (id) => ({ id, state: await probe(id) })));
  let released = 0;
  for (const { id, state } of states) {
    if (!state.running && (await releaseClosedScan(ds, id, state.status))) released += 1;
  }
  return released;
}

/**
 * The waiting scans (in queue order) the readers' current capacity can serve now, each holding its readers before the
 * next is considered. With a probe, none of them has a closed workflow (closed ones are released on the way).
 */
export async function scansToWake(ds: DataSource, probe?: WorkflowProbe): Promise<string[]> {
  for (let round = 0; ; round++) {
    const r = repositories(ds as Db);
    if (!(await r.readerWaitlist.any())) return [];
    const roster = await r.readers.roster();
    // No active reader below the cap: nobody can be served, whatever waits (the usual state while many wait; spares
    // reading the whole queue, `npm run bench:capacity-sweep`).
    if (!roster.some((e) => e.active && e.openTasks < e.openTaskCap)) return [];
    const waiting = await r.readerWaitlist.ordered();
    const wake = servableNow(
      roster,
      waiting.map((w) => w.request),
    );
    if (!probe || wake.length === 0 || round >= MAX_ROUNDS) return wake;
    if ((await releaseClosed(ds, wake, probe)) === 0) return wake;
  }
}

/**
 * After a reservation that had to wait: the waiting scans ahead of it that the capacity would serve first (the ones
 * that kept it waiting). A closed one among them is released; true when one was, so the reservation is worth asking
 * again at once (it would otherwise wait for a signal that a dead scan ahead never lets come).
 */
export async function releaseClosedAhead(ds: DataSource, ahead: readonly WaitlistEntry[], probe: WorkflowProbe): Promise<boolean> {
  if (ahead.length === 0) return false;
  const roster = await repositories(ds as Db).readers.roster();
  const served = grantInOrder(
    roster,
    ahead.map((w): ReaderRequest => w.request),
  ).granted;
  return (await releaseClosed(ds, [...served.keys()], probe)) > 0;
}

/** How many workflows the sweep describes at once (only the ones visibility does not list as running). */
const DESCRIBE_CONCURRENCY = 8;

/** What one capacity sweep did. */
export interface CapacitySweep {
  /** Scans that held capacity or waited for it. */
  checked: number;
  /** A full round (every such scan checked against visibility), or an incremental one (only those that could have changed). */
  full?: boolean;
  /** Scans described one by one (strongly consistent). */
  described?: number;
  /**
   * The ones whose workflow was closed, taken off the queue; and (`RUN_SUPERSEDED`) the re-run scans whose earlier
   * runs' tasks or queue place were released.
   */
  released: { scanId: string; workflowStatus: string; earlierRunIds?: string[] }[];
  /** Waiting scans the capacity can serve now (after the release), to signal `readersAvailable`. */
  wake: string[];
}

/** How the sweep asks Temporal (see {@link sweepClosedScans}). */
export interface SweepProbes {
  /** Strongly consistent: `describe` of the scan's workflow (latest run). */
  probe: WorkflowProbe;
  /**
   * Temporal visibility, eventually consistent (one list call per hundred scans): for the scans of `scanIds` it lists
   * as running, the running runs' ids. Only ever used to skip work.
   */
  listedRunning?: (scanIds: readonly string[]) => Promise<Map<string, string[]>>;
  /**
   * Temporal visibility: the ids of the workflows with a run closed at or after `since` (any status), or undefined when
   * it cannot tell. Lets a round check only the scans whose workflow could have changed.
   */
  closedSince?: (since: Date) => Promise<Set<string> | undefined>;
  /** The current run's own holdings (its `status` query), asked only of a scan whose rows name another run. */
  holdings?: RunHoldings;
}

/**
 * What a sweeper's rounds remember between them (kept by the caller, in memory: a worker that starts has none, and
 * its first round is a full one).
 */
export interface SweepMemory {
  /** The scans that held capacity or waited at the last round. */
  seen: Set<string>;
  /** When the last round started, and the last full round (ms since the epoch, this machine's clock). */
  lastAt: number;
  fullAt: number;
}

/**
 * Every so often a round is a full one, whatever changed: it finds what the incremental rounds cannot see (a workflow
 * Temporal no longer knows, a close visibility missed).
 */
export const FULL_SWEEP_EVERY_MS = 10 * 60_000;
/** The incremental round looks for workflows closed since the last round started, less this (visibility lag, clocks). */
export const CLOSED_SINCE_MARGIN_MS = 2 * 60_000;

/**
 * The periodic capacity sweep (workflow `capacitySweeper`): every scan that holds reader capacity (`reserved`/`open`
 * tasks) or waits for it (`reader_waitlist`) whose workflow is closed is released ({@link releaseClosedScan}); a scan
 * whose workflow runs but whose rows were written by another run (re-run under its scan id) has what the earlier runs
 * held released ({@link releaseEarlierRuns}); the waiting scans the capacity can then serve are returned to wake.
 *
 * A full round asks visibility about every such scan (`listedRunning`: the scans known to be running, with their
 * runs), so only the others, and those whose rows name a run it does not list, are described one by one (`probe`,
 * strongly consistent): visibility is never trusted to release anything. With `memory` (and `closedSince`), a round
 * checks only the scans whose state could have changed since the last one: the ones that started holding or waiting
 * since, and the ones whose workflow had a run close since (terminated, cancelled, timed out, or ended by a reset or
 * a restart: every re-run closes the run before it). A full round comes every {@link FULL_SWEEP_EVERY_MS}, and
 * whenever visibility cannot answer. At 17,000 waiting scans the full round costs about 170 list calls, the
 * incremental one a single call (`npm run bench:capacity-sweep`). Full rounds send their list calls one after the
 * other: the dev server's SQLite visibility answered four at once more slowly.
 */
export async function sweepClosedScans(ds: DataSource, probes: SweepProbes, memory?: SweepMemory): Promise<CapacitySweep> {
  const startedAt = Date.now();
  const holders = await repositories(ds as Db).tasks.capacityHolders();
  let full = !memory || !probes.closedSince || startedAt - memory.fullAt >= FULL_SWEEP_EVERY_MS;
  let candidates = holders;
  if (!full && memory && probes.closedSince) {
    const closed = holders.length > 0 ? await probes.closedSince(new Date(memory.lastAt - CLOSED_SINCE_MARGIN_MS)) : new Set<string>();
    if (closed === undefined) full = true;
    else candidates = holders.filter((h) => closed.has(h.scanId) || !memory.seen.has(h.scanId));
  }
  const listed = probes.listedRunning && candidates.length > 0 ? await probes.listedRunning(candidates.map((h) => h.scanId)) : new Map<string, string[]>();
  const suspects = candidates.filter((h) => {
    const runs = listed.get(h.scanId);
    return runs === undefined || h.runIds.some((r) => !runs.includes(r));
  });
  const released: CapacitySweep['released'] = [];
  for (let i = 0; i < suspects.length; i += DESCRIBE_CONCURRENCY) {
    const batch = suspects.slice(i, i + DESCRIBE_CONCURRENCY);
    const states = await Promise.all(batch.map(async (h) => ({ h, state: await probes.probe(h.scanId) })));
    for (const { h, state } of states) {
      const scanId = h.scanId;
      if (!state.running) {
        if (await releaseClosedScan(ds, scanId, state.status, 'sweep')) released.push({ scanId, workflowStatus: state.status });
        continue;
      }
      const current = state.runId;
      if (current === undefined || !probes.holdings || h.runIds.every((r) => r === current)) continue;
      const held = await probes.holdings(scanId, current);
      if (!held) continue;
      const earlier = await releaseEarlierRuns(ds, scanId, current, held, 'sweep');
      if (earlier.length > 0) released.push({ scanId, workflowStatus: 'RUN_SUPERSEDED', earlierRunIds: earlier });
    }
  }
  const wake = await scansToWake(ds, probes.probe);
  if (memory) {
    memory.seen = new Set(holders.map((h) => h.scanId));
    memory.lastAt = startedAt;
    if (full) memory.fullAt = startedAt;
  }
  return { checked: holders.length, full, described: suspects.length, released, wake };
}
