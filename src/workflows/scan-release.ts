/**
 * Fusion and release: once the readings are in, the fused proposal and the agreement (pure domain rules, in the
 * workflow); at the end, `fusing` → `released` with the fused result, the final labels and the agreement.
 *
 * May import: `src/domain`, and `import type` of the scan state.
 */
import type { ReaderReading } from '../domain';
import { compareStrings, fuseReadings, fusedToReading, scanAgreement } from '../domain';
import type { ScanState } from './scan-state';

/** Fixes the readers' readings and computes the fused proposal and the agreement. */
export function fuse(s: ScanState): void {
  const readings: ReaderReading[] = s
    .submittedReadings()
    .map((t) => ({ readerId: t.readerId, reading: t.reading! }))
    .sort((a, b) => compareStrings(a.readerId, b.readerId));
  s.fusedReadings = readings;
  s.fused = fuseReadings(readings, s.policy.fusion, s.image!, s.taxonomy);
  s.agreement = scanAgreement(readings, { flagBelow: s.policy.agreementFlagBelow, taxonomy: s.taxonomy });
}

/** `fusing` → `released`: writes the fused result, the final labels (the confirmed review, else the fused proposal) and the agreement. */
export async function release(s: ScanState): Promise<void> {
  const fused = s.fused!;
  await s.projection.setStage('fusing', {
    detail: { method: fused.method, boxes: fused.boxes.length, globalLabels: fused.globalLabels, overall: s.agreement?.overall },
  });
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
