/**
 * src/domain/dataset-formats — pure dataset formats: VinDr-CXR and Kaggle CSV row mappers, COCO JSON chunk generators,
 * and the label sets an export carries (`LABEL_SETS`). No I/O: the streaming adapter is src/releases/stream-writers.ts.
 * May import: the rest of src/domain only (lint-enforced).
 */
export * from './records';
export * from './vindr';
export * from './kaggle';
export * from './coco';
