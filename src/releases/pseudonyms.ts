/**
 * Data access of `reader_pseudonyms`: the stable public name (`R<n>`) of each radiologist in published files.
 * Pseudonyms are append-only: once assigned, a reader keeps theirs in every export and release of the project.
 * New ones are numbered after the highest so far, readers in id order (the seeded roster rad01…rad17 → R1…R17).
 */
import type { DataSource, EntityManager } from 'typeorm';

export interface ReaderPseudonym {
  readerId: string;
  pseudonym: string;
  number: number;
  assignedAt: string;
}

/** Lock key serialising pseudonym assignment across processes (pg_advisory_xact_lock). */
const ASSIGN_LOCK = 1_764_610_001;

/**
 * Gives a pseudonym to every radiologist, and every reader with a reading, who has none yet. Idempotent and safe
 * to run concurrently (one transaction under an advisory lock). Returns how many were assigned.
 */
export async function assignPseudonyms(ds: DataSource): Promise<number> {
  return ds.transaction(async (m: EntityManager) => {
    await m.query(`SELECT pg_advisory_xact_lock($1)`, [ASSIGN_LOCK]);
    const rows: { n: number }[] = await m.query(`
      WITH base AS (SELECT COALESCE(MAX(number), 0) AS top FROM reader_pseudonyms),
           todo AS (
             SELECT r.id, row_number() OVER (ORDER BY r.id) AS k FROM readers r
              WHERE (r.role = 'radiologist' OR EXISTS (SELECT 1 FROM readings g WHERE g.reader_id = r.id))
                AND NOT EXISTS (SELECT 1 FROM reader_pseudonyms p WHERE p.reader_id = r.id))
      INSERT INTO reader_pseudonyms (reader_id, number, pseudonym)
      SELECT todo.id, base.top + todo.k, 'R' || (base.top + todo.k)::text FROM todo, base
      RETURNING number AS n`);
    return rows.length;
  });
}

/** Every pseudonym, by number. Managers only: this is the key from published names back to staff. */
export async function listPseudonyms(ds: DataSource): Promise<ReaderPseudonym[]> {
  const rows: { reader_id: string; pseudonym: string; number: number; assigned_at: Date }[] = await ds.query(
    `SELECT reader_id, pseudonym, number, assigned_at FROM reader_pseudonyms ORDER BY number`,
  );
  return rows.map((r) => ({ readerId: r.reader_id, pseudonym: r.pseudonym, number: r.number, assignedAt: r.assigned_at.toISOString() }));
}

/** reader id → pseudonym. */
export async function pseudonymMap(ds: DataSource): Promise<Map<string, string>> {
  return new Map((await listPseudonyms(ds)).map((p) => [p.readerId, p.pseudonym]));
}
