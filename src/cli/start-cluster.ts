import { join, resolve } from 'node:path';

import type { Config } from '../config/config';
import type { Logger } from '../logger';
import {
  ensureNamespace,
  pgTargetFromUrl,
  prepareTemporalDatabases,
  serverPorts,
  startTemporalServer,
  startUiServer,
  uiServerConfig,
} from '../temporal/cluster-server';
import type { ManagedProcess } from '../temporal/managed-process';
import { spawnManaged } from '../temporal/managed-process';
import { ensureServerBinaries } from '../temporal/server-binaries';
import { bootConfig, bootDatabase, bootLogger, printFirstStartTokens, ProcessStack, redactUrl } from './boot';
import { startLoadBalancer } from './load-balancer';

/**
 * `npm run start:cluster`: ReadFlow in its production shape on one machine, in one process tree that Ctrl-C stops:
 * Postgres (DATABASE_URL, local, else embedded) → the Temporal databases created and migrated with temporal-sql-tool
 * → temporal-server (Postgres persistence, SQL visibility) → the namespace and search attributes → temporal-ui-server
 * → READFLOW_WORKERS worker processes and READFLOW_APIS API processes (restarted if they die) → a load balancer on PORT.
 */

interface Supervised {
  role: 'worker' | 'api';
  index: number;
  port?: number;
  logFile: string;
  current: ManagedProcess;
  restarts: number;
}

function spawnRole(s: Omit<Supervised, 'current' | 'restarts'>, env: NodeJS.ProcessEnv): ManagedProcess {
  return spawnManaged({
    name: `${s.role}-${s.index}`,
    command: process.execPath,
    args: [join(__dirname, s.role === 'worker' ? 'worker.js' : 'api.js')],
    env: s.port ? { ...env, PORT: String(s.port) } : env,
    logFile: s.logFile,
  });
}

/** Restarts a worker or API process that exits while the cluster runs (backoff 1 s doubling to 30 s). */
function supervise(s: Supervised, env: NodeJS.ProcessEnv, logger: Logger, stopping: () => boolean): void {
  const startedAt = Date.now();
  void s.current.exited.then((status) => {
    if (stopping()) return;
    const delay = Date.now() - startedAt > 60_000 ? 1000 : Math.min(30_000, 1000 * 2 ** Math.min(s.restarts, 5));
    logger.warn({ process: s.current.name, childPid: s.current.pid, status, restartInMs: delay, log: s.logFile }, 'Process exited; restarting it');
    setTimeout(() => {
      if (stopping()) return;
      s.restarts++;
      s.current = spawnRole(s, env);
      logger.info({ process: s.current.name, childPid: s.current.pid }, 'Process restarted');
      supervise(s, env, logger, stopping);
    }, delay).unref();
  });
}

