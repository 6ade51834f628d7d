import { createHash } from 'node:crypto';
import { createReadStream as fsCreateReadStream, promises as fsp } from 'node:fs';
import type { Dirent } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import { fsyncDir, tempPathIn, writeFileAtomic } from './atomic-file';

/**
 * File storage areas.
 * - `incoming`: uploads awaiting ingest (content-addressed by SHA-256).
 * - `originals`: RESTRICTED. Source files and the source-UID ↔ new-UID mapping sidecars. Never served by the API.
 * - `deidentified`: de-identified files served to readers (`<imageId>.dcm`).
 * - `quarantine`: refused inputs, keyed by SHA-256.
 */
export type StoreArea = 'incoming' | 'originals' | 'deidentified' | 'quarantine';

export const STORE_AREAS: readonly StoreArea[] = ['incoming', 'originals', 'deidentified', 'quarantine'];

/** Areas whose content may never be served to API clients. */
export const RESTRICTED_AREAS: ReadonlySet<StoreArea> = new Set<StoreArea>(['originals']);

export interface PutResult {
  key: string;
  sha256: string;
  size: number;
}

export interface BlobStore {
  /** Stores bytes atomically. `key` defaults to the SHA-256 hex of the bytes (content addressing). */
  put(area: StoreArea, data: Buffer, opts?: { key?: string }): Promise<PutResult>;
  /**
   * Stores a stream atomically without holding it in memory (e.g. a copy between areas of a file too large to
   * read). `key` defaults to the SHA-256 hex of the streamed bytes. Rejects (and stores nothing) if the stream errors.
   */
  putStream(area: StoreArea, source: NodeJS.ReadableStream, opts?: { key?: string }): Promise<PutResult>;
  /** Reads a whole blob; rejects with a `BlobNotFoundError` (code `ENOENT`) when missing. */
  get(area: StoreArea, key: string): Promise<Buffer>;
  stat(area: StoreArea, key: string): Promise<{ size: number; mtime: Date } | null>;
  /** A read stream, optionally over an inclusive byte range. Errors (missing blob) are emitted on the stream. */
  createReadStream(area: StoreArea, key: string, range?: { start: number; end: number }): NodeJS.ReadableStream;
  putJson(area: StoreArea, key: string, value: unknown): Promise<void>;
  /** Deletes a blob; deleting a missing blob is not an error. */
  delete(area: StoreArea, key: string): Promise<void>;
}

export class InvalidBlobKeyError extends Error {
  readonly code = 'EINVALIDKEY';
  constructor(key: string) {
    super(`invalid blob key: ${JSON.stringify(key).slice(0, 120)}`);
    this.name = 'InvalidBlobKeyError';
  }
}

export class BlobNotFoundError extends Error {
  readonly code = 'ENOENT';
  constructor(
    readonly area: StoreArea,
    readonly key: string,
  ) {
    super(`blob not found: ${area}/${key}`);
    this.name = 'BlobNotFoundError';
  }
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * Validates a key: one or more `/`-separated segments of `[A-Za-z0-9._-]`, each starting with an alphanumeric
 * (so no `.`/`..`, no hidden files, no absolute paths, no backslashes), at most 4 segments, 512 characters.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) throw new InvalidBlobKeyError(String(key));
  const parts = key.split('/');
  if (parts.length > 4 || !parts.every((p) => SEGMENT.test(p))) throw new InvalidBlobKeyError(key);
}

function assertArea(area: string): asserts area is StoreArea {
  if (!(STORE_AREAS as readonly string[]).includes(area)) throw new Error(`unknown store area: ${String(area)}`);
}

export interface LocalBlobStoreOptions {
  /** Directory per area, absolute or relative to rootDir (default: the area's name). */
  areaDirs?: Partial<Record<StoreArea, string>>;
  /** Retention per area in milliseconds, applied by `sweepExpired` (absent: keep forever). */
  retentionMs?: Partial<Record<StoreArea, number>>;
}

/**
 * Local filesystem BlobStore: `<root>/<area>/<key>`. Writes go to a temp file in the same directory, are fsynced,
 * renamed over the target and the directory is fsynced, so a reader never sees a partial blob.
 * Content-addressed puts (no explicit key) of bytes already stored are no-ops.
 */
export class LocalBlobStore implements BlobStore {
  private readonly dirs: Record<StoreArea, string>;
  private readonly retention: Partial<Record<StoreArea, number>>;

  constructor(
    readonly rootDir: string,
    opts: LocalBlobStoreOptions = {},
  ) {
    const root = path.resolve(rootDir);
    this.dirs = Object.fromEntries(
      STORE_AREAS.map((a) => [a, path.resolve(root, opts.areaDirs?.[a] ?? a)]),
    ) as Record<StoreArea, string>;
    this.retention = opts.retentionMs ?? {};
  }

