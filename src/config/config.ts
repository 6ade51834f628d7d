import { readFileSync } from 'node:fs';

import { z } from 'zod';

import type { PolicyName, ReadingPolicy, Taxonomy } from '../domain';
import { DEFAULT_POLICIES, formatProblems, parsePolicy, parseTaxonomy, VINDR_CXR_TAXONOMY } from '../domain';
import { ConfigError } from './errors';
import { INGEST_CLIENT_KEYS } from './ingest-client';
import type { ToolchainConfig } from './toolchain';
import { TOOLCHAIN_KEYS, loadToolchainConfig } from './toolchain';

export { ConfigError } from './errors';
import type { PayloadKey } from '../temporal/payload-codec';
import { parsePayloadKeys } from '../temporal/payload-codec';

/**
 * ReadFlow's typed configuration of the server roles (`npm start`, `npm run worker`, `npm run api`). `loadConfig` is
 * called once at boot with the environment by src/config/boot.ts, the only reader of `process.env`.
 * To add a variable: a key in `shape`, a field in `Config`, its line in `loadConfig`, .env.example and README's table.
 */
/** HMAC key length floor: a short key makes scan ids and de-identified UIDs guessable. */
export const DEID_SECRET_MIN_LENGTH = 32;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);

// ── Cluster shape (`npm run start:cluster`: Temporal server on Postgres, UI server, N workers, N APIs) ──────────
/** Keys read only by `npm run start:cluster` (src/cli/start-cluster.ts); kept in one block. */
const clusterShape = {
  READFLOW_WORKERS: z.coerce.number().int().min(1).max(64).default(2),
  READFLOW_APIS: z.coerce.number().int().min(1).max(64).default(2),
  /** First API process port (the others follow); default PORT + 1. PORT is the load balancer's. */
  READFLOW_API_BASE_PORT: port.optional(),
  TEMPORAL_DB: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a Postgres database name').default('temporal'),
  TEMPORAL_VISIBILITY_DB: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a Postgres database name').default('temporal_visibility'),
  /** Fixed when the Temporal database is created: more shards, more history parallelism (and more idle load). */
  TEMPORAL_HISTORY_SHARDS: z.coerce.number().int().min(1).max(16384).default(4),
  /** The server's internal ports: history, matching, worker gRPC, frontend HTTP, then four membership ports. */
  // Temporal stores membership ports in a smallint column: they must stay below 32768.
  TEMPORAL_SERVER_PORT_BASE: z.coerce.number().int().min(1).max(32760, 'at most 32760 (Temporal keeps membership ports in a smallint)').default(7234),
  TEMPORAL_NAMESPACE_RETENTION: z.string().regex(/^\d+(h|d)$/, 'a duration like 72h or 30d').default('30d'),
  TEMPORAL_SERVER_BIN: z.string().min(1).optional(),
  TEMPORAL_SQL_TOOL_BIN: z.string().min(1).optional(),
  TEMPORAL_UI_SERVER_BIN: z.string().min(1).optional(),
};

export interface ClusterConfig {
  workers: number;
  apis: number;
  apiBasePort: number;
  temporalDb: string;
  visibilityDb: string;
  historyShards: number;
  serverPortBase: number;
  namespaceRetentionMs: number;
  binaries: { server?: string; sqlTool?: string; uiServer?: string };
}

function clusterConfig(v: { PORT: number } & z.infer<z.ZodObject<typeof clusterShape>>): ClusterConfig {
  return {
    workers: v.READFLOW_WORKERS,
    apis: v.READFLOW_APIS,
    apiBasePort: v.READFLOW_API_BASE_PORT ?? v.PORT + 1,
    temporalDb: v.TEMPORAL_DB,
    visibilityDb: v.TEMPORAL_VISIBILITY_DB,
    historyShards: v.TEMPORAL_HISTORY_SHARDS,
    serverPortBase: v.TEMPORAL_SERVER_PORT_BASE,
    namespaceRetentionMs: parseDuration(v.TEMPORAL_NAMESPACE_RETENTION),
    binaries: { server: v.TEMPORAL_SERVER_BIN, sqlTool: v.TEMPORAL_SQL_TOOL_BIN, uiServer: v.TEMPORAL_UI_SERVER_BIN },
  };
}
// ── end of the cluster block ───────────────────────────────────────────────────────────────────────────────────

