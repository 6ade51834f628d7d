import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

import { Client, Connection } from '@temporalio/client';

import { scanIdFor } from '../dicom/uids';
import { readflowDataConverter } from '../temporal/connect';
import { parsePayloadKeys } from '../temporal/payload-codec';
import type { PolicyName } from '../domain/policy';
import type { ApiClient } from './client';
import { apiClient, must } from './client';
import { syntheticChest } from './dicom';
import type { SimOptions } from './options';
import type { ReadingWorld, SubmissionRecord } from './readers';
import { SimulatedReader, sleep } from './readers';
import { Rng } from './random';
import type { Truth } from './truth';
import { drawNoise, drawTruth } from './truth';

/** One scan of the run, as the simulator planned and observed it. */
export interface ScanRecord {
  n: number;
  split: 'train' | 'test';
  policy: PolicyName;
  expect: 'release' | 'quarantine' | 'escalate';
  truth?: Truth;
  bytes?: Buffer;
  file?: string;
  via: 'upload' | 'batch';
  scanId?: string;
  imageId?: string | null;
  stage?: string;
  attentionReason?: string | null;
  uploadedAt?: number;
  finishedAt?: number;
  releasedAt?: number;
  cancelRequested?: boolean;
  /** Its readings wait until the chaos plan is done (chaos mode): work in flight through every fault. */
  held?: boolean;
}

export interface RunTarget {
  apiUrl: string;
  adminToken: string;
  temporalAddress?: string;
  /** READFLOW_PAYLOAD_KEYS of that ReadFlow: its Temporal payloads are encrypted (SECURITY.md). */
  payloadKeys?: string;
  /** Own stack: the import dir (batches) and the de-identification secret (to name batch-ingested scans). */
  importDir?: string;
  deidSecret?: string;
}

export const FINAL = new Set(['released', 'quarantined', 'cancelled']);

export class Simulation {
  readonly scans: ScanRecord[] = [];
  readonly byScanId = new Map<string, ScanRecord>();
  readonly byImageId = new Map<string, ScanRecord>();
  readonly stats = { retries: 0 };
  readers: SimulatedReader[] = [];
  readonly admin: ApiClient;
  startedAt = 0;
  finishedAt = 0;
  private finished = false;
  private lastRefresh = 0;
  private refreshing?: Promise<void>;
  readonly rng: Rng;
  readonly timeline: { t: number; final: number }[] = [];

  constructor(
    readonly opts: SimOptions,
    readonly target: RunTarget,
    readonly onProgress: (done: number, stages: Record<string, number>) => void = () => undefined,
  ) {
    this.admin = apiClient(target.apiUrl, target.adminToken);
    this.rng = new Rng(opts.seed);
  }

  /** Plans the scans: split, policy, expected outcome, truth and bytes (synthetic) or files (input dir). */
  plan(): void {
    const o = this.opts;
    const rng = this.rng.fork('plan');
    const runId = `${Date.now()}${process.pid}`;
    const files = o.inputDir ? listFiles(o.inputDir) : [];
    if (o.inputDir && files.length === 0) throw new Error(`no files under ${o.inputDir}`);
    const total = o.inputDir ? Math.min(o.scans, files.length) : o.scans;
    const escalate = new Set<number>();
    while (escalate.size < Math.min(o.escalate, total)) escalate.add(rng.int(0, total - 1));
    for (let n = 0; n < total; n++) {
      const split: 'train' | 'test' = rng.chance(o.testFraction) ? 'test' : 'train';
      const policy = split === 'test' ? o.testPolicy : o.trainPolicy;
      const via: 'upload' | 'batch' = this.target.importDir && rng.chance(o.batchFraction) ? 'batch' : 'upload';
      if (o.inputDir) {
        this.scans.push({ n, split, policy, expect: escalate.has(n) ? 'escalate' : 'release', file: files[n], via: 'upload' });
        continue;
      }
      const bad = !escalate.has(n) && rng.chance(o.badFraction);
      const truth = drawTruth(rng, o.imageSize, o.imageSize);
      const encoding = o.encoding === 'mixed' ? (rng.chance(0.5) ? 'rle' : 'explicit') : o.encoding;
      const s = syntheticChest({ runId, n, rows: o.imageSize, columns: o.imageSize, modality: rng.chance(0.5) ? 'CR' : 'DX', encoding, truth, rng });
      let bytes = s.bytes;
      if (bad) bytes = rng.chance(0.5) ? bytes.subarray(0, Math.floor(bytes.length * 0.6)) : notChest(bytes);
      this.scans.push({ n, split, policy, expect: bad ? 'quarantine' : escalate.has(n) ? 'escalate' : 'release', truth, bytes, via });
    }
  }

