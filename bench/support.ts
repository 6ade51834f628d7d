/**
 * What the lifecycle benchmarks (lifecycle, e2e, cluster) share: copies of one radiograph with new UIDs, a bounded
 * promise pool, instant readers answering open tasks through the workflow's update, and small statistics.
 */
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';

import { loadToolchainConfig } from '../src/config/toolchain';
import type { Reading } from '../src/domain';
import { ensureTemporalCli } from '../src/temporal/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../src/workflows/search-attributes';
import { reviewContextQuery, submitReadingUpdate } from '../src/workflows/scan-lifecycle.messages';

/**
 * A copy of the radiograph with another SOP Instance UID of the same length (so ingest sees a new image). `lead` is
 * the first digit of the new suffix: benchmarks running against one database use different ones.
 */
export function radiographCopy(bytes: Buffer, n: number, lead: string): Buffer {
  const text = bytes.toString('latin1');
  const m = /1\.3\.6\.1\.4\.1\.11129\.5\.5\.(\d{30,})/.exec(text);
  if (!m) throw new Error('no SOP Instance UID');
  const suffix = `${lead}${String(process.pid).padStart(7, '0')}${String(n).padStart(8, '0')}`.padEnd(m[1].length, '3').slice(0, m[1].length);
  return Buffer.from(text.split(m[0]).join(m[0].slice(0, m[0].length - m[1].length) + suffix), 'latin1');
}

/** An instant reader's reading for a policy slot: one Cardiomegaly box shifted by the slot, and the given labels. */
export function slotReading(slot: number, globalLabels: string[]): Reading {
  const j = slot * 6;
  return { boxes: [{ label: 'Cardiomegaly', x_min: 300 + j, y_min: 500 + j, x_max: 700 + j, y_max: 800 - j }], globalLabels };
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** An open task as the benchmarks read it from the `tasks` projection. */
export interface OpenTask {
  id: string;
  scan_id: string;
  reader_id: string;
  role: string;
  slot: number;
}

/**
 * Answers one open task at once: a reading for a reader; for consensus reviewers, the first adopts the fused proposal
 * and the others confirm it.
 */
export async function answerTask(client: Client, t: OpenTask, reading: Reading): Promise<void> {
  const h = client.workflow.getHandle(t.scan_id);
  if (t.role === 'reader') {
    await h.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, reading }] });
  } else if (t.slot === 0) {
    const ctx = await h.query(reviewContextQuery, t.id);
    const boxes = ctx.fused.boxes.map(({ label, x_min, y_min, x_max, y_max }) => ({ label, x_min, y_min, x_max, y_max }));
    await h.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, reading: { boxes, globalLabels: ctx.fused.globalLabels } }] });
  } else {
    await h.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, decision: 'confirm' }] });
  }
}

/**
 * A Temporal dev server for a bench (the per-user CLI, namespace `readflow`, ReadFlow's search attributes). The SDK gives
 * it 5 s to start; a loaded machine may need another try (as test/support/global-setup does).
 */
export async function startBenchDevServer(): Promise<TestWorkflowEnvironment> {
  const cli = await ensureTemporalCli(loadToolchainConfig(process.env));
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: { executable: { type: 'existing-path', path: cli }, namespace: 'readflow', ip: '127.0.0.1', searchAttributes: [...SEARCH_ATTRIBUTES] },
      });
    } catch (err) {
      if (attempt >= 4) throw err;
      process.stderr.write(`the Temporal dev server did not start (attempt ${attempt}); retrying\n`);
    }
  }
}
