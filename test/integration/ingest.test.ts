/**
 * Ingest activities against a real Postgres (the run's migrated database) and a LocalBlobStore in a temp dir:
 * staging, validation, de-identification, quarantine rows and files, idempotency, failures Temporal will not retry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { DataSource } from 'typeorm';

import { PERMISSIVE_ACCEPTANCE, scanIdFor } from '../../src/dicom';
import { parseDicomBytes } from '../../src/dicom/parse';
import { createIngestActivities, mappingKey, QUARANTINED_INPUT } from '../../src/activities/ingest.activities';
import { originalNameKey, stageIncoming } from '../../src/ingest/stage-incoming';
import { ensureDefaultRoster, eventually, freshCxr, startApiHarness } from '../support/api-harness';
import type { ApiHarness } from '../support/api-harness';
import type { IngestDeps } from '../../src/activities/ingest.activities';
import { QuarantinedInputEntity } from '../../src/db/entities';
import { LocalBlobStore } from '../../src/storage/blob-store';
import type { StoreArea } from '../../src/storage/blob-store';
import { fixture, mutate, rng, syntheticChest, tinyPng } from '../fixtures/dicom/corpus';
import { openTestDataSource, testConfig } from '../support/services';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function expectQuarantined(p: Promise<unknown>, reason: string): Promise<ApplicationFailure> {
  const err = await p.then(
    () => {
      throw new Error('expected a QuarantinedInput failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const f = err as ApplicationFailure;
  expect(f.type).toBe(QUARANTINED_INPUT);
  expect(f.nonRetryable).toBe(true);
  expect(f.details?.[0]).toMatchObject({ reason });
  return f;
}

describe('ingest activities (Postgres + local blob store)', () => {
  let ds: DataSource;
  let root: string;
  let deps: IngestDeps;
  let act: ReturnType<typeof createIngestActivities>;

  beforeAll(async () => {
    ds = await openTestDataSource();
    root = mkdtempSync(path.join(tmpdir(), 'ingest-'));
    const cfg = testConfig();
    // OCR (burned-in text) is tested in src/activities/ingest.activities.spec.ts and below, through the API.
    deps = { store: new LocalBlobStore(root), dataSource: ds, deidSecret: cfg.deidSecret, maxDicomBytes: cfg.maxDicomBytes, burnedInText: false };
    act = createIngestActivities(deps);
  });
  afterAll(async () => {
    await ds?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  const rows = (sha256: string) => ds.getRepository(QuarantinedInputEntity).findBy({ sha256 });

  it('stages, validates and de-identifies a chest radiograph; retries give the same keys and files', async () => {
    const data = fixture('cxr/RG1_J2KI.dcm');
    const staged = await stageIncoming(deps, data, 'RG1_J2KI.dcm');
    expect(staged.sourceKey).toBe(sha(data));
    expect(staged.sopInstanceUid).toBe('1.3.6.1.4.1.5962.1.1.9.1.3.20040826185059.5457');
    expect(staged.scanId).toBe(scanIdFor({ sopInstanceUid: staged.sopInstanceUid, sha256: staged.sha256 }, deps.deidSecret));
    expect(await stageIncoming(deps, data)).toEqual(staged);

    const env = new MockActivityEnvironment();
    const v = await env.run(act.validateScan, { scanId: staged.scanId, sourceKey: staged.sourceKey, filename: 'RG1_J2KI.dcm' });
    expect(v).toEqual({ sopInstanceUidHash: expect.stringMatching(/^[0-9a-f]{64}$/), transferSyntax: '1.2.840.10008.1.2.4.91', sizeBytes: data.length });
    expect(JSON.stringify(v)).not.toContain(staged.sopInstanceUid);
    expect((await deps.store.get('originals', staged.sha256)).equals(data)).toBe(true);
    expect(await deps.store.stat('incoming', staged.sourceKey)).toBeNull();

    const d1: Awaited<ReturnType<typeof act.deidentifyScan>> = await env.run(act.deidentifyScan, { scanId: staged.scanId, sourceKey: staged.sourceKey });
    const d2 = await act.deidentifyScan({ scanId: staged.scanId, sourceKey: staged.sourceKey });
    expect(d2).toEqual(d1);
    expect(d1.imageId).toMatch(/^[0-9a-f]{32}$/);
    expect(d1.deidentifiedKey).toBe(`${d1.imageId}.dcm`);
    expect(d1.image).toMatchObject({ rows: 1955, columns: 1841, modality: 'CR', viewPosition: 'PA', photometricInterpretation: 'MONOCHROME1' });
    expect(readdirSync(path.join(root, 'deidentified'))).toEqual([d1.deidentifiedKey]);

    const out = await deps.store.get('deidentified', d1.deidentifiedKey);
    const text = out.toString('latin1');
    for (const v of ['CompressedSamples^RG1', staged.sopInstanceUid!]) expect(text).not.toContain(v);
    const mapping = JSON.parse((await deps.store.get('originals', mappingKey(staged.scanId))).toString('utf8'));
    expect(mapping).toMatchObject({ scanId: staged.scanId, imageId: d1.imageId, deidentifiedKey: d1.deidentifiedKey, sourceUids: { sop: staged.sopInstanceUid } });
    expect(parseDicomBytes(out).dataSet.string('x00080018')).toBe(mapping.newUids.sop);
  });

  it('the same SOP Instance UID with different bytes yields the same scan id', async () => {
    const a = syntheticChest([], { sop: '1.2.826.0.1.99.1' });
    const b = Buffer.concat([a, Buffer.alloc(0)]);
    b.write('Roe^Jane', b.indexOf('Doe^Jane'), 'latin1');
    const sa = await stageIncoming(deps, a);
    const sb = await stageIncoming(deps, b);
    expect(sa.sha256).not.toBe(sb.sha256);
    expect(sb.scanId).toBe(sa.scanId);
  });

  it('quarantines non-DICOM input once, keeps its bytes, and fails without retry', async () => {
    const png = tinyPng();
    const staged = await stageIncoming(deps, png, 'scan.dcm');
    expect(staged.sopInstanceUid).toBeUndefined();
    expect(staged.scanId).toBe(scanIdFor({ sha256: sha(png) }, deps.deidSecret));
    const input = { scanId: staged.scanId, sourceKey: staged.sourceKey, filename: 'scan.dcm' };
    await expectQuarantined(act.validateScan(input), 'not-dicom');
    await expectQuarantined(act.validateScan(input), 'not-dicom');
    await expectQuarantined(act.deidentifyScan(input), 'not-dicom');
    const r = await rows(sha(png));
    expect(r).toHaveLength(1);
    // The file name is not recorded (it may identify the patient).
    expect(r[0]).toMatchObject({ scanId: staged.scanId, filename: null, reason: 'not-dicom', sizeBytes: String(png.length) });
    expect((await deps.store.get('quarantine', sha(png))).equals(png)).toBe(true);
    expect(await deps.store.stat('incoming', staged.sourceKey)).toBeNull();
  });

  it('quarantines by acceptance rule with a machine-readable reason', async () => {
    const cases: [string, Buffer, string][] = [
      ['dx_image.dcm', fixture('valid/dx_image.dcm'), 'not-chest-radiograph'],
      ['MR_truncated.dcm', fixture('malformed/MR_truncated.dcm'), 'truncated'],
      ['meta_missing_tsyntax.dcm', fixture('malformed/meta_missing_tsyntax.dcm'), 'missing-required-attribute:(0002,0010)'],
    ];
    for (const [name, data, reason] of cases) {
      const s = await stageIncoming(deps, data, name);
      await expectQuarantined(act.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey, filename: name }), reason);
      expect(await rows(s.sha256)).toEqual([expect.objectContaining({ reason, filename: null })]);
    }
    // The quarantine detail names the failing check: the dog's lateral thorax film is refused for its view.
    const dx = await rows(sha(fixture('valid/dx_image.dcm')));
    expect(dx[0].detail).toMatch(/^view LATERAL \(ViewPosition absent; AcquisitionDeviceProcessingDescription \(0018,1400\) is "CANINE LATERAL THORAX 0-15cm"\) is not one of PA$/);
  });

  it('refuses files over the size cap before reading them, moving their bytes to quarantine', async () => {
    const small = createIngestActivities({ ...deps, maxDicomBytes: 4096 });
    const data = fixture('cxr/dicom_00000001_000.dcm');
    const s = await stageIncoming(deps, data);
    const getSpy = jest.spyOn(deps.store, 'get');
    await expectQuarantined(small.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey }), 'too-large');
    expect(getSpy).not.toHaveBeenCalledWith('incoming', s.sourceKey); // streamed, never read whole
    getSpy.mockRestore();
    expect(await rows(s.sha256)).toEqual([expect.objectContaining({ reason: 'too-large', sizeBytes: String(data.length), detail: `${data.length} bytes exceeds the cap of 4096` })]);
    expect((await deps.store.get('quarantine', s.sha256)).equals(data)).toBe(true);
    expect(await deps.store.stat('incoming', s.sourceKey)).toBeNull();
    // A retry (or the de-identification) after the move reports the same quarantine.
    await expectQuarantined(small.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey }), 'too-large');
    await expectQuarantined(small.deidentifyScan({ scanId: s.scanId, sourceKey: s.sourceKey }), 'too-large');
  });

  describe('incoming/ is a transit area (retries at every step)', () => {
    const unique = (): Buffer => syntheticChest([], { sop: `1.2.826.0.1.77.${BigInt(`0x${randomBytes(8).toString('hex')}`)}` });
    const stat = (area: StoreArea, key: string) => deps.store.stat(area, key);

    it('validateScan moves the bytes to originals/; retries of both activities work without the incoming copy', async () => {
      const data = unique();
      const s = await stageIncoming(deps, data, 'chest.dcm');
      const input = { scanId: s.scanId, sourceKey: s.sourceKey, filename: 'chest.dcm' };
      const v1 = await act.validateScan(input);
      expect(await stat('incoming', s.sourceKey)).toBeNull();
      expect((await deps.store.get('originals', s.sha256)).equals(data)).toBe(true);
      // A retry of validateScan (its first attempt completed but the result was lost) and of deidentifyScan.
      expect(await act.validateScan(input)).toEqual(v1);
      const d1 = await act.deidentifyScan({ scanId: s.scanId, sourceKey: s.sourceKey });
      expect(await act.deidentifyScan({ scanId: s.scanId, sourceKey: s.sourceKey })).toEqual(d1);
      expect(await stat('incoming', s.sourceKey)).toBeNull();
      expect(await stat('deidentified', d1.deidentifiedKey)).not.toBeNull();
    });

    it('a crash between keeping the original and deleting the incoming copy: the retry finishes the move', async () => {
      const data = unique();
      const s = await stageIncoming(deps, data);
      await deps.store.put('originals', data); // what the crashed attempt did
      await act.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey });
      expect(await stat('incoming', s.sourceKey)).toBeNull();
      expect((await deps.store.get('originals', s.sha256)).equals(data)).toBe(true);
    });

    it('deidentifyScan reads originals/ by the sha256 (the incoming copy is not needed) and tidies a stale one', async () => {
      const data = unique();
      const s = await stageIncoming(deps, data);
      await act.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey });
      const getSpy = jest.spyOn(deps.store, 'get');
      const d = await act.deidentifyScan({ scanId: s.scanId, sourceKey: s.sourceKey });
      expect(getSpy.mock.calls.filter(([area]) => area !== 'originals')).toEqual([]);
      getSpy.mockRestore();
      expect(d.imageId).toMatch(/^[0-9a-f]{32}$/);
      // Staged, not validated: de-identification takes the incoming copy and keeps it as the original.
      const other = unique();
      const t = await stageIncoming(deps, other);
      await act.deidentifyScan({ scanId: t.scanId, sourceKey: t.sourceKey });
      expect(await stat('incoming', t.sourceKey)).toBeNull();
      expect((await deps.store.get('originals', t.sha256)).equals(other)).toBe(true);
    });

    it('refused input: bytes in quarantine/ only; a crash before the quarantine record is repaired by the retry', async () => {
      const junk = Buffer.concat([Buffer.from('not a scan '), randomBytes(64)]);
      const s = await stageIncoming(deps, junk, 'junk.dcm');
      const input = { scanId: s.scanId, sourceKey: s.sourceKey, filename: 'junk.dcm' };
      await expectQuarantined(act.validateScan(input), 'not-dicom');
      expect(await stat('incoming', s.sourceKey)).toBeNull();
      expect(await stat('originals', s.sha256)).toBeNull();
      expect((await deps.store.get('quarantine', s.sha256)).equals(junk)).toBe(true);

      // The crashed attempt stored the bytes in quarantine/ and deleted incoming/ but wrote no record.
      const other = Buffer.concat([Buffer.from('not a scan either '), randomBytes(64)]);
      const t = await stageIncoming(deps, other);
      await deps.store.put('quarantine', other, { key: t.sha256 });
      await deps.store.delete('incoming', t.sourceKey);
      await expectQuarantined(act.validateScan({ scanId: t.scanId, sourceKey: t.sourceKey, filename: 'x.dcm' }), 'not-dicom');
      expect(await rows(t.sha256)).toEqual([expect.objectContaining({ reason: 'not-dicom', filename: null })]);
    });

    it('a refusal by deidentifyScan also leaves no incoming copy', async () => {
      // Accepted by a permissive validation, refused by the default de-identification rule (a lateral DX, flag NO).
      const data = fixture('valid/dx_image.dcm');
      const s = await stageIncoming(deps, data);
      await createIngestActivities({ ...deps, acceptance: PERMISSIVE_ACCEPTANCE }).validateScan({ scanId: s.scanId, sourceKey: s.sourceKey });
      await deps.store.put('incoming', data); // as left behind by an older worker
      await expectQuarantined(act.deidentifyScan({ scanId: s.scanId, sourceKey: s.sourceKey }), 'not-chest-radiograph');
      expect(await stat('incoming', s.sourceKey)).toBeNull();
      expect(await stat('quarantine', s.sha256)).not.toBeNull();
    });
  });

  it('reports a missing source as a non-retryable SourceMissing failure', async () => {
    for (const run of [act.validateScan, act.deidentifyScan]) {
      await expect(run({ scanId: 'scan-000000000000000000000000', sourceKey: 'f'.repeat(64) })).rejects.toMatchObject({
        type: 'SourceMissing',
        nonRetryable: true,
      });
    }
  });

  it('fuzz: 300 mutated inputs each end de-identified or quarantined (never another error)', async () => {
    const permissive = createIngestActivities({ ...deps, acceptance: PERMISSIVE_ACCEPTANCE });
    const sources = [fixture('valid/CT_small.dcm'), fixture('valid/MR_small_implicit.dcm'), fixture('valid/image_dfl.dcm'), syntheticChest()];
    const r = rng(99);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const m = mutate(sources[i % sources.length], r);
      const s = await stageIncoming(deps, m.data);
      let outcome: string;
      try {
        await permissive.validateScan({ scanId: s.scanId, sourceKey: s.sourceKey });
        const d = await permissive.deidentifyScan({ scanId: s.scanId, sourceKey: s.sourceKey });
        expect(await deps.store.stat('deidentified', d.deidentifiedKey)).not.toBeNull();
        outcome = 'deidentified';
      } catch (e) {
        if (!(e instanceof ApplicationFailure) || e.type !== QUARANTINED_INPUT) throw new Error(`${m.how}: ${String(e)}`);
        expect(await rows(s.sha256)).toHaveLength(1);
        outcome = 'quarantined';
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    expect(outcomes.deidentified).toBeGreaterThan(10);
    expect(outcomes.quarantined).toBeGreaterThan(10);
  });
});

/** Every payload of a workflow's history, decoded (payload data is base64 JSON in the history's JSON form). */
async function historyText(h: ApiHarness, workflowId: string): Promise<string> {
  const history = await h.temporal.client.workflow.getHandle(workflowId).fetchHistory();
  // Payload data (JSON bytes) as text.
  return JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
}

