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
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import { mountWebApp } from '../web/serve';
import { AppModule } from './app.module';
import { createValidationPipe } from './common/validation';
import { keepBodyProblem } from './common/body-problem';
import { FieldProblemDto, ProblemDto, withCommonProblems } from './common/openapi';
import { FieldProblem, HttpError, PayloadTooLargeError, ValidationFailedError } from './errors';
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
 * URLs. `upgrade-insecure-requests` only when ReadFlow is served over https: on a plain-http address (a LAN host
 * without TLS) it would make browsers fetch the page's own scripts over https, and the page would not load.
 */
export function helmetOptions(publicUrl: string): Parameters<typeof helmet>[0] {
  const https = publicUrl.startsWith('https:');
  return {
    contentSecurityPolicy: {
      directives: {
        'img-src': ["'self'", 'blob:', 'data:'],
        ...(https ? {} : { 'upgrade-insecure-requests': null }),
      },
    },
    crossOriginResourcePolicy: { policy: 'same-site' },
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
  app.set('trust proxy', 'loopback');
  app.use(httpMetrics(app.get(MetricsService)));
  app.use(
    helmet(helmetOptions(deps.config.http.publicUrl)),
  );
  // The web page: `/` and `/app/*` (static files, outside `/api/v1`).
  if (!mountWebApp(app)) deps.logger.warn('src/web/public not found: the web page is not served');
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT, type: ['application/json', 'application/*+json'] });
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
