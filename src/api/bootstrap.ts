import 'reflect-metadata';

import { INestApplication, LoggerService, RequestMethod } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Client } from '@temporalio/client';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { DataSource } from 'typeorm';

import type { Config } from '../config/config';
import type { ImageRenderer } from '../dicom/render-pool';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import { viewerStyleSources } from '../web/csp';
import { mountWebApp } from '../web/serve';
import { AppModule } from './app.module';
import { createValidationPipe } from './common/validation';
import { AuthService } from './auth/auth.service';
import { AuthedRequest, missingTokenReason, tokenHashOf } from './auth/principal';
import { keepBodyProblem } from './common/body-problem';
import { FieldProblemDto, ProblemDto, withCommonProblems } from './common/openapi';
import { FieldProblem, ForbiddenError, HttpError, PayloadTooLargeError, UnauthorizedError, ValidationFailedError } from './errors';
import { httpMetrics } from './metrics/http-metrics.middleware';
import { MetricsService } from './metrics/metrics.service';
import type { TemporalGatewayOptions } from './temporal-gateway/temporal-gateway.service';

/** What the API needs; the caller (src/cli) builds each of them. */
export interface ApiDeps {
  config: Config;
  dataSource: DataSource;
  temporalClient: Client;
  store: BlobStore;
  logger: Logger;
  /** Deadlines of the Temporal gateway's calls (defaults: updates 30 s, queries 10 s). */
  temporal?: TemporalGatewayOptions;
  /** PNG preview renderer; default a pool of `config.previews.threads` worker threads (closed with the app). */
  previewRenderer?: ImageRenderer;
}

/** JSON bodies of this API are small (a reading with ≤ 100 boxes is a few KB). */
export const JSON_BODY_LIMIT = '256kb';

/** Routes outside `/api/v1`. */
const UNVERSIONED = ['healthz', 'readyz', 'metrics'];

/** A body problem at the root of the body (the route decides its problem type: see common/body-problem.ts). */
function bodyProblem(problem: FieldProblem, message: string): ValidationFailedError {
  return new ValidationFailedError([problem], message);
}

/** True for a body that is valid JSON but not an object or array (`null`, `"x"`, `1`), which the strict parser refuses. */
function isJsonScalar(body: unknown): boolean {
  if (typeof body !== 'string') return false;
  try {
    const v: unknown = JSON.parse(body);
    return v === null || typeof v !== 'object';
  } catch {
    return false;
  }
}

/** Deepest nesting of arrays and objects a JSON body may have (a reading is 3 levels deep). */
export const MAX_JSON_DEPTH = 32;

/**
 * body-parser's `verify`: refuses a body nested deeper than {@link MAX_JSON_DEPTH} before `JSON.parse` and validation
 * see it (100k levels used to cost a 500 and a logged stack trace each time). One pass over the bytes, strings skipped.
 */
export function checkJsonDepth(_req: unknown, _res: unknown, buf: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i += 1) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > MAX_JSON_DEPTH) throw Object.assign(new Error(`the body is nested deeper than ${MAX_JSON_DEPTH} levels`), { type: 'entity.too.deep', status: 422 });
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
  }
}

/** Refuses control characters (NUL…) in the URL path: ids and names never hold them, and Postgres refuses NUL (a 500). */
function noControlCharactersInPath(req: Request, _res: Response, next: NextFunction): void {
  if (/%(?:[01][0-9a-f]|7f)/i.test(req.path)) {
    next(new ValidationFailedError([{ path: 'path', code: 'control-character', message: 'the URL path contains a control character' }], 'The URL path contains a control character.'));
  } else {
    next();
  }
}

/** Turns body-parser failures into domain errors (kept for the route to throw) before Nest flattens them into a bare 400. */
function bodyParserErrors(err: unknown, req: Request, _res: Response, next: NextFunction): void {
  const e = err as { type?: unknown; message?: unknown; body?: unknown } | null;
  if (e && e.type === 'entity.parse.failed') {
    keepBodyProblem(
      req,
      isJsonScalar(e.body)
        ? bodyProblem({ path: '', code: 'invalid-type', message: 'the body must be a JSON object' }, 'The body must be a JSON object.')
        : bodyProblem({ path: '', code: 'invalid-json', message: String(e.message) }, 'The body is not valid JSON.'),
    );
    next();
  } else if (e && e.type === 'entity.too.deep') {
    keepBodyProblem(req, bodyProblem({ path: '', code: 'too-deep', message: String(e.message) }, `The body is nested deeper than ${MAX_JSON_DEPTH} levels.`));
    next();
  } else if (e && e.type === 'entity.too.large') {
    keepBodyProblem(req, new PayloadTooLargeError(`The body is larger than ${JSON_BODY_LIMIT}.`));
    next();
  } else if (e && typeof e.type === 'string' && typeof (e as { status?: unknown }).status === 'number') {
    // Other body-parser refusals (unsupported charset or encoding…): their own status.
    const status = (e as { status: number }).status;
    keepBodyProblem(
      req,
      status === 415
        ? new HttpError(415, 'unsupported-media-type', 'Unsupported Media Type', String(e.message))
        : new ValidationFailedError([{ path: '', code: 'invalid-body', message: String(e.message) }], String(e.message)),
    );
    next();
  } else {
    next(err);
  }
}

