import 'reflect-metadata';

import { DefaultLogger, Runtime } from '@temporalio/worker';

// Quiet the Temporal worker's own logs in tests (errors still show; expected business failures such as quarantines log at WARN).
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // already installed in this worker process
}