describe('file names carry identity: an upload named after the patient (API + worker + Temporal)', () => {
  let h: ApiHarness;
  let manager: string;
  const NAME = 'DOE_JOHN_MRN555.dcm';
  beforeAll(async () => {
    h = await startApiHarness({ worker: true });
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    await ensureDefaultRoster(h.ds);
  });
  afterAll(async () => h?.close());

  const upload = async (bytes: Buffer): Promise<string> => {
    const res = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').attach('file', bytes, NAME).expect(202);
    return res.body.scanId as string;
  };
  const stage = async (scanId: string): Promise<string | undefined> =>
    (await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager)))?.body?.stage as string | undefined;

  it('is in neither the audit trail, the quarantine list nor the workflow history; only in the restricted originals store', async () => {
    const good = freshCxr();
    const broken = freshCxr().subarray(0, 4096);
    const accepted = await upload(good);
    const quarantined = await upload(broken);
    await eventually(async () => ((await stage(quarantined)) === 'quarantined' ? true : undefined), 60_000, 'quarantine');
    await eventually(async () => (['reading', 'assigning', 'needs-attention'].includes((await stage(accepted)) ?? '') ? true : undefined), 90_000, 'accepted scan past ingest');
    try {
      for (const scanId of [accepted, quarantined]) {
        const audit = (await h.ds.query(`SELECT action, detail::text AS detail FROM audit_events WHERE scan_id = $1`, [scanId])) as { detail: string }[];
        expect(audit.length).toBeGreaterThan(0);
        expect(JSON.stringify(audit)).not.toMatch(/DOE_JOHN|MRN555/);
        expect(await historyText(h, scanId)).not.toMatch(/DOE_JOHN|MRN555/);
      }
      const q = (await h.ds.query(`SELECT filename, detail FROM quarantined_inputs WHERE scan_id = $1`, [quarantined])) as { filename: string | null }[];
      expect(q).toHaveLength(1);
      expect(q[0].filename).toBeNull();
      const list = await h.http().get('/api/v1/quarantine').set(h.bearer(manager)).expect(200);
      expect(JSON.stringify(list.body)).toContain(quarantined);
      expect(JSON.stringify(list.body)).not.toMatch(/DOE_JOHN|MRN555/);
      // The name is kept only where the originals are (restricted, never served).
      const names = JSON.parse((await h.store.get('originals', originalNameKey(sha(good)))).toString('utf8')) as { names: string[] };
      expect(names.names).toEqual([NAME]);
    } finally {
      await h.http().post(`/api/v1/scans/${accepted}/cancel`).set(h.bearer(manager)).send({});
    }
  });
});
