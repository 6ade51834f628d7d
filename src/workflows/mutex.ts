/**
 * A workflow-safe mutex: serializes decisions that await activities (e.g. a deadline reassignment and a
 * manager's reassignment of the same task). Workflow code is single-threaded; this only orders the
 * interleavings at `await` points. Uses `condition`, so it is deterministic.
 *
 * May import: `@temporalio/workflow`.
 */
import { condition } from '@temporalio/workflow';

export class Mutex {
  private locked = false;

  /** `beforeWait`: called (synchronously) each time a caller is about to wait for the lock. */
  constructor(private readonly beforeWait?: () => void) {}

  /** Runs `fn` once no other holder runs, and releases the lock whatever `fn` does. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    // Re-check after waking: two waiters may be released in the same activation.
    while (this.locked) {
      this.beforeWait?.();
      await condition(() => !this.locked);
    }
    this.locked = true;
    try {
      return await fn();
    } finally {
      this.locked = false;
    }
  }
}
