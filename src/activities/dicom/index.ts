export { inspectDicom } from './inspect';
export type { InspectResult } from './inspect';
export { scanIdFor, imageIdFor, deriveUid, sopInstanceUidHash } from './uids';
export { DEFAULT_ACCEPTANCE, PERMISSIVE_ACCEPTANCE } from './acceptance';
export type { AcceptanceRule } from './acceptance';
export { SUPPORTED_TRANSFER_SYNTAXES } from './transfer-syntax';
export { QUARANTINE_REASONS, isQuarantineReason } from './types';
export type { ImageMeta, QuarantineReason } from './types';
