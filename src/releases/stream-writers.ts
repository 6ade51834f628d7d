/**
 * Streaming writers for the dataset exports: the pure row mappers of `src/domain/dataset-formats` piped
 * through `csv-stringify` (RFC 4180 quoting) into any Writable, with back-pressure and without
 * holding the dataset in memory. Each writer ends `out` when done (pipeline semantics).
 */
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { CocoExportOptions, FusedRecord, KaggleExportOptions, ReaderRecord, Taxonomy, VindrSplit } from '../domain';
import {
  cocoJsonChunks,
  kaggleTrainHeader,
  kaggleTrainRowsFor,
  vindrAnnotationRowsFor,
  vindrAnnotationsHeader,
  vindrImageLabelsHeader,
  vindrImageLabelsRowFor,
} from '../domain';

/** A record source: an array, a generator, or an async iterable (e.g. a database cursor). */
export type RecordSource<T> = Iterable<T> | AsyncIterable<T>;

async function* rowsOf<T>(header: string[], records: RecordSource<T>, toRows: (r: T) => string[][]): AsyncGenerator<string[]> {
  yield header;
  for await (const record of records) yield* toRows(record);
}

/** Writes a header and rows as CSV to `out` using csv-stringify. */
export async function writeCsv(header: string[], rows: RecordSource<string[]>, out: Writable): Promise<void> {
  await pipeline(Readable.from(rowsOf(header, rows, (r) => [r])), stringify(), out);
}

/** Writes VinDr-CXR `annotations_{layout}.csv` (`train`: per reader with rad_id; `test`: consensus, no rad_id). */
export async function writeVindrAnnotationsCsv(
  records: RecordSource<ReaderRecord>,
  out: Writable,
  taxonomy: Taxonomy,
  layout: VindrSplit = 'train',
): Promise<void> {
  await pipeline(Readable.from(rowsOf(vindrAnnotationsHeader(layout), records, (r) => vindrAnnotationRowsFor(r, taxonomy, layout))), stringify(), out);
}

/** Writes VinDr-CXR `image_labels_{layout}.csv` (`test`: no rad_id, the release's `Other disease` spelling). */
export async function writeVindrImageLabelsCsv(
  records: RecordSource<ReaderRecord>,
  out: Writable,
  taxonomy: Taxonomy,
  layout: VindrSplit = 'train',
): Promise<void> {
  await pipeline(
    Readable.from(rowsOf(vindrImageLabelsHeader(taxonomy, layout), records, (r) => [vindrImageLabelsRowFor(r, taxonomy, layout)])),
    stringify(),
    out,
  );
}

/** Writes Kaggle VinBigData `train.csv`. */
export async function writeKaggleTrainCsv(
  records: RecordSource<ReaderRecord>,
  out: Writable,
  taxonomy: Taxonomy,
  opts: KaggleExportOptions = {},
): Promise<void> {
  await pipeline(Readable.from(rowsOf(kaggleTrainHeader(), records, (r) => kaggleTrainRowsFor(r, taxonomy, opts))), stringify(), out);
}

/** Writes COCO detection JSON of fused labels; `open` is called twice (images, then annotations). */
export async function writeCocoJson(
  open: () => RecordSource<FusedRecord>,
  out: Writable,
  taxonomy: Taxonomy,
  opts: CocoExportOptions = {},
): Promise<void> {
  await pipeline(Readable.from(cocoJsonChunks(open, taxonomy, opts), { objectMode: false }), out);
}
