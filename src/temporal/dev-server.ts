import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { Connection } from '@temporalio/client';
import type { Logger } from 'pino';

import { acceptsTcpConnections, splitHostPort } from '../net/tcp';
import { SEARCH_ATTRIBUTE_CLI_ARGS } from '../workflows/search-attributes';

export interface DevServerHandle {
  /** Whether this process started the server (false: an existing one was reused). */
  started: boolean;
  /** Settles when the server this process started exits (never for a reused one): the exit code or signal. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cliPath: string;
  address: string;
  namespace: string;
  uiPort: number;
  dbFile: string;
  logger: Logger;
  /**
   * Base URL of ReadFlow's codec endpoint (`<PUBLIC_URL>/api/v1/temporal-codec`; the UI posts to `…/decode`): the UI
   * decodes payloads through it for operators who authenticate to it. Absent: the UI shows ciphertext.
   */
  codecEndpoint?: string;
}

/** The `temporal server start-dev` arguments: loopback, SQLite file, UI port, namespace, search attributes, codec. */
export function devServerArgs(opts: Omit<DevServerOptions, 'cliPath' | 'logger'>): string[] {
  const [host, port] = splitHostPort(opts.address);
  return [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    resolve(opts.dbFile),
    '--namespace',
    opts.namespace,
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTE_CLI_ARGS.flatMap((a) => ['--search-attribute', a]),
    ...(opts.codecEndpoint ? ['--ui-codec-endpoint', opts.codecEndpoint] : []),
  ];
}

/**
 * Reuses a Temporal server already answering at `address`, or starts `temporal server start-dev`
 * with a SQLite file under the data dir, the UI, the namespace and ReadFlow's search attributes.
 * The child dies with us: it is stopped on `stop()` and killed if this process exits.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServerHandle> {
  const { logger } = opts;
  if (await acceptsTcpConnections(opts.address)) {
    logger.info({ address: opts.address }, 'Reusing the Temporal server already listening');
    await waitForNamespace(opts.address, opts.namespace, 30_000);
    return { started: false, exited: new Promise<string>(() => undefined), stop: async () => undefined };
  }
  return launchDevServer(opts);
}

/**
 * Starts `temporal server start-dev` (no check for a server already there: a restart after a crash must not take a
 * stranger on the port for its own server) and waits until it listens and has the namespace.
 */
export async function launchDevServer(opts: DevServerOptions): Promise<DevServerHandle> {
  const { logger } = opts;
  const dbFile = resolve(opts.dbFile);
  mkdirSync(dirname(dbFile), { recursive: true });
  const args = devServerArgs(opts);
  logger.info({ cli: opts.cliPath, dbFile, address: opts.address, uiPort: opts.uiPort, codecEndpoint: opts.codecEndpoint }, 'Starting the Temporal dev server');
  const child: ChildProcess = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let exited: string | undefined;
  const output: string[] = [];
  const keep = (b: Buffer): void => {
    output.push(b.toString('utf8'));
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exitPromise = new Promise<string>((res) => {
    const done = (status: string): void => {
      exited ??= status;
      process.removeListener('exit', killOnExit);
      res(exited);
    };
    child.once('exit', (code, signal) => done(signal ?? `exit code ${code}`));
    child.once('error', (err) => done(`spawn failed: ${err.message}`));
  });
  const stop = async (): Promise<void> => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exitPromise;
    clearTimeout(timer);
  };
  try {
    const deadline = Date.now() + 60_000;
    while (!(await acceptsTcpConnections(opts.address))) {
      if (exited !== undefined) throw new Error(`temporal server start-dev exited (${exited}):\n${output.join('')}`);
      if (Date.now() > deadline) throw new Error(`temporal server start-dev did not listen on ${opts.address} within 60 s:\n${output.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitForNamespace(opts.address, opts.namespace, 30_000);
  } catch (err) {
    if (exited === undefined) child.kill('SIGKILL');
    throw err;
  }
  return { started: true, exited: exitPromise, stop };
}

/** Waits until the namespace is described successfully (the dev server registers it at start). */
export async function waitForNamespace(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const connection = await Connection.connect({ address, connectTimeout: '5s' });
  try {
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`Temporal namespace ${namespace} is not available at ${address}: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await connection.close();
  }
}
