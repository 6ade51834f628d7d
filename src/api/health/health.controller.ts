import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import {
  ApiExcludeEndpoint,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Client } from '@temporalio/client';
import { DataSource } from 'typeorm';

import { Public } from '../auth/principal';
import { DATA_SOURCE, TEMPORAL_CLIENT } from '../deps';
import { UnavailableError } from '../errors';

class HealthDto {
  @ApiProperty({ example: 'ok' })
  status!: 'ok';
}

class ReadyDto extends HealthDto {
  @ApiProperty({ example: { postgres: 'ok', temporal: 'ok' }, description: 'Each dependency: "ok", or why it is not' })
  checks!: Record<string, string>;
}

/** The 503 of `/readyz`: an RFC 9457 problem (`status` is the HTTP status) that keeps the same `checks`. */
class NotReadyProblemDto {
  @ApiProperty({ example: 'https://readflow.dev/problems/service-unavailable' })
  type!: string;
  @ApiProperty({ example: 'Service Unavailable' })
  title!: string;
  @ApiProperty({ example: 503 })
  status!: number;
  @ApiProperty({ example: 'Not ready: postgres: connect ECONNREFUSED 127.0.0.1:5432' })
  detail!: string;
  @ApiProperty({ example: { postgres: 'connect ECONNREFUSED 127.0.0.1:5432', temporal: 'ok' }, description: 'The same checks as the 200 answer' })
  checks!: Record<string, string>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Liveness, readiness, and the bare endpoint the bench compares the inbox with. */
@ApiTags('platform')
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(TEMPORAL_CLIENT) private readonly temporal: Client,
  ) {}

  /** The process is up. */
  @Get('healthz')
  @ApiOperation({ summary: 'Liveness', security: [] })
  @ApiOkResponse({ type: HealthDto })
  healthz(): HealthDto {
    return { status: 'ok' };
  }

  /** Postgres and Temporal are reachable; otherwise a 503 problem with `Retry-After` and the same `checks`. */
  @Get('readyz')
  @ApiOperation({ summary: 'Readiness: Postgres and Temporal reachable', security: [] })
  @ApiOkResponse({ type: ReadyDto })
  @ApiServiceUnavailableResponse({ type: NotReadyProblemDto, description: 'application/problem+json with `checks`' })
  async readyz(): Promise<ReadyDto> {
    const checks: Record<string, string> = {};
    const results = await Promise.allSettled([
      withTimeout(this.ds.query('SELECT 1'), 2000, 'Postgres'),
      withTimeout(this.temporal.workflowService.getSystemInfo({}), 2000, 'Temporal'),
    ]);
    checks.postgres = results[0].status === 'fulfilled' ? 'ok' : String(results[0].reason?.message ?? results[0].reason);
    checks.temporal = results[1].status === 'fulfilled' ? 'ok' : String(results[1].reason?.message ?? results[1].reason);
    const failed = Object.entries(checks).filter(([, v]) => v !== 'ok');
    if (failed.length) throw new UnavailableError(`Not ready: ${failed.map(([k, v]) => `${k}: ${v}`).join('; ')}`, { checks });
    return { status: 'ok', checks };
  }

  /** A bare Nest route on the same app (global guards, interceptors, filter), for benchmarks. */
  @Get('ping')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  ping(): { pong: true } {
    return { pong: true };
  }
}
