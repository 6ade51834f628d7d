import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { renderClientTypes } from '../../src/simulate/api/render';
import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';

/**
 * The simulator's typed client (src/simulate/api/schema.ts) is generated from the spec the API serves. This fails
 * when the committed file no longer matches the served spec: run `npm run gen:client` and commit.
 */
describe('simulator client', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('src/simulate/api/schema.ts matches the served /api/v1/openapi.json (npm run gen:client)', async () => {
    const spec = (await h.http().get('/api/v1/openapi.json').expect(200)).body as object;
    const committed = readFileSync(path.resolve(__dirname, '../../src/simulate/api/schema.ts'), 'utf8');
    expect(await renderClientTypes(spec)).toBe(committed);
  });

  it('notices a changed spec (the comparison is not vacuous)', async () => {
    const spec = (await h.http().get('/api/v1/openapi.json').expect(200)).body as { paths: Record<string, unknown> };
    const changed = { ...spec, paths: { ...spec.paths, '/api/v1/extra': spec.paths['/healthz'] } };
    const committed = readFileSync(path.resolve(__dirname, '../../src/simulate/api/schema.ts'), 'utf8');
    expect(await renderClientTypes(changed)).not.toBe(committed);
  });
});
