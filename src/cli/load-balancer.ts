import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, request } from 'node:http';

/**
 * The small HTTP load balancer `npm run start:cluster` puts in front of its API processes: round-robin over the
 * backends that pass `GET /readyz` (checked every `checkIntervalMs`), a backend that refuses a connection is marked
 * down at once and the request goes to the next one (bodies up to `replayLimitBytes` are buffered so that they can
 * be replayed; a refused connection never reached the API, so the replay cannot duplicate anything). A request cut
 * mid-way by a dying backend gets a 502 problem document: clients retry (submissions are idempotent).
 * In production, use the platform's balancer (Kubernetes Service, nginx, a cloud LB) with the same health check.
 */
export interface Backend {
  host: string;
  port: number;
  healthy: boolean;
}

export interface LoadBalancer {
  url: string;
  backends: Backend[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/problem+json', 'retry-after': '1' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

export async function startLoadBalancer(opts: {
  host: string;
  port: number;
  backends: Array<{ host: string; port: number }>;
  checkIntervalMs?: number;
  replayLimitBytes?: number;
  onChange?: (backend: Backend) => void;
}): Promise<LoadBalancer> {
  const backends: Backend[] = opts.backends.map((b) => ({ ...b, healthy: false }));
  const replayLimit = opts.replayLimitBytes ?? 1024 * 1024;
  let next = 0;

  const mark = (b: Backend, healthy: boolean): void => {
    if (b.healthy === healthy) return;
    b.healthy = healthy;
    opts.onChange?.(b);
  };
  const check = async (b: Backend): Promise<void> => {
    try {
      const r = await fetch(`http://${b.host}:${b.port}/readyz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      mark(b, r.ok);
    } catch {
      mark(b, false);
    }
  };
  const checkAll = (): Promise<void> => Promise.all(backends.map(check)).then(() => undefined);
  const timer = setInterval(() => void checkAll(), opts.checkIntervalMs ?? 2000);
  timer.unref();
  await checkAll();

  /** Healthy backends in round-robin order starting at the next turn (all of them if none is known healthy). */
  const order = (): Backend[] => {
    const healthy = backends.filter((b) => b.healthy);
    const pool = healthy.length > 0 ? healthy : backends;
    const start = next++ % pool.length;
    return [...pool.slice(start), ...pool.slice(0, start)];
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer | null, candidates: Backend[]): void => {
    const b = candidates.shift();
    if (!b) {
      problem(res, 503, 'Service Unavailable', 'No API process is available; retry shortly.');
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    const peer = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${String(req.headers['x-forwarded-for'])}, ${peer}` : peer;
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-forwarded-host'] ??= req.headers.host ?? '';
    if (body) headers['content-length'] = String(body.length);
    let connected = false;
    const up = request({ host: b.host, port: b.port, method: req.method, path: req.url, headers }, (upRes) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      out['x-readflow-backend'] = String(b.port);
      res.writeHead(upRes.statusCode ?? 502, out);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    up.on('socket', (s) => s.once('connect', () => (connected = true)));
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') && body) {
        mark(b, false);
        forward(req, res, body, candidates);
        return;
      }
      if (!connected) mark(b, false);
      problem(res, 502, 'Bad Gateway', `The API process on port ${b.port} failed: ${err.code ?? err.message}; retry.`);
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    if (body) up.end(body);
    else req.pipe(up);
  };

  const server: Server = createServer((req, res) => {
    const length = Number(req.headers['content-length'] ?? 0);
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && length <= replayLimit) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => forward(req, res, Buffer.concat(chunks), order()));
      req.on('error', () => res.destroy());
    } else {
      forward(req, res, null, order());
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as { port: number };
  return {
    url: `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${addr.port}`,
    backends,
    close: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