// --- Dataset publishing (issue #15): accepted views, releases ---
const publishingShape = {
  /** Comma-separated ViewPosition (0018,5101) values accepted at ingest; VinDr-CXR kept only PA films. */
  READFLOW_ACCEPTED_VIEWS: z
    .string()
    .regex(/^[A-Z]{2,16}(,[A-Z]{2,16})*$/, 'a comma-separated list of DICOM view positions, e.g. PA or PA,AP')
    .default('PA'),
  /** Images a release copies and verifies per activity (one durable step of the release workflow). */
  READFLOW_RELEASE_CHUNK: z.coerce.number().int().min(1).max(10_000).default(200),
  READFLOW_GOLD_EVERY: z.coerce.number().int().min(2).max(100_000).default(50),
  READFLOW_GOLD_CHECK_INTERVAL: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 500ms, 30s, 1m')
    .default('1m'),
  /** How often the capacity sweeper releases what closed scan workflows still hold (issue #12). */
  READFLOW_CAPACITY_SWEEP_INTERVAL: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 500ms, 30s, 1m')
    .refine((t) => !/^\d+(ms|s|m|h|d)$/.test(t) || parseDuration(t) >= 100, 'at least 100ms')
    .default('1m'),
};

// --- Image previews (issues #14, #10.5): pixel cap at ingest, render threads, cache ---
const previewShape = {
  /** Most pixels (Rows × Columns) an image may have at ingest; larger ones are quarantined as `image-too-large`. */
  READFLOW_MAX_IMAGE_PIXELS: z.coerce.number().int().min(1).max(268_435_456).default(25_000_000),
  /** Worker threads that render PNG previews (off the API's event loop). */
  READFLOW_PREVIEW_THREADS: z.coerce.number().int().min(1).max(64).default(2),
  /** Renders that may wait for a thread; beyond, 503 with Retry-After. */
  READFLOW_PREVIEW_QUEUE: z.coerce.number().int().min(0).max(10_000).default(32),
  /** Byte budget of the in-memory cache of rendered PNGs (0: no cache). */
  READFLOW_PREVIEW_CACHE_BYTES: z.coerce.number().int().min(0).max(16 * 1024 ** 3).default(128 * 1024 * 1024),
};

const shape = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().default('127.0.0.1'),
  PORT: port.default(3000),
  PUBLIC_URL: z.string().url().optional(),
  READFLOW_DATA_DIR: z.string().min(1).default('.data'),
  STORAGE_DIR: z.string().min(1).optional(),
  READFLOW_IMPORT_DIR: z.string().min(1).optional(),
  READFLOW_INCOMING_RETENTION: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 72h or 3d')
    .default('72h'),
  DATABASE_URL: z.string().url().optional(),
  READFLOW_EMBEDDED_PG: z.enum(['auto', 'always', 'never']).default('auto'),
  READFLOW_EMBEDDED_PG_PORT: port.default(54329),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s[\]]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('readflow'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('readflow'),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_UI_URL: z.string().url().optional(),
  TEMPORAL_START_DEV_SERVER: bool.default(true),
  READFLOW_RESTART_TRIES: z.coerce.number().int().min(0).max(100).default(5),
  READFLOW_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  READFLOW_DEID_SECRET: z.string().min(DEID_SECRET_MIN_LENGTH, `must be at least ${DEID_SECRET_MIN_LENGTH} characters`).optional(),
  READFLOW_POLICIES_FILE: z.string().min(1).optional(),
  READFLOW_TAXONOMY_FILE: z.string().min(1).optional(),
  READFLOW_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  READFLOW_MAX_DICOM_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  READFLOW_TASK_DEADLINE: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 30s, 15m, 72h, 3d')
    .optional(),
  READFLOW_REVIEW_DEADLINE: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 30s, 15m, 48h, 2d')
    .optional(),
  READFLOW_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  READFLOW_SEED_ROSTER: bool.default(true),
  // ---- security (issue 10): Temporal privacy, ops endpoints ----
  READFLOW_PAYLOAD_KEYS: z.string().optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  READFLOW_RATE_LIMIT_ANONYMOUS_PER_MINUTE: z.coerce.number().int().positive().optional(),
  READFLOW_TRUSTED_PROXIES: z.string().min(1).optional(),
  READFLOW_PROTECT_OPS_ENDPOINTS: bool.optional(),
  READFLOW_DEADLINE_HORIZON: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 90d')
    .default('180d'),
  // ---- end security ----
  ...clusterShape,
  ...publishingShape,
  ...previewShape,
});

