import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';

import { renderPreview8 } from '../../dicom/preview';
import { transferSyntaxInfo } from '../../dicom/transfer-syntax';
import type { BlobStore } from '../../storage/blob-store';
import { BLOB_STORE } from '../deps';
import { NotFoundError, RangeNotSatisfiableError, UnsupportedMediaError } from '../errors';
import { encodeGrayPng } from './png';
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

/**
 * Serves de-identified images: the DICOM as stored (ETag, conditional GET, single byte ranges), or an 8-bit
 * windowed PNG preview for uncompressed transfer syntaxes. Never reads the restricted `originals` area.
 */
@Injectable()
export class ImageService {
  constructor(@Inject(BLOB_STORE) private readonly store: BlobStore) {}

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

  async sendPng(task: TaskRecord, req: Request, res: Response): Promise<void> {
    const key = task.deidentified_key;
    if (!key) throw new NotFoundError('image', 'The de-identified image is not available yet.');
    const ts = task.transfer_syntax ?? '';
    const info = transferSyntaxInfo(ts);
    if (info?.encapsulated) {
      throw new UnsupportedMediaError(
        `A PNG preview is only rendered for uncompressed transfer syntaxes; this image is ${info.name} (${ts}). Fetch the DICOM instead.`,
      );
    }
    const imageId = task.image_id?.trim() ?? key;
    const etag = `"${imageId}-png8"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, no-cache');
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }
    const bytes = await this.store.get('deidentified', key).catch(() => {
      throw new NotFoundError('image', 'The de-identified image is not available.');
    });
    const png = await renderPng(bytes);
    res.status(200).type('image/png').setHeader('Content-Length', String(png.length));
    res.end(png);
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

/** Renders the 8-bit windowed preview (dicom `renderPreview8`) as a grayscale PNG. */
async function renderPng(bytes: Buffer): Promise<Buffer> {
  const preview = renderPreview8(bytes);
  if (!preview.ok) {
    throw new UnsupportedMediaError(
      `No PNG preview for this image (${preview.reason}${preview.detail ? `: ${preview.detail}` : ''}); fetch the DICOM instead.`,
    );
  }
  return encodeGrayPng(preview.width, preview.height, preview.pixels);
}
