import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';
import { ensureBuilt } from '../support/run-once';

const root = path.resolve(__dirname, '../..');

/**
 * openapi-typescript loads an ES module that Jest's module runtime cannot require, so the rendering runs in plain
 * Node from the compiled output, exactly as `npm run gen:client` does.
 */
function render(spec: object): string {
  const lib = path.join(root, 'dist/src/simulate/api/render.js');
  const code = `require(${JSON.stringify(lib)}).renderClientTypes(JSON.parse(require('fs').readFileSync(0, 'utf8'))).then((s) => process.stdout.write(s))`;
  return execFileSync(process.execPath, ['-e', code], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/**
 * The simulator's typed client (generated/readflow-api.d.ts) is generated from the spec the API serves. This fails
 * when the committed file no longer matches the served spec: run `npm run gen:client` and commit.
 */
describe('simulator client', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    await ensureBuilt(); // render() runs the compiled openapi-typescript wrapper
    h = await startApiHarness();
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  it('generated/readflow-api.d.ts matches the served /api/v1/openapi.json (npm run gen:client)', async () => {
    const spec = (await h.http().get('/api/v1/openapi.json').expect(200)).body as object;
    const committed = readFileSync(path.join(root, 'generated/readflow-api.d.ts'), 'utf8');
    expect(render(spec)).toBe(committed);
  });

  it('notices a changed spec (the comparison is not vacuous)', async () => {
    const spec = (await h.http().get('/api/v1/openapi.json').expect(200)).body as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    const changed = structuredClone(spec);
    const health = changed.components.schemas.HealthDto;
    health.properties = { ...health.properties, extra: { type: 'string' } };
    const committed = readFileSync(path.join(root, 'generated/readflow-api.d.ts'), 'utf8');
    expect(render(changed)).not.toBe(committed);
  });
});
