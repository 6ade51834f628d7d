import type { RosterEntry } from './assignment';
import type { ReaderRequest } from './capacity';
import { couldEverServe, grantInOrder, reserveAfter, servableNow } from './capacity';

const reader = (id: string, openTasks: number, cap = 2, senior = false): RosterEntry => ({ readerId: id, active: true, senior, openTasks, openTaskCap: cap });
const req = (scanId: string, count: number, excluded: string[] = [], extra: Partial<ReaderRequest> = {}): ReaderRequest => ({
  scanId,
  role: 'reader',
  count,
  excludedReaderIds: excluded,
  ...extra,
});

describe('reader capacity in queue order', () => {
  it('serves waiters in order and holds their readers, so a later request gets only what is left', () => {
    const roster = [reader('a', 1), reader('b', 1), reader('c', 2)];
    // a and b each have one free slot: the first waiter (2 readers) takes both; the second gets nothing.
    const { granted } = grantInOrder(roster, [req('s1', 2), req('s2', 1)]);
    expect([...granted.entries()]).toEqual([['s1', ['a', 'b']]]);
    expect(reserveAfter(roster, [req('s1', 2)], req('s3', 1))).toMatchObject({ granted: false, waiting: true });
  });

  it('passes over a waiter that cannot use the free readers (it excludes them) without blocking the next', () => {
    const roster = [reader('a', 1), reader('b', 2), reader('c', 2)];
    expect(servableNow(roster, [req('s1', 1, ['a']), req('s2', 1)])).toEqual(['s2']);
  });

  it('refuses for a manager only what no reader could ever take', () => {
    const roster = [reader('a', 2), reader('b', 2)];
    expect(reserveAfter(roster, [], req('s1', 2))).toMatchObject({ granted: false, waiting: true });
    expect(reserveAfter(roster, [], req('s1', 3))).toMatchObject({ granted: false, waiting: false, result: { reason: 'no-eligible-readers' } });
    expect(couldEverServe(roster, req('s1', 1, ['a', 'b']))).toBe(false);
    expect(couldEverServe([reader('a', 0, 0)], req('s1', 1))).toBe(false);
  });

  it('never grants past a cap, whatever the order of many requests', () => {
    const roster = ['a', 'b', 'c', 'd', 'e'].map((id) => reader(id, 0, 2));
    const queue = Array.from({ length: 100 }, (_, i) => req(`s${i}`, 3));
    const { granted, roster: left } = grantInOrder(roster, queue);
    expect(granted.size).toBe(3); // 10 slots / 3 per scan
    expect([...granted.keys()]).toEqual(['s0', 's1', 's2']);
    for (const e of left) expect(e.openTasks).toBeLessThanOrEqual(2);
  });

  it('spares seniors for consensus readings when enough others are free, and names a preferred reader', () => {
    const roster = [reader('sen', 0, 2, true), reader('x', 0), reader('y', 0)];
    expect(reserveAfter(roster, [], req('s1', 2, [], { spareSeniors: true }))).toEqual({ granted: true, readerIds: expect.not.arrayContaining(['sen']) });
    expect(reserveAfter([reader('sen', 2, 2, true)], [], req('s1', 1, [], { role: 'reviewer', preferredReaderId: 'sen' }))).toMatchObject({
      granted: false,
      waiting: true,
      result: { reason: 'reader-not-eligible', why: 'at-capacity' },
    });
  });
});
