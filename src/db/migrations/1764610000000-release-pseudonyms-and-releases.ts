import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dataset releases (issue #15):
 * - `reader_pseudonyms`: the stable public name of each radiologist in published files (`R1`…`R17`). Append-only:
 *   a reader keeps their pseudonym in every release of the project; the mapping is served to managers only.
 * - `releases`: one row per release version (immutable once published), with the workflow that builds it, its
 *   outcome, the checksum of its manifest, the gate's findings when it failed and the reader → pseudonym mapping it
 *   was published with (restricted: managers only; the next release's gate checks that no pseudonym moved).
 */
export class ReleasePseudonymsAndReleases1764610000000 implements MigrationInterface {
  name = 'ReleasePseudonymsAndReleases1764610000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reader_pseudonyms (
        reader_id text NOT NULL,
        number integer NOT NULL,
        pseudonym text NOT NULL,
        assigned_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_reader_pseudonyms PRIMARY KEY (reader_id),
        CONSTRAINT fk_reader_pseudonyms_reader FOREIGN KEY (reader_id) REFERENCES readers(id),
        CONSTRAINT uq_reader_pseudonyms_number UNIQUE (number),
        CONSTRAINT uq_reader_pseudonyms_pseudonym UNIQUE (pseudonym),
        CONSTRAINT ck_reader_pseudonyms_number CHECK (number >= 1),
        CONSTRAINT ck_reader_pseudonyms_pseudonym CHECK (pseudonym = 'R' || number::text)
      )`);
    await q.query(`
      CREATE TABLE releases (
        version text NOT NULL,
        status text NOT NULL,
        splits text[] NOT NULL,
        workflow_id text NOT NULL,
        requested_by text NOT NULL,
        previous_version text,
        image_count integer,
        manifest_sha256 char(64),
        failures jsonb,
        pseudonyms jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        CONSTRAINT pk_releases PRIMARY KEY (version),
        CONSTRAINT ck_releases_status CHECK (status IN ('running', 'published', 'failed')),
        CONSTRAINT ck_releases_version CHECK (version ~ '^[0-9]+\\.[0-9]+\\.[0-9]+$')
      )`);
    await q.query(`CREATE INDEX ix_releases_status_created ON releases (status, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ix_releases_status_created`);
    await q.query(`DROP TABLE IF EXISTS releases`);
    await q.query(`DROP TABLE IF EXISTS reader_pseudonyms`);
  }
}
