/**
 * Issue #10 item 5: one user rendering the largest allowed image (READFLOW_MAX_IMAGE_PIXELS = 3000 × 3000, 16-bit)
 * must not stall everyone else. Other users' small API requests are timed idle (baseline) and while several full-size
 * renders of that image run; the latency they gain must stay a small share of one render's time.
 *
 * The test also runs the same load with the renderer forced onto the API's thread (InlineRenderer) and asserts that
 * there the gain is large, so the measurement is shown to detect a stall, and that worker threads remove most of it.
 */
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';

import { deidentifyObject } from '../../src/dicom';
import { InlineRenderer } from '../../src/dicom/render-pool';
import type { ImageRenderer } from '../../src/dicom/render-pool';
import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';
import { noisyFilm, transferSyntaxOf } from '../support/previews';

const SIDE = 3000;
/** Concurrent users rendering the large image, each this many times. */
const RENDERERS = 2;
const RENDERS_EACH = 3;
/** Concurrent small-request users. */
const SMALL_USERS = 4;

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * The criteria are relative to what was measured in the same run, never absolute: CI machines differ by 2× and more
 * (one CI run rendered the image in 1.1–2.7 s and had other users wait 280 ms longer with worker threads, 1,024 ms on
 * the event loop; an idle machine rendered it in 0.3–0.7 s with 28 ms and 243 ms). Added latency = loaded p95 − idle p95.
 * - With worker threads other users wait a fraction of one render at most: added ≤ 1/4 of the median render time.
 * - On the event loop they wait behind renders: added ≥ 15 % of the median render (so the measurement is not vacuous),
 * - and worker threads remove at least half the wait the event loop shows in the same run.
 */
const POOL_MAX_SHARE_OF_RENDER = 0.25;
const INLINE_MIN_SHARE_OF_RENDER = 0.15;

interface Run {
  baselineP95: number;
  loadedP95: number;
  samples: number;
  renderMs: number[];
}

async function measure(renderer: ImageRenderer | undefined, film: Buffer): Promise<Run> {
  const h: ApiHarness = await startApiHarness({
    env: { READFLOW_MAX_IMAGE_PIXELS: String(SIDE * SIDE), READFLOW_PREVIEW_THREADS: '1', READFLOW_PREVIEW_CACHE_BYTES: '0' },
    deps: renderer ? { previewRenderer: renderer } : {},
  });
  try {
    const readerId = `${h.prefix}-rad`;
    const token = await h.addReader(readerId, 'radiologist');
    const d = deidentifyObject(film, { secret: randomBytes(24).toString('hex') });
    const scanId = `scan-${h.prefix}-big`;
    await h.store.put('deidentified', d.output, { key: d.imageId });
    await h.ds.query(
      `INSERT INTO scans (id, image_id, split, policy, stage, rows, columns, transfer_syntax, deidentified_key) VALUES ($1, $2, 'train', 'independent-3', 'reading', $3, $3, $4, $5)`,
      [scanId, d.imageId, SIDE, transferSyntaxOf(d.output), d.imageId],
    );
    const taskId = randomUUID();
    await h.ds.query(`INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at) VALUES ($1, $2, $3, 'reader', 0, 'open', now(), now() + interval '1 day')`, [taskId, scanId, readerId]);

    // A real socket (keep-alive), as other users' clients would use.
    const server = h.server;
    // The clients share this process's event loop with the server. When a render on the event loop (the inline run,
    // on a loaded machine) blocks it for longer than Node's 5 s keep-alive timeout, the server's idle-socket timers
    // and the clients' next requests fire in the same turn: the server closes sockets the clients reuse (ECONNRESET).
    // A real client does not share the server's loop; keep idle sockets open longer than any render here.
    server.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    const headers = { Authorization: `Bearer ${token}` };
    const small = async (): Promise<number> => {
      const t = performance.now();
      const res = await fetch(`${base}/me/tasks?limit=5`, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`small request: ${res.status}`);
      return performance.now() - t;
    };
    const smallUsers = async (until: () => boolean, minEach = 0): Promise<number[]> => {
      const out: number[] = [];
      await Promise.all(
        Array.from({ length: SMALL_USERS }, async () => {
          for (let i = 0; !until() || i < minEach; i++) {
            out.push(await small());
            await new Promise((r) => setTimeout(r, 10)); // a user's pace, not a flood
          }
        }),
      );
      return out;
    };

    for (let i = 0; i < 10; i++) await small(); // warm-up (connections, query plans)
    const idleUntil = performance.now() + 2000;
    const baseline = await smallUsers(() => performance.now() > idleUntil, 10);

    let rendering = true;
    const renderMs: number[] = [];
    const big = Promise.all(
      Array.from({ length: RENDERERS }, async (_, u) => {
        for (let i = 0; i < RENDERS_EACH; i++) {
          const t = performance.now();
          // A distinct level per request: nothing is shared or cached, each is a full render.
          const res = await fetch(`${base}/tasks/${taskId}/image?format=png&level=${1000 + u * 100 + i}`, { headers });
          const png = Buffer.from(await res.arrayBuffer());
          if (res.status !== 200 || png.length < 100_000) throw new Error(`large render: ${res.status} ${png.length} bytes`);
          renderMs.push(performance.now() - t);
        }
      }),
    ).finally(() => {
      rendering = false;
    });
    // Whatever happens to the small users, the renders are awaited here, never left to fail in a later test file.
    const loaded = await smallUsers(() => !rendering).finally(() => big.catch(() => undefined));
    await big;
    server.closeAllConnections(); // the keep-alive sockets; the app closes the server
    return { baselineP95: p95(baseline), loadedP95: p95(loaded), samples: loaded.length, renderMs };
  } finally {
    await h.close();
  }
}

describe('other users’ latency while the largest allowed image renders', () => {
  const film = noisyFilm(SIDE, SIDE, 'latency');

  it('stays bounded with the worker-thread renderer, and the same measurement catches rendering on the event loop', async () => {
    const pool = await measure(undefined, film);
    const inline = await measure(new InlineRenderer(), film);
    const added = (r: Run): number => r.loadedP95 - r.baselineP95;
    const report = (r: Run): string =>
      `idle p95 ${r.baselineP95.toFixed(1)} ms, under load p95 ${r.loadedP95.toFixed(1)} ms (+${added(r).toFixed(1)} ms, ${r.samples} requests), renders ${r.renderMs.map((x) => x.toFixed(0)).join('/')} ms (median ${median(r.renderMs).toFixed(0)})`;
    // Shown in the test output: what was measured.
    console.log(`worker threads: ${report(pool)}\nevent loop:     ${report(inline)}`);
    expect(pool.samples).toBeGreaterThan(10);
    expect(added(pool)).toBeLessThanOrEqual(POOL_MAX_SHARE_OF_RENDER * median(pool.renderMs));
    // On the event loop, requests wait behind whole renders: the measurement sees it…
    expect(added(inline)).toBeGreaterThanOrEqual(INLINE_MIN_SHARE_OF_RENDER * median(inline.renderMs));
    // …and worker threads take at least half of that wait away.
    expect(added(pool)).toBeLessThanOrEqual(0.5 * added(inline));
  }, 300_000);
});