  /** Absolute path of a blob (validated). Not for serving `originals`. */
  pathOf(area: StoreArea, key: string): string {
    assertArea(area);
    assertValidKey(key);
    const dir = this.dirs[area];
    const full = path.resolve(dir, key);
    if (!full.startsWith(dir + path.sep)) throw new InvalidBlobKeyError(key);
    return full;
  }

  async put(area: StoreArea, data: Buffer, opts: { key?: string } = {}): Promise<PutResult> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    const key = opts.key ?? sha256;
    const target = this.pathOf(area, key);
    if (opts.key === undefined) {
      const existing = await this.stat(area, key);
      if (existing && existing.size === data.length) return { key, sha256, size: data.length };
    }
    await writeFileAtomic(target, data);
    return { key, sha256, size: data.length };
  }

  async putStream(area: StoreArea, source: NodeJS.ReadableStream, opts: { key?: string } = {}): Promise<PutResult> {
    // Errors the source emits before it is consumed (e.g. a missing blob) must not go unhandled.
    let sourceError: Error | undefined;
    source.on('error', (e: Error) => (sourceError ??= e));
    const abandon = (): void => {
      const d = (source as Partial<{ destroy: () => void }>).destroy;
      if (typeof d === 'function') d.call(source);
    };
    let dir: string;
    try {
      assertArea(area);
      // Validate an explicit key before reading anything; a content-addressed blob goes at the area's top level.
      dir = opts.key === undefined ? this.dirs[area] : path.dirname(this.pathOf(area, opts.key));
      await fsp.mkdir(dir, { recursive: true });
    } catch (e) {
      abandon();
      throw e;
    }
    const tmp = tempPathIn(dir);
    const hash = createHash('sha256');
    let size = 0;
    try {
      if (sourceError) throw sourceError;
      const fh = await fsp.open(tmp, 'wx', 0o640);
      try {
        for await (const chunk of source as AsyncIterable<Buffer | string>) {
          const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          hash.update(b);
          size += b.length;
          await fh.write(b);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const sha256 = hash.digest('hex');
      const key = opts.key ?? sha256;
      await fsp.rename(tmp, this.pathOf(area, key));
      await fsyncDir(dir);
      return { key, sha256, size };
    } catch (e) {
      abandon();
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  async get(area: StoreArea, key: string): Promise<Buffer> {
    const p = this.pathOf(area, key);
    try {
      return await fsp.readFile(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw new BlobNotFoundError(area, key);
      }
      throw e;
    }
  }

  async stat(area: StoreArea, key: string): Promise<{ size: number; mtime: Date } | null> {
    const p = this.pathOf(area, key);
    try {
      const s = await fsp.stat(p);
      return s.isFile() ? { size: s.size, mtime: s.mtime } : null;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw e;
    }
  }

  createReadStream(area: StoreArea, key: string, range?: { start: number; end: number }): NodeJS.ReadableStream {
    let p: string;
    try {
      p = this.pathOf(area, key);
    } catch (e) {
      const s = new PassThrough();
      process.nextTick(() => s.destroy(e as Error));
      return s;
    }
    if (range && !(Number.isInteger(range.start) && Number.isInteger(range.end) && range.start >= 0 && range.end >= range.start)) {
      const s = new PassThrough();
      process.nextTick(() => s.destroy(new RangeError(`invalid range ${range.start}-${range.end}`)));
      return s;
    }
    const stream = fsCreateReadStream(p, range ? { start: range.start, end: range.end } : {});
    // Normalise a missing file into BlobNotFoundError.
    const out = new PassThrough();
    stream.on('error', (e: NodeJS.ErrnoException) => out.destroy(e.code === 'ENOENT' ? new BlobNotFoundError(area, key) : e));
    stream.pipe(out);
    return out;
  }

  async putJson(area: StoreArea, key: string, value: unknown): Promise<void> {
    const target = this.pathOf(area, key);
    await writeFileAtomic(target, Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8'));
  }

  async delete(area: StoreArea, key: string): Promise<void> {
    const p = this.pathOf(area, key);
    await fsp.rm(p, { force: true });
  }

  /** Deletes blobs of `area` older than its configured retention; returns how many were removed. */
  async sweepExpired(area: StoreArea, now: Date = new Date()): Promise<number> {
    assertArea(area);
    const keep = this.retention[area];
    if (keep === undefined) return 0;
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const ent of entries) {
        const full = path.join(dir, ent.name);
        if (ent.isDirectory()) await walk(full);
        else if (ent.isFile()) {
          const s = await fsp.stat(full);
          if (now.getTime() - s.mtime.getTime() > keep) {
            await fsp.rm(full, { force: true });
            removed++;
          }
        }
      }
    };
    await walk(this.dirs[area]);
    return removed;
  }
}
