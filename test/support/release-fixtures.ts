/**
 * Released scans for the release tests: a real film ingested (validated and de-identified by the ingest activities),
 * then stored as a released scan with every reader's reading and the final (consensus) labels, as a finished
 * campaign leaves them in Postgres.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { DataSource } from 'typeorm';

import { createIngestActivities } from '../../src/activities/ingest.activities';
import { stageIncoming } from '../../src/ingest/stage-incoming';
import type { LocalBlobStore } from '../../src/storage/blob-store';
import { CXR_DIR, dicomVariant } from './workflow-harness';

/** A real frontal chest film (COVID-19 collection, PA). */
export const RELEASE_FILM = path.join(
  CXR_DIR,
  '1.3.6.1.4.1.11129.5.5.110503645592756492463169821050252582267888.dcm',
);

export interface ReleasedScan {
  scanId: string;
  imageId: string;
  split: 'train' | 'test';
}

/**
 * Ingests variant `n` of the film and stores it as a released scan of `split`: each of `readers` read it (the last
 * one `No finding`, the others a Cardiomegaly box and `Other diseases`), and its final labels are one box with
 * `Other diseases`.
 */
export async function seedReleasedScan(o: {
  ds: DataSource;
  store: LocalBlobStore;
  deidSecret: string;
  tag: string;
  n: number;
  split: 'train' | 'test';
  readers: readonly string[];
}): Promise<ReleasedScan> {
  const { ds, store, deidSecret, split, readers, n } = o;
  const deps = { dataSource: ds, store, deidSecret, maxDicomBytes: 64 * 1024 * 1024 };
  const ingest = createIngestActivities(deps);
  const staged = await stageIncoming(deps, dicomVariant(readFileSync(RELEASE_FILM), o.tag, n));
  await ingest.validateScan({ scanId: staged.scanId, sourceKey: staged.sourceKey });
  const d = await ingest.deidentifyScan({ scanId: staged.scanId, sourceKey: staged.sourceKey });
  await ds.query(
    `INSERT INTO scans (id, image_id, split, policy, stage, rows, columns, deidentified_key, released_at)
     VALUES ($1, $2, $3, $4, 'released', $5, $6, $7, now())`,
    [
      staged.scanId,
      d.imageId,
      split,
      split === 'test' ? 'consensus-5' : 'independent-3',
      d.image.rows,
      d.image.columns,
      d.deidentifiedKey,
    ],
  );
  for (const [slot, reader] of readers.entries()) {
    const task = randomUUID();
    const last = slot === readers.length - 1;
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at, submitted_at) VALUES ($1, $2, $3, 'reader', $4, 'submitted', now(), now(), now())`,
      [task, staged.scanId, reader, slot],
    );
    const boxes = last
      ? []
      : [
          {
            label: 'Cardiomegaly',
            x_min: 100.123 + n,
            y_min: 200.456,
            x_max: 592.6066666666667,
            y_max: 700 + slot,
          },
        ];
    await ds.query(
      `INSERT INTO readings (task_id, scan_id, reader_id, role, boxes, global_labels, submitted_at) VALUES ($1, $2, $3, 'reader', $4, $5, now())`,
      [
        task,
        staged.scanId,
        reader,
        JSON.stringify(boxes),
        JSON.stringify(last ? ['No finding'] : ['Other diseases']),
      ],
    );
  }
  const final = {
    boxes: [{ label: 'Cardiomegaly', x_min: 100.5, y_min: 200.456, x_max: 592.6066666666667, y_max: 700.5 }],
    globalLabels: ['Other diseases'],
  };
  await ds.query(
    `INSERT INTO scan_results (scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at)
     VALUES ($1, 'wbf', '[]', '[]', $2, $3, $4, now())`,
    [
      staged.scanId,
      JSON.stringify(final.boxes),
      JSON.stringify(final.globalLabels),
      JSON.stringify({ overall: 0.75, flagged: false }),
    ],
  );
  return { scanId: staged.scanId, imageId: d.imageId, split };
}
