/** The workflows bundle: every workflow the ReadFlow worker runs (see README.md for the modules behind them). */
export { scanLifecycle } from './scan-lifecycle';
export { ingestBatch } from './ingest-batch';
export { releaseDataset } from './release-dataset';
export { goldScan } from './gold-scan';
export { goldScheduler } from './gold-scheduler';
export { capacitySweeper } from './capacity-sweeper';
