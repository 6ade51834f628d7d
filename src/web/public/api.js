// ReadFlow REST API client: bearer token from sessionStorage, RFC 9457 problems as ApiError.

const TOKEN_KEY = 'readflow.token';

/** The signed-in token, kept for this browser tab only. */
export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A non-2xx answer: `status`, the problem document, and its `errors[]` (422). */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || {};
  }

  get errors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

let unauthorized = () => {};

/** Called when the stored token is refused (401): the page signs out. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/**
 * Calls `/api/v1{path}`. JSON in and out; `raw: true` returns the Response (images).
 * `token` defaults to the session's (sign-in passes the candidate token).
 */
export async function api(path, options = {}) {
  const { method = 'GET', body, query, raw = false, signal } = options;
  const token = options.token === undefined ? session.token : options.token;
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const headers = { Accept: raw ? '*/*' : 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      // Images are revalidated (ETag) every time: a reader loses an image as soon as the task is reassigned.
      cache: raw ? 'no-cache' : 'no-store',
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, {
      title: 'Network error',
      detail: 'ReadFlow cannot be reached; check the connection and retry.',
    });
  }
  if (!res.ok) {
    const type = res.headers.get('content-type') || '';
    const problem = type.includes('json') ? await res.json().catch(() => ({})) : {};
    const err = new ApiError(res.status, problem);
    if (res.status === 401 && token && token === session.token) unauthorized(err);
    throw err;
  }
  if (raw) return res;
  if (res.status === 204) return undefined;
  return res.json();
}

/** A failed call for a person: the problem's detail and each of its `errors[]` with its path. */
export function problemText(e) {
  if (!(e instanceof ApiError)) return e.message;
  const errors = e.errors.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  return [e.problem.detail || e.message, ...errors].join(' ');
}
