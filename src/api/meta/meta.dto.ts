import { ApiProperty } from '@nestjs/swagger';

import {
  FINAL_STAGES,
  POLICY_NAMES,
  READER_ROLES,
  REVIEW_DECISIONS,
  SCAN_SPLITS,
  SCAN_STAGES,
  TASK_ROLES,
  TASK_STATUSES,
} from '../../domain';
import { CSV_EXPORTS, LABEL_SETS } from '../dataset-exports/dataset-exports.dto';

/** The value lists of the API, in their order (the page builds its filters from them instead of copying them). */
export class MetaDto {
  @ApiProperty({ enum: SCAN_STAGES, isArray: true, description: 'Lifecycle stages of a scan: the happy path in order, then the side exits' })
  stages!: readonly string[];
  @ApiProperty({ enum: FINAL_STAGES, isArray: true, description: 'Stages a scan never leaves' })
  finalStages!: readonly string[];
  @ApiProperty({ enum: SCAN_SPLITS, isArray: true })
  splits!: readonly string[];
  @ApiProperty({ enum: POLICY_NAMES, isArray: true, description: 'Reading policies a new scan may run with' })
  policies!: readonly string[];
  @ApiProperty({ enum: TASK_ROLES, isArray: true })
  taskRoles!: readonly string[];
  @ApiProperty({ enum: TASK_STATUSES, isArray: true })
  taskStatuses!: readonly string[];
  @ApiProperty({ enum: REVIEW_DECISIONS, isArray: true })
  reviewDecisions!: readonly string[];
  @ApiProperty({ enum: READER_ROLES, isArray: true })
  readerRoles!: readonly string[];
  @ApiProperty({ enum: CSV_EXPORTS, isArray: true, description: 'CSV files of `GET /exports/{kind}.csv`' })
  csvExports!: readonly string[];
  @ApiProperty({ enum: LABEL_SETS, isArray: true, description: '`labels` of the CSV exports' })
  labelSets!: readonly string[];
  @ApiProperty({
    example: 'http://127.0.0.1:8233',
    description: 'Base URL of the Temporal UI (config `TEMPORAL_UI_URL`): scan workflows are at `{temporalUiUrl}/namespaces/{temporalNamespace}/workflows/{scanId}`',
  })
  temporalUiUrl!: string;
  @ApiProperty({ example: 'readflow', description: 'Temporal namespace of the scan workflows (config `TEMPORAL_NAMESPACE`)' })
  temporalNamespace!: string;
}

/** The value lists served (the Temporal UI's address is added from the config). */
export const META: Omit<MetaDto, 'temporalUiUrl' | 'temporalNamespace'> = {
  stages: SCAN_STAGES,
  finalStages: FINAL_STAGES,
  splits: SCAN_SPLITS,
  policies: POLICY_NAMES,
  taskRoles: TASK_ROLES,
  taskStatuses: TASK_STATUSES,
  reviewDecisions: REVIEW_DECISIONS,
  readerRoles: READER_ROLES,
  csvExports: CSV_EXPORTS,
  labelSets: LABEL_SETS,
};
