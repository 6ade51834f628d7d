/**
 * The rig of the browser tests: the real app with a real worker (startReadingApp: the default roster and a manager) listening on a port, a manager, and
 * Debian's Chromium headless (playwright-core) with a fresh profile; pages that record their errors; the page's
 * sign-in; uploads and the scan's tasks through the API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

import type { ApiHarness, ApiHarnessOptions, ScanTask } from './api-harness';
import { eventually, startReadingApp } from './api-harness';
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from './browser';

export type { ScanTask };

export interface BrowserRigOptions {
  /** The app's harness (always with a worker): config overrides, a database of its own. */
  harness?: Omit<ApiHarnessOptions, 'worker'>;
  viewport: { width: number; height: number };
  /** Default timeout of every page action (ms). */
  pageTimeoutMs?: number;
  /**
   * Console errors about responses with these HTTP statuses are the page at work (it shows them to the user), not
   * errors; every other console error and every page error is kept in `errors`. Default: none expected.
   */
  expectedStatuses?: readonly number[];
  /** How long `untilOpen` waits for a scan's tasks (ms; default 30 s). */
  openTasksTimeoutMs?: number;
}

export interface BrowserRig {
  h: ApiHarness;
  /** The app's origin, e.g. `http://127.0.0.1:41234`. */
  base: string;
  /** A manager's token. */
  manager: string;
  context: BrowserContext;
  /** Page errors and unexpected console errors of every page the rig opened (a CSP violation shows up here). */
  errors: string[];
  newPage(): Promise<Page>;
  /** Signs in on the start page with an API token. */
  signIn(page: Page, token: string): Promise<void>;
  /** Uploads a file as the manager; the scan id (202 new, 200 existing). */
  upload(bytes: Buffer, split: string, policy: string, name: string): Promise<string>;
  scan(scanId: string): Promise<{ stage: string; tasks: ScanTask[] }>;
  /** The de-identified DICOM the API serves for a task (`GET /tasks/{id}/image`), as the task's reader. */
  servedImage(taskId: string, token: string): Promise<Buffer>;
  /** Waits until the scan has exactly `n` open tasks of `role`; they are returned by slot. */
  untilOpen(scanId: string, role: string, n: number): Promise<ScanTask[]>;
  /** Closes the browser, removes its profile, closes the app. */
  close(): Promise<void>;
}

export async function startBrowserRig(opts: BrowserRigOptions): Promise<BrowserRig> {
  requireChromium();
  const { h, manager } = await startReadingApp(opts.harness);
  let userDataDir: string | undefined;
  let context: BrowserContext | undefined;
  const close = async (): Promise<void> => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await h.close();
  };
  try {
    await h.app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
    userDataDir = mkdtempSync(path.join(tmpdir(), 'readflow-chromium-'));
    const ctx = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: opts.viewport });
    context = ctx;
    const errors: string[] = [];
    const expected = opts.expectedStatuses ?? [];
    const expectedConsole = expected.length > 0 ? new RegExp(`status of (${expected.join('|')})`) : undefined;
    const scan = async (scanId: string): Promise<{ stage: string; tasks: ScanTask[] }> =>
      (await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager)).expect(200)).body;
    return {
      h,
      base,
      manager,
      context: ctx,
      errors,
      async newPage() {
        const page = await ctx.newPage();
        if (opts.pageTimeoutMs !== undefined) page.setDefaultTimeout(opts.pageTimeoutMs);
        page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error' && !expectedConsole?.test(m.text())) errors.push(`console: ${m.text()}`);
        });
        return page;
      },
      async signIn(page, token) {
        await page.goto(`${base}/`);
        await page.getByLabel('API token').fill(token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForSelector('#who:not([hidden])');
      },
      async upload(bytes, split, policy, name) {
        const res = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', split).field('policy', policy).attach('file', bytes, name);
        expect([200, 202]).toContain(res.status);
        return res.body.scanId as string;
      },
      scan,
      async servedImage(taskId, token) {
        const res = await h
          .http()
          .get(`/api/v1/tasks/${taskId}/image`)
          .set(h.bearer(token))
          .buffer(true)
          .parse((r, cb) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => cb(null, Buffer.concat(chunks)));
          })
          .expect(200);
        return res.body as Buffer;
      },
      untilOpen: (scanId, role, n) =>
        eventually(
          async () => {
            const open = (await scan(scanId)).tasks.filter((t) => t.status === 'open' && t.role === role);
            return open.length === n ? open.sort((a, b) => a.slot - b.slot) : undefined;
          },
          opts.openTasksTimeoutMs ?? 30_000,
          `${n} open ${role} tasks of ${scanId}`,
        ),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
