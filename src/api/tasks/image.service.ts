import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Request, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, Histogram } from 'prom-client';

import type { Config } from '../../config/config';
import { canDecode, PixelError, RENDERER_VERSION } from '../../dicom/render';
import type { RenderOptions } from '../../dicom/render';
import { RenderQueueFullError } from '../../dicom/render-pool';
import type { ImageRenderer } from '../../dicom/render-pool';
import { transferSyntaxInfo } from '../../dicom/transfer-syntax';
import type { BlobStore } from '../../storage/blob-store';
import { BLOB_STORE, CONFIG, PREVIEW_RENDERER } from '../deps';
import { NotFoundError, RangeNotSatisfiableError, UnavailableError, UnsupportedMediaError } from '../errors';
import { MetricsService } from '../metrics/metrics.service';
import type { TaskWithScan as TaskRecord } from '../../db/repositories';

/** Parses a single `bytes=` range (RFC 9110 §14.1.2). Multiple ranges → undefined (the full body is sent). */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** A rendered preview as cached and sent. */
interface Preview {
  png: Buffer;
  width: number;
  height: number;
  window: number;
  level: number;
}

/**
 * Serves de-identified images: the DICOM as stored (ETag, conditional GET, single byte ranges), or a windowed 8-bit PNG
 * preview of any stored encoding, rendered by src/dicom in worker threads (the renderer), cached in memory within a
 * byte budget, with an ETag per image and rendering parameters. Never reads the restricted `originals` area.
 */
@Injectable()
export class ImageService implements OnModuleDestroy {
  /** Rendered PNGs by ETag, least recently used evicted past the byte budget. */
  private readonly cache: LRUCache<string, Preview> | undefined;
  /** Renders in progress by ETag: concurrent requests for the same preview share one render. */
  private readonly inflight = new Map<string, Promise<Preview>>();
  private readonly outcomes: Counter<'outcome'>;
  private readonly renderSeconds: Histogram;

