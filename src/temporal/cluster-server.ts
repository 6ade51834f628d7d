import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';
import { stringify } from 'yaml';

import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { acceptsTcpConnections } from '../net/tcp';
import type { ManagedProcess } from './managed-process';
import { spawnManaged } from './managed-process';

/**
 * The production-shaped Temporal for `npm run start:cluster`: the `temporal-server` binary (all four services in
 * one process) with Postgres persistence and SQL visibility, its databases created and migrated with
 * `temporal-sql-tool`, the `temporal-ui-server` pointed at it, the namespace and ReadFlow's search attributes.
 * Configuration files are generated from typed objects (never edited copies of the module's templates).
 */

/** Where a Postgres server is, as the Temporal server and the SQL tool need it. */
export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export function pgTargetFromUrl(url: string): PgTarget {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
  };
}

function pgUrl(pg: PgTarget, database: string): string {
  const auth = pg.password ? `${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}` : encodeURIComponent(pg.user);
  return `postgres://${auth}@${pg.host.includes(':') ? `[${pg.host}]` : pg.host}:${pg.port}/${database}`;
}

// ── The server's configuration file (a subset of go.temporal.io/server/common/config.Config) ──────────────────────
interface SqlDatastore {
  sql: {
    pluginName: 'postgres12';
    databaseName: string;
    connectAddr: string;
    connectProtocol: 'tcp';
    user: string;
    password: string;
    maxConns: number;
    maxIdleConns: number;
    maxConnLifetime: string;
  };
}
interface RpcConfig {
  grpcPort: number;
  membershipPort: number;
  bindOnIP: string;
  httpPort?: number;
}
export interface TemporalServerConfig {
  log: { stdout: boolean; level: 'debug' | 'info' | 'warn' | 'error' };
  persistence: {
    defaultStore: 'default';
    visibilityStore: 'visibility';
    numHistoryShards: number;
    datastores: { default: SqlDatastore; visibility: SqlDatastore };
  };
  global: { membership: { maxJoinDuration: string; broadcastAddress: string } };
  services: Record<'frontend' | 'history' | 'matching' | 'worker', { rpc: RpcConfig }>;
  clusterMetadata: {
    enableGlobalNamespace: false;
    failoverVersionIncrement: number;
    masterClusterName: string;
    currentClusterName: string;
    clusterInformation: Record<string, { enabled: true; initialFailoverVersion: number; rpcName: 'frontend'; rpcAddress: string; httpAddress: string }>;
  };
  dcRedirectionPolicy: { policy: 'noop' };
  archival: { history: { state: 'disabled' }; visibility: { state: 'disabled' } };
  namespaceDefaults: { archival: { history: { state: 'disabled' }; visibility: { state: 'disabled' } } };
  dynamicConfigClient: { filepath: string; pollInterval: string };
}

export interface ClusterServerOptions {
  /** Frontend gRPC `host:port` (TEMPORAL_ADDRESS). */
  address: string;
  /** history, matching, worker gRPC; frontend HTTP; then frontend, history, matching, worker membership. */
  portBase: number;
  historyShards: number;
  pg: PgTarget;
  temporalDb: string;
  visibilityDb: string;
  /** Directory for the generated configuration and the server's state files. */
  dir: string;
  logLevel?: TemporalServerConfig['log']['level'];
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** The ports the server listens on besides the frontend (for `where to look` and port checks). */
export function serverPorts(o: Pick<ClusterServerOptions, 'address' | 'portBase'>): Record<string, number> {
  const b = o.portBase;
  return {
    frontend: splitHostPort(o.address).port,
    history: b,
    matching: b + 1,
    worker: b + 2,
    frontendHttp: b + 3,
    frontendMembership: b + 4,
    historyMembership: b + 5,
    matchingMembership: b + 6,
    workerMembership: b + 7,
  };
}

export function temporalServerConfig(o: ClusterServerOptions): TemporalServerConfig {
  const { host } = splitHostPort(o.address);
  const p = serverPorts(o);
  const datastore = (databaseName: string, conns: number): SqlDatastore => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${o.pg.host}:${o.pg.port}`,
      connectProtocol: 'tcp',
      user: o.pg.user,
      password: o.pg.password,
      maxConns: conns,
      maxIdleConns: conns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, httpPort?: number): { rpc: RpcConfig } => ({
    rpc: { grpcPort, membershipPort, bindOnIP: host, ...(httpPort ? { httpPort } : {}) },
  });
  return {
    log: { stdout: true, level: o.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: o.historyShards,
      datastores: { default: datastore(o.temporalDb, 20), visibility: datastore(o.visibilityDb, 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: host === '0.0.0.0' ? '127.0.0.1' : host } },
    services: {
      frontend: rpc(p.frontend, p.frontendMembership, p.frontendHttp),
      history: rpc(p.history, p.historyMembership),
      matching: rpc(p.matching, p.matchingMembership),
      worker: rpc(p.worker, p.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: o.address,
          httpAddress: `${host}:${p.frontendHttp}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: join(resolve(o.dir), 'config', 'dynamicconfig.yaml'), pollInterval: '10s' },
  };
}

