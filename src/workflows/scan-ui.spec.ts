import { DEFAULT_POLICIES, policyWithDeadlines } from '../domain';
import type { ProjectionStep } from '../activities/scan.activities';
import { projectionSummary, rosterSummary } from './scan-ui';
import { batchStartMetadata, formatDuration, scanStartMetadata } from './scan-ui.messages';

const audit = (action: string, actor: string, detail: Record<string, unknown> = {}, taskId?: string): NonNullable<ProjectionStep['audit']>[number] => ({
  key: `k-${action}-${actor}`,
  scanId: 'scan-0123456789abcdef01234567',
  actor,
  action,
  detail,
  at: '2026-12-01T21:00:00.000Z',
  ...(taskId ? { taskId } : {}),
});

describe('Temporal UI metadata of a scan', () => {
  it('summarises a scan start from its id, split and policy only, whatever else the input holds', () => {
    const policy = policyWithDeadlines(DEFAULT_POLICIES['consensus-5'], { taskDeadlineMs: 2 * 24 * 3600_000, reviewDeadlineMs: 90 * 60_000 });
    const input = {
      scanId: 'scan-0123456789abcdef01234567',
      split: 'test' as const,
      policy,
      sourceKey: 'incoming/ab/cdef',
      filename: 'SMITH_JOHN_MRN4711.dcm',
      batchId: 'b-1',
    };
    const m = scanStartMetadata(input);
    expect(m.staticSummary).toBe('Scan scan-0123456789abcdef01234567 · test · consensus-5');
    expect(m.staticDetails).toContain('consensus-5 (3 readers + 2 senior reviewers)');
    expect(m.staticDetails).toContain('Reading deadline 2 d, review deadline 90 min');
    for (const secret of ['SMITH', 'MRN4711', 'incoming/ab/cdef']) expect(JSON.stringify(m)).not.toContain(secret);
    expect(m.staticSummary).not.toContain('\n');

    const b = batchStartMetadata({ batchId: 'b-1', split: 'train', policy: DEFAULT_POLICIES['independent-3'], manifest: { kind: 'directory', directory: 'SMITH_JOHN' } } as never);
    expect(b.staticSummary).toBe('Ingest batch b-1 · train · independent-3');
    expect(JSON.stringify(b)).not.toContain('SMITH');
  });

  it('formats deadlines in their largest whole unit', () => {
    expect(formatDuration(30_000)).toBe('30 s');
    expect(formatDuration(3 * 3600_000)).toBe('3 h');
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(250)).toBe('250 ms');
  });

  it('summarises a projection write by its audit actions and the readers they concern, never by free text', () => {
    expect(projectionSummary({ audit: [audit('stage:reading', 'workflow', { from: 'assigning', to: 'reading', readers: ['rad01'] })] })).toBe(
      'write projection: stage reading',
    );
    const assigned = ['rad04', 'rad07', 'rad09'].map((r) => audit('task:assigned', 'workflow', { readerId: r, dueAt: 'x' }));
    expect(projectionSummary({ audit: assigned })).toBe('write projection: assigned rad04, rad07 and rad09');
    expect(
      projectionSummary({
        tasks: [{ id: 't1', readerId: 'rad07' } as never],
        audit: [audit('task:submitted', 'rad07', { comment: 'SMITH JOHN looks fine' }, 't1')],
      }),
    ).toBe('write projection: submitted by rad07');
    expect(
      projectionSummary({ audit: [audit('task:expired', 'workflow', { readerId: 'rad09' }), audit('task:assigned', 'workflow', { readerId: 'rad12' })] }),
    ).toBe('write projection: expired rad09; assigned rad12');
    expect(projectionSummary({ audit: [audit('stage:cancelled', 'manager', { reason: 'patient SMITH withdrew' })] })).toBe('write projection: stage cancelled');
    expect(projectionSummary({ audit: [audit('stage:quarantined', 'workflow', { reason: 'not-dicom', detail: 'SMITH_JOHN.dcm is not DICOM' })] })).not.toContain(
      'SMITH',
    );
    const many = Array.from({ length: 60 }, (_, i) => audit('task:assigned', 'workflow', { readerId: `reader${i}` }));
    expect(projectionSummary({ audit: many }).length).toBeLessThanOrEqual(200);
  });

  it('says what a roster read is for', () => {
    expect(rosterSummary({ readers: 3 })).toBe('read roster: choose 3 readers');
    expect(rosterSummary({ reviewers: 2 })).toBe('read roster: choose 2 senior reviewers');
    expect(rosterSummary({ replacing: { readerId: 'rad02', role: 'reviewer', slot: 1 } })).toBe('read roster: replace rad02 on the verdict');
  });
});
