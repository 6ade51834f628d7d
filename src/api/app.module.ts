import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { MulterModule } from '@nestjs/platform-express';
import { ThrottlerModule } from '@nestjs/throttler';
import { DataSource } from 'typeorm';

import { REPOSITORY_CLASSES } from '../db/repositories';

import { AuthGuard } from './auth/auth.guard';
import { AuthService } from './auth/auth.service';
import { TokenThrottlerGuard } from './auth/token-throttler.guard';
import type { ApiDeps } from './bootstrap';
import { BodyProblemInterceptor } from './common/body-problem';
import { BLOB_STORE, CONFIG, DATA_SOURCE, LOGGER, PREVIEW_RENDERER, TEMPORAL_CLIENT, TEMPORAL_GATEWAY_OPTIONS } from './deps';
import { RenderPool } from '../dicom/render-pool';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { ProblemFilter } from './problem.filter';
import { API_CONTROLLERS, API_PROVIDERS } from './features';

/** The API's root module, built from the dependencies handed to `createApiApp`. */
@Module({})
export class AppModule {
  static register(deps: ApiDeps): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // No `dest`: multer keeps uploads in memory (bounded by the upload limit); they are staged content-addressed.
        MulterModule.register({
          limits: { fileSize: deps.config.http.maxUploadBytes, files: 1, fields: 10, fieldSize: 64 * 1024, parts: 12 },
        }),
        ThrottlerModule.forRoot({
          throttlers: [{ name: 'per-token', ttl: 60_000, limit: deps.config.http.rateLimitPerMinute }],
        }),
      ],
      controllers: [HealthController, MetricsController, ...API_CONTROLLERS],
      providers: [
        { provide: CONFIG, useValue: deps.config },
        { provide: DATA_SOURCE, useValue: deps.dataSource },
        { provide: TEMPORAL_CLIENT, useValue: deps.temporalClient },
        { provide: BLOB_STORE, useValue: deps.store },
        { provide: LOGGER, useValue: deps.logger },
        { provide: TEMPORAL_GATEWAY_OPTIONS, useValue: deps.temporal ?? {} },
        // Threads start on the first preview; ImageService closes the renderer with the app.
        {
          provide: PREVIEW_RENDERER,
          useFactory: () => deps.previewRenderer ?? new RenderPool({ threads: deps.config.previews.threads, maxQueue: deps.config.previews.queue }),
        },
        AuthService,
        MetricsService,
        // Order matters: the per-token rate limit first, then authentication and roles.
        { provide: APP_GUARD, useClass: TokenThrottlerGuard },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_INTERCEPTOR, useClass: BodyProblemInterceptor },
        // One data-access module per table (src/db/repositories), over the app's DataSource.
        ...REPOSITORY_CLASSES.map((cls) => ({ provide: cls, useFactory: (ds: DataSource) => new cls(ds), inject: [DATA_SOURCE] })),
        ...API_PROVIDERS,
      ],
    };
  }
}
