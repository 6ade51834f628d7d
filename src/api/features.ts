import type { Provider, Type } from '@nestjs/common';

import { AuditController, AuditService } from './audit/audit.controller';
import { QuarantineController, QuarantineService } from './quarantine/quarantine.controller';
import { ReadersController } from './readers/readers.controller';
import { ExportsController, ExportsService } from './exports/exports.controller';
import { ReadersService } from './readers/readers.service';
import { ReleasesController } from './releases/releases.controller';
import { ReleasesService } from './releases/releases.service';
import { BatchesController, ScansController } from './scans/scans.controller';
import { ScansService } from './scans/scans.service';
import { ImageService } from './tasks/image.service';
import { MeController, TasksController } from './tasks/tasks.controller';
import { TasksService } from './tasks/tasks.service';
import { ScanWorkflowsService } from './workflows/scan-workflows.service';

/** Feature controllers under `/api/v1`. */
export const API_CONTROLLERS: Type<unknown>[] = [MeController, TasksController, ScansController, BatchesController, ExportsController, ReadersController, AuditController, QuarantineController, ReleasesController];

/** Their services. */
export const API_PROVIDERS: Provider[] = [ScanWorkflowsService, TasksService, ScansService, ExportsService, ImageService, ReadersService, AuditService, QuarantineService, ReleasesService];
