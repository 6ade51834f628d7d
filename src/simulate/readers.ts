import type { FusedResult } from '../domain/fusion';
import { fusedToReading } from '../domain/fusion';
import type { Reading } from '../domain/reading';
import type { ApiClient } from './client';
import { must, withRetry } from './client';
import type { Distribution } from './random';
import { draw, Rng } from './random';
import type { ReaderNoise, Truth } from './truth';
import { noisyReading } from './truth';

/** What the readers need to know of the run (shared, updated by the director). */
export interface ReadingWorld {
  /** The scan behind an image, with its seeded truth (undefined: not known yet). */
  scanOfImage(imageId: string): Promise<{ scanId: string; truth?: Truth; stonewall: boolean } | undefined>;
  /** Another reader's task ids (for the blinding probe). */
  someoneElsesTask(readerId: string, rng: Rng): string | undefined;
  done(): boolean;
  /** Waits while the scan's readings are held back (chaos mode). */
  beforeReading(scanId: string): Promise<void>;
  stats: { retries: number };
  readTime: Distribution;
  speed: number;
  /** Tasks one reader works on at once. */
  parallel: number;
}

export interface SubmissionRecord {
  taskId: string;
  readerId: string;
  scanId: string;
  role: 'reader' | 'reviewer';
  at: number;
}

export interface ReaderCounters {
  submitted: number;
  lateRejections: number;
  gone: number;
  invalid: string[];
  blindingViolations: string[];
}

/** One simulated radiologist: polls the inbox, reads (a drawn time), submits noisy boxes; seniors review. */
export class SimulatedReader {
  readonly counters: ReaderCounters = { submitted: 0, lateRejections: 0, gone: 0, invalid: [], blindingViolations: [] };
  readonly submissions: SubmissionRecord[] = [];
  readonly seenTasks = new Set<string>();
  /** Duration of each inbox request (`GET /me/tasks`), ms, retries included. */
  readonly inboxMs: number[] = [];
  /** Time from assignment (the task's assignedAt) to this reader first seeing it in the inbox. */
  readonly pickupLagMs: number[] = [];
  absentFrom = Infinity;
  absentUntil = 0;
  private handled = new Set<string>();
  /** Tasks being read now (a radiologist may have a few open at once: `parallel`). */
  private readonly inHand = new Map<string, Promise<void>>();

  constructor(
    readonly id: string,
    readonly senior: boolean,
    readonly api: ApiClient,
    private readonly noise: ReaderNoise,
    private readonly rng: Rng,
    private readonly world: ReadingWorld,
  ) {}

  private absent(now = Date.now()): boolean {
    return now >= this.absentFrom && now < this.absentUntil;
  }

  async run(): Promise<void> {
    const { stats } = this.world;
    while (!this.world.done()) {
      if (this.absent()) {
        await sleep(500);
        continue;
      }
      let items: { taskId: string; role: 'reader' | 'reviewer'; imageId: string; assignedAt: string }[] = [];
      try {
        const asked = performance.now();
        const page = await must('inbox', () => this.api.GET('/api/v1/me/tasks', { params: { query: { status: 'open', limit: 200 } } }), stats);
        this.inboxMs.push(performance.now() - asked);
        items = page.items;
      } catch {
        await sleep(1000);
        continue;
      }
      const todo = items.filter((t) => !this.handled.has(t.taskId) && !this.inHand.has(t.taskId));
      for (const t of todo) {
        if (this.world.done() || this.absent()) break;
        while (this.inHand.size >= this.world.parallel) await Promise.race(this.inHand.values());
        if (!this.seenTasks.has(t.taskId)) this.pickupLagMs.push(Date.now() - Date.parse(t.assignedAt));
        this.seenTasks.add(t.taskId);
        const work = this.handle(t.taskId)
          .catch((err: unknown) => {
            this.counters.invalid.push(`${this.id} ${t.taskId}: ${err instanceof Error ? err.message : String(err)}`);
            this.handled.add(t.taskId);
          })
          .finally(() => this.inHand.delete(t.taskId));
        this.inHand.set(t.taskId, work);
      }
      if (todo.length === 0) await sleep(300 + this.rng.int(0, 200));
    }
    await Promise.all(this.inHand.values());
  }

  private async handle(taskId: string): Promise<void> {
    const { stats } = this.world;
    const detail = await withRetry('task detail', () => this.api.GET('/api/v1/tasks/{taskId}', { params: { path: { taskId } } }), stats);
    if (detail.status === 404) {
      this.counters.gone++;
      this.handled.add(taskId);
      return;
    }
    if (detail.status !== 200 || !detail.data) throw new Error(`GET /tasks/${taskId}: ${detail.status}`);
    const d = detail.data;
    const role = d.task.role;
    // Blinding: a reader never sees another reading (no review context, no submission but their own, none yet).
    if (role === 'reader' && d.review !== undefined) this.counters.blindingViolations.push(`${this.id} saw a review context on reader task ${taskId}`);
    if (role === 'reader' && d.submission) this.counters.blindingViolations.push(`${this.id} saw a submission on open task ${taskId}`);
    if (this.rng.chance(0.1)) {
      const other = this.world.someoneElsesTask(this.id, this.rng);
      if (other) {
        const probe = await withRetry('blinding probe', () => this.api.GET('/api/v1/tasks/{taskId}', { params: { path: { taskId: other } } }), stats);
        if (probe.status !== 404) this.counters.blindingViolations.push(`${this.id} GET another reader's task ${other}: ${probe.status}`);
      }
    }
    const imageId = d.image.imageId;
    const scan = await this.world.scanOfImage(imageId);
    if (!scan) return; // not mapped yet: picked up on a later poll
    if (scan.stonewall && role === 'reader') {
      this.handled.add(taskId); // deliberately never answered
      return;
    }
    const rows = d.image.rows ?? 0;
    const columns = d.image.columns ?? 0;
    if (role === 'reader') await this.world.beforeReading(scan.scanId);
    const ms = draw(this.world.readTime, this.rng, this.world.speed);
    if (ms > 0) await sleep(ms);
    let body: { decision?: 'submit' | 'confirm'; boxes?: Reading['boxes']; globalLabels?: string[] };
    if (role === 'reader') {
      const truth = scan.truth ?? { boxes: [], globalLabels: ['No finding'] };
      body = noisyReading(truth, this.noise, this.rng, rows, columns);
    } else if (d.review?.proposal) {
      body = { decision: 'confirm' };
    } else {
      const fused = fusedToReading(d.review?.fused as unknown as FusedResult);
      const reading =
        fused.boxes.length || fused.globalLabels.length ? fused : noisyReading(scan.truth ?? { boxes: [], globalLabels: ['No finding'] }, this.noise, this.rng, rows, columns);
      body = { decision: 'submit', boxes: reading.boxes, globalLabels: reading.globalLabels };
    }
    const r = await withRetry(
      'submission',
      () => this.api.POST('/api/v1/tasks/{taskId}/submission', { params: { path: { taskId } }, body }),
      stats,
    );
    this.handled.add(taskId);
    if (r.status === 200) {
      this.counters.submitted++;
      this.submissions.push({ taskId, readerId: this.id, scanId: scan.scanId, role, at: Date.now() });
    } else if (r.status === 409 || r.status === 404) {
      this.counters.lateRejections++;
    } else {
      this.counters.invalid.push(`${this.id} ${taskId}: submission ${r.status} ${JSON.stringify(r.error).slice(0, 300)}`);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { Rng };
