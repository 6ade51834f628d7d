/**
 * Lifecycle stages of a scan, in order of the happy path, then the side exits. The one list used by the
 * workflow (`Stage` search attribute, `status` query), the `scans.stage` column and the API's filters.
 */
export const SCAN_STAGES = [
  'ingesting',
  'deidentifying',
  'assigning',
  'waiting-for-readers',
  'reading',
  'reviewing',
  'fusing',
  'released',
  'quarantined',
  'needs-attention',
  'cancelled',
] as const;

export type ScanStage = (typeof SCAN_STAGES)[number];

/** Stages a scan never leaves: where `scanLifecycle` ends. */
export const FINAL_STAGES = ['released', 'quarantined', 'cancelled'] as const satisfies readonly ScanStage[];
export type FinalStage = (typeof FINAL_STAGES)[number];
