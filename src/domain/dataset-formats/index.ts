/** Pure dataset formats: VinDr-CXR and Kaggle CSV row mappers and COCO JSON chunk generators (no I/O; the streaming adapter is src/api/dataset-exports/stream-writers.ts). */
export * from './records';
export * from './vindr';
export * from './kaggle';
export * from './coco';
