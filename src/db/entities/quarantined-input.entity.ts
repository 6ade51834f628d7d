import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** An input that was refused at ingest, kept in the quarantine store with a machine-readable reason. */
@Entity({ name: 'quarantined_inputs' })
@Unique('uq_quarantined_inputs_sha256', ['sha256'])
@Index('ix_quarantined_inputs_created', ['createdAt', 'id'])
export class QuarantinedInputEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** SHA-256 of the input bytes (also its key in the quarantine store). */
  @Column({ type: 'char', length: 64 })
  sha256!: string;

  @Column({ name: 'scan_id', type: 'text', nullable: true })
  scanId!: string | null;

  @Column({ type: 'text', nullable: true })
  filename!: string | null;

  /** e.g. `not-dicom`, `truncated`, `missing-required-attribute:(0028,0010)`. */
  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'text', default: '' })
  detail!: string;

  @Column({ name: 'size_bytes', type: 'bigint' })
  sizeBytes!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
