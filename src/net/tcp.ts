/**
 * src/net: small network probes shared by the boot code (is Postgres there?) and the Temporal dev-server launcher
 * (is a Temporal server there?). Node built-ins only; imports nothing else of ReadFlow.
 */
import { createConnection } from 'node:net';

/** Splits `host:port` (IPv6 in brackets: `[::1]:7233`). */
export function splitHostPort(address: string): [host: string, port: number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`address must be host:port, got ${address}`);
  }
  return [address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port];
}

/** True if something accepts TCP connections at `host:port` within `timeoutMs` (it says nothing of what it is). */
export function acceptsTcpConnections(address: string, timeoutMs = 1000): Promise<boolean> {
  const [host, port] = splitHostPort(address);
  return new Promise((res) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      res(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
