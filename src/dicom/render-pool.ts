/**
 * Renders images off the caller's event loop: a small pool of worker threads (piscina) running render-worker.ts, with
 * a bounded queue. One large image occupies one thread; the API's event loop only copies bytes in and out.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { Piscina } from 'piscina';

import { PixelError, renderImage } from './render';
import type { RenderedImage, RenderOptions } from './render';
import type { RenderOutcome, RenderTask } from './render-worker';

/** Renders a DICOM image to PNG (render.ts); throws PixelError for images it cannot render. */
export interface ImageRenderer {
  render(bytes: Uint8Array, options: RenderOptions): Promise<RenderedImage>;
  close(): Promise<void>;
}

/** Every thread is busy and the queue is full: try again shortly (the API answers 503 with Retry-After). */
export class RenderQueueFullError extends Error {
  constructor(readonly queued: number) {
    super(`the image renderer is busy (${queued} renders queued)`);
    this.name = 'RenderQueueFullError';
  }
}

export interface RenderPoolOptions {
  /** Worker threads (at least 1). */
  threads: number;
  /** Renders that may wait for a thread; beyond, RenderQueueFullError. */
  maxQueue: number;
  /** A thread idle this long exits (its WebAssembly codecs with it). Default 60 s. */
  idleTimeoutMs?: number;
}

function workerFile(): string {
  const compiled = join(__dirname, 'render-worker.js');
  // From the TypeScript sources (Jest), a launcher compiles render-worker.ts in the thread.
  return __filename.endsWith('.ts') || !existsSync(compiled) ? join(__dirname, 'render-worker-ts.js') : compiled;
}

/** The pool; threads start on the first render. */
export class RenderPool implements ImageRenderer {
  private pool: Piscina<RenderTask, RenderOutcome> | undefined;
  private closed = false;

  constructor(private readonly opts: RenderPoolOptions) {
    if (!(opts.threads >= 1)) throw new RangeError('a render pool needs at least one thread');
  }

  private get piscina(): Piscina<RenderTask, RenderOutcome> {
    this.pool ??= new Piscina<RenderTask, RenderOutcome>({
      filename: workerFile(),
      minThreads: 0,
      maxThreads: this.opts.threads,
      maxQueue: this.opts.maxQueue,
      idleTimeout: this.opts.idleTimeoutMs ?? 60_000,
      // Low priority against the API's own thread is not available in Node; keep each thread's JS heap bounded instead.
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    return this.pool;
  }

  /** Renders in a worker thread. The bytes are transferred when the caller owns their whole buffer, else copied. */
  async render(bytes: Uint8Array, options: RenderOptions): Promise<RenderedImage> {
    if (this.closed) throw new Error('the render pool is closed');
    const pool = this.piscina;
    if (pool.queueSize >= this.opts.maxQueue) throw new RenderQueueFullError(pool.queueSize);
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    let outcome: RenderOutcome;
    try {
      outcome = await pool.run({ bytes, options }, owned ? { transferList: [bytes.buffer as ArrayBuffer] } : {});
    } catch (e) {
      if (e instanceof Error && /queue is at limit/i.test(e.message)) throw new RenderQueueFullError(pool.queueSize);
      throw e;
    }
    if (!outcome.ok) throw new PixelError(outcome.reason, outcome.message, outcome.transferSyntax);
    const { ok: _ok, ...image } = outcome;
    return image;
  }

  /** Threads busy or queued renders, for metrics. */
  get load(): { threads: number; queued: number } {
    return { threads: this.pool?.threads.length ?? 0, queued: this.pool?.queueSize ?? 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}

/**
 * Renders on the caller's thread. For tools and tests only: on the API's event loop a large image stalls every other
 * request (what test/integration/previews-latency.test.ts shows the pool prevents).
 */
export class InlineRenderer implements ImageRenderer {
  render(bytes: Uint8Array, options: RenderOptions): Promise<RenderedImage> {
    return renderImage(bytes, options);
  }

  async close(): Promise<void> {}
}
