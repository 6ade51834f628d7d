import { VINDR_CXR_TAXONOMY } from '../taxonomy';
import { cocoJsonChunks } from './coco';
import { kaggleTrainRows } from './kaggle';
import type { FusedRecord, ReaderRecord } from './records';
import { formatCoordinate, formatNumber } from './records';
import { vindrAnnotationRows, vindrAnnotationsHeader, vindrImageLabelRows, vindrImageLabelsHeader } from './vindr';

const rec = (imageId: string, readerId: string, labels: string[], boxes: ReaderRecord['reading']['boxes'] = []): ReaderRecord => ({
  imageId,
  readerId,
  reading: { boxes, globalLabels: labels },
});

describe('pure exporters', () => {
  it('are lazy generators: rows are produced one record at a time', () => {
    const pulled: string[] = [];
    function* source(): Generator<ReaderRecord> {
      for (const id of ['a', 'b', 'c']) {
        pulled.push(id);
        yield rec(id, 'rad01', ['No finding']);
      }
    }
    const it = vindrAnnotationRows(source(), VINDR_CXR_TAXONOMY);
    expect(it.next().value).toEqual(['a', 'rad01', 'No finding', '', '', '', '']);
    expect(pulled).toEqual(['a']);
  });

  it('image labels follow taxonomy order with 28 label columns', () => {
    expect(vindrImageLabelsHeader(VINDR_CXR_TAXONOMY)).toHaveLength(30);
    const [row] = [...vindrImageLabelRows([rec('a', 'rad05', ['Tuberculosis'], [{ label: 'Aortic enlargement', x_min: 1, y_min: 1, x_max: 2, y_max: 2 }])], VINDR_CXR_TAXONOMY)];
    expect(row.slice(0, 3)).toEqual(['a', 'rad05', '1']);
    expect(row[2 + 25]).toBe('1'); // Tuberculosis is label id 25
    expect(row.filter((v) => v === '1')).toHaveLength(2);
  });

  it('Kaggle rows leave out global labels other than No finding', () => {
    expect([...kaggleTrainRows([rec('a', 'rad01', ['COPD'])], VINDR_CXR_TAXONOMY)]).toEqual([]);
    expect(() => [...kaggleTrainRows([rec('a', 'rad01', ['COPD'])], VINDR_CXR_TAXONOMY, { mapUnmappedTo: 'Edema' })]).toThrow(/no Kaggle class id/);
  });

  it('annotations follow the release column order, test files carry no rad_id and round to 2 decimals', () => {
    expect(vindrAnnotationsHeader()).toEqual(['image_id', 'rad_id', 'class_name', 'x_min', 'y_min', 'x_max', 'y_max']);
    expect(vindrAnnotationsHeader('test')).toEqual(['image_id', 'class_name', 'x_min', 'y_min', 'x_max', 'y_max']);
    const box = { label: 'Cardiomegaly', x_min: 592.6066666666667, y_min: 691, x_max: 1034.504, y_max: 1200.996 };
    expect([...vindrAnnotationRows([rec('a', 'R7', [], [box])], VINDR_CXR_TAXONOMY)]).toEqual([['a', 'R7', 'Cardiomegaly', '592.61', '691', '1034.5', '1201']]);
    expect([...vindrAnnotationRows([rec('a', 'consensus', ['No finding'])], VINDR_CXR_TAXONOMY, 'test')]).toEqual([['a', 'No finding', '', '', '', '']]);
  });

  it('the test labels file has no rad_id and spells "Other disease" as the release does', () => {
    const train = vindrImageLabelsHeader(VINDR_CXR_TAXONOMY);
    const test = vindrImageLabelsHeader(VINDR_CXR_TAXONOMY, 'test');
    expect(train).toContain('Other diseases');
    expect(test[0]).toBe('image_id');
    expect(test).not.toContain('rad_id');
    expect(test).toContain('Other disease');
    expect(test).toHaveLength(29);
    const [row] = [...vindrImageLabelRows([rec('a', 'consensus', ['Other diseases'])], VINDR_CXR_TAXONOMY, 'test')];
    expect(row[test.indexOf('Other disease')]).toBe('1');
  });

  it('formatCoordinate rounds to 2 decimals and never writes -0', () => {
    expect(formatCoordinate(592.6066666666667)).toBe('592.61');
    expect(formatCoordinate(-0.001)).toBe('0');
    expect(() => formatCoordinate(Infinity)).toThrow(RangeError);
  });

  it('formatNumber refuses non-finite numbers', () => {
    expect(formatNumber(1034.5)).toBe('1034.5');
    expect(() => formatNumber(NaN)).toThrow(RangeError);
  });

  it('COCO chunks concatenate to valid JSON for an empty dataset and a sync source', async () => {
    const chunks: string[] = [];
    for await (const c of cocoJsonChunks(() => [] as FusedRecord[], VINDR_CXR_TAXONOMY, { info: { year: 2024 } })) chunks.push(c);
    expect(JSON.parse(chunks.join(''))).toMatchObject({ info: { year: 2024 }, images: [], annotations: [] });
  });
});
