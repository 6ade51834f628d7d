/**
 * COCO detection JSON of fused labels, produced as a stream of text chunks.
 *
 * COCO keeps `images` and `annotations` in two separate arrays, so the builder takes a function that
 * opens the record source and reads it twice (images, then annotations) instead of holding the dataset
 * in memory. Both passes must yield the same records in the same order.
 */
import type { Taxonomy } from '../taxonomy';
import type { FusedRecord } from './records';

/** Options of the COCO export. */
export interface CocoExportOptions {
  /** `file_name` of an image; default `${imageId}.dicom`. */
  fileName?: (imageId: string) => string;
  /** Free-form `info` object. */
  info?: Record<string, unknown>;
}

/** COCO categories of a taxonomy's box labels: id = label id + 1 (COCO ids start at 1). */
export function cocoCategories(taxonomy: Taxonomy): { id: number; name: string; supercategory: string }[] {
  return taxonomy.labels.filter((l) => l.kind === 'local').map((l) => ({ id: l.id + 1, name: l.name, supercategory: 'finding' }));
}

type Source<T> = Iterable<T> | AsyncIterable<T>;

/**
 * Yields the COCO JSON document in chunks (one per image / annotation). Images carry `width`
 * (= columns), `height` (= rows), the original `image_id` and the fused `global_labels`; annotations carry
 * `bbox: [x, y, w, h]`, `area`, `iscrowd: 0` and the fused `score`.
 *
 * @throws RangeError when a fused box has a label that is not a box label of the taxonomy.
 */
export async function* cocoJsonChunks(
  open: () => Source<FusedRecord>,
  taxonomy: Taxonomy,
  opts: CocoExportOptions = {},
): AsyncGenerator<string> {
  const fileName = opts.fileName ?? ((id: string) => `${id}.dicom`);
  const categoryIds = new Map(cocoCategories(taxonomy).map((c) => [c.name, c.id]));
  const info = opts.info ?? { description: `ReadFlow fused labels (${taxonomy.version})` };
  yield `{"info":${JSON.stringify(info)},"categories":${JSON.stringify(cocoCategories(taxonomy))},"images":[`;
  let imageId = 0;
  for await (const r of open()) {
    imageId++;
    const image = { id: imageId, file_name: fileName(r.imageId), width: r.columns, height: r.rows, image_id: r.imageId, global_labels: r.fused.globalLabels };
    yield (imageId > 1 ? ',' : '') + JSON.stringify(image);
  }
  yield '],"annotations":[';
  imageId = 0;
  let annotationId = 0;
  for await (const r of open()) {
    imageId++;
    for (const b of r.fused.boxes) {
      const category = categoryIds.get(b.label);
      if (category === undefined) throw new RangeError(`fused box label "${b.label}" (image ${r.imageId}) is not a box label of ${taxonomy.version}`);
      annotationId++;
      const w = b.x_max - b.x_min;
      const h = b.y_max - b.y_min;
      const ann = { id: annotationId, image_id: imageId, category_id: category, bbox: [b.x_min, b.y_min, w, h], area: w * h, iscrowd: 0, score: b.score };
      yield (annotationId > 1 ? ',' : '') + JSON.stringify(ann);
    }
  }
  yield ']}';
}
