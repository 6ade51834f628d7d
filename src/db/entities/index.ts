/**
 * src/db/entities — TypeORM entities, one per table, matching the migrations exactly (test/integration/db-schema.test.ts
 * runs the schema builder after migrating and expects no change), and the JSON shapes of the jsonb columns.
 * May import: typeorm and `src/domain` (value lists and types); nothing else (lint-enforced for src/db).
 */
import { ApiTokenEntity } from './api-token.entity';
import { AuditEventEntity } from './audit-event.entity';
import { QuarantinedInputEntity } from './quarantined-input.entity';
import { ReaderEntity } from './reader.entity';
import { ReadingEntity } from './reading.entity';
import { ScanResultEntity } from './scan-result.entity';
import { ScanEntity } from './scan.entity';
import { TaskEntity } from './task.entity';

export { ApiTokenEntity, AuditEventEntity, QuarantinedInputEntity, ReaderEntity, ReadingEntity, ScanEntity, ScanResultEntity, TaskEntity };
/** Re-exported for older importers (src/api/auth, tests); declared once in src/domain. */
export type { ReaderRole, TaskRole, TaskStatus } from '../../domain/vocabulary';
export type { StoredBox } from './reading.entity';
export type { StoredFusedBox } from './scan-result.entity';

/** Every entity, for the DataSource. */
export const ENTITIES = [
  ReaderEntity,
  ApiTokenEntity,
  ScanEntity,
  TaskEntity,
  ReadingEntity,
  ScanResultEntity,
  AuditEventEntity,
  QuarantinedInputEntity,
];
