import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { ReviewDecision, TaskRole } from '../../domain/vocabulary';

export interface StoredBox {
  label: string;
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

/** One accepted submission (a reader's reading or a reviewer's decision), keyed by its task. */
@Entity({ name: 'readings' })
@Index('ix_readings_scan', ['scanId'])
@Index('ix_readings_reader', ['readerId'])
export class ReadingEntity {
  @PrimaryColumn({ name: 'task_id', type: 'uuid' })
  taskId!: string;

  @Column({ name: 'scan_id', type: 'text' })
  scanId!: string;

  @Column({ name: 'reader_id', type: 'text' })
  readerId!: string;

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
