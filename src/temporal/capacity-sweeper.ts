/**
 * Starting the capacity sweeper (`capacitySweeper`, src/workflows/capacity-sweeper.ts): one per task queue, started by
 * signal-with-start with the configured interval, so every worker that boots makes sure it runs (an operator who
 * terminated it gets it back at the next worker start) and that it sweeps at once with the current settings.
 */
import type { Client } from '@temporalio/client';

import type { Logger } from '../logger';
import type { CapacitySweeperInput } from '../workflows/capacity-sweeper.messages';
import { capacitySweepSettingsSignal, capacitySweeperId } from '../workflows/capacity-sweeper.messages';

/** Starts the task queue's sweeper, or sends the running one the settings (and a sweep now). Returns its workflow id. */
export async function ensureCapacitySweeper(
  client: Client,
  opts: { taskQueue: string; intervalMs: number; retry?: CapacitySweeperInput['retry'] },
): Promise<string> {
  const workflowId = capacitySweeperId(opts.taskQueue);
  const input: CapacitySweeperInput = { intervalMs: opts.intervalMs, ...(opts.retry ? { retry: opts.retry } : {}) };
  await client.workflow.signalWithStart('capacitySweeper', {
    workflowId,
    taskQueue: opts.taskQueue,
    args: [input],
    signal: capacitySweepSettingsSignal,
    signalArgs: [{ intervalMs: opts.intervalMs }],
    staticSummary: `Capacity sweeper · task queue ${opts.taskQueue}`,
    staticDetails: `Every ${opts.intervalMs} ms: releases the reader capacity and queue places held by scans whose workflow closed from outside, and wakes the scans waiting for readers.`,
  });
  return workflowId;
}

/**
 * {@link ensureCapacitySweeper} from a worker's boot, without holding the boot up: tried again every `retryMs` until it
 * succeeds (Temporal not reachable yet) or `stop()` is called.
 */
export function keepCapacitySweeper(
  client: Client,
  opts: { taskQueue: string; intervalMs: number; logger: Logger; retryMs?: number },
): { stop(): void; started: Promise<boolean> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: () => void = () => undefined;
  const started = (async (): Promise<boolean> => {
    for (;;) {
      if (stopped) return false;
      try {
        const id = await ensureCapacitySweeper(client, opts);
        opts.logger.info({ workflowId: id, intervalMs: opts.intervalMs }, 'Capacity sweeper running');
        return true;
      } catch (err) {
        opts.logger.warn({ err }, 'Could not start the capacity sweeper; trying again');
      }
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, opts.retryMs ?? 30_000);
        timer.unref();
      });
    }
  })();
  return {
    started,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake();
    },
  };
}
