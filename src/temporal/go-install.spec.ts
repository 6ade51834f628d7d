import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { withBuildLock } from './go-install';

describe('withBuildLock', () => {
  const root = mkdtempSync(join(tmpdir(), 'rf-lock-'));

  it('runs concurrent builds one after the other, and releases the lock', async () => {
    const lock = join(root, 'a.build-lock');
    const events: string[] = [];
    const logs: string[] = [];
    const build = (name: string) => async () => {
      events.push(`${name} start`);
      await new Promise((r) => setTimeout(r, 60));
      events.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([
      withBuildLock(lock, (l) => logs.push(l), build('first'), 10),
      withBuildLock(lock, (l) => logs.push(l), build('second'), 10),
    ]);
    expect(results).toEqual(['first', 'second']);
    expect(events).toEqual(['first start', 'first end', 'second start', 'second end']);
    expect(logs.some((l) => l.startsWith('Waiting for another build in progress'))).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock left by a dead process, and releases it when the build fails', async () => {
    const lock = join(root, 'b.build-lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), '2147483646\n'); // no such process
    await expect(
      withBuildLock(lock, () => undefined, async () => {
        throw new Error('go install failed');
      }),
    ).rejects.toThrow('go install failed');
    expect(existsSync(lock)).toBe(false);
  });
});
