import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { Presets, SingleBar } from 'cli-progress';

import { bootIngestClientConfig } from '../config/boot';
import type { components } from '../../generated/readflow-api';

const USAGE = `Usage: npm run ingest -- <directory> --split train|test [--policy independent-3|consensus-5|independent-5]
       [--url http://127.0.0.1:3000] [--token <manager token>]

Starts a batch ingest of every file under <directory> through the API and follows it with a progress bar
until every file is started, refused as a duplicate, or quarantined. <directory> is sent as an absolute path
and must be inside the workers' import directory (READFLOW_IMPORT_DIR, default $READFLOW_DATA_DIR/import),
symlinks resolved: the workers refuse any other path.
The token defaults to READFLOW_TOKEN; the URL to PUBLIC_URL (or http://HOST:PORT). Nothing else is read:
this is an HTTP client of the API.`;

/** The API's answers, typed from its OpenAPI spec (the client types `npm run gen:client` writes for the simulator). */
type BatchProgress = components['schemas']['BatchProgressDto'];
type StartedBatch = components['schemas']['StartedBatchDto'];

async function api<T>(url: string, token: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const detail = (body.detail as string) ?? (body.title as string) ?? res.statusText;
    const errors = Array.isArray(body.errors)
      ? body.errors.map((e: { path?: string; message?: string }) => `\n  ${e.path}: ${e.message}`).join('')
      : '';
    throw new Error(`${init.method ?? 'GET'} ${url} → ${res.status}: ${detail}${errors}`);
  }
  return body as T;
}

/** `npm run ingest -- <dir> --split train`: a batch ingest with a progress bar. */
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      split: { type: 'string' },
      policy: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1 || !values.split) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const { apiUrl: base, token } = bootIngestClientConfig({ url: values.url, token: values.token });
  const directory = resolve(positionals[0]);

  const started = await api<StartedBatch>(`${base}/api/v1/batches`, token, {
    method: 'POST',
    body: JSON.stringify({ directory, split: values.split, policy: values.policy }),
  });
  process.stdout.write(
    `Batch ${started.batchId} started for ${directory}\n  follow it in Temporal: ${started.workflowUrl}\n`,
  );

  const bar = new SingleBar(
    {
      format:
        ' {bar} {percentage}% | {value}/{total} files | quarantined {quarantined} | duplicates {duplicate} | {state}',
    },
    Presets.shades_classic,
  );
  bar.start(1, 0, { quarantined: 0, duplicate: 0, state: 'listing' });
  let progress: BatchProgress;
  for (;;) {
    progress = await api<BatchProgress>(
      `${base}/api/v1/batches/${encodeURIComponent(started.batchId)}`,
      token,
    );
    const c = progress.counts;
    const settled = c.accepted + c.quarantined + c.duplicate + c.failed;
    bar.setTotal(Math.max(c.listed, settled, 1));
    bar.update(settled, { quarantined: c.quarantined, duplicate: c.duplicate, state: progress.state });
    if (progress.state === 'done' || progress.state === 'failed') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  bar.stop();
  const c = progress.counts;
  if (progress.state === 'failed') {
    throw new Error(
      `Batch ${started.batchId} failed: ${progress.failure ?? 'unknown reason'} ` +
        `(after ${c.accepted} accepted, ${c.quarantined} quarantined, ${c.duplicate} duplicates, ${c.failed} failed)`,
    );
  }
  process.stdout.write(
    `Done: ${c.listed} files, ${c.accepted} accepted for reading, ${c.duplicate} duplicates, ` +
      `${c.quarantined} quarantined, ${c.failed} failed.\n` +
      (c.quarantined > 0 ? `Quarantined inputs and their reasons: ${base}/api/v1/quarantine\n` : ''),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
