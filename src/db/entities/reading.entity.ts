import { Check, Column, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryColumn } from 'typeorm';

import { REVIEW_DECISIONS, TASK_ROLES } from '../../domain/vocabulary';
import type { ReviewDecision, TaskRole } from '../../domain/vocabulary';
import { inList } from './checks';
import { ReaderEntity } from './reader.entity';
import { ScanEntity } from './scan.entity';
import { TaskEntity } from './task.entity';

export interface StoredBox {
  label: string;
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

/** One accepted submission (a reader's reading or a reviewer's decision), keyed by its task. */
@Entity({ name: 'readings' })
@Check('ck_readings_role', inList('role', TASK_ROLES))
@Check('ck_readings_decision', inList('decision', REVIEW_DECISIONS))
@Index('ix_readings_scan', ['scanId'])
@Index('ix_readings_reader', ['readerId'])
@Index('ix_readings_role_scan', ['role', 'scanId'])
export class ReadingEntity {
  @PrimaryColumn({ name: 'task_id', type: 'uuid' })
  taskId!: string;

  @OneToOne(() => TaskEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'task_id', foreignKeyConstraintName: 'fk_readings_task' })
  task?: TaskEntity;

  @Column({ name: 'scan_id', type: 'text' })
  scanId!: string;

  @ManyToOne(() => ScanEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'scan_id', foreignKeyConstraintName: 'fk_readings_scan' })
  scan?: ScanEntity;

  @Column({ name: 'reader_id', type: 'text' })
  readerId!: string;

  @ManyToOne(() => ReaderEntity)
  @JoinColumn({ name: 'reader_id', foreignKeyConstraintName: 'fk_readings_reader' })
  reader?: ReaderEntity;

  @Column({ type: 'text' })
  role!: TaskRole;

  @Column({ type: 'jsonb' })
  boxes!: StoredBox[];

  @Column({ name: 'global_labels', type: 'jsonb' })
  globalLabels!: string[];

  @Column({ type: 'text', nullable: true })
  comment!: string | null;

  /** For reviewers: `submit` (first reviewer), `confirm` or `return` (second reviewer). */
  @Column({ type: 'text', nullable: true })
  decision!: ReviewDecision | null;

  @Column({ name: 'submitted_at', type: 'timestamptz' })
  submittedAt!: Date;
}
