import { parseArgs } from 'node:util';

import type { PolicyName } from '../domain/policy';
import type { Distribution } from './random';
import { parseDistribution } from './random';

/** The simulator's own typed options (it reads no environment: flags only, validated once here). */
export interface SimOptions {
  scans: number;
  /** Share of scans in the test split (the rest are train). */
  testFraction: number;
  trainPolicy: PolicyName;
  testPolicy: PolicyName;
  /** Use the first N radiologists of the roster (0: all). */
  readers: number;
  readTime: Distribution;
  /** Reading speed multiplier (2 = twice as fast). */
  speed: number;
  /** Tasks one reader works on at once (tabs open). */
  readerParallel: number;
  /** Share of readers absent for a while (they stop answering; their tasks expire and are reassigned). */
  absentFraction: number;
  absentMs: number;
  /** Reader noise level (0: perfect readers). */
  noise: number;
  /** Scans whose readers deliberately never answer (they reach needs-attention and are cancelled by the manager). */
  escalate: number;
  /** Share of deliberately malformed or non-chest inputs (expected to be quarantined). */
  badFraction: number;
  /** Share of scans brought in through POST /batches rather than POST /scans (own stack only). */
  batchFraction: number;
  imageSize: number;
  encoding: 'explicit' | 'rle' | 'mixed';
  inputDir?: string;
  taskDeadline: string;
  reviewDeadline: string;
  /** Scans uploaded but not yet finished, at most (keeps open tasks under the readers' caps). */
  maxInFlight: number;
  uploadConcurrency: number;
  seed: number;
  json?: string;
  chaos: boolean;
  /** An existing ReadFlow instead of the simulator's own (needs adminToken; temporalAddress for the status check). */
  url?: string;
  adminToken?: string;
  temporalAddress?: string;
  /** That ReadFlow's READFLOW_PAYLOAD_KEYS, for the status check (its Temporal payloads are encrypted). */
  payloadKeys?: string;
  keep: boolean;
  progress: boolean;
  /** Give up (and fail) when the run has not finished after this long. */
  timeoutMs: number;
  preset?: 'vindr';
}

const POLICIES: readonly PolicyName[] = ['independent-3', 'consensus-5', 'independent-5', 'adaptive-3-5'];

export const USAGE = `npm run simulate -- [options]
  --scans N               scans to run (default 60)
  --test-fraction F       share in the test split (default 0.2)
  --train-policy P        independent-3 | independent-5 | adaptive-3-5 | consensus-5 (default independent-3)
  --test-policy P         (default consensus-5)
  --readers N             first N radiologists of the roster (default all)
  --read-time D           fixed:MS | uniform:MIN-MAX | lognormal:MEDIAN:SIGMA (default uniform:200-1500; 0 = instant)
  --speed X               reading speed multiplier (default 1)
  --reader-parallel N     tasks one reader works on at once (default 2)
  --absent-fraction F     readers absent for a while (default 0.1)
  --absent-ms MS          how long (default 40000)
  --noise L               reader noise level (default 1; 0 = perfect)
  --escalate N            scans whose readers never answer → needs-attention, then cancelled (default 0)
  --bad-fraction F        malformed / non-chest inputs, expected quarantined (default 0.03)
  --batch-fraction F      share ingested through POST /batches (own stack only; default 0.2)
  --image-size PX         synthetic image rows = columns (default 256)
  --encoding E            explicit | rle | mixed (default mixed)
  --input-dir DIR         upload the DICOM files of DIR instead of synthetic ones (no ground truth: no accuracy)
  --task-deadline D       own stack: READFLOW_TASK_DEADLINE (default 20s)
  --review-deadline D     own stack: READFLOW_REVIEW_DEADLINE (default 20s)
  --max-in-flight N       unfinished scans at most (default 150)
  --upload-concurrency N  (default 4)
  --seed N                (default 1)
  --json PATH             write the report as JSON
  --chaos                 kill the worker, restart Temporal and the API, cut Postgres, at seeded moments
  --url URL --admin-token T [--temporal-address H:P --payload-keys K]   drive an existing ReadFlow (rotates the roster's tokens!)
  --keep                  keep the run directory and database
  --no-progress           no progress bar
  --timeout-min M         fail when not finished after M minutes (default 30)
  --preset vindr          15,000 train × independent-3 + 3,000 test × consensus-5, instant readers`;

