import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';

import type { Logger } from '../logger';

/**
 * Routes the Temporal SDK's logs (TypeScript side and Rust core, core at WARN and above) through pino, with
 * `component: temporal`. It installs the SDK's process-wide `Runtime`: call once per process, before any worker.
 */
export function routeTemporalSdkLogs(logger: Logger): void {
  const log = logger.child({ component: 'temporal' });
  Runtime.install({
    logger: {
      log: (level, message, meta) =>
        log[level === 'TRACE' ? 'trace' : (level.toLowerCase() as 'info')](meta ?? {}, message),
      trace: (m, meta) => log.trace(meta ?? {}, m),
      debug: (m, meta) => log.debug(meta ?? {}, m),
      info: (m, meta) => log.debug(meta ?? {}, m),
      warn: (m, meta) => log.warn(meta ?? {}, m),
      error: (m, meta) => log.error(meta ?? {}, m),
    },
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
}
