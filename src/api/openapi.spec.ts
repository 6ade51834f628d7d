import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import type { Client } from '@temporalio/client';

import { loadConfig } from '../config/config';
import type { BlobStore } from '../storage/blob-store';
import { createApiApp } from './bootstrap';

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string }[];
  security?: unknown[];
  responses: Record<string, unknown>;
}

/**
 * The OpenAPI document explains itself: every operation has a summary, documents each of its path parameters and
 * every error it can answer (at least its 4xx). The app is built without Postgres or Temporal (nothing is called).
 */
describe('OpenAPI document (/api/v1/openapi.json)', () => {
  let app: INestApplication;
  let doc: { paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    const config = loadConfig({ NODE_ENV: 'test', READFLOW_DEID_SECRET: 'x'.repeat(32), DATABASE_URL: 'postgres://127.0.0.1:1/none' });
    app = await createApiApp({
      config,
      dataSource: {} as DataSource,
      temporalClient: {} as Client,
      store: {} as BlobStore,
      logger: pino({ level: 'silent' }),
    });
    doc = (await request(app.getHttpServer()).get('/api/v1/openapi.json').expect(200)).body;
  });
  afterAll(async () => {
    await app.close();
  });

  const operations = (): [string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation]));

  it('has operations', () => {
    expect(operations().length).toBeGreaterThan(20);
  });

  it('every operation has a summary', () => {
    expect(operations().filter(([, op]) => !op.summary?.trim()).map(([name]) => name)).toEqual([]);
  });

  it('every operation documents its path parameters', () => {
    const missing = operations().flatMap(([name, op]) => {
      const params = [...name.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      return params.filter((p) => !op.parameters?.some((x) => x.in === 'path' && x.name === p)).map((p) => `${name}: ${p}`);
    });
    expect(missing).toEqual([]);
  });

  it('every operation documents the errors it can give (401 unless public, 4xx of the route), each as a problem document', () => {
    const problems = operations().flatMap(([name, op]) => {
      const codes = Object.keys(op.responses);
      const out: string[] = [];
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      if (!isPublic && !codes.includes('401')) out.push(`${name}: no 401`);
      if (!codes.some((c) => /^[45]\d\d$/.test(c))) out.push(`${name}: no error response`);
      for (const c of codes.filter((c) => /^[45]\d\d$/.test(c))) {
        const content = (op.responses[c] as { content?: Record<string, unknown> }).content ?? {};
        if (!content['application/problem+json']) out.push(`${name}: ${c} is not a problem document`);
      }
      return out;
    });
    expect(problems).toEqual([]);
  });

  it('operations that take an id document their 404; updates through a workflow their 504', () => {
    const missing = operations().flatMap(([name, op]) => {
      const out: string[] = [];
      if (/\{(taskId|scanId|readerId|batchId)\}/.test(name) && !op.responses['404']) out.push(`${name}: no 404`);
      if (/^POST .*\/(submission|reassign|extend|cancel|resume)$/.test(name) && !op.responses['504']) out.push(`${name}: no 504`);
      return out;
    });
    expect(missing).toEqual([]);
  });
});
