import type { Server } from 'node:http';
import { createServer } from 'node:http';

import { startLoadBalancer } from './load-balancer';

/** A backend answering `/readyz` (unless `ready` is false) and echoing `<name> <method> <body>` elsewhere. */
function backend(name: string, state = { ready: true }): Promise<{ server: Server; port: number; state: { ready: boolean } }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/readyz') {
        res.writeHead(state.ready ? 200 : 503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} ${req.method} ${body}`);
    });
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, port: (server.address() as { port: number }).port, state })));
}

describe('load balancer', () => {
  it('round-robins over ready backends, skips unready and dead ones, and replays a body refused by a dead one', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const lb = await startLoadBalancer({ host: '127.0.0.1', port: 0, backends: [a, b].map((x) => ({ host: '127.0.0.1', port: x.port })), checkIntervalMs: 100 });
    try {
      const get = async (): Promise<string> => (await fetch(`${lb.url}/x`)).text();
      const seen = [await get(), await get(), await get(), await get()];
      expect(seen.filter((s) => s.startsWith('a')).length).toBe(2);
      expect(seen.filter((s) => s.startsWith('b')).length).toBe(2);

      // b reports not ready: only a answers once the health check has seen it.
      b.state.ready = false;
      await new Promise((r) => setTimeout(r, 300));
      expect(lb.backends.map((x) => x.healthy)).toEqual([true, false]);
      for (let i = 0; i < 3; i++) expect(await get()).toMatch(/^a /);
      b.state.ready = true;
      await new Promise((r) => setTimeout(r, 300));

      // a dies between health checks: a POST sent its way is refused, replayed on b, nothing lost.
      await new Promise<void>((r) => a.server.close(() => r()));
      a.server.closeAllConnections();
      const answers: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${lb.url}/submit`, { method: 'POST', body: `payload-${i}` });
        expect(r.status).toBe(200);
        answers.push(await r.text());
      }
      expect(answers).toEqual(['b POST payload-0', 'b POST payload-1', 'b POST payload-2']);
      expect(lb.backends[0].healthy).toBe(false);

      // No backend at all: a 503 problem document.
      await new Promise<void>((r) => b.server.close(() => r()));
      b.server.closeAllConnections();
      const none = await fetch(`${lb.url}/x`);
      expect(none.status).toBe(503);
      expect(none.headers.get('content-type')).toBe('application/problem+json');
    } finally {
      await lb.close();
      a.server.close();
      b.server.close();
    }
  });
});
