import { z } from 'zod';

import { ConfigError } from './errors';

/**
 * `npm run ingest` is an HTTP client of the API: it needs the API's base URL and a manager's token, nothing of the
 * server's configuration (no database, no de-identification secret).
 */
export interface IngestClientConfig {
  /** Base URL of the API (without `/api/v1`): `--url`, else PUBLIC_URL, else `http://HOST:PORT`. */
  apiUrl: string;
  /** A manager's or the admin's bearer token: `--token`, else READFLOW_TOKEN. */
  token: string;
}

const shape = z.object({
  READFLOW_TOKEN: z.string().min(1).optional(),
  PUBLIC_URL: z.string().url().optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
});

/** Variables the ingest client reads (documented in .env.example). */
export const INGEST_CLIENT_KEYS = Object.keys(shape.shape);

/** Flags given on the command line win over the environment. Throws a ConfigError listing every problem. */
export function loadIngestClientConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: { url?: string; token?: string } = {},
): IngestClientConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in shape.shape && v !== undefined && v !== ''));
  const parsed = shape.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const token = flags.token || (parsed.success ? parsed.data.READFLOW_TOKEN : undefined);
  if (!token) problems.push('READFLOW_TOKEN: required (or --token): a manager or admin token');
  let apiUrl = flags.url;
  if (apiUrl !== undefined && !z.string().url().safeParse(apiUrl).success) problems.push(`--url: not a URL: ${apiUrl}`);
  if (problems.length > 0 || !parsed.success || !token) throw new ConfigError(problems);
  const v = parsed.data;
  apiUrl ??= v.PUBLIC_URL ?? `http://${v.HOST === '0.0.0.0' ? '127.0.0.1' : v.HOST}:${v.PORT}`;
  return { apiUrl: apiUrl.replace(/\/+$/, ''), token };
}
