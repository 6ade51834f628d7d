/** The workflows bundle: every workflow the ReadFlow worker runs. */
export { scanLifecycle } from './scan-lifecycle';
export { ingestBatch } from './ingest-batch';
export { releaseDataset } from './release-dataset';
