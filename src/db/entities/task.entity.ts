import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { TASK_ROLES, TASK_ROW_STATUSES } from '../../domain/vocabulary';
import type { TaskRole, TaskRowStatus } from '../../domain/vocabulary';
import { inList } from './checks';
import { ReaderEntity } from './reader.entity';
import { ScanEntity } from './scan.entity';

/**
 * The inbox projection of one reading or review task. Ids are chosen by the workflow
 * (deterministically), so retried activity writes upsert the same row.
 */
@Entity({ name: 'tasks' })
@Check('ck_tasks_role', inList('role', TASK_ROLES))
@Check('ck_tasks_status', inList('status', TASK_ROW_STATUSES))
/** One task per reader, role and round of a scan; an earlier run's task the capacity sweep cancelled does not count. */
@Index('uq_tasks_scan_reader_role_round', ['scanId', 'readerId', 'role', 'round'], { unique: true, where: `status <> 'cancelled'` })
@Index('ix_tasks_reader_status_due', ['readerId', 'status', 'dueAt', 'id'])
@Index('ix_tasks_status_due', ['status', 'dueAt', 'id'])
@Index('ix_tasks_scan', ['scanId'])
export class TaskEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'scan_id', type: 'text' })
  scanId!: string;

  @ManyToOne(() => ScanEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'scan_id', foreignKeyConstraintName: 'fk_tasks_scan' })
  scan?: ScanEntity;

  @Column({ name: 'reader_id', type: 'text' })
  readerId!: string;

  @ManyToOne(() => ReaderEntity)
  @JoinColumn({ name: 'reader_id', foreignKeyConstraintName: 'fk_tasks_reader' })
  reader?: ReaderEntity;

  @Column({ type: 'text' })
  role!: TaskRole;

  /** Which of the policy's reader slots (0-based) this task fills; reassignment keeps the slot. */
  @Column({ type: 'integer' })
  slot!: number;

  /** Review round (0 for reading tasks). */
  @Column({ type: 'integer', default: 0 })
  round!: number;

  @Column({ type: 'text' })
  status!: TaskRowStatus;

  @Column({ name: 'assigned_at', type: 'timestamptz' })
  assignedAt!: Date;

  @Column({ name: 'due_at', type: 'timestamptz' })
  dueAt!: Date;

  @Column({ name: 'submitted_at', type: 'timestamptz', nullable: true })
  submittedAt!: Date | null;

  @Column({ name: 'closed_at', type: 'timestamptz', nullable: true })
  closedAt!: Date | null;

  /**
   * The workflow run that reserved the task or last wrote it (the capacity sweep frees what an earlier run of a re-run
   * scan holds); NULL for rows written before it was recorded.
   */
  @Column({ name: 'run_id', type: 'text', nullable: true })
  runId!: string | null;
}