/** Every environment variable ReadFlow reads (documented in .env.example): the servers', the ingest client's, the toolchain's. */
export const CONFIG_KEYS: readonly string[] = [...new Set([...Object.keys(shape.shape), ...INGEST_CLIENT_KEYS, ...TOOLCHAIN_KEYS])];

const schema = shape.superRefine((v, ctx) => {
  if (v.NODE_ENV === 'production') {
    if (!v.DATABASE_URL)
      ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'required in production' });
    if (!v.READFLOW_DEID_SECRET)
      ctx.addIssue({ code: 'custom', path: ['READFLOW_DEID_SECRET'], message: 'required in production' });
  }
  securityIssues(v, ctx);
});

// ---- security (issue 10) ----
function securityIssues(v: z.infer<typeof shape>, ctx: z.RefinementCtx): void {
  if (v.READFLOW_PAYLOAD_KEYS !== undefined) {
    try {
      parsePayloadKeys(v.READFLOW_PAYLOAD_KEYS);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['READFLOW_PAYLOAD_KEYS'], message: (err as Error).message });
    }
  } else if (v.NODE_ENV === 'production') {
    ctx.addIssue({ code: 'custom', path: ['READFLOW_PAYLOAD_KEYS'], message: 'required in production (Temporal payloads are encrypted)' });
  }
  const tls = [v.TEMPORAL_TLS_CERT, v.TEMPORAL_TLS_KEY].filter((x) => x !== undefined).length;
  if (tls === 1) ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_CERT'], message: 'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together' });
  if (tls === 0 && (v.TEMPORAL_TLS_CA || v.TEMPORAL_TLS_SERVER_NAME)) {
    ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_CERT'], message: 'TEMPORAL_TLS_CA/SERVER_NAME need a client certificate (mTLS)' });
  }
}

/** Security settings (issue 10); see SECURITY.md. */
export interface SecurityConfig {
  /** AES-256-GCM keys of the Temporal payload codec, the first active; absent: payloads in clear (dev/test only). */
  payloadKeys?: PayloadKey[];
  /** mTLS to the Temporal frontend (file paths); absent: plain gRPC (the dev server on loopback). */
  temporalTls?: { certFile: string; keyFile: string; caFile?: string; serverName?: string };
  /** Requests a minute per client address without a verified token; default: READFLOW_RATE_LIMIT_PER_MINUTE. */
  anonymousRateLimitPerMinute?: number;
  /** Express `trust proxy` list (e.g. `loopback`, `10.0.0.0/8`): only these may set X-Forwarded-For; none by default. */
  trustedProxies: string[];
  /** `/metrics`, `/docs` and the OpenAPI files need a manager or admin token (default: true in production). */
  protectOpsEndpoints: boolean;
  /** How far ahead a manager may move a deadline (ms). */
  deadlineHorizonMs: number;
}

