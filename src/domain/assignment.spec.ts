import fc from 'fast-check';
import type { RosterEntry } from './assignment';
import { chooseReaders, chooseReplacement, rankEligible } from './assignment';

const entry = (readerId: string, o: Partial<RosterEntry> = {}): RosterEntry => ({
  readerId,
  active: true,
  senior: false,
  openTasks: 0,
  openTaskCap: 10,
  ...o,
});

describe('chooseReaders', () => {
  it('prefers least open work, then least recent assignment (never-assigned first)', () => {
    const roster = [
      entry('rad01', { openTasks: 2, lastAssignedAt: 1 }),
      entry('rad02', { openTasks: 1, lastAssignedAt: 500 }),
      entry('rad03', { openTasks: 1, lastAssignedAt: 100 }),
      entry('rad04', { openTasks: 1 }),
      entry('rad05', { openTasks: 0, lastAssignedAt: 900 }),
    ];
    const r = chooseReaders({ roster, scanId: 'scan-1', count: 4, role: 'reader', excludedReaderIds: [] });
    expect(r).toEqual({ ok: true, readerIds: ['rad05', 'rad04', 'rad03', 'rad02'] });
  });

  it('skips inactive, excluded and at-capacity readers, and requires seniority for reviewers', () => {
    const roster = [
      entry('inactive', { active: false }),
      entry('excluded'),
      entry('full', { openTasks: 3, openTaskCap: 3 }),
      entry('junior'),
      entry('senior', { senior: true, openTasks: 5 }),
    ];
    expect(chooseReaders({ roster, scanId: 's', count: 2, role: 'reader', excludedReaderIds: ['excluded'] })).toEqual({
      ok: true,
      readerIds: ['junior', 'senior'],
    });
    expect(chooseReaders({ roster, scanId: 's', count: 1, role: 'reviewer', excludedReaderIds: ['excluded'] })).toEqual({
      ok: true,
      readerIds: ['senior'],
    });
  });

  it('returns a typed no-eligible-readers result instead of a partial list', () => {
    const roster = [entry('a'), entry('b'), entry('c', { active: false })];
    expect(chooseReaders({ roster, scanId: 's', count: 3, role: 'reader', excludedReaderIds: [] })).toEqual({
      ok: false,
      reason: 'no-eligible-readers',
      needed: 3,
      eligible: 2,
    });
    expect(chooseReaders({ roster: [], scanId: 's', count: 0, role: 'reader', excludedReaderIds: [] })).toEqual({ ok: true, readerIds: [] });
    expect(() => chooseReaders({ roster, scanId: 's', count: -1, role: 'reader', excludedReaderIds: [] })).toThrow(RangeError);
  });

  it('collapses duplicate roster entries so the same reader is never chosen twice', () => {
    const roster = [entry('a'), entry('a'), entry('b')];
    expect(chooseReaders({ roster, scanId: 's', count: 3, role: 'reader', excludedReaderIds: [] })).toMatchObject({ ok: false, eligible: 2 });
  });

  it('breaks full ties with a stable hash of the scan id: deterministic per scan, spread across scans', () => {
    const roster = ['rad01', 'rad02', 'rad03', 'rad04', 'rad05'].map((id) => entry(id));
    const pick = (scanId: string, r = roster) => chooseReaders({ roster: r, scanId, count: 1, role: 'reader', excludedReaderIds: [] });
    expect(pick('scan-42')).toEqual(pick('scan-42'));
    // Independent of roster order.
    expect(pick('scan-42')).toEqual(pick('scan-42', [...roster].reverse()));
    const firsts = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      const r = pick(`scan-${i}`);
      if (r.ok) firsts.set(r.readerIds[0], (firsts.get(r.readerIds[0]) ?? 0) + 1);
    }
    expect(firsts.size).toBe(5);
    for (const n of firsts.values()) expect(n).toBeGreaterThan(60); // ~100 each
  });
});

describe('chooseReplacement', () => {
  const roster = [entry('rad01', { openTasks: 1 }), entry('rad02'), entry('rad03', { senior: true }), entry('rad04', { active: false })];

  it('picks the best eligible reader other than everyone involved', () => {
    expect(chooseReplacement({ roster, scanId: 's', role: 'reader', excludedReaderIds: ['rad02'] })).toEqual({ ok: true, readerIds: ['rad03'] });
  });

  it('says so, typed, when nobody is eligible', () => {
    expect(chooseReplacement({ roster, scanId: 's', role: 'reviewer', excludedReaderIds: ['rad03'] })).toEqual({
      ok: false,
      reason: 'no-eligible-readers',
      needed: 1,
      eligible: 0,
    });
  });

  it("honours a manager's eligible choice and explains an ineligible one", () => {
    expect(chooseReplacement({ roster, scanId: 's', role: 'reader', excludedReaderIds: [], preferredReaderId: 'rad01' })).toEqual({
      ok: true,
      readerIds: ['rad01'],
    });
    const why = (preferredReaderId: string, role: 'reader' | 'reviewer' = 'reader', excludedReaderIds = ['rad02']) =>
      chooseReplacement({ roster, scanId: 's', role, excludedReaderIds, preferredReaderId });
    expect(why('rad04')).toEqual({ ok: false, reason: 'reader-not-eligible', readerId: 'rad04', why: 'inactive' });
    expect(why('rad02')).toMatchObject({ why: 'excluded' });
    expect(why('rad01', 'reviewer')).toMatchObject({ why: 'not-senior' });
    expect(why('nobody')).toMatchObject({ why: 'unknown-reader' });
    expect(
      chooseReplacement({ roster: [entry('x', { openTasks: 2, openTaskCap: 2 })], scanId: 's', role: 'reader', excludedReaderIds: [], preferredReaderId: 'x' }),
    ).toMatchObject({ why: 'at-capacity' });
  });
});

