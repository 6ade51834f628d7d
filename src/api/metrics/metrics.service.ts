import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import { QuarantinedInputsRepository, ScansRepository, TasksRepository } from '../../db/repositories';

/**
 * Prometheus metrics in a Registry of this app's own (never the global default), so several apps in one
 * process (tests, the bench) do not clash. Gauges of the work queue are read from Postgres at scrape time.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'readflow_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly submissions = new Counter({
    name: 'readflow_submissions_total',
    help: 'Submissions answered by the API, by outcome (accepted, duplicate, invalid, conflict, not-found).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly reassignments = new Counter({
    name: 'readflow_reassignments_total',
    help: 'Manager reassignments accepted by the workflows.',
    registers: [this.registry],
  });

  readonly ingests = new Counter({
    name: 'readflow_ingest_requests_total',
    help: 'Scan uploads and batches through the API, by outcome (new, existing, batch).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(tasks: TasksRepository, scans: ScansRepository, quarantine: QuarantinedInputsRepository) {
    collectDefaultMetrics({ register: this.registry, prefix: 'readflow_' });
    new Gauge({
      name: 'readflow_tasks_open',
      help: 'Open tasks (inbox projection).',
      registers: [this.registry],
      async collect() {
        this.set((await tasks.openCounts()).open);
      },
    });
    new Gauge({
      name: 'readflow_tasks_overdue',
      help: 'Open tasks past their deadline.',
      registers: [this.registry],
      async collect() {
        this.set((await tasks.openCounts()).overdue);
      },
    });
    new Gauge({
      name: 'readflow_scans',
      help: 'Scans by lifecycle stage (ingest outcomes: released/reading… vs quarantined).',
      labelNames: ['stage'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await scans.countByStage();
        this.reset();
        for (const r of rows) this.set({ stage: r.stage }, r.n);
      },
    });
    new Gauge({
      name: 'readflow_quarantined_inputs',
      help: 'Inputs refused at ingest.',
      registers: [this.registry],
      async collect() {
        this.set(await quarantine.count());
      },
    });
  }
}