  done(): boolean {
    return this.finished;
  }

  /** Settles when the scans held back may be read (chaos mode: when the plan is done). */
  private release: Promise<unknown> = Promise.resolve();

  /**
   * Holds back the readings of `count` scans (the first planned ones expected to be released, so they are in flight
   * early) until `until` settles: however fast the readers, the run cannot finish before the chaos plan has run, and
   * every fault meets scans in the middle of their reading.
   */
  holdUntil(until: Promise<unknown>, count: number): void {
    this.release = until.catch(() => undefined);
    for (const s of this.scans.filter((x) => x.expect === 'release').slice(0, count)) s.held = true;
  }

  async run(): Promise<void> {
    this.startedAt = Date.now();
    await this.startReaders();
    const readers = this.readers.map((r) => r.run());
    const director = this.direct();
    try {
      await this.ingest();
      await director;
    } finally {
      this.finished = true;
      await Promise.all(readers);
    }
  }

  private async startReaders(): Promise<void> {
    const o = this.opts;
    const roster: { id: string; senior: boolean }[] = [];
    let cursor: string | undefined;
    do {
      const page = await must('readers', () => this.admin.GET('/api/v1/readers', { params: { query: { limit: 200, ...(cursor ? { cursor } : {}) } } }), this.stats);
      for (const r of page.items) if (r.role === 'radiologist' && r.active) roster.push({ id: r.id, senior: r.senior });
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    roster.sort((a, b) => a.id.localeCompare(b.id));
    const chosen = o.readers > 0 ? roster.slice(0, o.readers) : roster;
    if (chosen.length < 3) throw new Error(`the roster has ${chosen.length} active radiologists; at least 3 are needed`);
    const world: ReadingWorld = {
      scanOfImage: (imageId) => this.scanOfImage(imageId),
      someoneElsesTask: (readerId, rng) => {
        const others = this.readers.filter((r) => r.id !== readerId && r.seenTasks.size > 0);
        if (others.length === 0) return undefined;
        const r = rng.pick(others);
        return rng.pick([...r.seenTasks]);
      },
      done: () => this.finished,
      beforeReading: async (scanId) => {
        if (this.byScanId.get(scanId)?.held) await this.release;
      },
      stats: this.stats,
      readTime: o.readTime,
      speed: o.speed,
      parallel: o.readerParallel,
    };
    const rng = this.rng.fork('readers');
    const absent = Math.round(chosen.length * o.absentFraction);
    for (const [i, r] of chosen.entries()) {
      const issued = await must(
        `token ${r.id}`,
        () => this.admin.POST('/api/v1/readers/{readerId}/token', { params: { path: { readerId: r.id } } }),
        this.stats,
      );
      const reader = new SimulatedReader(r.id, r.senior, apiClient(this.target.apiUrl, issued.token), drawNoise(rng, r.senior ? o.noise / 2 : o.noise), rng.fork(r.id), world);
      if (i >= chosen.length - absent) {
        reader.absentFrom = Date.now() + rng.int(0, 10_000);
        reader.absentUntil = reader.absentFrom + o.absentMs;
      }
      this.readers.push(reader);
    }
  }

  private async scanOfImage(imageId: string): Promise<{ scanId: string; truth?: Truth; stonewall: boolean } | undefined> {
    let s = this.byImageId.get(imageId);
    if (!s) {
      await this.refresh(true);
      s = this.byImageId.get(imageId);
    }
    return s?.scanId ? { scanId: s.scanId, truth: s.truth, stonewall: s.expect === 'escalate' } : undefined;
  }

  /** Uploads (POST /scans) or batch-ingests (POST /batches) the planned scans, keeping at most maxInFlight unfinished. */
  private async ingest(): Promise<void> {
    const o = this.opts;
    const uploads = this.scans.filter((s) => s.via === 'upload');
    const batched = this.scans.filter((s) => s.via === 'batch');
    const inFlight = (): number => this.scans.filter((s) => s.uploadedAt !== undefined && s.finishedAt === undefined).length;
    // Batches of up to 50 files, each written under the import directory, then one POST /batches.
    const batchJob = (async () => {
      // One batch carries one split and policy: group first (a mixed chunk would ingest scans under the wrong split).
      const groups = new Map<string, ScanRecord[]>();
      for (const s of batched) groups.set(`${s.split}/${s.policy}`, [...(groups.get(`${s.split}/${s.policy}`) ?? []), s]);
      let k = 0;
      for (const group of groups.values()) {
        for (let i = 0; i < group.length; i += 50) {
          const chunk = group.slice(i, i + 50);
          while (inFlight() + chunk.length > o.maxInFlight && !this.finished) await sleep(250);
          await this.startBatch(chunk, k++);
        }
      }
    })();
    let next = 0;
    await Promise.all(
      Array.from({ length: o.uploadConcurrency }, async () => {
        while (next < uploads.length) {
          const s = uploads[next++];
          while (inFlight() >= o.maxInFlight && !this.finished) await sleep(100);
          await this.upload(s);
        }
      }),
    );
    await batchJob;
  }

  private async upload(s: ScanRecord): Promise<void> {
    const bytes = s.bytes ?? readFileSync(s.file as string);
    const started = await must(
      'upload',
      () =>
        this.admin.POST('/api/v1/scans', {
          body: { file: '', split: s.split, policy: s.policy },
          bodySerializer: () => {
            const form = new FormData();
            form.append('file', new Blob([bytes]), `scan-${s.n}.dcm`);
            form.append('split', s.split);
            form.append('policy', s.policy);
            return form;
          },
        }),
      this.stats,
    );
    s.uploadedAt = Date.now();
    s.scanId = started.scanId;
    this.byScanId.set(started.scanId, s);
    s.bytes = undefined;
  }

  private async startBatch(chunk: ScanRecord[], k: number): Promise<void> {
    const dir = path.join(this.target.importDir as string, `sim-${this.opts.seed}-${process.pid}-${k}`);
    mkdirSync(dir, { recursive: true });
    for (const s of chunk) {
      const bytes = s.bytes as Buffer;
      writeFileSync(path.join(dir, `scan-${s.n}.dcm`), bytes);
      const sop = sopOf(bytes);
      s.scanId = scanIdFor({ sopInstanceUid: sop, sha256: createHash('sha256').update(bytes).digest('hex') }, this.target.deidSecret as string);
      this.byScanId.set(s.scanId, s);
      s.uploadedAt = Date.now();
      s.bytes = undefined;
    }
    await must('batch', () => this.admin.POST('/api/v1/batches', { body: { directory: dir, split: chunk[0].split, policy: chunk[0].policy } }), this.stats);
  }

  /** Refreshes stages from GET /scans (every page); rate-limited unless forced. */
  async refresh(force = false): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (!force && Date.now() - this.lastRefresh < 1000) return;
    this.refreshing = (async () => {
      let cursor: string | undefined;
      do {
        const page = await must('scans', () => this.admin.GET('/api/v1/scans', { params: { query: { limit: 200, ...(cursor ? { cursor } : {}) } } }), this.stats);
        for (const item of page.items) {
          const s = this.byScanId.get(item.scanId);
          if (!s) continue;
          s.stage = item.stage;
          s.attentionReason = item.attentionReason;
          if (item.imageId && !s.imageId) {
            s.imageId = item.imageId;
            this.byImageId.set(item.imageId, s);
          }
          if (FINAL.has(item.stage) && s.finishedAt === undefined) s.finishedAt = Date.now();
          if (item.releasedAt) s.releasedAt = Date.parse(item.releasedAt);
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      this.lastRefresh = Date.now();
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** The manager: follows stages, cancels the deliberately escalated scans once they reach needs-attention. */
  private async direct(): Promise<void> {
    const until = this.startedAt + this.opts.timeoutMs;
    for (;;) {
      await this.refresh(true).catch(() => undefined);
      for (const s of this.scans) {
        if (s.stage === 'needs-attention' && s.expect === 'escalate' && !s.cancelRequested && s.scanId) {
          s.cancelRequested = true;
          const id = s.scanId;
          await must('cancel', () => this.admin.POST('/api/v1/scans/{scanId}/cancel', { params: { path: { scanId: id } }, body: { reason: 'simulator: deliberately escalated' } }), this.stats, [200, 201]);
        }
      }
      const stages: Record<string, number> = {};
      for (const s of this.scans) if (s.stage) stages[s.stage] = (stages[s.stage] ?? 0) + 1;
      const final = this.scans.filter((s) => s.finishedAt !== undefined).length;
      this.timeline.push({ t: Date.now() - this.startedAt, final });
      this.onProgress(final, stages);
      // Done: every scan final, or (not deliberately) waiting for a manager with nothing else moving.
      const open = this.scans.filter((s) => s.finishedAt === undefined);
      if (open.length === 0 || (open.every((s) => s.stage === 'needs-attention' && s.expect !== 'escalate') && this.scans.every((s) => s.uploadedAt !== undefined))) break;
      if (Date.now() > until) throw new Error(`timed out after ${this.opts.timeoutMs / 60_000} min with ${open.length} scans unfinished`);
      await sleep(this.scans.length > 2000 ? 5000 : 1000);
    }
    this.finishedAt = Date.now();
  }

  allSubmissions(): SubmissionRecord[] {
    return this.readers.flatMap((r) => r.submissions);
  }

  /** Temporal client for the status-query invariant (own stack, or --temporal-address). */
  async temporal(): Promise<{ client: Client; close: () => Promise<void> } | undefined> {
    if (!this.target.temporalAddress) return undefined;
    const connection = await Connection.connect({ address: this.target.temporalAddress });
    const dataConverter = readflowDataConverter({ payloadKeys: this.target.payloadKeys ? parsePayloadKeys(this.target.payloadKeys) : undefined });
    return { client: new Client({ connection, namespace: 'readflow', dataConverter }), close: () => connection.close() };
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The same object with Modality CT: structurally valid, refused by the chest rule (quarantined). */
function notChest(bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  for (const m of ['CR', 'DX']) {
    const i = b.indexOf(Buffer.from([0x08, 0x00, 0x60, 0x00, 0x43, 0x53, 0x02, 0x00, ...Buffer.from(m)]));
    if (i >= 0) b.write('CT', i + 8, 'latin1');
  }
  return b;
}

function sopOf(bytes: Buffer): string | undefined {
  // (0002,0003) Media Storage SOP Instance UID in the explicit-LE file meta: tag, 'UI', 2-byte length, value.
  const i = bytes.indexOf(Buffer.from([0x02, 0x00, 0x03, 0x00, 0x55, 0x49]));
  if (i < 0) return undefined;
  const len = bytes.readUInt16LE(i + 6);
  return bytes.toString('latin1', i + 8, i + 8 + len).replace(/\0+$/, '');
}
