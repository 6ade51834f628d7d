import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';

import { ScanEntity } from './scan.entity';

import type { StoredBox } from './reading.entity';

export interface StoredFusedBox extends StoredBox {
  score: number;
  readerIds: string[];
}

/** Released labels of a scan: the fused proposal, the final labels and the agreement figures. */
@Entity({ name: 'scan_results' })
// (released_at DESC, scan_id): the track record's window, newest first (migration 1765400000000). TypeORM cannot declare
// a descending key, so the index is the migration's alone (`synchronize: false`: the schema builder leaves it be).
@Index('ix_scan_results_released', { synchronize: false })
export class ScanResultEntity {
  @PrimaryColumn({ name: 'scan_id', type: 'text' })
  scanId!: string;

  @OneToOne(() => ScanEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'scan_id', foreignKeyConstraintName: 'fk_scan_results_scan' })
  scan?: ScanEntity;

  @Column({ type: 'text' })
  method!: string;

  @Column({ name: 'fused_boxes', type: 'jsonb' })
  fusedBoxes!: StoredFusedBox[];

  @Column({ name: 'fused_global_labels', type: 'jsonb' })
  fusedGlobalLabels!: string[];

  /** Final labels: the fused result, or for consensus policies the confirmed review. */
  @Column({ name: 'final_boxes', type: 'jsonb' })
  finalBoxes!: StoredBox[];

  @Column({ name: 'final_global_labels', type: 'jsonb' })
  finalGlobalLabels!: string[];

  @Column({ type: 'jsonb' })
  agreement!: Record<string, unknown>;

  @Column({ name: 'released_at', type: 'timestamptz' })
  releasedAt!: Date;
}
