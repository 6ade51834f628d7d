import {
  decideExtension,
  disputedFindings,
  emptyTrackRecord,
  fuseAdaptive,
  fusionSettingsFor,
  mergeTrackRecord,
  readersRequired,
  recordFusedScan,
  unconfirmedBoxes,
  unconfirmedFindingProbability,
} from './adaptive';
import type { TrackRecord } from './adaptive';
import type { ReaderReading } from './fusion';
import { DEFAULT_POLICIES, parsePolicy } from './policy';
import type { Box } from './reading';
import { VINDR_CXR_TAXONOMY } from './taxonomy';

const HEART = { x_min: 300, y_min: 500, x_max: 700, y_max: 800 };
const box = (label: string, dx = 0): Box => ({ label, x_min: HEART.x_min + dx, y_min: HEART.y_min, x_max: HEART.x_max + dx, y_max: HEART.y_max });
const rr = (readerId: string, boxes: Box[], globalLabels = ['Other diseases']): ReaderReading => ({ readerId, reading: { boxes, globalLabels } });
const policy = DEFAULT_POLICIES['adaptive-3-5'];

describe('adaptive-3-5', () => {
  it('is a validated policy: 3 readers, extended by 2 to a 3-of-5 quorum', () => {
    expect(policy).toMatchObject({ readers: 3, reviewers: 0, fusion: { quorum: 2 }, adaptive: { extraReaders: 2, extendedQuorum: 3, extendOnDispute: true } });
    expect(parsePolicy(JSON.parse(JSON.stringify(policy)))).toEqual({ ok: true, policy });
    expect(parsePolicy({ name: 'adaptive-3-5', adaptive: { extendBelow: 0.7 } })).toMatchObject({ ok: true, policy: { adaptive: { extendBelow: 0.7, extendedQuorum: 3 } } });
    const bad = parsePolicy({ name: 'adaptive-3-5', adaptive: { extendBelow: 1.5, extraReaders: 1, extendedQuorum: 6, extendOnDispute: 'yes', more: 1 } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems.map((p) => `${p.path}:${p.code}`).sort()).toEqual(
        ['adaptive.extendBelow:out-of-range', 'adaptive.extendOnDispute:invalid-type', 'adaptive.extendedQuorum:out-of-range', 'adaptive.extraReaders:inconsistent', 'adaptive.more:unknown-field'].sort(),
      );
    }
    expect(parsePolicy({ name: 'adaptive-3-5', adaptive: 3 })).toMatchObject({ ok: false, problems: [{ path: 'adaptive', code: 'invalid-type' }] });
    expect(parsePolicy({ name: 'independent-3', adaptive: { extendBelow: 0.5 } })).toMatchObject({ ok: false, problems: [{ path: 'adaptive', code: 'not-allowed' }] });
  });

  it('keeps agreeing readers at three', () => {
    const d = decideExtension([rr('a', [box('Cardiomegaly')]), rr('b', [box('Cardiomegaly', 5)]), rr('c', [box('Cardiomegaly', 10)])], policy, VINDR_CXR_TAXONOMY)!;
    expect(d).toMatchObject({ extend: false, reason: 'agreed', extraReaders: 0, disputedFindings: 0 });
    expect(readersRequired(policy, d.extend)).toBe(3);
    expect(fusionSettingsFor(policy, d.extend).quorum).toBe(2);
  });

  it('extends a scan whose finding is disputed (different labels at one place, none reaching the quorum)', () => {
    const readings = [rr('a', [box('Cardiomegaly')]), rr('b', [box('Aortic enlargement')]), rr('c', [box('Lung Opacity')])];
    expect(disputedFindings(readings, 2)).toBe(3);
    const d = decideExtension(readings, policy, VINDR_CXR_TAXONOMY)!;
    expect(d).toMatchObject({ extend: true, reason: 'disputed-finding', extraReaders: 2 });
    expect(readersRequired(policy, true)).toBe(5);
    expect(fusionSettingsFor(policy, true)).toEqual({ ...policy.fusion, quorum: 3 });
    // Two readers agreeing on the label settle it: no dispute.
    expect(disputedFindings([rr('a', [box('Cardiomegaly')]), rr('b', [box('Cardiomegaly', 4)]), rr('c', [box('Lung Opacity')])], 2)).toBe(0);
  });

  it('extends below the agreement bound, and never for a non-adaptive policy', () => {
    const readings = [rr('a', [box('Cardiomegaly')]), rr('b', []), rr('c', [], ['No finding'])];
    const off = { ...policy, adaptive: { ...policy.adaptive!, extendOnDispute: false, extendBelow: 0.6 } };
    const d = decideExtension(readings, off, VINDR_CXR_TAXONOMY)!;
    expect(d.agreement).toBeLessThan(off.adaptive.extendBelow);
    expect(d).toMatchObject({ extend: true, reason: 'agreement-below-bound' });
    expect(decideExtension(readings, { ...off, adaptive: { ...off.adaptive, extendBelow: 0 } }, VINDR_CXR_TAXONOMY)).toMatchObject({ extend: false });
    expect(decideExtension(readings, DEFAULT_POLICIES['independent-3'])).toBeUndefined();
    expect(readersRequired(DEFAULT_POLICIES['independent-3'], true)).toBe(3);
  });
});

