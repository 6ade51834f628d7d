import 'reflect-metadata';

import { DefaultLogger, Runtime } from '@temporalio/worker';

// Quiet the Temporal worker's own logs in tests (warnings and errors still show).
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed in this worker process
}