async function waitReady(url: string, proc: () => ManagedProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    const st = proc().exitStatus();
    if (st !== undefined) throw new Error(`${proc().name} exited (${st}) before it was ready; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs / 1000} s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function localHost(config: Config): string {
  return config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
}

async function main(): Promise<void> {
  const config = bootConfig();
  const logger = bootLogger(config, 'readflow-cluster');
  const clusterDir = resolve(config.dataDir, 'cluster');
  const logs = join(clusterDir, 'logs');
  const stack = new ProcessStack(logger);
  await stack.run('ReadFlow cluster', async () => {
    // The Go builds (first time only) and Postgres come up side by side.
    const binariesPromise = ensureServerBinaries({ toolchain: config.toolchain, configured: config.cluster.binaries, log: (line) => logger.info(line) });
    binariesPromise.catch(() => undefined);
    const db = await bootDatabase(config, logger);
    stack.push({ name: 'postgres', stop: db.close });
    const binaries = await binariesPromise;
    const pg = pgTargetFromUrl(db.url);

    const schema = await prepareTemporalDatabases({
      sqlTool: binaries.sqlTool,
      serverModuleDir: binaries.serverModuleDir,
      pg,
      temporalDb: config.cluster.temporalDb,
      visibilityDb: config.cluster.visibilityDb,
      log: (line) => logger.info(line),
    });
    for (const s of schema) {
      logger.info(s, s.from === s.to ? `Temporal database ${s.database} is up to date (${s.to}): nothing to migrate` : `Temporal database ${s.database} migrated`);
    }

    const serverLog = join(logs, 'temporal-server.log');
    logger.info({ address: config.temporal.address, log: serverLog }, 'Starting temporal-server (Postgres persistence, SQL visibility)');
    const server = await startTemporalServer({
      binary: binaries.server,
      logFile: serverLog,
      address: config.temporal.address,
      portBase: config.cluster.serverPortBase,
      historyShards: config.cluster.historyShards,
      pg,
      temporalDb: config.cluster.temporalDb,
      visibilityDb: config.cluster.visibilityDb,
      dir: join(clusterDir, 'temporal'),
    });
    stack.push({ name: 'temporal-server', stop: () => server.stop() });
    const ns = await ensureNamespace({
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      retentionMs: config.cluster.namespaceRetentionMs,
    });
    logger.info(ns, `Namespace ${config.temporal.namespace} ready with ReadFlow's search attributes`);

    const uiLog = join(logs, 'temporal-ui-server.log');
    const ui = await startUiServer({
      binary: binaries.uiServer,
      dir: join(clusterDir, 'ui'),
      logFile: uiLog,
      config: uiServerConfig({
        address: config.temporal.address,
        host: localHost(config),
        port: config.temporal.uiPort,
        namespace: config.temporal.namespace,
        allowOrigins: [config.http.publicUrl],
      }),
    });
    stack.push({ name: 'temporal-ui-server', stop: () => ui.stop() });

    // Workers and APIs: the same entry points as `npm run worker` / `npm run api`, on this cluster's services.
    const childEnv: NodeJS.ProcessEnv = {
      ...config.inheritedEnv,
      DATABASE_URL: db.url,
      READFLOW_DEID_SECRET: config.deidSecret,
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_START_DEV_SERVER: 'false',
      TEMPORAL_UI_URL: config.temporal.uiUrl,
      PUBLIC_URL: config.http.publicUrl,
      READFLOW_DATA_DIR: config.dataDir,
      STORAGE_DIR: config.storageDir,
      READFLOW_IMPORT_DIR: config.importDir,
    };
    const supervised: Supervised[] = [];
    const stopChildren = async (role: Supervised['role']): Promise<void> => {
      await Promise.all(supervised.filter((s) => s.role === role).map((s) => s.current.stop(30_000)));
    };
    stack.push({ name: 'workers', stop: () => stopChildren('worker') });
    for (let i = 1; i <= config.cluster.workers; i++) {
      const s = { role: 'worker' as const, index: i, logFile: join(logs, `worker-${i}.log`) };
      supervised.push({ ...s, current: spawnRole(s, childEnv), restarts: 0 });
    }
    stack.push({ name: 'apis', stop: () => stopChildren('api') });
    for (let i = 1; i <= config.cluster.apis; i++) {
      const s = { role: 'api' as const, index: i, port: config.cluster.apiBasePort + i - 1, logFile: join(logs, `api-${i}.log`) };
      supervised.push({ ...s, current: spawnRole(s, childEnv), restarts: 0 });
    }
    const host = localHost(config);
    for (const s of supervised.filter((x) => x.role === 'api')) {
      await waitReady(`http://${host}:${s.port}`, () => s.current, s.logFile, 120_000);
    }
    for (const s of supervised) supervise(s, childEnv, logger, () => stack.stopping);

    const lb = await startLoadBalancer({
      host: config.http.host,
      port: config.http.port,
      backends: supervised.filter((s) => s.role === 'api').map((s) => ({ host, port: s.port! })),
      onChange: (b) => logger.info({ backend: `${b.host}:${b.port}`, healthy: b.healthy }, 'API process health changed'),
    });
    stack.push({ name: 'load-balancer', stop: lb.close });

    printFirstStartTokens(config, db.seed);
    const ports = serverPorts({ address: config.temporal.address, portBase: config.cluster.serverPortBase });
    const base = config.http.publicUrl;
    const list = (role: Supervised['role']): string =>
      supervised
        .filter((s) => s.role === role)
        .map((s) => `${s.current.name}${s.port ? ` :${s.port}` : ''} pid ${s.current.pid}`)
        .join(', ');
    process.stdout.write(
      [
        '',
        'ReadFlow cluster is running:',
        `  API (load balancer, round-robin over healthy APIs)  ${base}/api/v1   docs ${base}/docs   health ${base}/readyz`,
        `  API processes   ${list('api')}`,
        `  Workers         ${list('worker')} (task queue ${config.temporal.taskQueue})`,
        `  Temporal UI     ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows   (temporal-ui-server pid ${ui.pid})`,
        `  Temporal gRPC   ${config.temporal.address}   (temporal-server pid ${server.pid}; internal ports ${ports.history}-${ports.workerMembership})`,
        `  Postgres        ${redactUrl(db.url)} (${db.kind}); Temporal databases ${config.cluster.temporalDb}, ${config.cluster.visibilityDb}`,
        `  Logs            ${logs}/{temporal-server,temporal-ui-server,worker-N,api-N}.log`,
        `  Add a worker    DATABASE_URL=${redactUrl(db.url)} TEMPORAL_ADDRESS=${config.temporal.address} READFLOW_DEID_SECRET=… npm run worker`,
        'Press Ctrl-C to stop everything.',
        '',
      ].join('\n'),
    );
  });
}

void main();
