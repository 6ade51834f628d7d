/**
 * The README of a release: what it holds (counts per label and split, readers per scan, policies, agreement), how
 * it was read and checked, and what changed since the previous version. Deterministic: no dates, fixed order.
 */
import type { Taxonomy, VindrSplit } from '../domain';
import { VINDR_SPLITS } from '../domain';
import type { Changes, SplitStats } from './builder';
import { CHECKSUMS_FILE, csvPaths, MANIFEST_FILE } from './layout';

export interface ReadmeInput {
  version: string;
  taxonomy: Taxonomy;
  stats: Partial<Record<VindrSplit, SplitStats>>;
  changes: Changes;
  verifier: string;
}

const LIST_AT_MOST = 50;

function listed(ids: string[]): string {
  if (ids.length === 0) return 'none';
  const shown = ids.slice(0, LIST_AT_MOST).map((i) => `\`${i}\``).join(', ');
  return ids.length > LIST_AT_MOST ? `${ids.length}: ${shown}, … (all in ${MANIFEST_FILE})` : `${ids.length}: ${shown}`;
}

const sortedEntries = (r: Record<string, number>): [string, number][] =>
  Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function renderReadme(input: ReadmeInput): string {
  const { version, taxonomy, stats, changes } = input;
  const splits = VINDR_SPLITS.filter((s) => stats[s] !== undefined);
  const lines: string[] = [];
  lines.push(`# ReadFlow chest X-ray dataset, version ${version}`, '');
  lines.push(
    'De-identified chest radiographs (DICOM, PS3.15 Basic Application Level Confidentiality Profile) with radiologists\' labels, ' +
      'in the layout of the VinDr-CXR release:',
    '',
  );
  for (const s of splits) {
    const p = csvPaths(s);
    lines.push(`- \`${s}/<image_id>.dicom\` — ${stats[s]!.images} images; \`${p.annotations}\`, \`${p.imageLabels}\``);
  }
  lines.push(`- \`${MANIFEST_FILE}\` — every file with its SHA-256 and the change list; \`${CHECKSUMS_FILE}\` — \`sha256sum -c ${CHECKSUMS_FILE}\``, '');
  lines.push('## Labels', '');
  lines.push(`Taxonomy \`${taxonomy.version}\`: ${taxonomy.localLabels.length} box labels and ${taxonomy.globalLabels.length} image-level labels.`);
  lines.push(
    '`train`: one row set per reader (`rad_id` is the reader\'s stable pseudonym R1…Rn, the same in every version). ' +
      '`test`: the final labels of each image (the consensus for consensus-5 scans), without `rad_id`; its labels file spells ' +
      '`Other disease` as the VinDr-CXR release does. Coordinates are pixels of the DICOM image, rounded to 2 decimals.',
    '',
  );
  lines.push(`| label | kind | ${splits.map((s) => `${s} images`).join(' | ')} |`);
  lines.push(`| --- | --- | ${splits.map(() => '---:').join(' | ')} |`);
  for (const l of taxonomy.labels) lines.push(`| ${l.name} | ${l.kind} | ${splits.map((s) => stats[s]!.imagesPerLabel[l.name] ?? 0).join(' | ')} |`);
  lines.push('');
  lines.push('## Reading', '');
  for (const s of splits) {
    const st = stats[s]!;
    const policies = sortedEntries(st.policies).map(([p, n]) => `${p}: ${n}`).join(', ') || 'none';
    lines.push(`### ${s}`, '');
    lines.push(`- images: ${st.images}; boxes: ${st.boxes}`);
    lines.push(`- reading policies: ${policies}`);
    if (s === 'train') lines.push(`- readers per scan: ${sortedEntries(st.readersPerScan).map(([k, n]) => `${k} readers: ${n} scans`).join(', ') || 'none'}`);
    lines.push(`- agreement (mean overall inter-reader agreement): ${st.meanAgreement === null ? 'n/a' : st.meanAgreement.toFixed(3)}; scans flagged for review: ${st.flaggedForReview}`);
    lines.push('');
  }
  lines.push('## Changes', '');
  if (changes.previousVersion === null) lines.push('First release.');
  else {
    lines.push(`Since ${changes.previousVersion}:`, '');
    lines.push(`- images added: ${listed(changes.imagesAdded)}`);
    lines.push(`- images removed: ${listed(changes.imagesRemoved)}`);
    lines.push(`- labels changed: ${listed(changes.labelsChanged)}`);
    lines.push(`- moved to another split: ${listed(changes.splitChanged)}`);
  }
  lines.push('');
  lines.push('## Checks', '');
  lines.push(
    `Before publication every DICOM file was checked (${input.verifier}): it is the de-identified file, its pixel data are ` +
      'identical to it, and it carries no UID and no identifying value of its source; every image has its labels; every ' +
      'pseudonym is the one the reader had in earlier versions.',
    '',
  );
  return lines.join('\n');
}
