import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';

import { ReaderEntity } from './reader.entity';

/** A bearer token, stored only as its SHA-256 hash. */
@Entity({ name: 'api_tokens' })
@Unique('uq_api_tokens_token_hash', ['tokenHash'])
@Index('ix_api_tokens_reader_id', ['readerId'])
export class ApiTokenEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'reader_id', type: 'text' })
  readerId!: string;

  @ManyToOne(() => ReaderEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'reader_id', foreignKeyConstraintName: 'fk_api_tokens_reader' })
  reader?: ReaderEntity;

  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
