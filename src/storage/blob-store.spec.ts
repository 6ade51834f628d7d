import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { BlobNotFoundError, InvalidBlobKeyError, LocalBlobStore, assertValidKey } from './blob-store';

function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

describe('LocalBlobStore', () => {
  let root: string;
  let store: LocalBlobStore;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'blob-'));
    store = new LocalBlobStore(root, { retentionMs: { quarantine: 1000 } });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('content-addresses by sha256 and round-trips bytes', async () => {
    const data = Buffer.from('hello dicom');
    const sha = createHash('sha256').update(data).digest('hex');
    const r = await store.put('incoming', data);
    expect(r).toEqual({ key: sha, sha256: sha, size: data.length });
    expect(await store.get('incoming', sha)).toEqual(data);
    expect((await store.stat('incoming', sha))?.size).toBe(data.length);
    // idempotent, no temp files left behind
    await store.put('incoming', data);
    expect(readdirSync(path.join(root, 'incoming'))).toEqual([sha]);
  });

  it('writes explicit keys atomically and overwrites', async () => {
    await store.put('deidentified', Buffer.from('one'), { key: 'abc.dcm' });
    const r = await store.put('deidentified', Buffer.from('two!'), { key: 'abc.dcm' });
    expect(r.key).toBe('abc.dcm');
    expect((await store.get('deidentified', 'abc.dcm')).toString()).toBe('two!');
    expect(readdirSync(path.join(root, 'deidentified'))).toEqual(['abc.dcm']);
  });

  it('serves inclusive byte ranges and reports missing blobs', async () => {
    await store.put('deidentified', Buffer.from('0123456789'), { key: 'r.dcm' });
    expect((await readAll(store.createReadStream('deidentified', 'r.dcm', { start: 2, end: 5 }))).toString()).toBe('2345');
    expect((await readAll(store.createReadStream('deidentified', 'r.dcm'))).toString()).toBe('0123456789');
    await expect(readAll(store.createReadStream('deidentified', 'missing.dcm'))).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.get('deidentified', 'missing.dcm')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await store.stat('deidentified', 'missing.dcm')).toBeNull();
  });

  it('stores JSON and deletes idempotently', async () => {
    await store.putJson('originals', 'scan-1/mapping.json', { a: 1 });
    expect(JSON.parse((await store.get('originals', 'scan-1/mapping.json')).toString())).toEqual({ a: 1 });
    await store.delete('originals', 'scan-1/mapping.json');
    await store.delete('originals', 'scan-1/mapping.json');
    expect(await store.stat('originals', 'scan-1/mapping.json')).toBeNull();
  });

  it('stores a stream atomically without buffering it, content-addressed or under a key', async () => {
    const data = Buffer.alloc(300_000, 7);
    await store.put('incoming', data);
    const sha = createHash('sha256').update(data).digest('hex');
    expect(await store.putStream('quarantine', store.createReadStream('incoming', sha))).toEqual({ key: sha, sha256: sha, size: data.length });
    expect((await store.get('quarantine', sha)).equals(data)).toBe(true);
    const keyed = await store.putStream('deidentified', store.createReadStream('incoming', sha), { key: 'sub/x.dcm' });
    expect(keyed).toEqual({ key: 'sub/x.dcm', sha256: sha, size: data.length });
    // A failing source stores nothing and leaves no temp file.
    await expect(store.putStream('quarantine', store.createReadStream('incoming', 'missing'))).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(readdirSync(path.join(root, 'quarantine'))).toEqual([sha]);
    await expect(store.putStream('quarantine', store.createReadStream('incoming', sha), { key: '../x' })).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });

  it.each(['', '..', '../x', 'a/../../b', '/etc/passwd', '.hidden', 'a\\b', 'a//b', 'a/./b', 'x'.repeat(600), 'a\0b'])(
    'rejects the key %j',
    async (key) => {
      expect(() => assertValidKey(key)).toThrow(InvalidBlobKeyError);
      await expect(store.put('incoming', Buffer.from('x'), { key })).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get('incoming', key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(readAll(store.createReadStream('incoming', key))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    },
  );

  it('honours configured area directories and retention', async () => {
    const custom = new LocalBlobStore(root, { areaDirs: { originals: 'restricted/orig' }, retentionMs: { quarantine: 1000 } });
    await custom.put('originals', Buffer.from('secret'), { key: 'o.dcm' });
    expect(readdirSync(path.join(root, 'restricted/orig'))).toEqual(['o.dcm']);
    const { key } = await custom.put('quarantine', Buffer.from('bad'));
    const old = new Date(Date.now() - 10_000);
    utimesSync(custom.pathOf('quarantine', key), old, old);
    await custom.put('quarantine', Buffer.from('fresh'));
    expect(await custom.sweepExpired('quarantine')).toBe(1);
    expect(await custom.sweepExpired('originals')).toBe(0);
    expect(await custom.stat('quarantine', key)).toBeNull();
  });
});
