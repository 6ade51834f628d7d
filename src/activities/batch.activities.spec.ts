import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ApplicationFailure } from '@temporalio/common';

import { fixture, TEST_SECRET } from '../../test/fixtures/dicom/corpus';
import { LocalBlobStore } from '../storage/blob-store';
import { createBatchActivities, IMPORT_PATH_REFUSED } from './batch.activities';

describe('batch activities: paths are confined to the import directory', () => {
  let tmp: string;
  let importDir: string;
  let outside: string;
  let store: LocalBlobStore;
  let act: ReturnType<typeof createBatchActivities>;
  const film = fixture('cxr/dicom_00000001_000.dcm');

  beforeEach(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'batch-spec-'));
    importDir = path.join(tmp, 'import');
    outside = path.join(tmp, 'outside');
    mkdirSync(path.join(importDir, 'sub'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(importDir, 'sub', 'film.dcm'), film);
    writeFileSync(path.join(outside, 'secret.dcm'), film);
    writeFileSync(path.join(outside, 'notes.txt'), 'private');
    symlinkSync(path.join(outside, 'secret.dcm'), path.join(importDir, 'link-out.dcm'));
    symlinkSync(outside, path.join(importDir, 'dir-out'));
    symlinkSync(path.join(importDir, 'sub', 'film.dcm'), path.join(importDir, 'link-in.dcm'));
    store = new LocalBlobStore(path.join(tmp, 'storage'));
    act = createBatchActivities({ store, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26, importDir });
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const incoming = (): string[] => {
    try {
      return readdirSync(path.join(tmp, 'storage', 'incoming'));
    } catch {
      return [];
    }
  };

  it('stages files inside the import directory, by absolute or relative path (resolved against it)', async () => {
    const abs = await act.stageBatchFile({ path: path.join(importDir, 'sub', 'film.dcm'), batchId: 'b' });
    expect(abs).toMatchObject({ ok: true, scanId: expect.stringMatching(/^scan-/) });
    expect(abs).not.toHaveProperty('filename'); // the name stays in the restricted originals store
    expect(await act.stageBatchFile({ path: 'sub/film.dcm', batchId: 'b' })).toEqual(abs);
    // A symlink to a file inside the import directory is fine.
    expect(await act.stageBatchFile({ path: 'link-in.dcm', batchId: 'b' })).toMatchObject({ ok: true, scanId: abs.ok ? abs.scanId : '' });
  });

  it.each([
    ['an absolute path elsewhere', '/etc/passwd'],
    ['a missing absolute path elsewhere (no hint whether it exists)', '/nonexistent/readflow/x.dcm'],
    ['a relative path climbing out', '../outside/secret.dcm'],
    ['.. inside an absolute path', 'IMPORT/sub/../../outside/secret.dcm'],
    ['a symlink pointing out', 'link-out.dcm'],
    ['a file under a symlinked directory pointing out', 'dir-out/secret.dcm'],
  ])('refuses %s and reads nothing', async (_what, p) => {
    const file = p.replace('IMPORT', importDir);
    const r = await act.stageBatchFile({ path: file, batchId: 'b' });
    expect(r).toMatchObject({ ok: false, path: file, reason: 'outside-import-dir', detail: expect.stringContaining('is not inside the import directory') });
    expect(incoming()).toEqual([]);
  });

  it('reports a missing file inside the import directory as unreadable, and refuses everything without an import directory', async () => {
    expect(await act.stageBatchFile({ path: 'sub/missing.dcm', batchId: 'b' })).toMatchObject({ ok: false, reason: 'unreadable' });
    expect(await act.stageBatchFile({ path: 'sub', batchId: 'b' })).toMatchObject({ ok: false, reason: 'not-a-file' });
    const unconfigured = createBatchActivities({ store, deidSecret: TEST_SECRET, maxDicomBytes: 1 << 26 });
    expect(await unconfigured.stageBatchFile({ path: path.join(importDir, 'sub', 'film.dcm'), batchId: 'b' })).toMatchObject({
      ok: false,
      reason: 'outside-import-dir',
      detail: expect.stringMatching(/READFLOW_IMPORT_DIR/),
    });
  });

  it('lists directories inside the import directory only (never following symlinks)', async () => {
    expect(await act.listBatchFiles({ directory: importDir, offset: 0, limit: 10 })).toEqual({ files: [path.join(importDir, 'sub', 'film.dcm')], done: true });
    expect(await act.listBatchFiles({ directory: 'sub', offset: 0, limit: 10 })).toEqual({ files: [path.join(importDir, 'sub', 'film.dcm')], done: true });
    for (const directory of ['/etc', outside, '..', 'dir-out', path.join(importDir, 'sub', '..', '..')]) {
      const err = await act.listBatchFiles({ directory, offset: 0, limit: 10 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).toMatchObject({ type: IMPORT_PATH_REFUSED, nonRetryable: true });
    }
    await expect(act.listBatchFiles({ directory: 'missing', offset: 0, limit: 10 })).rejects.toMatchObject({ type: 'InvalidManifest', nonRetryable: true });
  });
});
