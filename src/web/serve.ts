import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { NotFoundException } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Express, NextFunction, Request, Response } from 'express';

/** URL prefix of the web page's assets (never collides with `/api/v1`, `/docs`, `/healthz`, `/readyz`, `/metrics`). */
export const WEB_ASSETS_PREFIX = '/app/';

/** The built page inside the package: Vite bundles `src/web/public` into it (`vite.config.mjs`, run by `npm run build`). */
const PUBLIC_DIR = path.join('dist', 'web');

/**
 * The folder holding the built web page: the nearest ancestor of `from` with a `package.json` and `dist/web/index.html`.
 * The same answer from `src/web` (ts) and `dist/src/web` (built); undefined when the files are not shipped.
 */
export function findWebRoot(from: string = __dirname): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, PUBLIC_DIR);
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(candidate, 'index.html')))
      return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Serves ReadFlow's built web page from the API app: `GET /` is `index.html`, the bundle is under `/app/`. Bundles under
 * `/app/assets/` carry a content hash in their name and are cached for good; everything else (index.html) is
 * revalidated on every load (`no-cache` + Last-Modified/ETag) so a deployment is picked up at once.
 * Returns the folder served, or undefined when there is none (the API works without it).
 */
export function mountWebApp(
  app: NestExpressApplication,
  root: string | undefined = findWebRoot(),
): string | undefined {
  if (!root) return undefined;
  const index = path.join(root, 'index.html');
  app.useStaticAssets(root, {
    prefix: WEB_ASSETS_PREFIX,
    index: false,
    redirect: false,
    fallthrough: true,
    dotfiles: 'ignore',
    setHeaders: (res: Response, file: string) =>
      res.setHeader(
        'Cache-Control',
        path.basename(path.dirname(file)) === 'assets' ? 'public, max-age=31536000, immutable' : 'no-cache',
      ),
  });
  const express = app.getHttpAdapter().getInstance() as Express;
  // A missing asset is a 404 problem document like any other: since NestJS 12 the router's not-found handler covers
  // only the global prefix (`/api/v1`), so misses under /app/ are handed to Nest's exception layer (the problem filter).
  express.use(WEB_ASSETS_PREFIX, (req: Request, _res: Response, next: NextFunction) => {
    next(new NotFoundException(`Cannot ${req.method} ${req.originalUrl}`));
  });
  express.get('/', (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return root;
}
