/**
 * The custom search attributes of ReadFlow's workflows, declared once: the scan workflow upserts them
 * (`scan-projection.ts`), the dev server and the namespace setup register them (`SEARCH_ATTRIBUTE_CLI_ARGS`).
 *
 * May import: `@temporalio/common`.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The scan being processed (equals the workflow id for scan workflows). */
export const SCAN_ID = defineSearchAttributeKey('ScanId', SearchAttributeType.KEYWORD);
/** Lifecycle stage: ingesting, deidentifying, assigning, reading, reviewing, fusing, released, … */
export const STAGE = defineSearchAttributeKey('Stage', SearchAttributeType.KEYWORD);
/** Dataset split: train or test. */
export const SPLIT = defineSearchAttributeKey('Split', SearchAttributeType.KEYWORD);
/** Readers currently holding an open task on the scan. */
export const READERS = defineSearchAttributeKey('Readers', SearchAttributeType.KEYWORD_LIST);
/** True while any open task is past its deadline. */
export const OVERDUE = defineSearchAttributeKey('Overdue', SearchAttributeType.BOOL);

/**
 * Adaptive policies (`adaptive-3-5`): set once the first readings are in; true when the scan got more readers
 * (`ReadingExtended=true` in the Temporal UI; `Extended` is a keyword of SQL visibility's query parser), false when its readers agreed. Unset for other policies.
 */
export const EXTENDED = defineSearchAttributeKey('ReadingExtended', SearchAttributeType.BOOL);

/** Every custom search attribute ReadFlow registers on its namespace. */
export const SEARCH_ATTRIBUTES = [SCAN_ID, STAGE, SPLIT, READERS, OVERDUE, EXTENDED] as const;

/** The `temporal` CLI's name of each search attribute type (`--search-attribute Name=Type`). */
const CLI_TYPE_NAMES = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
} as const satisfies Record<SearchAttributeType, string>;

/** `Name=Type` pairs for `temporal server start-dev --search-attribute` and `temporal operator search-attribute create`. */
export const SEARCH_ATTRIBUTE_CLI_ARGS: readonly string[] = SEARCH_ATTRIBUTES.map((k) => `${k.name}=${CLI_TYPE_NAMES[k.type]}`);
