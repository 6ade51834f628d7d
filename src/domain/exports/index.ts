/** Pure exporters (row mappers and JSON chunk generators); the I/O adapter lives in `src/exports`. */
export * from './records';
export * from './vindr';
export * from './kaggle';
export * from './coco';
