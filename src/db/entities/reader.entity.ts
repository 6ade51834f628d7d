import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

import { READER_ROLES } from '../../domain/vocabulary';
import type { ReaderRole } from '../../domain/vocabulary';
import { inList } from './checks';

/** A member of the roster: radiologists read scans, managers steer, admins manage tokens. */
@Entity({ name: 'readers' })
@Check('ck_readers_role', inList('role', READER_ROLES))
@Check('ck_readers_open_task_cap', 'open_task_cap >= 0')
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
