export * from './sql';
export * from './api-tokens.repository';
export * from './audit-events.repository';
export * from './quarantined-inputs.repository';
export * from './reader-waitlist.repository';
export * from './readers.repository';
export * from './readings.repository';
export * from './scan-results.repository';
export * from './scans.repository';
export * from './tasks.repository';
export * from './gold.repository';

import type { Db } from './sql';
import { ApiTokensRepository } from './api-tokens.repository';
import { AuditEventsRepository } from './audit-events.repository';
import { QuarantinedInputsRepository } from './quarantined-inputs.repository';
import { ReaderWaitlistRepository } from './reader-waitlist.repository';
import { ReadersRepository } from './readers.repository';
import { ReadingsRepository } from './readings.repository';
import { ScanResultsRepository } from './scan-results.repository';
import { ScansRepository } from './scans.repository';
import { TasksRepository } from './tasks.repository';
import { GoldRepository } from './gold.repository';

/** Every repository over one connection or transaction. */
export function repositories(db: Db) {
  return {
    apiTokens: new ApiTokensRepository(db),
    auditEvents: new AuditEventsRepository(db),
    quarantinedInputs: new QuarantinedInputsRepository(db),
    readers: new ReadersRepository(db),
    readerWaitlist: new ReaderWaitlistRepository(db),
    readings: new ReadingsRepository(db),
    scanResults: new ScanResultsRepository(db),
    scans: new ScansRepository(db),
    tasks: new TasksRepository(db),
    gold: new GoldRepository(db),
  };
}

/** The repositories of one connection or transaction. */
export type Repositories = ReturnType<typeof repositories>;

/** The repository classes, for dependency injection. */
export const REPOSITORY_CLASSES = [
  ApiTokensRepository,
  AuditEventsRepository,
  QuarantinedInputsRepository,
  ReadersRepository,
  ReadingsRepository,
  ScanResultsRepository,
  ScansRepository,
  TasksRepository,
  GoldRepository,
] as const;
