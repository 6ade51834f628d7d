/**
 * A TCP proxy in front of the run's Postgres that can be cut and restored on the same port, like a database outage:
 * a cut refuses new connections and drops the open ones.
 */
import * as net from 'node:net';

import { testServices } from './services';

export interface PostgresProxy {
  /** A Postgres URL (of `database`, default the run's) through the proxy. */
  url(database?: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function postgresProxy(): Promise<PostgresProxy> {
  const target = new URL(testServices().databaseUrl);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const x of [client, upstream]) {
        sockets.add(x);
        x.on('close', () => sockets.delete(x));
        x.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', resolve);
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const x of sockets) x.destroy();
    await closed;
  };
  await listen();
  return {
    url(database?: string) {
      const u = new URL(target.toString());
      u.hostname = '127.0.0.1';
      u.port = String(port);
      if (database) u.pathname = `/${database}`;
      return u.toString();
    },
    cut,
    restore: listen,
    close: cut,
  };
}
