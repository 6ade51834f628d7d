import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, Unique, UpdateDateColumn } from 'typeorm';

import type { PolicyName } from '../../domain/policy';
import { SCAN_STAGES } from '../../domain/stages';
import type { ScanStage } from '../../domain/stages';
import { SCAN_SPLITS } from '../../domain/vocabulary';
import type { ScanSplit } from '../../domain/vocabulary';
import { inList } from './checks';

/**
 * The queryable projection of a scan. Temporal's workflow is the source of truth for its stage;
 * this row is written by activities so lists can be filtered and paginated.
 * No identifying data lives here: source UIDs stay in the restricted originals store.
 */
@Entity({ name: 'scans' })
@Check('ck_scans_stage', inList('stage', SCAN_STAGES))
@Check('ck_scans_split', inList('split', SCAN_SPLITS))
@Index('ix_scans_created', ['createdAt', 'id'])
@Unique('uq_scans_image_id', ['imageId'])
@Index('ix_scans_stage_created', ['stage', 'createdAt', 'id'])
@Index('ix_scans_split_stage', ['split', 'stage'])
@Index('ix_scans_split_created', ['split', 'createdAt', 'id'])
@Index('ix_scans_split_stage_id', ['split', 'stage', 'id'])
@Index('ix_scans_released_at', ['releasedAt'])
export class ScanEntity {
  /** Equals the Temporal workflow id, e.g. `scan-3f2a…`. */
  @PrimaryColumn({ type: 'text' })
  id!: string;

  /** Pseudonymous 32-hex image id (as in the VinDr-CXR release); null until de-identified. */
  @Column({ name: 'image_id', type: 'char', length: 32, nullable: true })
  imageId!: string | null;

  @Column({ type: 'text' })
  split!: ScanSplit;

  @Column({ type: 'text' })
  policy!: PolicyName;

  @Column({ type: 'text' })
  stage!: ScanStage;

  @Column({ name: 'batch_id', type: 'text', nullable: true })
  batchId!: string | null;

  @Column({ type: 'text', nullable: true })
  modality!: string | null;

  @Column({ name: 'view_position', type: 'text', nullable: true })
  viewPosition!: string | null;

  @Column({ type: 'integer', nullable: true })
  rows!: number | null;

  @Column({ type: 'integer', nullable: true })
  columns!: number | null;

  /** Row and column spacing in mm, as in PixelSpacing (0028,0030). */
  @Column({ name: 'pixel_spacing', type: 'jsonb', nullable: true })
  pixelSpacing!: number[] | null;

  @Column({ name: 'transfer_syntax', type: 'text', nullable: true })
  transferSyntax!: string | null;

  /** Key of the de-identified file in the `deidentified` store. */
  @Column({ name: 'deidentified_key', type: 'text', nullable: true })
  deidentifiedKey!: string | null;

  @Column({ name: 'quarantine_reason', type: 'text', nullable: true })
  quarantineReason!: string | null;

  @Column({ name: 'attention_reason', type: 'text', nullable: true })
  attentionReason!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'released_at', type: 'timestamptz', nullable: true })
  releasedAt!: Date | null;
}
