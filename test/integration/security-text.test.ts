import { randomUUID } from 'node:crypto';

import { ApplicationFailure } from '@temporalio/common';

import { PROJECTION_DATA_ERROR, createScanActivities, isPermanentDataError } from '../../src/activities/scan.activities';
import type { ApiHarness, ScanTask } from '../support/api-harness';
import { eventually, freshCxr, startReadingApp } from '../support/api-harness';


/**
 * Issue 10, item 1: a NUL (or another C0 control) in free text used to jam a scan — Postgres refuses it (22021), the
 * projection activity retried for ~100 minutes and the submission never answered. Now: refused at the edge and by the
 * workflow's validator (422 naming the field, at once), and a projection write Postgres refuses for its data is
 * non-retryable.
 */
describe('security: control characters in text fields', () => {
  let h: ApiHarness;
  let manager: string;

  beforeAll(async () => {
    ({ h, manager } = await startReadingApp({ env: { READFLOW_TASK_DEADLINE: '1h' } }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a projection write with a NUL fails at once, non-retryable, with a type and no clear data', async () => {
    const activities = createScanActivities({ dataSource: h.ds });
    const id = `scan-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    const started = Date.now();
    const err = await activities
      .recordScan({ scan: { id, split: 'train', policy: 'independent-3', stage: 'needs-attention', attentionReason: 'secret\u0000reason' } })
      .then(() => undefined, (e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const f = err as ApplicationFailure;
    expect(f.type).toBe(PROJECTION_DATA_ERROR);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('22021');
    expect(f.message).not.toContain('secret');
    // Connection problems stay retryable: an outage delays a scan, it never fails it.
    expect(isPermanentDataError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(false);
    expect(isPermanentDataError(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isPermanentDataError({ driverError: { code: '23503' } })).toBe(true);
  });

  it('a NUL in a comment or a reason is a prompt 422 naming the field; the task stays open and takes a clean reading', async () => {
    const upload = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').attach('file', freshCxr(), 'cxr.dcm').expect(202);
    const scanId = upload.body.scanId as string;
    const detail = await eventually(async () => {
      const res = await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager));
      return res.status === 200 && res.body.stage === 'reading' ? res.body : undefined;
    }, 60_000, 'the scan to reach reading');
    const task = (detail.tasks as ScanTask[]).find((t) => t.status === 'open') as ScanTask;
    const token = await h.tokenFor(task.readerId);
    const reading = { boxes: [], globalLabels: ['No finding'] };

    for (const comment of ['a\u0000b', 'bell\u0007', 'esc\u001b[31m']) {
      const started = Date.now();
      const res = await h.http().post(`/api/v1/tasks/${task.taskId}/submission`).set(h.bearer(token)).send({ ...reading, comment }).expect(422);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(res.body.errors ?? res.body.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'control-character' })]));
      expect(JSON.stringify(res.body)).toContain('comment');
    }
    const withReason = await h.http().post(`/api/v1/tasks/${task.taskId}/submission`).set(h.bearer(token)).send({ ...reading, reason: 'x\u0000' }).expect(422);
    expect(JSON.stringify(withReason.body)).toContain('reason');

    // Tab and line breaks are fine in a comment; the task took no harm.
    await h.http().post(`/api/v1/tasks/${task.taskId}/submission`).set(h.bearer(token)).send({ ...reading, comment: 'line 1\n\tline 2' }).expect(200);
    const row = await h.ds.query(`SELECT comment FROM readings WHERE task_id = $1`, [task.taskId]);
    expect(row[0].comment).toBe('line 1\n\tline 2');

    // A manager's cancel reason and a reassignment target are checked at the edge too.
    await h.http().post(`/api/v1/scans/${scanId}/cancel`).set(h.bearer(manager)).send({ reason: 'dup\u0000' }).expect(422);
    const other = (detail.tasks as ScanTask[]).find((t) => t.status === 'open' && t.taskId !== task.taskId) as ScanTask;
    await h.http().post(`/api/v1/tasks/${other.taskId}/reassign`).set(h.bearer(manager)).send({ toReaderId: 'rad\u000001' }).expect(422);
    const cancelled = await h.http().post(`/api/v1/scans/${scanId}/cancel`).set(h.bearer(manager)).send({ reason: 'duplicate film\n(test)' });
    expect(cancelled.status).toBeLessThan(300);
  });

  it('a NUL or a line break in a display name is a 422, not a 500', async () => {
    const admin = await h.addReader(`${h.prefix}-adm`, 'admin');
    for (const displayName of ['Dr\u0000 X', 'Dr\nX', 'Dr\u0008X']) {
      const res = await h.http().post('/api/v1/readers').set(h.bearer(admin)).send({ id: `${h.prefix}-r${randomUUID().slice(0, 4)}`, displayName }).expect(422);
      expect(JSON.stringify(res.body)).toContain('control-character');
    }
    const id = `${h.prefix}-ok`;
    await h.http().post('/api/v1/readers').set(h.bearer(admin)).send({ id, displayName: 'Dr\tOK' }).expect(201);
    await h.http().patch(`/api/v1/readers/${id}`).set(h.bearer(admin)).send({ displayName: 'Dr\u0000' }).expect(422);
  });
});