function securityConfig(v: z.infer<typeof shape>): SecurityConfig {
  const out: SecurityConfig = {
    protectOpsEndpoints: v.READFLOW_PROTECT_OPS_ENDPOINTS ?? v.NODE_ENV === 'production',
    deadlineHorizonMs: parseDuration(v.READFLOW_DEADLINE_HORIZON),
    trustedProxies: (v.READFLOW_TRUSTED_PROXIES ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  };
  if (v.READFLOW_RATE_LIMIT_ANONYMOUS_PER_MINUTE) out.anonymousRateLimitPerMinute = v.READFLOW_RATE_LIMIT_ANONYMOUS_PER_MINUTE;
  if (v.READFLOW_PAYLOAD_KEYS) out.payloadKeys = parsePayloadKeys(v.READFLOW_PAYLOAD_KEYS);
  if (v.TEMPORAL_TLS_CERT && v.TEMPORAL_TLS_KEY) {
    out.temporalTls = { certFile: v.TEMPORAL_TLS_CERT, keyFile: v.TEMPORAL_TLS_KEY };
    if (v.TEMPORAL_TLS_CA) out.temporalTls.caFile = v.TEMPORAL_TLS_CA;
    if (v.TEMPORAL_TLS_SERVER_NAME) out.temporalTls.serverName = v.TEMPORAL_TLS_SERVER_NAME;
  }
  return out;
}
// ---- end security ----

export type RawConfig = z.infer<typeof schema>;

export interface Config {
  env: RawConfig['NODE_ENV'];
  logLevel: RawConfig['LOG_LEVEL'];
  http: { host: string; port: number; publicUrl: string; maxUploadBytes: number; rateLimitPerMinute: number };
  dataDir: string;
  storageDir: string;
  /** Root of the files a batch may ingest (`POST /api/v1/batches`): paths outside it are refused. */
  importDir: string;
  /** How long an upload may wait in `incoming/` before the worker's sweeper deletes it (ms). */
  incomingRetentionMs: number;
  database: { url?: string; embedded: 'auto' | 'always' | 'never'; embeddedPort: number };
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    uiPort: number;
    uiUrl: string;
    startDevServer: boolean;
  };
  /**
   * `npm start` restarts a Temporal dev server or embedded Postgres it started that died, with backoff; past this many
   * failed tries in a row the whole tree exits.
   */
  restartTries: number;
  /** Where the Temporal CLI comes from (`npm start` starts a dev server with it). */
  toolchain: ToolchainConfig;
  /**
   * The environment ReadFlow was started with, handed on as it is to the child processes it starts (`start:cluster`'s
   * workers and APIs), which validate their own configuration from it.
   */
  inheritedEnv: Readonly<Record<string, string | undefined>>;
  adminToken?: string;
  /** HMAC key of de-identified UIDs and scan ids (at least 32 characters). */
  deidSecret: string;
  maxDicomBytes: number;
  deadlines: { taskMs?: number; reviewMs?: number };
  /** The reading policies new scans run with: the defaults, replaced by READFLOW_POLICIES_FILE's entries. */
  policies: Readonly<Record<PolicyName, ReadingPolicy>>;
  /**
   * The label set readers choose from: the built-in VinDr-CXR taxonomy (`VINDR_CXR_TAXONOMY`, the same object), or a
   * project's own from READFLOW_TAXONOMY_FILE. New scans carry a project's own in their input (`projectTaxonomy`).
   */
  taxonomy: Taxonomy;
  seedRoster: boolean;
  security: SecurityConfig;
  /** `npm run start:cluster` only. */
  cluster: ClusterConfig;
  /** What ingest accepts beyond the DICOM checks (the rest of the acceptance rule is `DEFAULT_ACCEPTANCE`). */
  acceptance: { viewPositions: string[]; maxImagePixels: number };
  /** PNG previews: render threads, their queue, the cache's byte budget. */
  previews: { threads: number; queue: number; cacheBytes: number };
  /** Dataset releases: written under `<storageDir>/releases/<version>/`, `chunk` images per workflow step. */
  releases: { dir: string; chunk: number };
  /** Hidden gold scans: about one task in `every` a reader gets is gold; the scheduler looks every `checkIntervalMs`. */
  gold: { every: number; checkIntervalMs: number };
  /**
   * The capacity sweeper (`capacitySweeper`, one per task queue, started by every worker): every `intervalMs` it releases
   * the reader capacity and queue places of scans whose workflow closed from outside, and wakes the scans waiting.
   */
  capacitySweep: { intervalMs: number };
}

export interface ConfigSources {
  /**
   * Outside production, supplies the de-identification secret when READFLOW_DEID_SECRET is unset (`npm start` keeps
   * one under the data dir). Without it the secret is required.
   */
  devDeidSecret?: (dataDir: string) => string;
  /** Reads a file named by the configuration (default: UTF-8 from disk). */
  readFile?: (path: string) => string;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `30s`, `15m`, `72h`, `3d` into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new ConfigError([`not a duration: ${text}`]);
  return Number(m[1]) * UNITS[m[2]];
}

