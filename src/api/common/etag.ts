import { createHash } from 'node:crypto';

import type { Request, Response } from 'express';

/** True when an `If-None-Match` header names `etag` (weak comparison, `*` included). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === bare;
  });
}

/**
 * Sends `body` as JSON with a weak ETag (SHA-1 of the JSON) and `Cache-Control: private, no-cache`; a request whose
 * `If-None-Match` names the current ETag gets 304 and no body. For pollers (the manager board refreshes this way):
 * an unchanged figure costs the query but not the transfer nor the page's redraw.
 */
export function sendJsonWithEtag(req: Request, res: Response, body: unknown): void {
  const json = JSON.stringify(body);
  const etag = `W/"${createHash('sha1').update(json).digest('base64url')}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'private, no-cache');
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return;
  }
  res.status(200).type('application/json; charset=utf-8').send(json);
}
