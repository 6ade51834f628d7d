/**
 * Fusion and release: once the readings are in, the fused proposal and the agreement (pure domain rules, in the
 * workflow); at the end, `fusing` → `released` with the fused result, the final labels and the agreement.
 *
 * May import: `src/domain`, `./patches`, and `import type` of the scan state.
 */

import type { ReaderReading } from '../domain';
import { compareStrings, fuseAdaptive, fuseReadings, fusedToReading, fusionSettingsFor, scanAgreement } from '../domain';
import { ADAPTIVE_KEEP_SETTLED, MERGED_PROJECTION_STEPS } from './patches';
import type { ScanState } from './scan-state';

/** Fixes the readers' readings (all of them, an adaptive extension's included) and computes the fused proposal and the agreement. */
export function fuse(s: ScanState): void {
  const readings: ReaderReading[] = s
    .submittedReadings()
    .map((t) => ({ readerId: t.readerId, reading: t.reading! }))
    .sort((a, b) => compareStrings(a.readerId, b.readerId));
  s.fusedReadings = readings;
  // An extended adaptive scan fuses all its readings with the extended quorum; any other scan with its policy's.
  const extended = s.extension?.extended === true;
  // Since ADAPTIVE_KEEP_SETTLED, an extended scan whose policy keeps what its first readers settled also keeps those findings.
  s.fused =
    extended && s.policy.adaptive?.keepSettled === true && s.has(ADAPTIVE_KEEP_SETTLED)
      ? fuseAdaptive(readings, s.policy, true, s.extension!.measuredReaders, s.image!, s.taxonomy)
      : fuseReadings(readings, fusionSettingsFor(s.policy, extended), s.image!, s.taxonomy);
  s.agreement = scanAgreement(readings, { flagBelow: s.policy.agreementFlagBelow, taxonomy: s.taxonomy });
}

/** `fusing` → `released`: writes the fused result, the final labels (the confirmed review, else the fused proposal) and the agreement. */
export async function release(s: ScanState): Promise<void> {
  const fused = s.fused!;
  const merged = s.has(MERGED_PROJECTION_STEPS);
  await s.projection.setStage('fusing', {
    detail: {
      method: fused.method,
      boxes: fused.boxes.length,
      globalLabels: fused.globalLabels,
      overall: s.agreement?.overall,
      // Adaptive scans only (other scans' events stay as recorded): how many readings were fused, with which quorum.
      ...(s.extension ? { extended: s.extension.extended, readings: s.fusedReadings!.length, quorum: fusionSettingsFor(s.policy, s.extension.extended).quorum } : {}),
    },
    // Since MERGED_PROJECTION_STEPS: written with the release that follows at once.
    ...(merged ? { withNext: true as const } : {}),
  });
  // The scan shows `fusing` until Postgres has every earlier step (the last readings, during an outage), as when the
  // move to `fusing` was a write of its own.
  if (merged) await s.projection.idle();
  const final = s.final ?? fusedToReading(fused);
  s.final = final;
  const releasedAt = s.now();
  s.releasedAt = releasedAt;
  await s.projection.setStage('released', {
    detail: { finalBoxes: final.boxes.length, finalGlobalLabels: final.globalLabels, reviewRounds: s.reviewRound },
    scan: { releasedAt: s.iso(releasedAt), attentionReason: null },
    result: {
      scanId: s.scanId,
      method: fused.method,
      fusedBoxes: fused.boxes,
      fusedGlobalLabels: fused.globalLabels,
      finalBoxes: final.boxes,
      finalGlobalLabels: final.globalLabels,
      agreement: { ...s.agreement!, readers: s.fusedReadings!.map((r) => r.readerId) },
      releasedAt: s.iso(releasedAt),
    },
  });
}
