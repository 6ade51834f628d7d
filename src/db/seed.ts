import type { DataSource, EntityManager } from 'typeorm';

import { ApiTokenEntity, ReaderEntity } from './entities';
import { ApiTokensRepository } from './repositories';
import { hashToken, newToken } from './tokens';

/** The 17 radiologists of the VinDr-CXR setting: rad01…rad17, the first three senior (consensus reviewers). */
export const DEFAULT_ROSTER: ReadonlyArray<Pick<ReaderEntity, 'id' | 'displayName' | 'role' | 'senior'>> = [
  ...Array.from({ length: 17 }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    return { id: `rad${n}`, displayName: `Radiologist ${n}`, role: 'radiologist' as const, senior: i < 3 };
  }),
  { id: 'manager', displayName: 'Reading manager', role: 'manager' as const, senior: false },
];

export interface SeedResult {
  /** True when the roster was created by this call (first start). */
  created: boolean;
  /** Plain tokens issued by this call (first start only), to print once in development. */
  tokens: Record<string, string>;
}

/**
 * Seeds the default roster on first start (an empty `readers` table) and issues one token each.
 * Independently, when `adminToken` is given, makes sure an `admin` exists whose token it is.
 * Safe to call on every start.
 *
 * Changing READFLOW_ADMIN_TOKEN rotates the admin's credential: a token seen for the first time revokes the
 * admin's other live tokens. A token revoked since (e.g. rotated through the API) is not revived.
 */
export async function seedRoster(
  ds: DataSource,
  opts: { seed: boolean; adminToken?: string; adminId?: string },
): Promise<SeedResult> {
  return ds.transaction(async (em) => {
    const tokens: Record<string, string> = {};
    let created = false;
    // Serialize concurrent starts (api + worker processes) on the same database.
    await em.query('SELECT pg_advisory_xact_lock(4242001)');
    if (opts.seed && (await em.count(ReaderEntity)) === 0) {
      created = true;
      for (const r of DEFAULT_ROSTER) {
        await em.insert(ReaderEntity, { ...r, active: true, openTaskCap: 50 });
        const token = newToken();
        await em.insert(ApiTokenEntity, { readerId: r.id, tokenHash: hashToken(token) });
        tokens[r.id] = token;
      }
    }
    if (opts.adminToken) await provisionAdmin(em, opts.adminId ?? 'admin', opts.adminToken);
    return { created, tokens };
  });
}

async function provisionAdmin(em: EntityManager, adminId: string, token: string): Promise<void> {
  await em
    .createQueryBuilder()
    .insert()
    .into(ReaderEntity)
    .values({
      id: adminId,
      displayName: 'Administrator',
      role: 'admin',
      senior: false,
      active: true,
      openTaskCap: 0,
    })
    .orIgnore()
    .execute();
  const hash = hashToken(token);
  const tokens = new ApiTokensRepository(em);
  if (await tokens.insertIfNew(adminId, hash)) await tokens.revokeAllBut(adminId, hash);
}
