import type { NextFunction, Request, Response } from 'express';

import { MetricsService } from './metrics.service';

/** Observes every request's latency, labelled by the matched route template (not the raw URL). */
export function httpMetrics(metrics: MetricsService): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
