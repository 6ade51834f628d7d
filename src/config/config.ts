import { z } from 'zod';

/**
 * ReadFlow's typed configuration. `loadConfig` is called once at boot with `process.env`
 * (by the CLI entry points); nothing else in the code base reads the environment.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);

// --- Dataset publishing (issue #15): accepted views, releases ---
const publishingShape = {
  /** Comma-separated ViewPosition (0018,5101) values accepted at ingest; VinDr-CXR kept only PA films. */
  READFLOW_ACCEPTED_VIEWS: z
    .string()
    .regex(/^[A-Z]{2,16}(,[A-Z]{2,16})*$/, 'a comma-separated list of DICOM view positions, e.g. PA or PA,AP')
    .default('PA'),
  /** Images a release copies and verifies per activity (one durable step of the release workflow). */
  READFLOW_RELEASE_CHUNK: z.coerce.number().int().min(1).max(10_000).default(200),
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
  ...publishingShape,
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
});

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
  /** What ingest accepts beyond the DICOM checks (the rest of the acceptance rule is `DEFAULT_ACCEPTANCE`). */
  acceptance: { viewPositions: string[] };
  /** Dataset releases: written under `<storageDir>/releases/<version>/`, `chunk` images per workflow step. */
  releases: { dir: string; chunk: number };
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
    acceptance: { viewPositions: [...new Set(v.READFLOW_ACCEPTED_VIEWS.split(','))] },
    releases: { dir: `${v.STORAGE_DIR ?? `${v.READFLOW_DATA_DIR}/storage`}/releases`, chunk: v.READFLOW_RELEASE_CHUNK },
  };
}