/** JSON bodies are objects: an array is refused (every DTO of this API is an object). */
function objectBodies(req: Request, _res: Response, next: NextFunction): void {
  if (Array.isArray(req.body)) {
    keepBodyProblem(req, bodyProblem({ path: '', code: 'invalid-type', message: 'the body must be a JSON object' }, 'The body must be a JSON object.'));
  }
  next();
}

/** Nest's own log lines through pino. */
function nestLogger(logger: Logger): LoggerService {
  const ctx = (c: unknown): Record<string, unknown> => (typeof c === 'string' ? { context: c } : {});
  return {
    log: (m: unknown, c?: unknown) => logger.debug(ctx(c), String(m)),
    error: (m: unknown, trace?: unknown, c?: unknown) => logger.error({ ...ctx(c), trace }, String(m)),
    warn: (m: unknown, c?: unknown) => logger.warn(ctx(c), String(m)),
    debug: (m: unknown, c?: unknown) => logger.debug(ctx(c), String(m)),
    verbose: (m: unknown, c?: unknown) => logger.trace(ctx(c), String(m)),
  };
}

/** The OpenAPI 3 document of the app (also served at `/api/v1/openapi.json`). */
export function buildOpenApi(app: INestApplication, config: Config): OpenAPIObject {
  const doc = new DocumentBuilder()
    .setTitle('ReadFlow API')
    .setDescription(
      'Radiologist labeling of chest X-ray scans: inboxes and submissions for annotation clients, steering for managers. ' +
        'Errors are RFC 9457 application/problem+json. Lists are cursor-paginated (`nextCursor`).',
    )
    .setVersion('1')
    .addServer(config.http.publicUrl)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque (rf_…)', description: 'An opaque ReadFlow API token (rf_…), not a JWT' })
    .addSecurityRequirements('bearer')
    .build();
  return withCommonProblems(
    SwaggerModule.createDocument(app, doc, {
      operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
      extraModels: [ProblemDto, FieldProblemDto],
    }),
  );
}

/**
 * Security headers. Swagger UI needs inline styles; the web page (src/web/public) shows task images through blob:
 * URLs, and its viewer (Cornerstone3D) decodes DICOM in a module worker of its own origin with WebAssembly codecs:
 * `'wasm-unsafe-eval'` lets the page compile WebAssembly (and nothing else: no `eval`, no inline script) and workers come
 * from 'self' only. `upgrade-insecure-requests` only when ReadFlow is served over https: on a plain-http address (a LAN
 * host without TLS) it would make browsers fetch the page's own scripts over https, and the page would not load.
 */
export function helmetOptions(publicUrl: string, opts: { docs?: boolean } = {}): Parameters<typeof helmet>[0] {
  const https = publicUrl.startsWith('https:');
  return {
    contentSecurityPolicy: {
      directives: {
        'img-src': ["'self'", 'blob:', 'data:'],
        'script-src': opts.docs ? ["'self'"] : ["'self'", "'wasm-unsafe-eval'"],
        'worker-src': ["'self'"],
        // No inline styles and no https: wildcard: the page's styles are its own files, plus the one style attribute the
        // viewer's library writes on box labels, allowed by its hash (src/web/csp.ts). Swagger UI (/docs only) needs
        // inline styles; it runs no inline script.
        'style-src': opts.docs ? ["'self'", "'unsafe-inline'"] : ["'self'", ...viewerStyleSources()],
        ...(https ? {} : { 'upgrade-insecure-requests': null }),
      },
    },
    // HSTS only means something over https (browsers ignore it over http, and it would pin a LAN address to https).
    strictTransportSecurity: https ? { maxAge: 31_536_000 } : false,
    crossOriginResourcePolicy: { policy: 'same-site' },
  };
}

/** Helmet for every response: the strict policy, and Swagger UI's variant under `/docs`. */
function securityHeaders(publicUrl: string): (req: Request, res: Response, next: NextFunction) => void {
  const strict = helmet(helmetOptions(publicUrl));
  const docs = helmet(helmetOptions(publicUrl, { docs: true }));
  return (req, res, next) => (req.path === '/docs' || req.path.startsWith('/docs/') ? docs(req, res, next) : strict(req, res, next));
}

