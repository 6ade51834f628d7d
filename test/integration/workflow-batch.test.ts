/**
 * ingestBatch on the real dev server: a directory manifest with distinct scans, a duplicate and a refused file,
 * small runs to force continue-as-new, bounded concurrency, progress through the query.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DEFAULT_POLICIES } from '../../src/domain';
import type { BatchProgress, IngestBatchInput } from '../../src/workflows/ingest-batch.messages';
import { progressQuery } from '../../src/workflows/ingest-batch.messages';
import { cancelScanUpdate } from '../../src/workflows/scan-lifecycle.messages';
import {
  dicomVariant,
  NIH_CXR,
  readFixture,
  realActivities,
  startWorkflowRig,
  uniqueTag,
} from '../support/workflow-harness';
import type { WorkflowRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

describe('ingestBatch', () => {
  let rig: WorkflowRig;
  let dir: string;

  beforeAll(async () => {
    // The batch's import directory (READFLOW_IMPORT_DIR): batches read only files under it.
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-batch-'));
    rig = await startWorkflowRig({ activities: (ds, store) => realActivities(ds, store, { importDir: dir }) });
  });

  afterAll(async () => {
    await rig?.close();
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it('starts one scan per distinct file, counts duplicates and quarantines, and continues as new', async () => {
    const nih = readFixture(NIH_CXR);
    const tag = uniqueTag();
    await fsp.mkdir(path.join(dir, 'sub'));
    for (let i = 0; i < 11; i++) await fsp.writeFile(path.join(dir, i % 2 ? 'sub' : '', `cxr-${String(i).padStart(2, '0')}.dcm`), dicomVariant(nih, tag, i));
    // The same source scan again under another name, and a refused file.
    await fsp.writeFile(path.join(dir, 'zz-copy-of-03.dcm'), dicomVariant(nih, tag, 3));
    await fsp.copyFile(path.resolve(NIH_CXR, '../../malformed/crayons.icc'), path.join(dir, 'broken.dcm'));

    const batchId = `b${tag}`;
    const input: IngestBatchInput = {
      batchId,
      manifest: { kind: 'directory', directory: dir },
      split: 'train',
      policy: DEFAULT_POLICIES['independent-3'],
      concurrency: 3,
      filesPerRun: 5,
      pageSize: 4,
    };
    const handle = await rig.client.workflow.start('ingestBatch', { taskQueue: rig.taskQueue, workflowId: `batch-${batchId}`, args: [input] });
    const result: BatchProgress = await handle.result();

    expect(result.counts).toEqual({ listed: 13, started: 12, duplicate: 1, accepted: 11, quarantined: 1, failed: 0 });
    expect(result.state).toBe('done');
    expect(result.inFlight).toBe(0);
    expect(result.runs).toBe(3); // 13 files, 5 per run
    expect(await handle.query(progressQuery)).toEqual(result);

    // Accepted scans go on to assignment on their own: wait until all wait for their readers.
    let scans: { id: string; stage: string }[] = [];
    for (let i = 0; i < 100; i++) {
      scans = await rig.ds.query(`SELECT id, stage FROM scans WHERE batch_id = $1`, [batchId]);
      if (scans.filter((s) => s.stage === 'reading').length === 11) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(scans).toHaveLength(12);
    expect(scans.filter((s) => s.stage === 'quarantined')).toHaveLength(1);
    expect(scans.filter((s) => s.stage === 'reading')).toHaveLength(11);

    // Clean up: cancel the scans waiting for readers.
    for (const s of scans.filter((x) => x.stage === 'reading')) {
      const h = rig.client.workflow.getHandle(s.id);
      await h.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });
    }
    const cancelled = rig.client.workflow.getHandle(scans.find((x) => x.stage === 'reading')!.id);
    await cancelled.result();
    await recordHistory(handle, 'ingest-batch-final-run');
    await recordHistory(cancelled, 'independent-3-batch-child-cancelled');
    await recordHistory(cancelled, 'independent-3-batch-child-cancelled-lean');
  });

  it("gives every scan it starts the batch's priority (its place in the queue for readers)", async () => {
    const nih = readFixture(NIH_CXR);
    const tag = uniqueTag();
    await fsp.mkdir(path.join(dir, 'priority'));
    for (let i = 0; i < 2; i++) await fsp.writeFile(path.join(dir, 'priority', `cxr-${i}.dcm`), dicomVariant(nih, tag, i));
    const batchId = `b${tag}`;
    const input: IngestBatchInput = {
      batchId,
      manifest: { kind: 'directory', directory: path.join(dir, 'priority') },
      split: 'test',
      policy: DEFAULT_POLICIES['independent-3'],
      priority: 7,
      concurrency: 2,
    };
    const handle = await rig.client.workflow.start('ingestBatch', { taskQueue: rig.taskQueue, workflowId: `batch-${batchId}`, args: [input] });
    const result: BatchProgress = await handle.result();
    expect(result.counts).toMatchObject({ listed: 2, started: 2, accepted: 2 });

    const scans = (await rig.ds.query(`SELECT id FROM scans WHERE batch_id = $1 ORDER BY id`, [batchId])) as { id: string }[];
    expect(scans).toHaveLength(2);
    const { payloadCodecs, payloadConverter } = rig.client.options.loadedDataConverter;
    for (const { id } of scans) {
      const child = rig.client.workflow.getHandle(id);
      const started = (await child.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
      let payloads = started?.input?.payloads ?? [];
      for (const codec of [...payloadCodecs].reverse()) payloads = await codec.decode(payloads);
      const scanInput = payloadConverter.fromPayload<{ scanId: string; priority?: number; split: string; batchId?: string }>(payloads[0]);
      expect(scanInput).toMatchObject({ scanId: id, priority: 7, split: 'test', batchId });
      await child.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });
    }
    await recordHistory(handle, 'ingest-batch-priority');
  });

  it('reads nothing outside the import directory: such files count as failed, such a directory fails the batch', async () => {
    const tag = uniqueTag();
    const outside = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-outside-'));
    try {
      await fsp.mkdir(path.join(dir, 'confined'));
      await fsp.writeFile(path.join(dir, 'confined', 'ok.dcm'), dicomVariant(readFixture(NIH_CXR), tag, 1));
      await fsp.writeFile(path.join(outside, 'secret.dcm'), dicomVariant(readFixture(NIH_CXR), tag, 2));
      await fsp.symlink(path.join(outside, 'secret.dcm'), path.join(dir, 'confined', 'link-out.dcm'));
      const files = ['/etc/passwd', path.join(dir, 'confined', '..', '..', path.basename(outside), 'secret.dcm'), 'confined/link-out.dcm', 'confined/ok.dcm'];
      const batchId = `b${tag}`;
      const handle = await rig.client.workflow.start('ingestBatch', {
        taskQueue: rig.taskQueue,
        workflowId: `batch-${batchId}`,
        args: [{ batchId, manifest: { kind: 'files', files }, split: 'train', policy: DEFAULT_POLICIES['independent-3'] } satisfies IngestBatchInput],
      });
      const result: BatchProgress = await handle.result();
      expect(result.counts).toEqual({ listed: 4, started: 1, duplicate: 0, accepted: 1, quarantined: 0, failed: 3 });
      // Nothing of the refused files reached the store.
      for (const f of ['/etc/passwd', path.join(outside, 'secret.dcm')]) {
        const sha256 = createHash('sha256').update(await fsp.readFile(f)).digest('hex');
        for (const area of ['incoming', 'originals', 'quarantine'] as const) expect(await rig.store.stat(area, sha256)).toBeNull();
      }
      const staged = (await rig.ds.query(`SELECT id FROM scans WHERE batch_id = $1`, [batchId])) as { id: string }[];
      expect(staged).toHaveLength(1);
      await rig.client.workflow.getHandle(staged[0].id).executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });

      const refused = await rig.client.workflow.start('ingestBatch', {
        taskQueue: rig.taskQueue,
        workflowId: `batch-${batchId}-dir`,
        args: [{ batchId: `${batchId}-dir`, manifest: { kind: 'directory', directory: '/etc' }, split: 'train', policy: DEFAULT_POLICIES['independent-3'] } satisfies IngestBatchInput],
      });
      const failure = await refused.result().then(
        () => undefined,
        (e: unknown) => e as { cause?: { cause?: { type?: string } } },
      );
      expect(failure?.cause?.cause?.type).toBe('ImportPathRefused');
    } finally {
      await fsp.rm(outside, { recursive: true, force: true });
    }
  });
});
