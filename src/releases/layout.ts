/**
 * The on-disk layout of a dataset release, as VinDr-CXR published its files:
 *
 * ```
 * releases/<version>/
 *   train/<image_id>.dicom            test/<image_id>.dicom
 *   annotations/annotations_train.csv annotations/image_labels_train.csv
 *   annotations/annotations_test.csv  annotations/image_labels_test.csv
 *   README.md  manifest.json  SHA256SUMS
 * ```
 *
 * A release is built in `releases/.staging/<version>/` and published by one directory rename, so a reader never sees
 * a partial release; a published directory is never written again.
 */
import * as path from 'node:path';

import type { VindrSplit } from '../domain';

/** Semantic version `MAJOR.MINOR.PATCH` (digits only). */
export const RELEASE_VERSION = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;

/** Orders versions numerically (1.10.0 after 1.9.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

export const CHECKSUMS_FILE = 'SHA256SUMS';
export const README_FILE = 'README.md';
export const MANIFEST_FILE = 'manifest.json';

/** Relative path of an image in a release. */
export function imagePath(split: VindrSplit, imageId: string): string {
  return `${split}/${imageId}.dicom`;
}

/** Relative paths of a split's two CSVs. */
export function csvPaths(split: VindrSplit): { annotations: string; imageLabels: string } {
  return { annotations: `annotations/annotations_${split}.csv`, imageLabels: `annotations/image_labels_${split}.csv` };
}

/** Published directory of a version. */
export function releaseDir(root: string, version: string): string {
  return path.join(root, version);
}

/** Where a version is built before it is published. */
export function stagingDir(root: string, version: string): string {
  return path.join(root, '.staging', version);
}

/**
 * A relative path inside a release, checked: no absolute paths, no `..`, no hidden (dot) segments. Returns the
 * normalised path or undefined.
 */
export function safeReleasePath(rel: string): string | undefined {
  if (rel.length === 0 || rel.length > 200 || rel.includes('\0') || rel.includes('\\')) return undefined;
  const norm = path.posix.normalize(rel);
  if (norm.startsWith('/') || norm.split('/').some((s) => s === '..' || s.startsWith('.') || s === '')) return undefined;
  return norm;
}
