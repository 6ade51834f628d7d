/**
 * Messages of the `ingestBatch` workflow: input, the `progress` query, and the `scanIngested` signal
 * each scan sends back to its batch once it passed (or failed) the ingest stages.
 * Only `@temporalio/workflow` define* calls and types live here (the API imports this module).
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

import type { ReadingPolicy, Taxonomy } from '../domain';
import type { ScanSplit } from './scan-lifecycle.messages';

/** Where the batch's files come from. */
export type BatchManifest =
  /** An explicit list of file paths readable by the workers. */
  | { kind: 'files'; files: string[] }
  /** Every regular file under a directory (recursively), listed by an activity in sorted order. */
  | { kind: 'directory'; directory: string };

/** Counters of a batch (carried over continue-as-new). */
export interface BatchCounts {
  /** Files taken from the manifest so far. */
  listed: number;
  /** Scan workflows started by this batch. */
  started: number;
  /** Files whose scan already existed (same source SOP Instance UID): no new scan. */
  duplicate: number;
  /** Started scans that passed validation and de-identification. */
  accepted: number;
  /** Started scans refused at ingest (`quarantined`). */
  quarantined: number;
  /** Files that could not be staged at all (unreadable, too large…). */
  failed: number;
}

/** Input of `ingestBatch`. Workflow id: `batch-<batchId>`. */
export interface IngestBatchInput {
  batchId: string;
  manifest: BatchManifest;
  split: ScanSplit;
  /** Policy of every scan of the batch (full domain `ReadingPolicy`). */
  policy: ReadingPolicy;
  /** The project's own taxonomy, handed to every scan of the batch (`ScanLifecycleInput.taxonomy`); unset: VinDr-CXR. */
  taxonomy?: Taxonomy;
  /** Queue priority of every scan of the batch (`ScanLifecycleInput.priority`; the API defaults it by split). */
  priority?: number;
  /** Scans allowed in their ingest stages at once (default 20). */
  concurrency?: number;
  /** Files handled per run before continue-as-new (default 500). */
  filesPerRun?: number;
  /** Files listed per listing activity call (default 100). */
  pageSize?: number;
  /** Who started the batch, for the audit trail. */
  startedBy?: string;
  /** Carried over continue-as-new; leave unset when starting a batch. */
  carry?: IngestBatchCarry;
}

/** State handed from one run of a batch to the next (continue-as-new). */
export interface IngestBatchCarry {
  /** Index of the next manifest entry to take. */
  cursor: number;
  counts: BatchCounts;
  /** Scans started but not yet reported back (`scanIngested`). */
  pending: string[];
  /** Runs so far (1 for the first). */
  runs: number;
  startedAt: string;
}

/** Progress of a batch (`progress` query) and its final result. */
export interface BatchProgress {
  batchId: string;
  state: 'listing' | 'draining' | 'done';
  counts: BatchCounts;
  /** Scans started and not yet through ingest. */
  inFlight: number;
  /** Runs of the workflow so far (continue-as-new). */
  runs: number;
  startedAt: string;
  finishedAt?: string;
  /** Scan ids reported quarantined in the current run (bounded, for a quick look). */
  recentQuarantined: string[];
}

/** What a scan reports to its batch after the ingest stages. */
export interface ScanIngestedSignal {
  scanId: string;
  outcome: 'accepted' | 'quarantined' | 'failed';
}

/** Live progress of the batch. */
export const progressQuery = defineQuery<BatchProgress>('progress');

/** Sent by each scan started by the batch once it is through (or out of) ingest. */
export const scanIngestedSignal = defineSignal<[ScanIngestedSignal]>('scanIngested');
