import { z } from 'zod';

import type { PayloadKey } from '../temporal/payload-codec';
import { parsePayloadKeys } from '../temporal/payload-codec';

/**
 * ReadFlow's typed configuration. `loadConfig` is called once at boot with `process.env`
 * (by the CLI entry points); nothing else in the code base reads the environment.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);

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
  TEMPORAL_CLI: z.string().min(1).optional(),
  TEMPORAL_START_DEV_SERVER: bool.default(true),
  READFLOW_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  READFLOW_DEID_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
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
  READFLOW_TOKEN: z.string().min(1).optional(),
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
});

/** Every environment variable ReadFlow reads (documented in .env.example). */
export const CONFIG_KEYS: readonly string[] = Object.keys(shape.shape);

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
    cliPath?: string;
    startDevServer: boolean;
  };
  adminToken?: string;
  deidSecret?: string;
  maxDicomBytes: number;
  deadlines: { taskMs?: number; reviewMs?: number };
  seedRoster: boolean;
  /** Bearer token used by the command-line clients (`npm run ingest`). */
  cliToken?: string;
  security: SecurityConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `30s`, `15m`, `72h`, `3d` into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new ConfigError([`not a duration: ${text}`]);
  return Number(m[1]) * UNITS[m[2]];
}

/** Validates the environment once; throws a ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
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
      cliPath: v.TEMPORAL_CLI,
      startDevServer: v.TEMPORAL_START_DEV_SERVER,
    },
    adminToken: v.READFLOW_ADMIN_TOKEN,
    deidSecret: v.READFLOW_DEID_SECRET,
    maxDicomBytes: v.READFLOW_MAX_DICOM_BYTES,
    deadlines: {
      taskMs: v.READFLOW_TASK_DEADLINE ? parseDuration(v.READFLOW_TASK_DEADLINE) : undefined,
      reviewMs: v.READFLOW_REVIEW_DEADLINE ? parseDuration(v.READFLOW_REVIEW_DEADLINE) : undefined,
    },
    seedRoster: v.READFLOW_SEED_ROSTER,
    cliToken: v.READFLOW_TOKEN,
    security: securityConfig(v),
  };
}
