/** Injection tokens for the dependencies `createApiApp` is given (nothing else is constructed from the environment). */
export const CONFIG = Symbol('readflow.config');
export const TEMPORAL_CLIENT = Symbol('readflow.temporalClient');
export const BLOB_STORE = Symbol('readflow.blobStore');
export const LOGGER = Symbol('readflow.logger');
export const DATA_SOURCE = Symbol('readflow.dataSource');
export const TEMPORAL_GATEWAY_OPTIONS = Symbol('readflow.temporalGatewayOptions');
/** The PNG preview renderer (src/dicom/render-pool.ts): worker threads unless a test hands another. */
export const PREVIEW_RENDERER = Symbol('readflow.previewRenderer');
