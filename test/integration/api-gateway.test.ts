import { randomUUID } from 'node:crypto';

import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';
import { DEFAULT_POLICIES } from '../../src/domain';

/**
 * The Temporal gateway's deadlines: a scan whose workflow no worker serves (its task queue is not polled) cannot
 * answer an update. Each update through the API must end at the gateway's deadline with a problem document (504
 * `timeout`, `Retry-After`) instead of hanging the request.
 */
describe('Temporal gateway deadlines (real Postgres, real Temporal dev server, no worker for the scan)', () => {
  const UPDATE_TIMEOUT_MS = 1_500;
  let h: ApiHarness;
  let scanId: string;
  let taskId: string;
  let readerToken: string;
  let managerToken: string;

  beforeAll(async () => {
    h = await startApiHarness({ deps: { temporal: { updateTimeoutMs: UPDATE_TIMEOUT_MS } } });
    const readerId = `${h.prefix}-rad`;
    readerToken = await h.addReader(readerId, 'radiologist');
    managerToken = await h.addReader(`${h.prefix}-mgr`, 'manager');
    scanId = `scan-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    taskId = randomUUID();
    // The scan's workflow runs on a task queue nobody polls: it exists, but nothing answers its updates.
    await h.temporal.client.workflow.start('scanLifecycle', {
      workflowId: scanId,
      taskQueue: `nobody-polls-${h.prefix}`,
      args: [{ scanId, sourceKey: 'none', split: 'train', policy: DEFAULT_POLICIES['independent-3'] }],
    });
    // Its projection, as the workflow would have written it.
    await h.ds.query(`INSERT INTO scans (id, split, policy, stage) VALUES ($1, 'train', 'independent-3', 'reading')`, [scanId]);
    await h.ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at)
       VALUES ($1, $2, $3, 'reader', 0, 0, 'open', now(), now() + interval '1 hour')`,
      [taskId, scanId, readerId],
    );
  });

  afterAll(async () => {
    await h.temporal.client.workflow.getHandle(scanId).terminate('test over').catch(() => undefined);
    await h.close();
  });

  async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
    const started = Date.now();
    const value = await run();
    return { value, ms: Date.now() - started };
  }

  it('a submission the workflow cannot answer in time: 504 timeout problem with Retry-After, at the deadline', async () => {
    const { value: res, ms } = await timed(() =>
      h.http().post(`/api/v1/tasks/${taskId}/submission`).set(h.bearer(readerToken)).send({ boxes: [], globalLabels: ['No finding'] }).timeout(20_000),
    );
    expect(res.status).toBe(504);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toMatchObject({ type: 'https://readflow.dev/problems/timeout', status: 504, instance: `/api/v1/tasks/${taskId}/submission` });
    expect(res.body.detail).toMatch(/did not answer in time/);
    expect(ms).toBeGreaterThanOrEqual(UPDATE_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(UPDATE_TIMEOUT_MS + 8_000);
  });

  it('manager updates (cancel, resume, extend, reassign) end at the deadline too', async () => {
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const calls = [
      () => h.http().post(`/api/v1/scans/${scanId}/cancel`).set(h.bearer(managerToken)).send({ reason: 'test' }),
      () => h.http().post(`/api/v1/scans/${scanId}/resume`).set(h.bearer(managerToken)).send({}),
      () => h.http().post(`/api/v1/tasks/${taskId}/extend`).set(h.bearer(managerToken)).send({ dueAt: future }),
      () => h.http().post(`/api/v1/tasks/${taskId}/reassign`).set(h.bearer(managerToken)).send({}),
    ];
    for (const call of calls) {
      const { value: res, ms } = await timed(() => call().timeout(20_000));
      expect({ status: res.status, type: res.body.type }).toEqual({ status: 504, type: 'https://readflow.dev/problems/timeout' });
      expect(ms).toBeLessThan(UPDATE_TIMEOUT_MS + 8_000);
    }
  });
});
