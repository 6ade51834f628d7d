import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * Append-only record of who did what, when. `eventKey` makes writes idempotent:
 * a retried activity inserts the same key and is ignored.
 */
@Entity({ name: 'audit_events' })
@Unique('uq_audit_events_event_key', ['eventKey'])
@Index('ix_audit_events_scan_at', ['scanId', 'at', 'id'])
export class AuditEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'event_key', type: 'text' })
  eventKey!: string;

  @Column({ name: 'scan_id', type: 'text', nullable: true })
  scanId!: string | null;

  @Column({ name: 'task_id', type: 'uuid', nullable: true })
  taskId!: string | null;

  /** A reader id, `system`, or `workflow`. */
  @Column({ type: 'text' })
  actor!: string;

  @Column({ type: 'text' })
  action!: string;

  @Column({ type: 'jsonb', default: {} })
  detail!: Record<string, unknown>;

  @Column({ type: 'timestamptz' })
  at!: Date;
}
