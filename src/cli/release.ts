import { parseArgs } from 'node:util';

import { Presets, SingleBar } from 'cli-progress';

import { bootIngestClientConfig } from '../config/boot';
import type { ReleaseFailureReason, ReleaseStatus } from '../domain';

const USAGE = `Usage: npm run release -- --version 1.0.0 [--splits train,test] [--url http://127.0.0.1:3000] [--token <manager token>]

Starts a dataset release (the releaseDataset workflow) through the API and follows it with a progress bar until it
is published under $STORAGE_DIR/releases/<version>/, or fails: its gate refuses it (every problem is listed) or its
workflow closes without publishing (terminated, failed, timed out). Nothing of a failed release is published, and the
same command starts it again. A release is refused before it starts (409, the scans named) when a released scan
carries labels outside the configured taxonomy. A published version is never overwritten.
The token defaults to READFLOW_TOKEN; the URL to PUBLIC_URL (or http://HOST:PORT).`;

interface ReleaseView {
  version: string;
  status: ReleaseStatus;
  imageCount: number | null;
  manifestSha256: string | null;
  failureReason: ReleaseFailureReason | null;
  failureDetail: string | null;
  failures: { problemCount: number; problems: { code: string; imageId?: string; detail: string }[] } | null;
  progress?: { phase: string; imagesTotal: number; imagesDone: number; problems: number };
  links?: { archive: string; checksums: string };
}

async function api<T>(url: string, token: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const detail = (body.detail as string) ?? (body.title as string) ?? res.statusText;
    const errors = Array.isArray(body.errors) ? body.errors.map((e: { path?: string; message?: string }) => `\n  ${e.path}: ${e.message}`).join('') : '';
    throw new Error(`${init.method ?? 'GET'} ${url} → ${res.status}: ${detail}${errors}`);
  }
  return body as T;
}

/** `npm run release -- --version 1.0.0`: a dataset release with a progress bar. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      version: { type: 'string' },
      splits: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.version) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const { apiUrl, token } = bootIngestClientConfig({ url: values.url, token: values.token });
  const base = apiUrl.replace(/\/$/, '');
  const splits = values.splits ? values.splits.split(',') : undefined;
  await api<ReleaseView>(`${base}/api/v1/releases`, token, { method: 'POST', body: JSON.stringify({ version: values.version, ...(splits ? { splits } : {}) }) });
  process.stdout.write(`Release ${values.version} started.\n`);

  const bar = new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} images | problems {problems} | {phase}' }, Presets.shades_classic);
  bar.start(1, 0, { problems: 0, phase: 'snapshot' });
  let r: ReleaseView;
  for (;;) {
    r = await api<ReleaseView>(`${base}/api/v1/releases/${encodeURIComponent(values.version)}`, token);
    if (r.progress) {
      bar.setTotal(Math.max(r.progress.imagesTotal, 1));
      bar.update(r.progress.imagesDone, { problems: r.progress.problems, phase: r.progress.phase });
    }
    if (r.status !== 'running') break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  bar.stop();
  if (r.status === 'failed' && r.failureReason !== 'gate') {
    throw new Error(`Release ${r.version} failed (${r.failureReason ?? 'unknown'}): ${r.failureDetail ?? 'nothing was published.'}`);
  }
  if (r.status === 'failed') {
    const f = r.failures;
    const listed = (f?.problems ?? []).map((p) => `\n  ${p.code}${p.imageId ? ` ${p.imageId}` : ''}: ${p.detail}`).join('');
    throw new Error(`Release ${r.version} was refused by the gate (${f?.problemCount ?? 0} problems); nothing was published:${listed}`);
  }
  process.stdout.write(
    `Published ${r.version}: ${r.imageCount} images, manifest sha256 ${r.manifestSha256}\n` +
      `  download: ${base}${r.links?.archive ?? ''}\n  checksums: ${base}${r.links?.checksums ?? ''}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
