import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A child process that dies with its parent (unless the parent is SIGKILLed): stopped with SIGTERM (then SIGKILL after a grace period) by `stop()`,
 * SIGKILLed if the parent exits without stopping it. Output goes to a log file, or is inherited.
 */
export interface ManagedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Exit code, or the signal name; undefined while running. */
  exitStatus(): number | string | undefined;
  exited: Promise<number | string>;
  stop(graceMs?: number): Promise<void>;
}

export function spawnManaged(opts: {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout and stderr to this file; default: inherit the parent's. */
  logFile?: string;
}): ManagedProcess {
  let fd: number | undefined;
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    fd = openSync(opts.logFile, 'a');
  }
  const child = spawn(opts.command, opts.args, {
    ...(opts.env ? { env: opts.env } : {}), // else inherited
    cwd: opts.cwd,
    stdio: ['ignore', fd ?? 'inherit', fd ?? 'inherit'],
    // Its own process group: a terminal's Ctrl-C reaches only the parent, which stops the children in order.
    detached: true,
  });
  if (fd !== undefined) closeSync(fd);
  let status: number | string | undefined;
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = new Promise<number | string>((res) => {
    child.once('exit', (code, signal) => {
      status = code ?? signal ?? 'unknown';
      process.removeListener('exit', killOnExit);
      res(status);
    });
    child.once('error', (err) => {
      status = `spawn failed: ${err.message}`;
      process.removeListener('exit', killOnExit);
      res(status);
    });
  });
  return {
    name: opts.name,
    pid: child.pid ?? -1,
    child,
    exitStatus: () => status,
    exited,
    stop: async (graceMs = 15_000) => {
      if (status !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
