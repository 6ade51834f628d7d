/**
 * A full file store: an upload gets a clear 507 problem (not a 500), nothing half-written stays behind, nothing is
 * started, and the same upload succeeds once space is freed. The store is a real 2 MiB tmpfs (needs root to mount; where
 * mounting is not allowed the test is reported as skipped, never passed).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { LocalBlobStore } from '../../src/storage/blob-store';
import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';
import { dicomVariant, NIH_CXR, readFixture, seedTestRoster, uniqueTag } from '../support/workflow-harness';

const dir = mkdtempSync(join(tmpdir(), 'readflow-full-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  process.stderr.write(`[storage-full] cannot mount a tmpfs (${String(err).split('\n')[0]}): test skipped\n`);
}
const describeMounted = mounted ? describe : describe.skip;

/** Every file under the store (temp files included). */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describeMounted('uploads into a full file store', () => {
  let h: ApiHarness;
  let manager: string;

  beforeAll(async () => {
    h = await startApiHarness({ deps: { store: new LocalBlobStore(join(dir, 'store')) } });
    await seedTestRoster(h.ds);
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
  });

  afterAll(async () => {
    await h?.close();
    if (mounted) execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 507 with a problem document, keeps nothing half-written, and accepts the same upload once space is freed', async () => {
    const film = dicomVariant(readFixture(NIH_CXR), uniqueTag(), 1);
    // Fill the filesystem (a few KiB may stay free: less than the film).
    const filler = join(dir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    const before = filesUnder(dir);

    const full = await h.http().post('/api/v1/scans').set(h.bearer(manager)).attach('file', film, 'film.dcm').field('split', 'train');
    expect(full.status).toBe(507);
    expect(full.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(full.body).toMatchObject({ status: 507, title: 'Insufficient Storage' });
    expect(full.body.type).toMatch(/insufficient-storage$/);
    expect(full.body.detail).toMatch(/file store is full/);
    // No temp file or partial blob left behind (the store's writes are temp file + rename).
    expect(filesUnder(dir)).toEqual(before);

    rmSync(filler);
    const ok = await h.http().post('/api/v1/scans').set(h.bearer(manager)).attach('file', film, 'film.dcm').field('split', 'train');
    expect(ok.status).toBe(202);
    expect(ok.body.scanId).toMatch(/^scan-[0-9a-f]{24}$/);
  });
});
