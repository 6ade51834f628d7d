import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');

/** The compose validator available here: `docker compose` (v2 plugin) or Debian's `docker-compose`. */
function composeCommand(): string[] | null {
  if (spawnSync('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version']).status === 0) return ['docker-compose'];
  return null;
}

describe('deployment files', () => {
  const compose = composeCommand();
  const env = { ...process.env, READFLOW_ADMIN_TOKEN: 'x'.repeat(24), READFLOW_DEID_SECRET: 'y'.repeat(40), READFLOW_PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };

  (compose ? it : it.skip)('docker-compose.yml parses (docker compose config -q)', () => {
    const [cmd, ...args] = compose!;
    execFileSync(cmd, [...args, '-f', join(root, 'docker-compose.yml'), 'config', '-q'], { env, stdio: 'pipe' });
    const rendered = execFileSync(cmd, [...args, '-f', join(root, 'docker-compose.yml'), 'config'], { env, encoding: 'utf8' });
    for (const service of ['postgres:', 'temporal:', 'temporal-ui:', 'api:', 'worker:']) expect(rendered).toContain(service);
  });

  (compose ? it : it.skip)('refuses to start without the secrets', () => {
    const [cmd, ...args] = compose!;
    const bare = { ...process.env, READFLOW_ADMIN_TOKEN: '', READFLOW_DEID_SECRET: '' };
    const r = spawnSync(cmd, [...args, '-f', join(root, 'docker-compose.yml'), 'config', '-q'], { env: bare, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(`${r.stderr}${r.stdout}`).toMatch(/READFLOW_ADMIN_TOKEN/);
  });
});
