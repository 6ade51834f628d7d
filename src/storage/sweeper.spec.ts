import { mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pino from 'pino';

import { LocalBlobStore } from './blob-store';
import { startSweeper } from './sweeper';

describe('startSweeper', () => {
  it('deletes incoming blobs past their retention and keeps fresh ones and other areas', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rf-sweep-'));
    const store = new LocalBlobStore(root, { retentionMs: { incoming: 60_000 } });
    const old = await store.put('incoming', Buffer.from('an upload nobody took'));
    const fresh = await store.put('incoming', Buffer.from('a fresh upload'));
    const original = await store.put('originals', Buffer.from('kept forever'));
    const longAgo = new Date(Date.now() - 3_600_000);
    utimesSync(store.pathOf('incoming', old.key), longAgo, longAgo);
    utimesSync(store.pathOf('originals', original.key), longAgo, longAgo);

    const stop = startSweeper(store, {
      areas: ['incoming', 'originals'],
      intervalMs: 10_000,
      logger: pino({ level: 'silent' }),
    });
    try {
      for (let i = 0; i < 50 && (await store.stat('incoming', old.key)); i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await store.stat('incoming', old.key)).toBeNull();
      expect(await store.stat('incoming', fresh.key)).not.toBeNull();
      expect(await store.stat('originals', original.key)).not.toBeNull();
    } finally {
      stop();
    }
  });
});
