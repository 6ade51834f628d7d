import type { FusedResult } from '../domain/fusion';
import { fuseReadings } from '../domain/fusion';
import { DEFAULT_POLICIES } from '../domain/policy';
import type { Reading } from '../domain/reading';
import { VINDR_CXR_TAXONOMY } from '../domain/taxonomy';
import { Rng } from './random';
import type { ReaderNoise, Truth } from './truth';
import { drawNoise, drawTruth, noisyReading } from './truth';

/** One simulated training scan: its truth, three readers' noisy readings and their fusion (independent-3). */
export interface SimulatedScan {
  index: number;
  rows: number;
  columns: number;
  truth: Truth;
  readings: { readerId: string; reading: Reading; readSeconds: number }[];
  fused: FusedResult;
}

export interface CalibrationCampaignOptions {
  seed: string;
  scans: number;
  readerIds: readonly string[];
  /** Noise level of every reader (drawNoise's `level`; 1 = the simulator's default). */
  noiseLevel: number;
  /** The reader made biased: calls true boxes by `label` with probability `labelBias` (the simulator's label bias). */
  biased?: { readerId: string; label: string; labelBias: number };
  readersPerScan?: number;
}

/**
 * A seeded campaign with the simulator's ground truth and reader noise model (src/simulate/truth.ts), fused as the
 * scan workflow fuses an `independent-3` scan. Readers are assigned round-robin from a seeded start, so each reads
 * about the same number of scans. The biased reader, if any, keeps the rest of its noise but confuses true boxes
 * with `biased.label` at `biased.labelBias`; every other reader's own label confusion is switched off, so the
 * biased one is the only reader with a systematic label shift.
 */
export function simulateCalibrationCampaign(o: CalibrationCampaignOptions): { scans: SimulatedScan[]; noise: Map<string, ReaderNoise> } {
  const rng = new Rng(o.seed);
  const per = o.readersPerScan ?? 3;
  const noise = new Map<string, ReaderNoise>();
  for (const id of o.readerIds) {
    const n = drawNoise(rng.fork(`noise:${id}`), o.noiseLevel);
    noise.set(id, o.biased?.readerId === id ? { ...n, labelBias: o.biased.labelBias, biasLabel: o.biased.label } : { ...n, labelBias: 0 });
  }
  const fusion = DEFAULT_POLICIES['independent-3'].fusion;
  const scans: SimulatedScan[] = [];
  for (let i = 0; i < o.scans; i++) {
    const rows = 2048;
    const columns = 2048;
    const truth = drawTruth(rng, rows, columns);
    const start = rng.int(0, o.readerIds.length - 1);
    const readers = Array.from({ length: per }, (_, k) => o.readerIds[(start + k) % o.readerIds.length]);
    const readings = readers.map((readerId) => ({
      readerId,
      reading: noisyReading(truth, noise.get(readerId)!, rng, rows, columns),
      readSeconds: Math.round(60 + rng.float() * 240),
    }));
    const fused = fuseReadings(
      readings.map((r) => ({ readerId: r.readerId, reading: r.reading })),
      fusion,
      { rows, columns },
      VINDR_CXR_TAXONOMY,
    );
    scans.push({ index: i, rows, columns, truth, readings, fused });
  }
  return { scans, noise };
}