  constructor(
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(PREVIEW_RENDERER) private readonly renderer: ImageRenderer,
    metrics: MetricsService,
  ) {
    const budget = config.previews.cacheBytes;
    this.cache = budget > 0 ? new LRUCache<string, Preview>({ maxSize: budget, maxEntrySize: budget, sizeCalculation: (p) => p.png.length + 256 }) : undefined;
    const cache = this.cache;
    this.outcomes = new Counter({
      name: 'readflow_preview_requests_total',
      help: 'PNG preview requests by outcome (rendered, cached, not-modified, unsupported, busy).',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
    this.renderSeconds = new Histogram({
      name: 'readflow_preview_render_seconds',
      help: 'Time to render a PNG preview in the render threads (queue wait included).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics.registry],
    });
    new Gauge({
      name: 'readflow_preview_cache_bytes',
      help: 'Bytes of rendered PNGs held by the preview cache (bounded by READFLOW_PREVIEW_CACHE_BYTES).',
      registers: [metrics.registry],
      collect() {
        this.set(cache?.calculatedSize ?? 0);
      },
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.renderer.close();
  }

  /** Bytes and entries the preview cache holds (tests, metrics). */
  cacheStats(): { bytes: number; entries: number; budget: number } {
    return { bytes: this.cache?.calculatedSize ?? 0, entries: this.cache?.size ?? 0, budget: this.config.previews.cacheBytes };
  }

  async sendDicom(task: TaskRecord, req: Request, res: Response): Promise<void> {
    const key = task.deidentified_key;
    const stat = key ? await this.store.stat('deidentified', key) : null;
    if (!key || !stat) throw new NotFoundError('image', 'The de-identified image is not available yet.');
    const imageId = task.image_id?.trim() ?? key;
    // De-identified blobs are immutable: the key (content-derived image id) and size identify the bytes.
    const etag = `"${imageId}-${stat.size.toString(16)}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'private, no-cache');
    res.setHeader('Content-Disposition', `inline; filename="${imageId}.dcm"`);
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }
    let range: { start: number; end: number } | undefined;
    const rangeHeader = req.headers.range;
    const ifRange = req.headers['if-range'];
    if (typeof rangeHeader === 'string' && (ifRange === undefined || ifRange === etag)) {
      const parsed = parseRange(rangeHeader, stat.size);
      if (parsed === 'unsatisfiable') {
        res.setHeader('Content-Range', `bytes */${stat.size}`);
        throw new RangeNotSatisfiableError(stat.size);
      }
      range = parsed;
    }
    res.type('application/dicom');
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${stat.size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.status(200);
      res.setHeader('Content-Length', String(stat.size));
    }
    await this.pipe(this.store.createReadStream('deidentified', key, range), res);
  }

  /**
   * `?format=png`: the windowed preview. The ETag names the image and the rendering parameters (and the renderer's
   * version), so a revalidation costs no decoding; renders go through the cache and the worker threads.
   */
  async sendPng(task: TaskRecord, params: RenderParams, req: Request, res: Response): Promise<void> {
    const key = task.deidentified_key;
    if (!key) throw new NotFoundError('image', 'The de-identified image is not available yet.');
    const ts = (task.transfer_syntax ?? '').trim();
    if (ts && !canDecode(ts)) {
      this.outcomes.inc({ outcome: 'unsupported' });
      throw unsupportedTransferSyntax(ts);
    }
    const imageId = task.image_id?.trim() ?? key;
    const etag = `"${imageId}-png${RENDERER_VERSION}-w${params.window ?? ''}-l${params.level ?? ''}-s${params.size ?? ''}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, no-cache');
    if (etagMatches(req.headers['if-none-match'], etag)) {
      this.outcomes.inc({ outcome: 'not-modified' });
      res.status(304).end();
      return;
    }
    let preview = this.cache?.get(etag);
    res.setHeader('X-Preview-Cache', preview ? 'hit' : 'miss');
    if (preview) this.outcomes.inc({ outcome: 'cached' });
    else preview = await this.renderOnce(etag, key, params);
    res.status(200).type('image/png');
    res.setHeader('Content-Length', String(preview.png.length));
    res.setHeader('X-Image-Window', `${round(preview.window)}`);
    res.setHeader('X-Image-Level', `${round(preview.level)}`);
    res.end(preview.png);
  }

  /** One render per ETag at a time; the result is cached (when it fits the budget). */
  private renderOnce(etag: string, key: string, params: RenderParams): Promise<Preview> {
    let p = this.inflight.get(etag);
    if (!p) {
      p = this.render(key, params).then(
        (preview) => {
          this.cache?.set(etag, preview);
          return preview;
        },
      );
      p = p.finally(() => this.inflight.delete(etag));
      this.inflight.set(etag, p);
    }
    return p;
  }

  private async render(key: string, params: RenderParams): Promise<Preview> {
    const bytes = await this.store.get('deidentified', key).catch(() => {
      throw new NotFoundError('image', 'The de-identified image is not available.');
    });
    const options: RenderOptions = { ...params, maxPixels: this.config.acceptance.maxImagePixels };
    const stop = this.renderSeconds.startTimer();
    try {
      const r = await this.renderer.render(bytes, options);
      this.outcomes.inc({ outcome: 'rendered' });
      return { png: Buffer.from(r.png.buffer, r.png.byteOffset, r.png.byteLength), width: r.width, height: r.height, window: r.window, level: r.level };
    } catch (e) {
      if (e instanceof RenderQueueFullError) {
        this.outcomes.inc({ outcome: 'busy' });
        throw new UnavailableError('Every preview thread is busy and the render queue is full; retry shortly, or fetch the DICOM.', { reason: 'preview-queue-full' });
      }
      if (e instanceof PixelError) {
        this.outcomes.inc({ outcome: 'unsupported' });
        if (e.reason === 'unsupported-transfer-syntax' && e.transferSyntax) throw unsupportedTransferSyntax(e.transferSyntax);
        throw new UnsupportedMediaError(`No PNG preview for this image (${e.reason}: ${e.message}); fetch the DICOM instead.`, {
          reason: e.reason,
          ...(e.transferSyntax ? { transferSyntax: e.transferSyntax } : {}),
        });
      }
      throw e;
    } finally {
      stop();
    }
  }

  private pipe(stream: NodeJS.ReadableStream, res: Response): Promise<void> {
    return new Promise((resolve) => {
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      res.on('close', resolve);
      stream.pipe(res);
    });
  }
}

/** Rendering parameters of `?format=png` (validated at the edge: ImageQuery). */
export interface RenderParams {
  window?: number;
  level?: number;
  size?: number;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** 415 naming the transfer syntax no decoder supports. */
function unsupportedTransferSyntax(ts: string): UnsupportedMediaError {
  const name = transferSyntaxInfo(ts)?.name;
  return new UnsupportedMediaError(
    `No PNG preview: no decoder supports transfer syntax ${ts}${name ? ` (${name})` : ''}. Fetch the DICOM instead.`,
    { transferSyntax: ts },
  );
}
