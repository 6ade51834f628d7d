import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Registry } from 'prom-client';
import { ApiExcludeController } from '@nestjs/swagger';

import { Public } from '../auth/principal';
import { MetricsService } from './metrics.service';

/** `/metrics` for Prometheus (outside `/api/v1`, unauthenticated like health checks: expose it on an internal network). */
@ApiExcludeController()
@Public()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get('metrics')
  async scrape(@Res() res: Response): Promise<void> {
    const body = await this.metrics.registry.metrics();
    res.status(200).setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE);
    res.end(body);
  }
}
