import { DAY_MS, DEFAULT_POLICIES, parsePolicy, policyWithDeadlines } from './policy';

describe('DEFAULT_POLICIES', () => {
  it('describes the three reading designs with production deadlines in days', () => {
    expect(DEFAULT_POLICIES['independent-3']).toMatchObject({ readers: 3, reviewers: 0, maxReviewRounds: 0, fusion: { method: 'wbf', iouThreshold: 0.5, quorum: 2 } });
    expect(DEFAULT_POLICIES['consensus-5']).toMatchObject({ readers: 3, reviewers: 2 });
    expect(DEFAULT_POLICIES['consensus-5'].maxReviewRounds).toBeGreaterThanOrEqual(1);
    expect(DEFAULT_POLICIES['independent-5']).toMatchObject({ readers: 5, reviewers: 0, fusion: { quorum: 3 } });
    for (const p of Object.values(DEFAULT_POLICIES)) {
      expect(p.taskDeadlineMs).toBe(3 * DAY_MS);
      expect(p.reviewDeadlineMs).toBe(2 * DAY_MS);
      expect(parsePolicy(JSON.parse(JSON.stringify(p)))).toEqual({ ok: true, policy: p });
    }
  });
});

describe('parsePolicy', () => {
  it('fills missing fields from the named default, fusion field by field', () => {
    const r = parsePolicy({ name: 'independent-5', taskDeadlineMs: 3600000, fusion: { quorum: 4 } });
    expect(r).toEqual({
      ok: true,
      policy: { ...DEFAULT_POLICIES['independent-5'], taskDeadlineMs: 3600000, fusion: { method: 'wbf', iouThreshold: 0.5, quorum: 4 } },
    });
  });

  it('reports every problem with its path', () => {
    const r = parsePolicy({
      name: 'consensus-5',
      readers: 4,
      reviewers: 0,
      taskDeadlineMs: 0,
      reviewDeadlineMs: 1.5,
      maxReassignmentsPerTask: -1,
      maxReviewRounds: 0,
      fusion: { method: 'nms', iouThreshold: 1, quorum: 5, sigma: 0.1 },
      agreementFlagBelow: 2,
      maxBoxes: 0,
      deadline: 3,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => `${p.path}:${p.code}`).sort()).toEqual(
      [
        'deadline:unknown-field',
        'fusion.sigma:unknown-field',
        'readers:inconsistent',
        'reviewers:inconsistent',
        'taskDeadlineMs:out-of-range',
        'reviewDeadlineMs:invalid-type',
        'maxReassignmentsPerTask:out-of-range',
        'maxReviewRounds:out-of-range',
        'maxBoxes:out-of-range',
        'agreementFlagBelow:out-of-range',
        'fusion.method:invalid-value',
        'fusion.iouThreshold:out-of-range',
        'fusion.quorum:out-of-range',
      ].sort(),
    );
  });

  it('rejects unknown names, non-objects and review rounds without reviewers', () => {
    expect(parsePolicy({ name: 'double-read' })).toMatchObject({ ok: false, problems: [{ path: 'name', code: 'invalid-value' }] });
    expect(parsePolicy([])).toMatchObject({ ok: false, problems: [{ path: '', code: 'invalid-type' }] });
    expect(parsePolicy({ name: 'independent-3', maxReviewRounds: 2 })).toMatchObject({ ok: false, problems: [{ path: 'maxReviewRounds', code: 'inconsistent' }] });
    expect(parsePolicy({ name: 'independent-3', fusion: 'wbf' })).toMatchObject({ ok: false, problems: [{ path: 'fusion', code: 'invalid-type' }] });
  });
});

describe('policyWithDeadlines', () => {
  it('overrides only the given deadlines and leaves the original untouched', () => {
    const p = policyWithDeadlines(DEFAULT_POLICIES['consensus-5'], { taskDeadlineMs: 2000 });
    expect(p).toEqual({ ...DEFAULT_POLICIES['consensus-5'], taskDeadlineMs: 2000 });
    expect(DEFAULT_POLICIES['consensus-5'].taskDeadlineMs).toBe(3 * DAY_MS);
    expect(policyWithDeadlines(p, { reviewDeadlineMs: 500 }).reviewDeadlineMs).toBe(500);
  });

  it('rejects non-positive deadlines', () => {
    expect(() => policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: 0 })).toThrow(RangeError);
  });
});