/** Dynamic configuration: the module's development-sql defaults that matter to ReadFlow. */
const DYNAMIC_CONFIG = {
  'limit.maxIDLength': [{ value: 255, constraints: {} }],
};

/** Writes `<dir>/config/readflow.yaml` (and the dynamic config) and returns the server's command-line arguments. */
export function writeServerConfig(o: ClusterServerOptions): string[] {
  const configDir = join(resolve(o.dir), 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'readflow.yaml'),
    `# Generated by ReadFlow (src/temporal/cluster-server.ts) at each start: edit the typed config, not this file.\n${stringify(temporalServerConfig(o))}`,
    { mode: 0o600 },
  );
  writeFileSync(join(configDir, 'dynamicconfig.yaml'), stringify(DYNAMIC_CONFIG));
  return ['--root', resolve(o.dir), '--config', 'config', '--env', 'readflow', '--allow-no-auth', 'start'];
}

// ── Databases ──────────────────────────────────────────────────────────────────────────────────────────────────
/** Highest `vX.Y` directory under a versioned schema directory. */
export function latestSchemaVersion(versionedDir: string): string {
  const versions = readdirSync(versionedDir)
    .filter((d) => /^v\d+\.\d+$/.test(d))
    .map((d) => d.slice(1));
  if (versions.length === 0) throw new Error(`no schema versions under ${versionedDir}`);
  return versions.sort(compareVersions).at(-1)!;
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

export interface SchemaStep {
  database: string;
  created: boolean;
  from: string | null;
  to: string;
}

async function databaseState(pg: PgTarget, database: string): Promise<{ exists: boolean; version: string | null }> {
  const admin = new PgClient({ connectionString: pgUrl(pg, 'postgres') });
  await admin.connect();
  try {
    const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (r.rowCount === 0) return { exists: false, version: null };
  } finally {
    await admin.end();
  }
  const db = new PgClient({ connectionString: pgUrl(pg, database) });
  await db.connect();
  try {
    const t = await db.query(`SELECT to_regclass('public.schema_version') IS NOT NULL AS present`);
    if (!t.rows[0].present) return { exists: true, version: null };
    const v = await db.query('SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = $1', [database]);
    return { exists: true, version: (v.rows[0]?.curr_version as string | undefined) ?? null };
  } finally {
    await db.end();
  }
}

function runSqlTool(sqlTool: string, pg: PgTarget, database: string, args: string[]): void {
  const r = spawnSync(sqlTool, args, {
    encoding: 'utf8',
    // Only what the tool reads: it is a static Go binary run by path.
    env: {
      SQL_PLUGIN: 'postgres12',
      SQL_HOST: pg.host,
      SQL_PORT: String(pg.port),
      SQL_USER: pg.user,
      SQL_PASSWORD: pg.password,
      SQL_DATABASE: database,
    },
  });
  if (r.status !== 0) {
    throw new Error(`temporal-sql-tool ${args.join(' ')} (database ${database}) failed:\n${r.stderr}${r.stdout}`);
  }
}

/**
 * Creates and migrates the Temporal and visibility databases with `temporal-sql-tool`, from the server module's
 * `schema/postgresql/v12/{temporal,visibility}/versioned`. Idempotent: a database at the latest version is left alone.
 */
export async function prepareTemporalDatabases(opts: {
  sqlTool: string;
  serverModuleDir: string;
  pg: PgTarget;
  temporalDb: string;
  visibilityDb: string;
  log: (line: string) => void;
}): Promise<SchemaStep[]> {
  const steps: SchemaStep[] = [];
  for (const [database, kind] of [
    [opts.temporalDb, 'temporal'],
    [opts.visibilityDb, 'visibility'],
  ] as const) {
    const versioned = join(opts.serverModuleDir, 'schema', 'postgresql', 'v12', kind, 'versioned');
    if (!existsSync(versioned)) throw new Error(`Temporal schema directory missing: ${versioned}`);
    const latest = latestSchemaVersion(versioned);
    const state = await databaseState(opts.pg, database);
    if (!state.exists) {
      opts.log(`Creating database ${database} (temporal-sql-tool create-database)`);
      runSqlTool(opts.sqlTool, opts.pg, database, ['create-database']);
    }
    if (state.version === null) {
      runSqlTool(opts.sqlTool, opts.pg, database, ['setup-schema', '-v', '0.0']);
    }
    if (state.version !== null && compareVersions(state.version, latest) >= 0) {
      steps.push({ database, created: !state.exists, from: state.version, to: state.version });
      continue;
    }
    opts.log(`Migrating ${database} (${kind}) from ${state.version ?? '0.0'} to ${latest} (temporal-sql-tool update-schema)`);
    runSqlTool(opts.sqlTool, opts.pg, database, ['update-schema', '-d', versioned]);
    steps.push({ database, created: !state.exists, from: state.version, to: latest });
  }
  return steps;
}

// ── Processes ──────────────────────────────────────────────────────────────────────────────────────────────────
async function waitUntil(what: string, proc: ManagedProcess, logFile: string, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return;
    const st = proc.exitStatus();
    if (st !== undefined) throw new Error(`${what} exited (${st}); see ${logFile}`);
    if (Date.now() > deadline) {
      await proc.stop(1000);
      throw new Error(`${what} was not ready within ${timeoutMs / 1000} s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Starts `temporal-server` and waits until its frontend answers gRPC health checks. */
export async function startTemporalServer(opts: ClusterServerOptions & { binary: string; logFile: string }): Promise<ManagedProcess> {
  for (const [name, port] of Object.entries(serverPorts(opts))) {
    if (await acceptsTcpConnections(`${splitHostPort(opts.address).host}:${port}`, 300)) {
      throw new Error(`Port ${port} (Temporal ${name}) is already in use: set TEMPORAL_ADDRESS / TEMPORAL_SERVER_PORT_BASE`);
    }
  }
  const args = writeServerConfig(opts);
  const proc = spawnManaged({ name: 'temporal-server', command: opts.binary, args, logFile: opts.logFile });
  await waitUntil('temporal-server', proc, opts.logFile, 120_000, async () => {
    if (!(await acceptsTcpConnections(opts.address, 300))) return false;
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address: opts.address, connectTimeout: '2s' });
      const h = await connection.healthService.check({});
      return h.status === 1; // SERVING
    } catch {
      return false;
    } finally {
      await connection?.close();
    }
  });
  return proc;
}

const GRPC_ALREADY_EXISTS = 6;
/** temporal.api.enums.v1.IndexedValueType for the SDK's search attribute types. */
const INDEXED_VALUE_TYPE: Record<string, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };

function isGrpcCode(err: unknown, code: number): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * Registers the namespace (if new) and ReadFlow's search attributes (those missing), then waits until the
 * frontend serves the namespace. Returns what was added.
 */
export async function ensureNamespace(opts: {
  address: string;
  namespace: string;
  retentionMs: number;
  timeoutMs?: number;
}): Promise<{ namespaceCreated: boolean; attributesAdded: string[] }> {
  const connection = await Connection.connect({ address: opts.address });
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  try {
    let namespaceCreated = false;
    try {
      await connection.workflowService.registerNamespace({
        namespace: opts.namespace,
        workflowExecutionRetentionPeriod: msToTs(opts.retentionMs),
        description: 'ReadFlow scans and batches',
      });
      namespaceCreated = true;
    } catch (err) {
      if (!isGrpcCode(err, GRPC_ALREADY_EXISTS)) throw err;
    }
    // A new namespace reaches the frontend's cache within seconds.
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace: opts.namespace });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${opts.namespace} not served at ${opts.address}: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const existing = await connection.operatorService.listSearchAttributes({ namespace: opts.namespace });
    const have = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = SEARCH_ATTRIBUTES.filter((a) => !have.has(a.name));
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace: opts.namespace,
        searchAttributes: Object.fromEntries(missing.map((a) => [a.name, INDEXED_VALUE_TYPE[a.type]])),
      });
    }
    // The services see new attributes when their namespace caches refresh: wait until a query on each is accepted.
    for (;;) {
      try {
        await connection.workflowService.countWorkflowExecutions({
          namespace: opts.namespace,
          query: SEARCH_ATTRIBUTES.map((a) => `${a.name} IS NOT NULL`).join(' OR '),
        });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`search attributes not usable on ${opts.namespace}: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    return { namespaceCreated, attributesAdded: missing.map((a) => a.name) };
  } finally {
    await connection.close();
  }
}

export interface UiServerConfig {
  temporalGrpcAddress: string;
  host: string;
  port: number;
  publicPath: string;
  enableUi: boolean;
  defaultNamespace: string;
  showTemporalSystemNamespace: boolean;
  notifyOnNewVersion: boolean;
  refreshInterval: string;
  cors: { allowOrigins: string[]; cookieInsecure: boolean };
  auth: { enabled: boolean };
  forwardHeaders: string[];
}

export function uiServerConfig(o: { address: string; host: string; port: number; namespace: string; allowOrigins: string[] }): UiServerConfig {
  return {
    temporalGrpcAddress: o.address,
    host: o.host,
    port: o.port,
    publicPath: '',
    enableUi: true,
    defaultNamespace: o.namespace,
    showTemporalSystemNamespace: false,
    notifyOnNewVersion: false,
    refreshInterval: '1m',
    cors: { allowOrigins: o.allowOrigins, cookieInsecure: o.host === '127.0.0.1' || o.host === 'localhost' },
    auth: { enabled: false },
    forwardHeaders: [],
  };
}

/** Starts `temporal-ui-server` with a generated config and waits until it serves the UI. */
export async function startUiServer(opts: {
  binary: string;
  dir: string;
  logFile: string;
  config: UiServerConfig;
}): Promise<ManagedProcess> {
  const root = resolve(opts.dir);
  mkdirSync(join(root, 'config'), { recursive: true });
  writeFileSync(
    join(root, 'config', 'readflow.yaml'),
    `# Generated by ReadFlow (src/temporal/cluster-server.ts) at each start.\n${stringify(opts.config)}`,
  );
  if (await acceptsTcpConnections(`${opts.config.host}:${opts.config.port}`, 300)) {
    throw new Error(`Port ${opts.config.port} (Temporal UI) is already in use: set TEMPORAL_UI_PORT`);
  }
  const proc = spawnManaged({
    name: 'temporal-ui-server',
    command: opts.binary,
    args: ['--root', root, '--config', 'config', '--env', 'readflow', 'start'],
    logFile: opts.logFile,
  });
  await waitUntil('temporal-ui-server', proc, opts.logFile, 60_000, async () => {
    try {
      const r = await fetch(`http://${opts.config.host}:${opts.config.port}/`, { signal: AbortSignal.timeout(2000) });
      return r.ok;
    } catch {
      return false;
    }
  });
  return proc;
}
