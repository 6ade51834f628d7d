import type { Logger } from 'pino';

import type { LocalBlobStore, StoreArea } from './blob-store';

/**
 * Periodically deletes blobs older than their area's retention (e.g. uploads in `incoming/` that no scan took
 * up, such as a duplicate file in a batch). Runs once at start, then every `intervalMs`. Returns a stop function.
 */
export function startSweeper(
  store: Pick<LocalBlobStore, 'sweepExpired'>,
  opts: { areas: StoreArea[]; intervalMs: number; logger: Logger },
): () => void {
  let running = false;
  const sweep = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (const area of opts.areas) {
        const removed = await store.sweepExpired(area);
        if (removed > 0) opts.logger.info({ area, removed }, 'Swept expired blobs');
      }
    } catch (err) {
      opts.logger.warn({ err }, 'Blob sweep failed; will retry');
    } finally {
      running = false;
    }
  };
  void sweep();
  const timer = setInterval(() => void sweep(), opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
