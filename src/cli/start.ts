import { join } from 'node:path';

import { ensureTemporalCli } from '../temporal/temporal-cli';
import type { DevServerOptions } from '../temporal/dev-server';
import { launchDevServer, startDevServer } from '../temporal/dev-server';
import { bootConfig, bootDatabase, bootLogger, printFirstStartTokens, ProcessStack } from './boot';
import { routeTemporalSdkLogs } from '../temporal/sdk-logs';
import { createStore, startApi, startWorker } from './services';
import { supervise } from './supervisor';

/**
 * `npm start`: the whole service on one machine — Temporal dev server (SQLite under .data/, UI),
 * Postgres (configured, local, or embedded), migrations, roster, worker and HTTP API in one process.
 * It supervises what it starts: a dev server or embedded Postgres that dies is restarted with backoff (same database
 * file); past READFLOW_RESTART_TRIES tries in a row everything stops and the process exits 1 saying why.
 */
async function main(): Promise<void> {
  const config = bootConfig();
  const logger = bootLogger(config, 'readflow');
  routeTemporalSdkLogs(logger);
  const stack = new ProcessStack(logger);
  let givenUp = false;
  const giveUp = (err: Error): void => {
    if (givenUp) return;
    givenUp = true;
    logger.error({ err: err.message }, `ReadFlow is stopping: ${err.message}`);
    process.stderr.write(`\nReadFlow stopped: ${err.message}. Its data is kept; see the log above, then npm start again.\n`);
    void stack.stopAll().finally(() => process.exit(1));
  };
  await stack.run('ReadFlow', async () => {
    if (config.temporal.startDevServer) {
      const cliPath = await ensureTemporalCli({
        ...config.toolchain,
        log: (line) => logger.info(line),
      });
      const devServer: DevServerOptions = {
        cliPath,
        address: config.temporal.address,
        namespace: config.temporal.namespace,
        uiPort: config.temporal.uiPort,
        dbFile: join(config.dataDir, 'temporal.sqlite'),
        logger,
        // The UI decodes payloads through ReadFlow's codec endpoint (managers and admins; see SECURITY.md).
        ...(config.security.payloadKeys?.length ? { codecEndpoint: `${config.http.publicUrl}/api/v1/temporal-codec` } : {}),
      };
      const server = await startDevServer(devServer);
      if (server.started) {
        const supervised = supervise({
          name: 'Temporal dev server',
          logger,
          first: server,
          restart: () => launchDevServer(devServer),
          maxRestarts: config.restartTries,
          onGiveUp: giveUp,
        });
        stack.push({ name: 'temporal', stop: supervised.stop });
      } else {
        stack.push({ name: 'temporal', stop: server.stop });
      }
    }
    const db = await bootDatabase(config, logger, { onGiveUp: giveUp });
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
  });
}

void main();
