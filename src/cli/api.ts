import { bootConfig, bootDatabase, bootLogger, onShutdown, printFirstStartTokens } from './boot';
import { createStore, startApi } from './services';

/** `npm run api`: the HTTP API against an existing Temporal server and Postgres. */
async function main(): Promise<void> {
  const config = bootConfig();
  const logger = bootLogger(config, 'readflow-api');
  const db = await bootDatabase(config, logger);
  const api = await startApi(config, logger, db.dataSource, createStore(config));
  printFirstStartTokens(config, db.seed);
  logger.info({ url: api.url }, 'API listening');
  onShutdown(logger, async () => {
    await api.stop();
    await db.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`ReadFlow API failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
