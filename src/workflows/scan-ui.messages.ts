/**
 * What the Temporal UI shows of a scan workflow before it ran a line of code: its static summary and details (Temporal
 * user metadata, set by whoever starts the workflow: the API's gateway, `ingestBatch`, benches and tests).
 *
 * Only non-identifying values: the pseudonymous scan id (an HMAC, also the workflow id), the split and the policy.
 * Never the file name, the staged file's key, a batch directory or anything read from the DICOM header. User metadata
 * is a payload and goes through ReadFlow's payload codec like every other (encrypted at rest, decoded in the UI through
 * the codec endpoint), but it is written to be safe even if it did not.
 *
 * In-workflow metadata (current details, activity and timer summaries) is `scan-ui.ts`.
 *
 * May import: `import type` of `src/domain` and the scan's messages.
 */
import type { ReadingPolicy } from '../domain';
import type { ScanLifecycleInput } from './scan-lifecycle.messages';

/** `staticSummary` and `staticDetails` of a workflow start (`WorkflowStartOptions`, `ChildWorkflowOptions`). */
export interface StaticMetadata {
  staticSummary: string;
  staticDetails: string;
}

/** A duration in the largest whole unit (`30 s`, `90 min`, `2 d`): deadlines as a manager sets them. */
export function formatDuration(ms: number): string {
  const units: [number, string][] = [
    [24 * 60 * 60 * 1000, 'd'],
    [60 * 60 * 1000, 'h'],
    [60 * 1000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

/** The policy in a few words: `independent-3 (3 readers)`, `consensus-5 (3 readers + 2 senior reviewers)`. */
export function describePolicy(policy: Pick<ReadingPolicy, 'name' | 'readers' | 'reviewers'>): string {
  const who = `${policy.readers} readers${policy.reviewers > 0 ? ` + ${policy.reviewers} senior reviewers` : ''}`;
  return `${policy.name} (${who})`;
}

/**
 * The static summary and details of a `scanLifecycle` run, from the only fields of its input that identify nobody.
 * Pass `scanStartMetadata(input)` spread into the start options.
 */
export function scanStartMetadata(input: Pick<ScanLifecycleInput, 'scanId' | 'split' | 'policy'>): StaticMetadata {
  const p = input.policy;
  const lines = [
    `**Scan** ${input.scanId} · **split** ${input.split} · **policy** ${describePolicy(p)}`,
    `Reading deadline ${formatDuration(p.taskDeadlineMs)}${p.reviewers > 0 ? `, review deadline ${formatDuration(p.reviewDeadlineMs)}` : ''}; up to ${p.maxReassignmentsPerTask} reassignments per task before a manager decides${p.reviewers > 0 ? `; ${p.maxReviewRounds} review rounds` : ''}.`,
    `Fusion: ${p.fusion.method}. Current stage, task holders and what the scan waits for: the workflow's current details.`,
  ];
  return {
    staticSummary: `Scan ${input.scanId} · ${input.split} · ${p.name}`,
    staticDetails: lines.join('\n\n'),
  };
}

/** The static summary and details of an `ingestBatch` run (its id, split and policy; never the directory). */
export function batchStartMetadata(input: { batchId: string; split: string; policy: Pick<ReadingPolicy, 'name' | 'readers' | 'reviewers'> }): StaticMetadata {
  return {
    staticSummary: `Ingest batch ${input.batchId} · ${input.split} · ${input.policy.name}`,
    staticDetails: `Stages each file of the batch and starts one scan workflow per file (split ${input.split}, policy ${describePolicy(input.policy)}). Progress: the \`progress\` query.`,
  };
}
