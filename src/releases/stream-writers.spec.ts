import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import type { FusedRecord, ReaderRecord } from '../domain';
import { VINDR_CXR_TAXONOMY, parseTaxonomy } from '../domain';
import { writeCocoJson, writeCsv, writeKaggleTrainCsv, writeVindrAnnotationsCsv, writeVindrImageLabelsCsv } from './stream-writers';

function sink(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
  return { out, text: () => Buffer.concat(chunks).toString('utf8') };
}

const records: ReaderRecord[] = [
  { imageId: 'img1', readerId: 'rad01', reading: { boxes: [{ label: 'Nodule/Mass', x_min: 10, y_min: 20.5, x_max: 30, y_max: 40 }, { label: 'Clavicle fracture', x_min: 1, y_min: 2, x_max: 3, y_max: 4 }], globalLabels: ['COPD'] } },
  { imageId: 'img1', readerId: 'rad02', reading: { boxes: [], globalLabels: ['No finding'] } },
];

async function* slowly<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    await new Promise((r) => setImmediate(r));
    yield item;
  }
}

describe('CSV writers', () => {
  it('writes annotations_{split}.csv from an async source', async () => {
    const { out, text } = sink();
    await writeVindrAnnotationsCsv(slowly(records), out, VINDR_CXR_TAXONOMY);
    expect(text()).toBe(
      'image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n' +
        'img1,rad01,Nodule/Mass,10,20.5,30,40\n' +
        'img1,rad01,Clavicle fracture,1,2,3,4\n' +
        'img1,rad02,No finding,,,,\n',
    );
  });

  it('writes image_labels_{split}.csv with one 0/1 column per label in taxonomy order', async () => {
    const { out, text } = sink();
    await writeVindrImageLabelsCsv(records, out, VINDR_CXR_TAXONOMY);
    const rows = parse(text()) as string[][];
    expect(rows[0]).toEqual(['image_id', 'rad_id', ...VINDR_CXR_TAXONOMY.labels.map((l) => l.name)]);
    const col = (name: string) => rows[0].indexOf(name);
    expect(rows[1][col('Nodule/Mass')]).toBe('1');
    expect(rows[1][col('Clavicle fracture')]).toBe('1');
    expect(rows[1][col('COPD')]).toBe('1');
    expect(rows[1][col('No finding')]).toBe('0');
    expect(rows[1].filter((v) => v === '1')).toHaveLength(3);
    expect(rows[2][col('No finding')]).toBe('1');
    expect(rows[2].slice(2).filter((v) => v === '1')).toHaveLength(1);
  });

  it('writes Kaggle train.csv: class ids, No finding as 14 with empty box, unmapped labels skipped or mapped', async () => {
    const a = sink();
    await writeKaggleTrainCsv(records, a.out, VINDR_CXR_TAXONOMY);
    expect(a.text()).toBe(
      'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n' + 'img1,Nodule/Mass,8,rad01,10,20.5,30,40\n' + 'img1,No finding,14,rad02,,,,\n',
    );
    const b = sink();
    await writeKaggleTrainCsv(records, b.out, VINDR_CXR_TAXONOMY, { mapUnmappedTo: 'Other lesion' });
    expect(b.text()).toContain('img1,Other lesion,9,rad01,1,2,3,4\n');
  });

  it('quotes commas, quotes and newlines through csv-stringify (round-trips with csv-parse)', async () => {
    const parsed = parseTaxonomy({ version: 'v', localLabels: ['Mass, "large"'], globalLabels: ['No finding'] });
    if (!parsed.ok) throw new Error('taxonomy');
    const rec: ReaderRecord = { imageId: 'id\nwith newline', readerId: 'rad,03', reading: { boxes: [{ label: 'Mass, "large"', x_min: 0, y_min: 0, x_max: 1, y_max: 1 }], globalLabels: [] } };
    const { out, text } = sink();
    await writeVindrAnnotationsCsv([rec], out, parsed.taxonomy);
    expect(text()).toContain('"Mass, ""large"""');
    expect(parse(text())).toEqual([
      ['image_id', 'rad_id', 'class_name', 'x_min', 'y_min', 'x_max', 'y_max'],
      ['id\nwith newline', 'rad,03', 'Mass, "large"', '0', '0', '1', '1'],
    ]);
  });

  it('streams a large source with back-pressure without materialising it', async () => {
    let produced = 0;
    function* many(): Generator<string[]> {
      for (let i = 0; i < 50000; i++) {
        produced++;
        yield [`img${i}`, 'x'];
      }
    }
    const out = new PassThrough({ highWaterMark: 1024 });
    const done = writeCsv(['a', 'b'], many(), out);
    await new Promise((r) => setTimeout(r, 50));
    // Nobody reads `out` yet: the generator must have been paused far before the end.
    expect(produced).toBeLessThan(50000);
    let bytes = 0;
    out.on('data', (c: Buffer) => (bytes += c.length));
    await done;
    expect(produced).toBe(50000);
    expect(bytes).toBeGreaterThan(50000 * 6);
  });
});