/**
 * Authenticated API answers are `no-store` unless the route says otherwise (images: `private, no-cache` with an ETag,
 * so they are always revalidated and a reassigned reader loses them).
 */
function noStoreByDefault(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  next();
}

/** Paths of the operations endpoints that `READFLOW_PROTECT_OPS_ENDPOINTS` puts behind a manager or admin token. */
export function isOpsPath(path: string): boolean {
  return path === '/metrics' || path === '/docs' || path.startsWith('/docs/') || /^\/api\/v1\/openapi\.(json|yaml)$/.test(path);
}

/** `/metrics`, `/docs` and the OpenAPI files for managers and admins only (a Prometheus scrape sends a bearer token). */
function protectOps(auth: AuthService): (req: Request, res: Response, next: NextFunction) => void {
  return (req, _res, next) => {
    if (!isOpsPath(req.path)) {
      next();
      return;
    }
    const hash = tokenHashOf(req as AuthedRequest);
    if (!hash) {
      next(new UnauthorizedError(missingTokenReason(req as AuthedRequest) ?? 'A bearer token is required.'));
      return;
    }
    auth.lookup(hash).then(
      (found) => {
        if (!found || !('principal' in found)) next(new UnauthorizedError('The token is unknown, revoked or deactivated.'));
        else if (found.principal.role !== 'manager' && found.principal.role !== 'admin') next(new ForbiddenError('This needs the role manager or admin.'));
        else next();
      },
      (err: unknown) => next(err),
    );
  };
}

/**
 * CORS for the codec endpoint only, and only for the Temporal UI's origin (`TEMPORAL_UI_URL`): the UI's browser calls
 * `POST /api/v1/temporal-codec/decode` with `Content-Type`, `X-Namespace` and `Authorization`. Preflights are answered
 * here (204) before authentication; every other origin gets no CORS headers, so browsers refuse to show it the answer.
 */
export function temporalCodecCors(uiUrl: string): (req: Request, res: Response, next: NextFunction) => void {
  const allowed = new URL(uiUrl).origin;
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === allowed) {
      res.setHeader('Access-Control-Allow-Origin', allowed);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'POST');
        res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
        res.setHeader('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
    }
    next();
  };
}

/**
 * Builds the configured NestJS application: helmet, body limits, `/api/v1` prefix (health, readiness and metrics
 * outside it), Swagger UI at `/docs` and OpenAPI JSON at `/api/v1/openapi.json`, the problem+json filter and the
 * validation pipe. It does not listen: the caller calls `app.listen`.
 */
export async function createApiApp(deps: ApiDeps): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(deps), {
    bodyParser: false,
    logger: nestLogger(deps.logger),
    abortOnError: false,
  });
  app.disable('x-powered-by');
  app.set('etag', false);
  // X-Forwarded-For counts only from configured proxies (READFLOW_TRUSTED_PROXIES): the rate limit keys on the address.
  app.set('trust proxy', deps.config.security.trustedProxies.length > 0 ? deps.config.security.trustedProxies : false);
  app.use(httpMetrics(app.get(MetricsService)));
  app.use(securityHeaders(deps.config.http.publicUrl));
  app.use('/api/v1', noStoreByDefault);
  if (deps.config.security.protectOpsEndpoints) app.use(protectOps(app.get(AuthService)));
  app.use('/api/v1/temporal-codec', temporalCodecCors(deps.config.temporal.uiUrl));
  // The web page: `/` and `/app/*` (static files, outside `/api/v1`).
  if (!mountWebApp(app)) deps.logger.warn('dist/web not found (npm run build makes it): the web page is not served');
  app.use('/api/v1', noControlCharactersInPath);
  // NestJS 12 types leave `verify` out (it is Nest's own only with `rawBody: true`, unused here) but passes it to express.json.
  const jsonOptions = { limit: JSON_BODY_LIMIT, type: ['application/json', 'application/*+json'], verify: checkJsonDepth };
  app.useBodyParser('json', jsonOptions as Parameters<typeof app.useBodyParser<'json'>>[1]);
  app.useBodyParser('urlencoded', { limit: '64kb', extended: false });
  app.use(bodyParserErrors);
  app.use(objectBodies);
  app.setGlobalPrefix('api/v1', { exclude: UNVERSIONED.map((path) => ({ path, method: RequestMethod.GET })) });
  app.useGlobalPipes(createValidationPipe());

  const document = buildOpenApi(app, deps.config);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'api/v1/openapi.json',
    yamlDocumentUrl: 'api/v1/openapi.yaml',
    customSiteTitle: 'ReadFlow API',
  });
  await app.init();
  return app;
}
