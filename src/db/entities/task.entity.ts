import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

import type { TaskRole, TaskStatus } from '../../domain/vocabulary';

/**
 * The inbox projection of one reading or review task. Ids are chosen by the workflow
 * (deterministically), so retried activity writes upsert the same row.
 */
@Entity({ name: 'tasks' })
@Unique('uq_tasks_scan_reader_role_round', ['scanId', 'readerId', 'role', 'round'])
@Index('ix_tasks_reader_status_due', ['readerId', 'status', 'dueAt', 'id'])
@Index('ix_tasks_status_due', ['status', 'dueAt', 'id'])
@Index('ix_tasks_scan', ['scanId'])
export class TaskEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'scan_id', type: 'text' })
  scanId!: string;

  @Column({ name: 'reader_id', type: 'text' })
  readerId!: string;

  @Column({ type: 'text' })
  role!: TaskRole;

  /** Which of the policy's reader slots (0-based) this task fills; reassignment keeps the slot. */
  @Column({ type: 'integer' })
  slot!: number;

  /** Review round (0 for reading tasks). */
  @Column({ type: 'integer', default: 0 })
  round!: number;

  @Column({ type: 'text' })
  status!: TaskStatus;

  @Column({ name: 'assigned_at', type: 'timestamptz' })
  assignedAt!: Date;

  @Column({ name: 'due_at', type: 'timestamptz' })
  dueAt!: Date;

  @Column({ name: 'submitted_at', type: 'timestamptz', nullable: true })
  submittedAt!: Date | null;

  @Column({ name: 'closed_at', type: 'timestamptz', nullable: true })
  closedAt!: Date | null;
}
