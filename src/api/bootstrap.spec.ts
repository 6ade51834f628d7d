import express from 'express';
import helmet from 'helmet';
import request from 'supertest';

import { helmetOptions } from './bootstrap';

async function csp(publicUrl: string): Promise<string> {
  const app = express();
  app.use(helmet(helmetOptions(publicUrl)));
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  const res = await request(app).get('/').expect(200);
  return String(res.headers['content-security-policy']);
}

describe('helmetOptions', () => {
  it('lets the page load over plain http on a LAN address (no upgrade-insecure-requests)', async () => {
    const policy = await csp('http://readflow.lan:3000');
    expect(policy).not.toContain('upgrade-insecure-requests');
    expect(policy).toContain("img-src 'self' blob: data:");
  });

  it('lets the viewer compile its WebAssembly codecs and start its own-origin decoding worker, and nothing more', async () => {
    const policy = await csp('http://readflow.lan:3000');
    expect(policy).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(policy).toContain("worker-src 'self'");
    expect(policy).not.toContain("'unsafe-eval'");
    expect(policy).not.toContain("'unsafe-inline'");
    expect(policy).not.toMatch(/worker-src[^;]*blob:/);
  });

  it('upgrades insecure requests when served over https', async () => {
    expect(await csp('https://readflow.example.org')).toContain('upgrade-insecure-requests');
  });
});
