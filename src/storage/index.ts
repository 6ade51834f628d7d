export * from './blob-store';
export * from './atomic-file';
