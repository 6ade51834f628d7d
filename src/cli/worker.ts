import { bootConfig, bootDatabase, bootLogger, onShutdown } from './boot';
import { routeTemporalSdkLogs } from '../temporal/sdk-logs';
import { createStore, startWorker } from './services';

/** `npm run worker`: a ReadFlow worker against an existing Temporal server and Postgres (scale out by running more). */
async function main(): Promise<void> {
  const config = bootConfig();
  const logger = bootLogger(config, 'readflow-worker');
  routeTemporalSdkLogs(logger);
  const db = await bootDatabase(config, logger);
  const worker = await startWorker(config, logger, db.dataSource, createStore(config));
  onShutdown(logger, async () => {
    await worker.stop();
    await db.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`ReadFlow worker failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
