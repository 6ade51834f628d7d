/**
 * Local attempts answer, they never fail for a retryable reason (issue #12). The scan workflow runs its database
 * activities as a local activity first (patch `lean-scan-history`) and, when that attempt does not make it, as the
 * regular activity. A local attempt that *failed* (an outage, a timeout) was seen to break the replay of its history
 * under load (TMPRL1100 "Activity machine does not handle this event: WorkflowExecutionUpdateAccepted", on status
 * queries of closed scans in the Postgres-outage test), while completed local activities replay everywhere (every
 * simulator run queries every scan). So a local attempt completes: within `LOCAL_ATTEMPT_MS` it answers the activity's
 * result, or `{ localNotWritten }` with the reason, and the workflow takes the regular activity from there. A
 * non-retryable failure (`ProjectionDataError`: Postgres refused the data) is still thrown: it is final either way.
 * Regular (non-local) executions are untouched: they throw, and the server retries them.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

/** A local attempt's own deadline: inside the local activity's 2 s budget, far inside a workflow task's heartbeat. */
export const LOCAL_ATTEMPT_MS = 1_000;

/** What a local attempt answers when it did not write (the workflow's `isLocalNotWritten`). */
export interface LocalNotWritten {
  localNotWritten: string;
}

function runningLocally(): boolean {
  try {
    return Context.current().info.isLocal;
  } catch {
    return false; // called outside an activity (benchmarks, direct use)
  }
}

/** Wraps each activity of `activities` so that its local executions answer instead of failing (see above). */
export function localAttemptsAnswer<T extends object>(activities: T, deadlineMs = LOCAL_ATTEMPT_MS): T {
  const out: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(
    activities as Record<string, (...args: never[]) => Promise<unknown>>,
  )) {
    out[name] = async (...args: never[]): Promise<unknown> => {
      if (!runningLocally()) return fn(...args);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<LocalNotWritten>((resolve) => {
        timer = setTimeout(
          () => resolve({ localNotWritten: `no answer within ${deadlineMs} ms` }),
          deadlineMs,
        );
      });
      try {
        return await Promise.race([fn(...args), late]);
      } catch (err) {
        if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
        return {
          localNotWritten: err instanceof Error ? err.message.slice(0, 200) : 'failed',
        } satisfies LocalNotWritten;
      } finally {
        clearTimeout(timer);
      }
    };
  }
  return out as T;
}
