/**
 * Supervision of what `npm start` runs besides itself (the Temporal dev server, the embedded Postgres): a process that
 * dies is started again with exponential backoff and a log line saying so (same database file: its state survives);
 * past `maxRestarts` failed tries in a row, `onGiveUp` is called and the caller stops the whole tree with a clear
 * message. An incarnation that stayed up for `stableAfterMs` resets the count, so a crash a day never adds up.
 *
 * May import: the logger type only.
 */
import type { Logger } from '../logger';

/** One running instance of the supervised process. */
export interface Incarnation {
  /** Settles with the exit code or signal when the process ends. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  /** Shown in log lines: `Temporal dev server`, `embedded Postgres`. */
  name: string;
  logger: Logger;
  /** The first incarnation (already started and ready). */
  first: Incarnation;
  /** Starts a new incarnation and resolves once it is ready; rejects when it could not start. */
  restart(): Promise<Incarnation>;
  /** Tries in a row before giving up (default 5). */
  maxRestarts?: number;
  /** Delay before the first try (default 1 s), doubled on each further try, at most `maxBackoffMs` (default 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Up this long, an incarnation resets the count of tries (default 60 s). */
  stableAfterMs?: number;
  /** Called once when the process cannot be kept up: stop everything and exit. */
  onGiveUp(error: Error): void;
}

export interface Supervised {
  /** Restarts so far (successful ones). */
  restarts(): number;
  /** Stops supervising and stops the current incarnation (waits for a restart in flight). */
  stop(): Promise<void>;
}

export function supervise(opts: SuperviseOptions): Supervised {
  const maxRestarts = opts.maxRestarts ?? 5;
  const initial = opts.initialBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const stableAfter = opts.stableAfterMs ?? 60_000;
  const log = opts.logger.child({ component: opts.name });
  let current: Incarnation | undefined = opts.first;
  let stopping = false;
  let restarts = 0;
  let wakeSleep: (() => void) | undefined;

  const pause = (ms: number): Promise<void> =>
    new Promise((res) => {
      const timer = setTimeout(res, ms);
      wakeSleep = () => {
        clearTimeout(timer);
        res();
      };
    });

  const loop = (async (): Promise<void> => {
    let tries = 0;
    while (current && !stopping) {
      const upSince = Date.now();
      let status = await current.exited;
      current = undefined;
      let justDied = true;
      if (stopping) return;
      if (Date.now() - upSince >= stableAfter) tries = 0;
      for (;;) {
        tries += 1;
        if (tries > maxRestarts) {
          const error = new Error(`${opts.name} died and could not be restarted (${maxRestarts} tries; last: ${status})`);
          log.error({ tries: maxRestarts, last: status }, `${opts.name} could not be kept up: giving up`);
          opts.onGiveUp(error);
          return;
        }
        const delay = Math.min(maxBackoff, initial * 2 ** (tries - 1));
        const what = justDied ? `exited (${status}); restarting` : `did not come back (${status}); retrying`;
        justDied = false;
        log.warn({ exit: status, attempt: tries, maxRestarts, delayMs: delay }, `${opts.name} ${what} in ${delay} ms (try ${tries}/${maxRestarts})`);
        await pause(delay);
        if (stopping) return;
        try {
          const next = await opts.restart();
          if (stopping) {
            await next.stop();
            return;
          }
          current = next;
          restarts += 1;
          log.warn({ attempt: tries, restarts }, `${opts.name} restarted (try ${tries}/${maxRestarts})`);
          break;
        } catch (err) {
          status = `restart failed: ${(err as Error).message.split('\n')[0]}`;
        }
      }
    }
  })();

  return {
    restarts: () => restarts,
    stop: async () => {
      stopping = true;
      wakeSleep?.();
      await current?.stop();
      await loop;
    },
  };
}
