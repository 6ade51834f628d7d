import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';

import { deflateBomb, fixture, leakyChest, TEST_SECRET, tinyPng } from '../../test/fixtures/dicom/corpus';
import { LocalBlobStore } from '../storage/blob-store';
import { tesseractTextCheck } from '../ingest/burned-in-text';
import { originalNameKey, stageIncoming } from '../ingest/stage-incoming';
import { BURNED_IN_TEXT_CHECK_UNAVAILABLE, createIngestActivities, QUARANTINED_INPUT } from './ingest.activities';

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
    // The file name is not recorded (it may identify the patient): only the restricted originals store has it.
    expect(queries[0][1]).toEqual([s.sha256, s.scanId, 'not-chest-radiograph', expect.any(String), String(fixture('valid/CT_small.dcm').length)]);
    expect(JSON.stringify(queries)).not.toContain('ct.dcm');
    expect(await store.stat('quarantine', s.sha256)).not.toBeNull();
    expect(JSON.parse((await store.get('originals', originalNameKey(s.sha256))).toString())).toEqual({ sha256: s.sha256, names: ['ct.dcm'] });
  });

  it('quarantines a deflate bomb in the worker with its reason (streamed inflate stops at the limit)', async () => {
    const act = createIngestActivities({ store, dataSource, deidSecret: TEST_SECRET, maxDicomBytes: 64 << 20, burnedInText: false });
    const s = await stageIncoming({ store, deidSecret: TEST_SECRET, maxDicomBytes: 64 << 20 }, deflateBomb(4096));
    expect(s.sopInstanceUid).toBe('1.2.3.4.5.6.7.8.66'); // staging read the file meta only
    const err = await act.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: QUARANTINED_INPUT, nonRetryable: true, details: [{ reason: 'decompression-limit' }] });
    expect(await store.stat('quarantine', s.sha256)).not.toBeNull();
    expect(await store.stat('incoming', s.sourceKey)).toBeNull();
  });

  describe('burned-in text (real OCR: tesseract)', () => {
    it('quarantines a chest CR without BurnedInAnnotation whose pixels carry a name, a birth date and an MRN; passes the clean one', async () => {
      const ocr = tesseractTextCheck();
      const act = createIngestActivities({ store, dataSource, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26, burnedInText: ocr });
      const deps = { store, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26 };
      const withText = await stageIncoming(deps, leakyChest({ burnedIn: true, size: 512 }));
      const err = await act.validateScan({ scanId: withText.scanId, sourceKey: withText.sourceKey }).catch((e: unknown) => e);
      expect(err).toMatchObject({ type: QUARANTINED_INPUT, nonRetryable: true, details: [{ reason: 'burned-in-annotation' }] });
      expect(JSON.stringify(err)).not.toMatch(/DOE|JOHN|1965|555/i);
      const clean = await stageIncoming(deps, leakyChest({ size: 512 }));
      await expect(act.validateScan({ scanId: clean.scanId, sourceKey: clean.sourceKey })).resolves.toMatchObject({ sizeBytes: expect.any(Number) });
      expect(ocr.calls()).toBe(2);
    });

    it('an OCR engine that cannot run fails the activity (retryable), never the scan', async () => {
      const act = createIngestActivities({ store, dataSource, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26, burnedInText: tesseractTextCheck({ tesseract: '/nonexistent/tesseract' }) });
      const s = await stageIncoming({ store, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26 }, leakyChest({ size: 64 }));
      const err = await act.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey }).catch((e: unknown) => e);
      expect(err).toMatchObject({ type: BURNED_IN_TEXT_CHECK_UNAVAILABLE, nonRetryable: false });
      expect(queries).toHaveLength(0);
      expect(await store.stat('incoming', s.sourceKey)).not.toBeNull();
    });
  });

  it('requires a secret', () => {
    expect(() => createIngestActivities({ store, dataSource, deidSecret: '', maxDicomBytes: 1 })).toThrow(/deidSecret/);
  });
});
