import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';

import { fixture, TEST_SECRET, tinyPng } from '../../test/fixtures/dicom/corpus';
import { LocalBlobStore } from '../storage/blob-store';
import { stageIncoming } from '../ingest/stage-incoming';
import { createIngestActivities, QUARANTINED_INPUT } from './ingest.activities';

describe('ingest activities (fake database)', () => {
  let root: string;
  let store: LocalBlobStore;
  const queries: unknown[][] = [];
  const dataSource = { query: async (...args: unknown[]) => queries.push(args) } as unknown as DataSource;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'ingest-spec-'));
    store = new LocalBlobStore(root);
    queries.length = 0;
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('stageIncoming never throws on bad input and derives the scan id from the sha256', async () => {
    for (const data of [Buffer.alloc(0), tinyPng(), Buffer.from('not dicom at all')]) {
      const s = await stageIncoming({ store, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 20 }, data);
      expect(s.sopInstanceUid).toBeUndefined();
      expect(s.scanId).toMatch(/^scan-[0-9a-f]{24}$/);
      expect((await store.get('incoming', s.sourceKey)).equals(data)).toBe(true);
    }
  });

  it('records a quarantine (upsert on sha256) and throws a non-retryable QuarantinedInput', async () => {
    const act = createIngestActivities({ store, dataSource, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26 });
    const s = await stageIncoming({ store, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26 }, fixture('valid/CT_small.dcm'), 'ct.dcm');
    const err = await act.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey, filename: 'ct.dcm' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: QUARANTINED_INPUT, nonRetryable: true, details: [{ reason: 'not-chest-radiograph' }] });
    expect(queries).toHaveLength(1);
    expect(String(queries[0][0])).toMatch(/ON CONFLICT \(sha256\)/);
    expect(queries[0][1]).toEqual([s.sha256, s.scanId, 'ct.dcm', 'not-chest-radiograph', expect.any(String), String(s.sha256 && fixture('valid/CT_small.dcm').length)]);
    expect(await store.stat('quarantine', s.sha256)).not.toBeNull();
  });

  it('requires a secret', () => {
    expect(() => createIngestActivities({ store, dataSource, deidSecret: '', maxDicomBytes: 1 })).toThrow(/deidSecret/);
  });
});