describe('adaptive-3-5 with the readers’ track record', () => {
  const LUNG = { x_min: 100, y_min: 100, x_max: 250, y_max: 260 };
  const at = (label: string, where: typeof LUNG): Box => ({ label, ...where });
  /** A pool where `careful` readers' boxes were always confirmed and `sloppy` ones' mostly not. */
  function trackRecord(): TrackRecord {
    const record = emptyTrackRecord();
    for (let i = 0; i < 40; i++) {
      const truth = [box('Cardiomegaly')];
      const readings = [
        rr('careful', [box('Cardiomegaly', 2)]),
        rr('sloppy', [box('Cardiomegaly', 4), at('Rib fracture', LUNG)]),
        // The others miss one finding in ten.
        rr('other1', i % 10 === 0 ? [] : [box('Cardiomegaly')]),
        rr('other2', i % 10 === 5 ? [] : [box('Cardiomegaly', 6)]),
      ];
      recordFusedScan(record, readings, { boxes: truth.map((b) => ({ ...b, score: 1, readerIds: [] })) });
    }
    return record;
  }

  it('is validated policy data', () => {
    expect(policy.adaptive).toMatchObject({ extendOnUnconfirmed: 0.05, keepSettled: true, extendBelow: 0.2 });
    expect(parsePolicy({ name: 'adaptive-3-5', adaptive: { extendOnUnconfirmed: null, keepSettled: false } })).toMatchObject({ ok: true });
    const off = parsePolicy({ name: 'adaptive-3-5', adaptive: { extendOnUnconfirmed: null, keepSettled: false } });
    expect(off.ok && off.policy.adaptive).not.toHaveProperty('extendOnUnconfirmed');
    expect(off.ok && off.policy.adaptive).not.toHaveProperty('keepSettled');
    const bad = parsePolicy({ name: 'adaptive-3-5', adaptive: { extendOnUnconfirmed: 0, keepSettled: 'yes' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.map((p) => `${p.path}:${p.code}`).sort()).toEqual(['adaptive.extendOnUnconfirmed:out-of-range', 'adaptive.keepSettled:invalid-type']);
    expect(parsePolicy({ name: 'adaptive-3-5', adaptive: { extendOnUnconfirmed: 1.5 } }).ok).toBe(false);
  });

  it('a record kept by adding the scans entering a window and taking away those leaving it equals the window’s own', () => {
    const scans = [
      { readings: [rr('careful', [box('Cardiomegaly', 2)]), rr('sloppy', [at('Rib fracture', LUNG)])], fused: [box('Cardiomegaly')] },
      { readings: [rr('sloppy', [box('Cardiomegaly', 4)]), rr('other1', [])], fused: [box('Cardiomegaly')] },
      { readings: [rr('other1', [at('Nodule/Mass', LUNG)]), rr('other2', [at('Nodule/Mass', LUNG)])], fused: [at('Nodule/Mass', LUNG)] },
    ].map((s) => ({ ...s, fused: s.fused.map((b) => ({ ...b, score: 1, readerIds: [] })) }));
    const part = (i: number): TrackRecord => recordFusedScan(emptyTrackRecord(), scans[i].readings, { boxes: scans[i].fused });
    const of = (is: number[]): TrackRecord => is.reduce((r, i) => recordFusedScan(r, scans[i].readings, { boxes: scans[i].fused }), emptyTrackRecord());
    const kept = mergeTrackRecord(mergeTrackRecord(mergeTrackRecord(emptyTrackRecord(), part(0)), part(1)), part(2));
    expect(kept).toEqual(of([0, 1, 2]));
    // Scan 0 leaves: `careful` and the Rib fracture (only it had them) leave the maps, not stay at 0.
    mergeTrackRecord(kept, part(0), -1);
    expect(kept).toEqual(of([1, 2]));
    expect(Object.keys(kept.readers).sort()).toEqual(['other1', 'other2', 'sloppy']);
    expect(kept.unconfirmedBoxesByLabel).toEqual({});
    mergeTrackRecord(kept, part(1), -1);
    expect(kept).toEqual(of([2]));
    expect(kept.fusedBoxesByLabel).toEqual({ 'Nodule/Mass': 1 });
  });

  it('counts what the fusion kept and dropped of each reader', () => {
    const r = trackRecord();
    expect(r.scans).toBe(40);
    expect(r.readers.careful).toEqual({ readings: 40, boxes: 40, confirmedBoxes: 40, fusedBoxes: 40, foundBoxes: 40 });
    expect(r.readers.sloppy).toMatchObject({ boxes: 80, confirmedBoxes: 40 });
    expect(r.readers.other1).toMatchObject({ fusedBoxes: 40, foundBoxes: 36 });
    expect(r.unconfirmedBoxesByLabel).toEqual({ 'Rib fracture': 40 });
    expect(r.fusedBoxesByLabel).toEqual({ Cardiomegaly: 40 });
  });

  it('extends for a lone box of a reader whose boxes are usually confirmed, not for a lone box of one with many false positives', () => {
    const record = trackRecord();
    const nodule = at('Nodule/Mass', LUNG);
    const careful = [rr('careful', [box('Cardiomegaly'), nodule]), rr('other1', [box('Cardiomegaly', 3)]), rr('other2', [box('Cardiomegaly', 5)])];
    const sloppy = [rr('sloppy', [box('Cardiomegaly'), nodule]), rr('other1', [box('Cardiomegaly', 3)]), rr('other2', [box('Cardiomegaly', 5)])];
    expect(unconfirmedBoxes(careful, policy.fusion)).toEqual([{ readerId: 'careful', box: nodule }]);
    const pc = unconfirmedFindingProbability(careful, policy.fusion, record, VINDR_CXR_TAXONOMY.localLabels.length);
    const ps = unconfirmedFindingProbability(sloppy, policy.fusion, record, VINDR_CXR_TAXONOMY.localLabels.length);
    expect(pc).toBeGreaterThan(ps);
    expect(pc).toBeGreaterThanOrEqual(policy.adaptive!.extendOnUnconfirmed!);
    expect(ps).toBeLessThan(policy.adaptive!.extendOnUnconfirmed!);
    expect(decideExtension(careful, policy, VINDR_CXR_TAXONOMY, record)).toMatchObject({ extend: true, reason: 'unconfirmed-finding', extraReaders: 2 });
    expect(decideExtension(sloppy, policy, VINDR_CXR_TAXONOMY, record)).toMatchObject({ extend: false, reason: 'agreed' });
    // Without a track record (or a policy without the rule) the lone box alone never extends.
    expect(decideExtension(careful, policy, VINDR_CXR_TAXONOMY)).toMatchObject({ extend: false, unconfirmedFinding: 0 });
    const noRule = { ...policy, adaptive: { ...policy.adaptive!, extendOnUnconfirmed: undefined } };
    expect(decideExtension(careful, noRule, VINDR_CXR_TAXONOMY, record)).toMatchObject({ extend: false, unconfirmedFinding: 0 });
  });

  it('an extended scan keeps what its first readers settled when the policy says so', () => {
    const settled = at('Nodule/Mass', LUNG);
    const readings = [
      rr('a', [box('Cardiomegaly'), settled]),
      rr('b', [box('Aortic enlargement'), settled]),
      rr('c', [box('Lung Opacity')]),
      rr('d', [box('Cardiomegaly', 2)]),
      rr('e', [box('Cardiomegaly', 4)]),
    ];
    const image = { rows: 1024, columns: 1024 };
    const plain = fuseAdaptive(readings, { ...policy, adaptive: { ...policy.adaptive!, keepSettled: undefined } }, true, ['a', 'b', 'c'], image, VINDR_CXR_TAXONOMY);
    expect(plain.boxes.map((b) => b.label)).toEqual(['Cardiomegaly']);
    const kept = fuseAdaptive(readings, policy, true, ['a', 'b', 'c'], image, VINDR_CXR_TAXONOMY);
    expect(kept.boxes.map((b) => b.label).sort()).toEqual(['Cardiomegaly', 'Nodule/Mass']);
    expect(kept.boxes.find((b) => b.label === 'Nodule/Mass')).toMatchObject({ ...settled, readerIds: ['a', 'b'], score: 2 / 5 });
    // Not extended: the policy's own fusion.
    expect(fuseAdaptive(readings.slice(0, 3), policy, false, ['a', 'b', 'c'], image, VINDR_CXR_TAXONOMY).boxes.map((b) => b.label)).toEqual(['Nodule/Mass']);
  });
});
