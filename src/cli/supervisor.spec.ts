import { spawn } from 'node:child_process';

import pino from 'pino';

import type { Incarnation } from './supervisor';
import { supervise } from './supervisor';

/** A real child process (a node that idles) as an incarnation. */
function idleChild(): Incarnation & { pid: number } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const exited = new Promise<string>((res) => child.once('exit', (code, signal) => res(signal ?? `exit code ${code}`)));
  return {
    pid: child.pid!,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function capture(): { logger: pino.Logger; lines: () => { msg: string }[] } {
  const out: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => out.push(s) });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as { msg: string }) };
}

const until = async (pred: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('supervise', () => {
  it('restarts a process that died, with a log line, and stops the current one on stop()', async () => {
    const { logger, lines } = capture();
    const started: (Incarnation & { pid: number })[] = [idleChild()];
    const s = supervise({
      name: 'idler',
      logger,
      first: started[0],
      restart: async () => {
        const next = idleChild();
        started.push(next);
        return next;
      },
      initialBackoffMs: 10,
      onGiveUp: () => {
        throw new Error('should not give up');
      },
    });
    process.kill(started[0].pid, 'SIGKILL');
    await until(() => s.restarts() === 1);
    expect(lines().map((l) => l.msg)).toEqual(['idler exited (SIGKILL); restarting in 10 ms (try 1/5)', 'idler restarted (try 1/5)']);
    expect(alive(started[1].pid)).toBe(true);
    // A second death backs off twice as long.
    process.kill(started[1].pid, 'SIGKILL');
    await until(() => s.restarts() === 2);
    expect(lines()[2].msg).toBe('idler exited (SIGKILL); restarting in 20 ms (try 2/5)');
    await s.stop();
    expect(alive(started[2].pid)).toBe(false);
    expect(started).toHaveLength(3);
  });

  it('gives up past maxRestarts failed tries in a row, saying why', async () => {
    const { logger, lines } = capture();
    const first = idleChild();
    let tries = 0;
    let gaveUp: Error | undefined;
    const s = supervise({
      name: 'idler',
      logger,
      first,
      restart: async () => {
        tries += 1;
        throw new Error('port 7233 is taken');
      },
      maxRestarts: 3,
      initialBackoffMs: 5,
      onGiveUp: (err) => (gaveUp = err),
    });
    process.kill(first.pid, 'SIGKILL');
    await until(() => gaveUp !== undefined);
    expect(tries).toBe(3);
    expect(gaveUp!.message).toBe('idler died and could not be restarted (3 tries; last: restart failed: port 7233 is taken)');
    expect(lines().map((l) => l.msg)).toEqual([
      'idler exited (SIGKILL); restarting in 5 ms (try 1/3)',
      'idler did not come back (restart failed: port 7233 is taken); retrying in 10 ms (try 2/3)',
      'idler did not come back (restart failed: port 7233 is taken); retrying in 20 ms (try 3/3)',
      'idler could not be kept up: giving up',
    ]);
    await s.stop();
  });
});