export function parseOptions(argv: string[]): SimOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scans: { type: 'string' },
      'test-fraction': { type: 'string' },
      'train-policy': { type: 'string' },
      'test-policy': { type: 'string' },
      readers: { type: 'string' },
      'read-time': { type: 'string' },
      speed: { type: 'string' },
      'reader-parallel': { type: 'string' },
      'absent-fraction': { type: 'string' },
      'absent-ms': { type: 'string' },
      noise: { type: 'string' },
      escalate: { type: 'string' },
      'bad-fraction': { type: 'string' },
      'batch-fraction': { type: 'string' },
      'image-size': { type: 'string' },
      encoding: { type: 'string' },
      'input-dir': { type: 'string' },
      'task-deadline': { type: 'string' },
      'review-deadline': { type: 'string' },
      'max-in-flight': { type: 'string' },
      'upload-concurrency': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      chaos: { type: 'boolean' },
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      'temporal-address': { type: 'string' },
      'payload-keys': { type: 'string' },
      keep: { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      'timeout-min': { type: 'string' },
      preset: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) throw new UsageError('');
  const problems: string[] = [];
  const num = (name: keyof typeof values, def: number, check: (n: number) => boolean, rule: string): number => {
    const v = values[name];
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || !check(n)) problems.push(`--${name}: ${rule}, got "${String(v)}"`);
    return n;
  };
  const frac = (n: number): boolean => n >= 0 && n <= 1;
  const policy = (name: 'train-policy' | 'test-policy', def: PolicyName): PolicyName => {
    const v = values[name] ?? def;
    if (!POLICIES.includes(v as PolicyName)) problems.push(`--${name}: one of ${POLICIES.join(', ')}`);
    return v as PolicyName;
  };
  const preset = values.preset;
  if (preset !== undefined && preset !== 'vindr') problems.push('--preset: only "vindr"');
  const vindr = preset === 'vindr';
  let readTime: Distribution = { kind: 'uniform', minMs: 200, maxMs: 1500 };
  try {
    if (values['read-time'] !== undefined) readTime = parseDistribution(values['read-time']);
    else if (vindr) readTime = { kind: 'fixed', ms: 0 };
  } catch (e) {
    problems.push(`--read-time: ${(e as Error).message}`);
  }
  const encoding = values.encoding ?? 'mixed';
  if (!['explicit', 'rle', 'mixed'].includes(encoding)) problems.push('--encoding: explicit, rle or mixed');
  const opts: SimOptions = {
    scans: num('scans', vindr ? 18_000 : 60, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
    testFraction: num('test-fraction', vindr ? 3000 / 18000 : 0.2, frac, 'between 0 and 1'),
    trainPolicy: policy('train-policy', 'independent-3'),
    testPolicy: policy('test-policy', 'consensus-5'),
    readers: num('readers', 0, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0'),
    readTime,
    speed: num('speed', 1, (n) => n > 0, 'positive'),
    readerParallel: num('reader-parallel', vindr ? 8 : 2, (n) => Number.isInteger(n) && n >= 1 && n <= 64, 'an integer in 1..64'),
    absentFraction: num('absent-fraction', vindr ? 0 : 0.1, frac, 'between 0 and 1'),
    absentMs: num('absent-ms', 40_000, (n) => n >= 0, '≥ 0'),
    noise: num('noise', 1, (n) => n >= 0 && n <= 5, 'between 0 and 5'),
    escalate: num('escalate', 0, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0'),
    badFraction: num('bad-fraction', vindr ? 0 : 0.03, frac, 'between 0 and 1'),
    batchFraction: num('batch-fraction', vindr ? 0.5 : 0.2, frac, 'between 0 and 1'),
    imageSize: num('image-size', vindr ? 128 : 256, (n) => Number.isInteger(n) && n >= 64 && n <= 4096, 'an integer in 64..4096'),
    encoding: encoding as SimOptions['encoding'],
    inputDir: values['input-dir'],
    taskDeadline: values['task-deadline'] ?? (vindr ? '72h' : '20s'),
    reviewDeadline: values['review-deadline'] ?? (vindr ? '48h' : '20s'),
    maxInFlight: num('max-in-flight', vindr ? 250 : 150, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
    uploadConcurrency: num('upload-concurrency', 4, (n) => Number.isInteger(n) && n > 0 && n <= 64, 'an integer in 1..64'),
    seed: num('seed', 1, Number.isInteger, 'an integer'),
    json: values.json,
    chaos: values.chaos ?? false,
    url: values.url,
    adminToken: values['admin-token'],
    temporalAddress: values['temporal-address'],
    payloadKeys: values['payload-keys'],
    keep: values.keep ?? false,
    progress: !values['no-progress'],
    timeoutMs: num('timeout-min', vindr ? 240 : 30, (n) => n > 0, 'positive') * 60_000,
    preset: vindr ? 'vindr' : undefined,
  };
  if (opts.url && !opts.adminToken) problems.push('--url needs --admin-token (an admin token of that ReadFlow)');
  if (opts.url && opts.chaos) problems.push('--chaos needs the simulator’s own ReadFlow (no --url)');
  if (problems.length) throw new UsageError(problems.join('\n'));
  return opts;
}

export class UsageError extends Error {}
