import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Roster, tokens, scans, the task inbox, readings, released results, audit trail and quarantine. */
export class InitialSchema1764200000000 implements MigrationInterface {
  name = 'InitialSchema1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE readers (
        id text PRIMARY KEY,
        display_name text NOT NULL,
        role text NOT NULL CONSTRAINT ck_readers_role CHECK (role IN ('radiologist', 'manager', 'admin')),
        senior boolean NOT NULL DEFAULT false,
        active boolean NOT NULL DEFAULT true,
        open_task_cap integer NOT NULL DEFAULT 50 CONSTRAINT ck_readers_open_task_cap CHECK (open_task_cap >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        reader_id text NOT NULL CONSTRAINT fk_api_tokens_reader REFERENCES readers(id) ON DELETE CASCADE,
        token_hash char(64) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        CONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash)
      )`);
    await q.query(`CREATE INDEX ix_api_tokens_reader_id ON api_tokens (reader_id)`);
    await q.query(`
      CREATE TABLE scans (
        id text PRIMARY KEY,
        image_id char(32),
        split text NOT NULL,
        policy text NOT NULL,
        stage text NOT NULL,
        batch_id text,
        modality text,
        view_position text,
        rows integer,
        columns integer,
        pixel_spacing jsonb,
        transfer_syntax text,
        deidentified_key text,
        quarantine_reason text,
        attention_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        released_at timestamptz,
        CONSTRAINT uq_scans_image_id UNIQUE (image_id)
      )`);
    await q.query(`CREATE INDEX ix_scans_stage_created ON scans (stage, created_at, id)`);
    await q.query(`CREATE INDEX ix_scans_split_stage ON scans (split, stage)`);
    await q.query(`CREATE INDEX ix_scans_created ON scans (created_at, id)`);
    await q.query(`
      CREATE TABLE tasks (
        id uuid PRIMARY KEY,
        scan_id text NOT NULL CONSTRAINT fk_tasks_scan REFERENCES scans(id) ON DELETE CASCADE,
        reader_id text NOT NULL CONSTRAINT fk_tasks_reader REFERENCES readers(id),
        role text NOT NULL CONSTRAINT ck_tasks_role CHECK (role IN ('reader', 'reviewer')),
        slot integer NOT NULL,
        round integer NOT NULL DEFAULT 0,
        status text NOT NULL CONSTRAINT ck_tasks_status CHECK (status IN ('open', 'submitted', 'expired', 'reassigned', 'cancelled')),
        assigned_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        submitted_at timestamptz,
        closed_at timestamptz,
        CONSTRAINT uq_tasks_scan_reader_role_round UNIQUE (scan_id, reader_id, role, round)
      )`);
    await q.query(`CREATE INDEX ix_tasks_reader_status_due ON tasks (reader_id, status, due_at, id)`);
    await q.query(`CREATE INDEX ix_tasks_status_due ON tasks (status, due_at, id)`);
    await q.query(`CREATE INDEX ix_tasks_scan ON tasks (scan_id)`);
    await q.query(`
      CREATE TABLE readings (
        task_id uuid PRIMARY KEY CONSTRAINT fk_readings_task REFERENCES tasks(id) ON DELETE CASCADE,
        scan_id text NOT NULL CONSTRAINT fk_readings_scan REFERENCES scans(id) ON DELETE CASCADE,
        reader_id text NOT NULL CONSTRAINT fk_readings_reader REFERENCES readers(id),
        role text NOT NULL,
        boxes jsonb NOT NULL,
        global_labels jsonb NOT NULL,
        comment text,
        decision text,
        submitted_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX ix_readings_scan ON readings (scan_id)`);
    await q.query(`CREATE INDEX ix_readings_reader ON readings (reader_id)`);
    await q.query(`
      CREATE TABLE scan_results (
        scan_id text PRIMARY KEY CONSTRAINT fk_scan_results_scan REFERENCES scans(id) ON DELETE CASCADE,
        method text NOT NULL,
        fused_boxes jsonb NOT NULL,
        fused_global_labels jsonb NOT NULL,
        final_boxes jsonb NOT NULL,
        final_global_labels jsonb NOT NULL,
        agreement jsonb NOT NULL,
        released_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE audit_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_key text NOT NULL,
        scan_id text,
        task_id uuid,
        actor text NOT NULL,
        action text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}',
        at timestamptz NOT NULL,
        CONSTRAINT uq_audit_events_event_key UNIQUE (event_key)
      )`);
    await q.query(`CREATE INDEX ix_audit_events_scan_at ON audit_events (scan_id, at, id)`);
    await q.query(`
      CREATE TABLE quarantined_inputs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        sha256 char(64) NOT NULL,
        scan_id text,
        filename text,
        reason text NOT NULL,
        detail text NOT NULL DEFAULT '',
        size_bytes bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_quarantined_inputs_sha256 UNIQUE (sha256)
      )`);
    await q.query(`CREATE INDEX ix_quarantined_inputs_created ON quarantined_inputs (created_at, id)`);
    // The audit trail is append-only: refuse updates and deletes at the database.
    await q.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$`);
    await q.query(`
      CREATE TRIGGER tr_audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE quarantined_inputs`);
    await q.query(`DROP TRIGGER tr_audit_events_append_only ON audit_events`);
    await q.query(`DROP FUNCTION audit_events_append_only()`);
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP TABLE scan_results`);
    await q.query(`DROP TABLE readings`);
    await q.query(`DROP TABLE tasks`);
    await q.query(`DROP TABLE scans`);
    await q.query(`DROP TABLE api_tokens`);
    await q.query(`DROP TABLE readers`);
  }
}
