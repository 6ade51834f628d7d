import createClient from 'openapi-fetch';

import type { paths } from '../../generated/readflow-api';

/** The typed ReadFlow REST client (openapi-fetch over the generated `paths`), one per token. */
export type ApiClient = ReturnType<typeof createClient<paths>>;

export function apiClient(baseUrl: string, token: string): ApiClient {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

/** Statuses worth retrying: the service is restarting, overloaded or briefly without a dependency. */
const RETRYABLE = new Set([429, 500, 502, 503, 504, 507]);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly what: string,
    readonly body: unknown,
  ) {
    super(`${what}: HTTP ${status} ${typeof body === 'object' ? JSON.stringify(body) : String(body ?? '')}`.slice(0, 600));
  }
}

export interface Outcome<T> {
  data?: T;
  status: number;
  error?: unknown;
}

/**
 * Calls the API until it answers something other than a network error or a retryable status (an API restart, a
 * Temporal or Postgres outage), with capped exponential backoff; gives up after `budgetMs`. Counts retries.
 */
export async function withRetry<T>(
  what: string,
  fn: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  stats: { retries: number },
  budgetMs = 300_000,
): Promise<Outcome<T>> {
  const until = Date.now() + budgetMs;
  let delay = 100;
  for (;;) {
    let last: string;
    try {
      const r = await fn();
      if (!RETRYABLE.has(r.response.status)) return { data: r.data, status: r.response.status, error: r.error };
      last = `HTTP ${r.response.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    stats.retries++;
    if (Date.now() > until) throw new Error(`${what}: gave up after ${budgetMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 3000);
  }
}

/** Like {@link withRetry} but throws {@link ApiError} unless the status is one of `ok`. */
export async function must<T>(
  what: string,
  fn: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  stats: { retries: number },
  ok: readonly number[] = [200, 201, 202],
): Promise<T> {
  const r = await withRetry(what, fn, stats);
  if (!ok.includes(r.status)) throw new ApiError(r.status, what, r.error);
  return r.data as T;
}