/** A JSON file named by a variable (`where`), or the problem reading or parsing it, prefixed by `where`. */
function readJsonFile(where: string, path: string, readFile: (path: string) => string): { ok: true; json: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, json: JSON.parse(readFile(path)) };
  } catch (err) {
    return { ok: false, problem: `${where}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * Reading policies from a JSON file: an array of policies (or one policy), each `{ name, …overrides }` validated by
 * the domain's `parsePolicy` (fields not given keep the named default). Every problem is returned, prefixed by its place.
 */
export function loadPoliciesFile(
  path: string,
  readFile: (path: string) => string,
): { policies: Readonly<Record<PolicyName, ReadingPolicy>>; problems: string[] } {
  const where = `READFLOW_POLICIES_FILE (${path})`;
  const read = readJsonFile(where, path, readFile);
  if (!read.ok) return { policies: DEFAULT_POLICIES, problems: [read.problem] };
  const json = read.json;
  const entries = Array.isArray(json) ? json : [json];
  const policies: Record<PolicyName, ReadingPolicy> = { ...DEFAULT_POLICIES };
  const problems: string[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const parsed = parsePolicy(entry);
    if (!parsed.ok) {
      problems.push(...formatProblems(parsed.problems).split('\n').map((line) => `${where}: [${i}] ${line}`));
      return;
    }
    if (seen.has(parsed.policy.name)) problems.push(`${where}: [${i}] policy ${parsed.policy.name} is given twice`);
    seen.add(parsed.policy.name);
    policies[parsed.policy.name] = parsed.policy;
  });
  return { policies: Object.freeze(policies), problems };
}

/**
 * A project's own label set from a JSON file (e.g. a pediatric CXR or mammography label set), validated by the domain's
 * `parseTaxonomy` (see its shapes). Every problem is returned, prefixed by the variable, the file and the field.
 */
export function loadTaxonomyFile(path: string, readFile: (path: string) => string): { taxonomy: Taxonomy; problems: string[] } {
  const where = `READFLOW_TAXONOMY_FILE (${path})`;
  const read = readJsonFile(where, path, readFile);
  if (!read.ok) return { taxonomy: VINDR_CXR_TAXONOMY, problems: [read.problem] };
  const parsed = parseTaxonomy(read.json);
  if (!parsed.ok) return { taxonomy: VINDR_CXR_TAXONOMY, problems: formatProblems(parsed.problems).split('\n').map((line) => `${where}: ${line}`) };
  return { taxonomy: parsed.taxonomy, problems: [] };
}

/** The taxonomy a new scan carries in its input: a project's own; none for the built-in VinDr-CXR one (its default). */
export function projectTaxonomy(config: Pick<Config, 'taxonomy'>): Taxonomy | undefined {
  return config.taxonomy === VINDR_CXR_TAXONOMY ? undefined : config.taxonomy;
}

/** Validates the environment once; throws a ConfigError listing every problem. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, sources: ConfigSources = {}): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  let policies: Readonly<Record<PolicyName, ReadingPolicy>> = DEFAULT_POLICIES;
  if (typeof cleaned.READFLOW_POLICIES_FILE === 'string') {
    const loaded = loadPoliciesFile(cleaned.READFLOW_POLICIES_FILE, sources.readFile ?? ((p) => readFileSync(p, 'utf8')));
    policies = loaded.policies;
    problems.push(...loaded.problems);
  }
  let taxonomy: Taxonomy = VINDR_CXR_TAXONOMY;
  if (typeof cleaned.READFLOW_TAXONOMY_FILE === 'string') {
    const loaded = loadTaxonomyFile(cleaned.READFLOW_TAXONOMY_FILE, sources.readFile ?? ((p) => readFileSync(p, 'utf8')));
    taxonomy = loaded.taxonomy;
    problems.push(...loaded.problems);
  }
  let deidSecret = parsed.success ? parsed.data.READFLOW_DEID_SECRET : undefined;
  if (parsed.success && !deidSecret && parsed.data.NODE_ENV !== 'production') {
    if (sources.devDeidSecret) {
      deidSecret = sources.devDeidSecret(parsed.data.READFLOW_DATA_DIR);
      if (deidSecret.length < DEID_SECRET_MIN_LENGTH) {
        problems.push(`READFLOW_DEID_SECRET: the development secret under ${parsed.data.READFLOW_DATA_DIR} is shorter than ${DEID_SECRET_MIN_LENGTH} characters`);
      }
    } else {
      problems.push(`READFLOW_DEID_SECRET: required (at least ${DEID_SECRET_MIN_LENGTH} characters)`);
    }
  }
  if (!parsed.success || problems.length > 0 || !deidSecret) throw new ConfigError(problems);
  const v = parsed.data;
  const publicUrl = v.PUBLIC_URL ?? `http://${v.HOST === '0.0.0.0' ? '127.0.0.1' : v.HOST}:${v.PORT}`;
  return {
    env: v.NODE_ENV,
    logLevel: v.LOG_LEVEL,
    http: {
      host: v.HOST,
      port: v.PORT,
      publicUrl: publicUrl.replace(/\/$/, ''),
      maxUploadBytes: v.READFLOW_MAX_UPLOAD_BYTES,
      rateLimitPerMinute: v.READFLOW_RATE_LIMIT_PER_MINUTE,
    },
    dataDir: v.READFLOW_DATA_DIR,
    storageDir: v.STORAGE_DIR ?? `${v.READFLOW_DATA_DIR}/storage`,
    importDir: v.READFLOW_IMPORT_DIR ?? `${v.READFLOW_DATA_DIR}/import`,
    incomingRetentionMs: parseDuration(v.READFLOW_INCOMING_RETENTION),
    database: {
      url: v.DATABASE_URL,
      embedded: v.READFLOW_EMBEDDED_PG,
      embeddedPort: v.READFLOW_EMBEDDED_PG_PORT,
    },
    temporal: {
      address: v.TEMPORAL_ADDRESS,
      namespace: v.TEMPORAL_NAMESPACE,
      taskQueue: v.TEMPORAL_TASK_QUEUE,
      uiPort: v.TEMPORAL_UI_PORT,
      uiUrl: (v.TEMPORAL_UI_URL ?? `http://127.0.0.1:${v.TEMPORAL_UI_PORT}`).replace(/\/$/, ''),
      startDevServer: v.TEMPORAL_START_DEV_SERVER,
    },
    restartTries: v.READFLOW_RESTART_TRIES,
    toolchain: loadToolchainConfig(env),
    inheritedEnv: { ...env },
    adminToken: v.READFLOW_ADMIN_TOKEN,
    deidSecret,
    maxDicomBytes: v.READFLOW_MAX_DICOM_BYTES,
    deadlines: {
      taskMs: v.READFLOW_TASK_DEADLINE ? parseDuration(v.READFLOW_TASK_DEADLINE) : undefined,
      reviewMs: v.READFLOW_REVIEW_DEADLINE ? parseDuration(v.READFLOW_REVIEW_DEADLINE) : undefined,
    },
    policies,
    taxonomy,
    seedRoster: v.READFLOW_SEED_ROSTER,
    security: securityConfig(v),
    cluster: clusterConfig(v),
    acceptance: { viewPositions: [...new Set(v.READFLOW_ACCEPTED_VIEWS.split(','))], maxImagePixels: v.READFLOW_MAX_IMAGE_PIXELS },
    previews: { threads: v.READFLOW_PREVIEW_THREADS, queue: v.READFLOW_PREVIEW_QUEUE, cacheBytes: v.READFLOW_PREVIEW_CACHE_BYTES },
    releases: { dir: `${v.STORAGE_DIR ?? `${v.READFLOW_DATA_DIR}/storage`}/releases`, chunk: v.READFLOW_RELEASE_CHUNK },
    gold: { every: v.READFLOW_GOLD_EVERY, checkIntervalMs: parseDuration(v.READFLOW_GOLD_CHECK_INTERVAL) },
    capacitySweep: { intervalMs: parseDuration(v.READFLOW_CAPACITY_SWEEP_INTERVAL) },
  };
}