const rosterArb = fc.array(
  fc.record({
    readerId: fc.constantFrom('rad01', 'rad02', 'rad03', 'rad04', 'rad05', 'rad06', 'rad07', 'rad08'),
    active: fc.boolean(),
    senior: fc.boolean(),
    openTasks: fc.integer({ min: 0, max: 5 }),
    openTaskCap: fc.integer({ min: 0, max: 5 }),
    lastAssignedAt: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
  }),
  { maxLength: 12 },
);

describe('assignment — properties (fast-check)', () => {
  it('returns exactly count distinct eligible readers, or ok:false with the eligible count', () => {
    fc.assert(
      fc.property(
        rosterArb,
        fc.string(),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom<'reader' | 'reviewer'>('reader', 'reviewer'),
        fc.subarray(['rad01', 'rad02', 'rad03']),
        (roster, scanId, count, role, excludedReaderIds) => {
          const r = chooseReaders({ roster, scanId, count, role, excludedReaderIds });
          const eligible = rankEligible({ roster, scanId, role, excludedReaderIds });
          if (r.ok) {
            expect(r.readerIds).toHaveLength(count);
            expect(new Set(r.readerIds).size).toBe(count);
            for (const id of r.readerIds) {
              const e = roster.find((x) => x.readerId === id) as RosterEntry;
              expect(e.active && e.openTasks < e.openTaskCap && !excludedReaderIds.includes(id)).toBe(true);
              if (role === 'reviewer') expect(e.senior).toBe(true);
            }
          } else {
            expect(r).toEqual({ ok: false, reason: 'no-eligible-readers', needed: count, eligible: eligible.length });
            expect(eligible.length).toBeLessThan(count);
          }
          // Pure and independent of roster order (when reader ids are unique; otherwise the first entry wins).
          if (roster.length === new Set(roster.map((x) => x.readerId)).size) {
            expect(chooseReaders({ roster: [...roster].reverse(), scanId, count, role, excludedReaderIds })).toEqual(r);
          }
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  /**
   * Simulates a long run with equally fast readers: for each scan pick `n` of `r` readers, stamp them with
   * the scan's time and their running assignment count, and let every task finish `lag` scans later.
   * Readers become unavailable at their open-task cap, so some scans may find nobody (skipped).
   */
  function simulate(r: number, n: number, scans: number, lag: number, cap: number): number[] {
    const roster: RosterEntry[] = Array.from({ length: r }, (_, i) =>
      entry(`rad${String(i + 1).padStart(2, '0')}`, { openTaskCap: cap, assignedCount: 0 }),
    );
    const assigned = new Array<number>(r).fill(0);
    const finishing: { at: number; idx: number }[] = [];
    for (let t = 0; t < scans; t++) {
      for (const f of finishing.filter((x) => x.at === t)) roster[f.idx] = { ...roster[f.idx], openTasks: roster[f.idx].openTasks - 1 };
      const res = chooseReaders({ roster, scanId: `scan-${t}`, count: n, role: 'reader', excludedReaderIds: [] });
      if (!res.ok) continue;
      for (const id of res.readerIds) {
        const idx = roster.findIndex((e) => e.readerId === id);
        assigned[idx]++;
        roster[idx] = { ...roster[idx], openTasks: roster[idx].openTasks + 1, lastAssignedAt: t, assignedCount: assigned[idx] };
        finishing.push({ at: t + lag, idx });
      }
    }
    return assigned;
  }

  it('balances load over a long run: max−min assigned tasks stays ≤ 1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 17 }),
        fc.constantFrom(3, 5),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 50 }),
        (r, n, lag, cap) => {
          const assigned = simulate(r, n, 600, lag, cap);
          expect(assigned.reduce((s, x) => s + x, 0)).toBeGreaterThan(0);
          expect(Math.max(...assigned) - Math.min(...assigned)).toBeLessThanOrEqual(1);
        },
      ),
      { seed: 11, numRuns: 40 },
    );
  });

  it('uses assignedCount to break ties between readers assigned to the same scan', () => {
    const roster = [entry('a', { lastAssignedAt: 5, assignedCount: 9 }), entry('b', { lastAssignedAt: 5, assignedCount: 3 }), entry('c', { lastAssignedAt: 5, assignedCount: 4 })];
    for (const scanId of ['s1', 's2', 's3', 's4']) {
      expect(chooseReaders({ roster, scanId, count: 2, role: 'reader', excludedReaderIds: [] })).toEqual({ ok: true, readerIds: ['b', 'c'] });
    }
  });
});