describe('writeCocoJson', () => {
  it('writes valid COCO with categories, images and [x, y, w, h] boxes, reading the source twice', async () => {
    const fused: FusedRecord[] = [
      { imageId: 'a', rows: 2000, columns: 1500, fused: { boxes: [{ label: 'Nodule/Mass', x_min: 10, y_min: 20, x_max: 40, y_max: 60, score: 1, readerIds: ['r1', 'r2', 'r3'] }], globalLabels: ['COPD'], method: 'wbf' } },
      { imageId: 'b', rows: 100, columns: 100, fused: { boxes: [], globalLabels: ['No finding'], method: 'wbf' } },
      { imageId: 'c', rows: 100, columns: 100, fused: { boxes: [{ label: 'ILD', x_min: 0, y_min: 0, x_max: 5, y_max: 5, score: 2 / 3, readerIds: ['r1', 'r2'] }], globalLabels: [], method: 'wbf' } },
    ];
    let opened = 0;
    const { out, text } = sink();
    await writeCocoJson(() => (opened++, slowly(fused)), out, VINDR_CXR_TAXONOMY);
    expect(opened).toBe(2);
    const coco = JSON.parse(text());
    expect(coco.categories).toHaveLength(22);
    expect(coco.categories[15]).toEqual({ id: 16, name: 'Nodule/Mass', supercategory: 'finding' });
    expect(coco.images).toEqual([
      { id: 1, file_name: 'a.dicom', width: 1500, height: 2000, image_id: 'a', global_labels: ['COPD'] },
      { id: 2, file_name: 'b.dicom', width: 100, height: 100, image_id: 'b', global_labels: ['No finding'] },
      { id: 3, file_name: 'c.dicom', width: 100, height: 100, image_id: 'c', global_labels: [] },
    ]);
    expect(coco.annotations).toEqual([
      { id: 1, image_id: 1, category_id: 16, bbox: [10, 20, 30, 40], area: 1200, iscrowd: 0, score: 1 },
      { id: 2, image_id: 3, category_id: 10, bbox: [0, 0, 5, 5], area: 25, iscrowd: 0, score: 2 / 3 },
    ]);
  });

  it('rejects a fused box whose label is not a box label', async () => {
    const bad: FusedRecord[] = [{ imageId: 'a', rows: 10, columns: 10, fused: { boxes: [{ label: 'COPD', x_min: 0, y_min: 0, x_max: 1, y_max: 1, score: 1, readerIds: ['r'] }], globalLabels: [], method: 'wbf' } }];
    await expect(writeCocoJson(() => bad, new PassThrough().resume(), VINDR_CXR_TAXONOMY)).rejects.toThrow(/not a box label/);
  });
});
