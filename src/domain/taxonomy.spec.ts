import { KAGGLE_CLASS_IDS, VINDR_CXR_TAXONOMY, findLabel, labelsOutside, parseTaxonomy } from './taxonomy';

describe('VINDR_CXR_TAXONOMY', () => {
  it('has the 22 local and 6 global VinDr-CXR labels with ids 0..27, locals first', () => {
    expect(VINDR_CXR_TAXONOMY.localLabels).toHaveLength(22);
    expect(VINDR_CXR_TAXONOMY.globalLabels).toEqual(['COPD', 'Lung tumor', 'Pneumonia', 'Tuberculosis', 'Other diseases', 'No finding']);
    expect(VINDR_CXR_TAXONOMY.labels.map((l) => l.id)).toEqual([...Array(28).keys()]);
    expect(VINDR_CXR_TAXONOMY.labels[0]).toEqual({ id: 0, name: 'Aortic enlargement', kind: 'local', kaggleClassId: 0 });
    expect(VINDR_CXR_TAXONOMY.localLabels[21]).toBe('Other lesion');
    expect(VINDR_CXR_TAXONOMY.noFinding).toBe('No finding');
    expect(Object.isFrozen(VINDR_CXR_TAXONOMY.labels)).toBe(true);
  });

  it('maps the 14 Kaggle competition classes plus No finding (14)', () => {
    const withKaggle = VINDR_CXR_TAXONOMY.labels.filter((l) => l.kaggleClassId !== undefined);
    expect(withKaggle).toHaveLength(15);
    expect(Object.keys(KAGGLE_CLASS_IDS)).toHaveLength(15);
    expect(findLabel(VINDR_CXR_TAXONOMY, 'Nodule/Mass')?.kaggleClassId).toBe(8);
    expect(findLabel(VINDR_CXR_TAXONOMY, 'Pulmonary fibrosis')?.kaggleClassId).toBe(13);
    expect(findLabel(VINDR_CXR_TAXONOMY, 'No finding')?.kaggleClassId).toBe(14);
    expect(findLabel(VINDR_CXR_TAXONOMY, 'Clavicle fracture')?.kaggleClassId).toBeUndefined();
  });

  it('round-trips through JSON and parseTaxonomy', () => {
    const r = parseTaxonomy(JSON.parse(JSON.stringify(VINDR_CXR_TAXONOMY)));
    expect(r).toEqual({ ok: true, taxonomy: VINDR_CXR_TAXONOMY });
  });
});

describe('parseTaxonomy', () => {
  it('accepts the short form with Kaggle ids and a custom No-finding label', () => {
    const r = parseTaxonomy({ version: 'p1', localLabels: ['Nodule', 'Effusion'], globalLabels: ['Normal', 'TB'], noFinding: 'Normal', kaggleClassIds: { Nodule: 0 } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.taxonomy.labels.map((l) => [l.id, l.name, l.kind])).toEqual([
      [0, 'Nodule', 'local'],
      [1, 'Effusion', 'local'],
      [2, 'Normal', 'global'],
      [3, 'TB', 'global'],
    ]);
    expect(r.taxonomy.labels[0].kaggleClassId).toBe(0);
    expect(r.taxonomy.noFinding).toBe('Normal');
  });

  it('reports every problem with a path and code', () => {
    const r = parseTaxonomy({
      version: '',
      labels: [
        { name: 'Nodule', kind: 'local' },
        { name: ' nodule', kind: 'local' },
        { name: 'COPD', kind: 'global' },
        { name: 'copd', kind: 'local' },
        { name: 'X', kind: 'area' },
        { name: 'Y', kind: 'local', kaggleClassId: 1 },
        { name: 'Z', kind: 'local', kaggleClassId: 1 },
      ],
      colour: 'red',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const got = r.problems.map((p) => `${p.path}:${p.code}`);
    expect(got).toEqual(
      expect.arrayContaining([
        'colour:unknown-field',
        'version:invalid-type',
        'labels[1]:duplicate-label',
        'labels[3]:label-both-local-and-global',
        'labels[4].kind:invalid-value',
        'labels[6]:duplicate-kaggle-class-id',
        'noFinding:missing-no-finding',
      ]),
    );
    expect(r.problems.every((p) => p.message.length > 0)).toBe(true);
  });

  it('rejects empty sets, non-objects, and local/global overlap in the short form', () => {
    expect(parseTaxonomy({ version: 'v', labels: [] })).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.objectContaining({ code: 'empty-taxonomy' })]) });
    expect(parseTaxonomy({ version: 'v', localLabels: [], globalLabels: [] })).toMatchObject({
      ok: false,
      problems: expect.arrayContaining([expect.objectContaining({ code: 'empty-taxonomy' })]),
    });
    expect(parseTaxonomy(null)).toEqual({ ok: false, problems: [{ path: '', code: 'invalid-type', message: 'taxonomy must be a JSON object' }] });
    const r = parseTaxonomy({ version: 'v', localLabels: ['ILD', 'Mass'], globalLabels: ['Mass', 'No finding'] });
    expect(r).toMatchObject({ ok: false, problems: [{ path: 'globalLabels[0]', code: 'label-both-local-and-global' }] });
    expect(parseTaxonomy({ version: 'v', localLabels: ['ILD'], globalLabels: ['No finding'], kaggleClassIds: { Foo: 1 } })).toMatchObject({
      ok: false,
      problems: [{ path: 'kaggleClassIds.Foo', code: 'unknown-label' }],
    });
    expect(parseTaxonomy({ version: 'v', localLabels: ['No finding'], globalLabels: ['TB'] })).toMatchObject({
      ok: false,
      problems: expect.arrayContaining([expect.objectContaining({ code: 'no-finding-not-global' })]),
    });
  });

  it('checks a serialised taxonomy for consistency between labels and its derived lists', () => {
    const json = JSON.parse(JSON.stringify(VINDR_CXR_TAXONOMY));
    json.localLabels = json.localLabels.slice(1);
    expect(parseTaxonomy(json)).toMatchObject({ ok: false, problems: [{ path: 'localLabels', code: 'inconsistent' }] });
  });
});

describe('labelsOutside', () => {
  it('names the box labels that are not box labels and the image-level labels that are not image-level ones, sorted, once', () => {
    const reading = {
      boxes: [
        { label: 'Cardiomegaly' },
        { label: 'Boot-shaped heart' },
        { label: 'Boot-shaped heart' },
        // An image-level label drawn as a box is outside too: the files have no box column for it.
        { label: 'Pneumonia' },
      ],
      globalLabels: ['Other diseases', 'Bronchiolitis', 'Aortic enlargement'],
    };
    expect(labelsOutside(VINDR_CXR_TAXONOMY, reading)).toEqual(['Aortic enlargement', 'Boot-shaped heart', 'Bronchiolitis', 'Pneumonia']);
    expect(labelsOutside(VINDR_CXR_TAXONOMY, { boxes: [{ label: 'Nodule/Mass' }], globalLabels: ['No finding'] })).toEqual([]);
    expect(labelsOutside(VINDR_CXR_TAXONOMY, { boxes: [], globalLabels: [] })).toEqual([]);
  });
});
