import { randomUUID } from 'node:crypto';

import { Worker } from '@temporalio/worker';
import type { DataSource } from 'typeorm';

import { ReaderEntity } from '../../src/db/entities';
import { connectTemporal, openTestDataSource, testDataConverter, testServices } from '../support/services';

describe('foundation: real Temporal dev server and real Postgres', () => {
  let ds: DataSource;
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;

  beforeAll(async () => {
    ds = await openTestDataSource();
    temporal = await connectTemporal();
  });
  afterAll(async () => {
    await ds?.destroy();
    await temporal?.close();
  });

  it('runs a workflow through a real worker and reads its result and search attributes', async () => {
    const taskQueue = `foundation-${randomUUID()}`;
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: testServices().namespace,
      taskQueue,
      workflowsPath: require.resolve('../support/workflows/probe'),
      activities: { shout: async (t: string) => t.toUpperCase() },
      dataConverter: testDataConverter(),
    });
    const result = await worker.runUntil(
      temporal.client.workflow.execute('probe', { taskQueue, workflowId: `probe-${randomUUID()}`, args: ['hello'] }),
    );
    expect(result).toEqual({ shouted: 'HELLO', stage: ['released'] });
  });

  it('registered the namespace and the custom search attributes', async () => {
    const { temporalCli, temporalAddress, namespace } = testServices();
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(
      temporalCli,
      ['operator', 'search-attribute', 'list', '--address', temporalAddress, '--namespace', namespace, '-o', 'json'],
      { encoding: 'utf8' },
    );
    for (const name of ['ScanId', 'Stage', 'Split', 'Readers', 'Overdue']) expect(out).toContain(name);
  });

  it('round-trips an entity through Postgres with the migrated schema', async () => {
    const repo = ds.getRepository(ReaderEntity);
    const id = `t-${randomUUID().slice(0, 8)}`;
    await repo.insert({ id, displayName: 'Test Reader', role: 'radiologist', senior: true, active: true, openTaskCap: 7 });
    const back = await repo.findOneByOrFail({ id });
    expect(back).toMatchObject({ id, displayName: 'Test Reader', role: 'radiologist', senior: true, openTaskCap: 7 });
    expect(back.createdAt).toBeInstanceOf(Date);
    await expect(
      repo.insert({ id: `${id}-x`, displayName: 'Bad', role: 'janitor' as never, senior: false, active: true, openTaskCap: 1 }),
    ).rejects.toThrow(/ck_readers_role/);
  });

  it('keeps the audit trail append-only at the database', async () => {
    await ds.query(
      `INSERT INTO audit_events (event_key, actor, action, at) VALUES ($1, 'system', 'test', now())`,
      [`k-${randomUUID()}`],
    );
    await expect(ds.query(`UPDATE audit_events SET action = 'tampered'`)).rejects.toThrow(/append-only/);
    await expect(ds.query(`DELETE FROM audit_events`)).rejects.toThrow(/append-only/);
  });
});
