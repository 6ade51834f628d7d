import { join } from 'node:path';

import { ensureTemporalCli } from '../temporal/temporal-cli';
import { startDevServer } from '../temporal/dev-server';
import { bootConfig, bootDatabase, bootLogger, onShutdown, printFirstStartTokens } from './boot';
import { routeTemporalSdkLogs } from '../temporal/sdk-logs';
import { createStore, startApi, startWorker } from './services';

/**
 * `npm start`: the whole service on one machine — Temporal dev server (SQLite under .data/, UI),
 * Postgres (configured, local, or embedded), migrations, roster, worker and HTTP API in one process.
 */
async function main(): Promise<void> {
  const config = bootConfig();
  const logger = bootLogger(config, 'readflow');
  routeTemporalSdkLogs(logger);
  const stack: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async (): Promise<void> => {
    for (const item of stack.reverse()) {
      try {
        await item.stop();
      } catch (err) {
        logger.error({ err, component: item.name }, 'Failed to stop cleanly');
      }
    }
  };
  onShutdown(logger, stopAll);
  try {
    if (config.temporal.startDevServer) {
      const cliPath = await ensureTemporalCli({
        ...config.toolchain,
        log: (line) => logger.info(line),
      });
      const server = await startDevServer({
        cliPath,
        address: config.temporal.address,
        namespace: config.temporal.namespace,
        uiPort: config.temporal.uiPort,
        dbFile: join(config.dataDir, 'temporal.sqlite'),
        logger,
      });
      stack.push({ name: 'temporal', stop: server.stop });
    }
    const db = await bootDatabase(config, logger);
    stack.push({ name: 'postgres', stop: db.close });
    const store = createStore(config);
    const worker = await startWorker(config, logger, db.dataSource, store);
    stack.push({ name: 'worker', stop: worker.stop });
    const api = await startApi(config, logger, db.dataSource, store);
    stack.push({ name: 'api', stop: api.stop });
    printFirstStartTokens(config, db.seed);
    process.stdout.write(
      [
        '',
        'ReadFlow is running:',
        `  API            ${api.url}/api/v1`,
        `  OpenAPI docs   ${api.url}/docs   (spec: ${api.url}/api/v1/openapi.json)`,
        `  Health         ${api.url}/healthz  ${api.url}/readyz`,
        `  Temporal UI    ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`,
        `  Temporal gRPC  ${config.temporal.address}   Postgres: ${db.kind}`,
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
  } catch (err) {
    logger.error({ err }, 'ReadFlow failed to start');
    await stopAll();
    process.exit(1);
  }
}

void main();
