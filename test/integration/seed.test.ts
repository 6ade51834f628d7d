import { randomUUID } from 'node:crypto';

import type { DataSource } from 'typeorm';

import { seedRoster } from '../../src/db/seed';
import { hashToken } from '../../src/db/tokens';
import { openTestDataSource } from '../support/services';

describe('roster seeding and the admin token from READFLOW_ADMIN_TOKEN', () => {
  let ds: DataSource;
  // A private admin id: the run's database is shared with other test files that use `admin`.
  const adminId = `admin-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    ds = await openTestDataSource();
  });
  afterAll(async () => ds?.destroy());

  async function live(): Promise<string[]> {
    const rows: { token_hash: string }[] = await ds.query(
      `SELECT token_hash FROM api_tokens WHERE reader_id = $1 AND revoked_at IS NULL ORDER BY created_at`,
      [adminId],
    );
    return rows.map((r) => r.token_hash);
  }

  it('creates the admin once, and a changed token revokes the previous one', async () => {
    await seedRoster(ds, { seed: false, adminToken: 'first-admin-token-0123456789', adminId });
    await seedRoster(ds, { seed: false, adminToken: 'first-admin-token-0123456789', adminId });
    expect(await live()).toEqual([hashToken('first-admin-token-0123456789')]);
    const [{ count }] = await ds.query(`SELECT count(*)::int AS count FROM readers WHERE id = $1`, [adminId]);
    expect(count).toBe(1);

    await seedRoster(ds, { seed: false, adminToken: 'second-admin-token-0123456789', adminId });
    expect(await live()).toEqual([hashToken('second-admin-token-0123456789')]);
  });

  it('does not revive a token revoked since (rotated through the API)', async () => {
    await ds.query(`UPDATE api_tokens SET revoked_at = now() WHERE reader_id = $1`, [adminId]);
    await seedRoster(ds, { seed: false, adminToken: 'second-admin-token-0123456789', adminId });
    expect(await live()).toEqual([]);
  });
});
