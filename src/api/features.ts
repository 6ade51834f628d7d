import type { Provider, Type } from '@nestjs/common';

import { AuditController } from './audit/audit.controller';
import { AuditService } from './audit/audit.service';
import { QuarantineController } from './quarantine/quarantine.controller';
import { QuarantineService } from './quarantine/quarantine.service';
import { ReadersController } from './readers/readers.controller';
import { DatasetExportsController } from './dataset-exports/dataset-exports.controller';
import { DatasetExportsService } from './dataset-exports/dataset-exports.service';
import { ReadersService } from './readers/readers.service';
import { BatchesController } from './batches/batches.controller';
import { BatchesService } from './batches/batches.service';
import { ReleasesController } from './releases/releases.controller';
import { ReleasesService } from './releases/releases.service';
import { ScansController } from './scans/scans.controller';
import { ScansService } from './scans/scans.service';
import { ImageService } from './tasks/image.service';
import { InboxController } from './tasks/inbox.controller';
import { TasksController } from './tasks/tasks.controller';
import { TasksService } from './tasks/tasks.service';
import { MetaController } from './meta/meta.controller';
import { ProfileController } from './profile/profile.controller';
import { ProfileService } from './profile/profile.service';
import { TemporalCodecController } from './temporal-codec/temporal-codec.controller';
import { TemporalGateway } from './temporal-gateway/temporal-gateway.service';
import { CalibrationController } from './calibration/calibration.controller';
import { CalibrationService } from './calibration/calibration.service';
import { StatsController } from './stats/stats.controller';
import { StatsService } from './stats/stats.service';
import { GoldController } from './gold/gold.controller';
import { GoldService } from './gold/gold.service';

/** Feature controllers under `/api/v1`. */
export const API_CONTROLLERS: Type<unknown>[] = [
  MetaController,
  ProfileController,
  InboxController,
  TasksController,
  ScansController,
  BatchesController,
  DatasetExportsController,
  ReleasesController,
  ReadersController,
  AuditController,
  QuarantineController,
  TemporalCodecController,
  StatsController,
  CalibrationController,
  GoldController,
];

/** Their services. */
export const API_PROVIDERS: Provider[] = [
  TemporalGateway,
  ProfileService,
  TasksService,
  ScansService,
  BatchesService,
  DatasetExportsService,
  ReleasesService,
  ImageService,
  ReadersService,
  AuditService,
  QuarantineService,
  StatsService,
  CalibrationService,
  GoldService,
];
