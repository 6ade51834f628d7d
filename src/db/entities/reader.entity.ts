import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

import type { ReaderRole } from '../../domain/vocabulary';

/** A member of the roster: radiologists read scans, managers steer, admins manage tokens. */
@Entity({ name: 'readers' })
export class ReaderEntity {
  /** Stable human-readable id, e.g. `rad01`; used as rad_id in exports. */
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'display_name', type: 'text' })
  displayName!: string;

  @Column({ type: 'text' })
  role!: ReaderRole;

  /** Senior radiologists may take consensus review tasks. */
  @Column({ type: 'boolean', default: false })
  senior!: boolean;

  @Column({ type: 'boolean', default: true })
  active!: boolean;

  @Column({ name: 'open_task_cap', type: 'integer', default: 50 })
  openTaskCap!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
