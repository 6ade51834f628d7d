import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';

import { CurrentPrincipal, Principal, Roles } from '../auth/principal';
import { SubmissionProblemFilter } from '../problem.filter';
import { ImageService } from './image.service';
import {
  ExtendDto,
  ImageQuery,
  ManagedTaskPageDto,
  ManagerTasksQuery,
  ReassignDto,
  ReassignResultDto,
  SubmissionDto,
  SubmissionResultDto,
  TaskDetailDto,
  TaskViewDto,
} from './tasks.dto';
import { TasksService } from './tasks.service';
import { ApiProblems } from '../common/openapi';
import { ValidationFailedError } from '../errors';

@ApiTags('tasks')
@ApiBearerAuth()
@Controller('tasks')
export class TasksController {
  constructor(
    private readonly tasks: TasksService,
    private readonly images: ImageService,
  ) {}

  /** Managers: tasks by status, reader, or overdue — the list managers act on. */
  @Get()
  @Roles('manager', 'admin')
  @ApiOperation({ summary: 'Tasks by status, reader or overdue (managers)' })
  @ApiProblems({ 403: 'Not a manager or admin' })
  @ApiOkResponse({ type: ManagedTaskPageDto })
  list(@Query() q: ManagerTasksQuery): Promise<ManagedTaskPageDto> {
    return this.tasks.managerList(q);
  }

  /** A task with its image metadata and the taxonomy; reviewers also get the readings under review. */
  @Get(':taskId')
  @ApiOperation({ summary: 'A task with its image metadata and taxonomy (reviewers: the readings under review)' })
  @ApiOkResponse({ type: TaskDetailDto })
  @ApiNotFoundResponse({ description: 'Unknown, or another reader’s task' })
  detail(@CurrentPrincipal() me: Principal, @Param('taskId') taskId: string): Promise<TaskDetailDto> {
    return this.tasks.detail(me, taskId);
  }

  /**
   * The de-identified DICOM (ETag, Range), or `?format=png` for an 8-bit preview of any stored encoding, windowed
   * (`window`/`level`, default the file's VOI, else the pixel range) and optionally downscaled (`size`), with an ETag.
   * A radiologist gets the image of their task while it is open, and after submitting it (to re-view their own work);
   * once the task was reassigned, expired or cancelled, 404. Managers and admins get the image of any task.
   */
  @Get(':taskId/image')
  @ApiOperation({ summary: 'The task’s de-identified DICOM, or a windowed PNG preview' })
  @ApiProblems({ 416: 'The Range cannot be satisfied', 503: 'Every preview thread is busy and the render queue is full' })
  @ApiProduces('application/dicom', 'image/png')
  @ApiResponse({ status: 200, description: 'The image' })
  @ApiResponse({ status: 206, description: 'A byte range of the DICOM' })
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match matched the ETag)' })
  @ApiResponse({ status: 415, description: 'No PNG preview: the problem names the transfer syntax no decoder supports (or the pixel format)' })
  @ApiUnprocessableEntityResponse({ description: 'window, level or size out of range, or given without format=png' })
  @ApiNotFoundResponse({ description: 'Unknown, another reader’s, or no longer the caller’s task (reassigned, expired, cancelled)' })
  async image(
    @CurrentPrincipal() me: Principal,
    @Param('taskId') taskId: string,
    @Query() q: ImageQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const png = q.format === 'png';
    const given = (['window', 'level', 'size'] as const).filter((k) => q[k] !== undefined);
    if (!png && given.length > 0) {
      throw new ValidationFailedError(given.map((k) => ({ path: k, code: 'not-applicable', message: `${k} applies only to format=png` })));
    }
    const task = await this.tasks.imageTask(me, taskId);
    if (png) await this.images.sendPng(task, { window: q.window, level: q.level, size: q.size }, req, res);
    else await this.images.sendDicom(task, req, res);
  }

  /** Submits a reading (or a review decision) through the scan's workflow. An identical repeat is accepted again. */
  @Post(':taskId/submission')
  @HttpCode(200)
  @UseFilters(SubmissionProblemFilter)
  @ApiOperation({ summary: 'Submit a reading or a review decision' })
  @ApiProblems({ 504: '' })
  @ApiOkResponse({ type: SubmissionResultDto })
  @ApiUnprocessableEntityResponse({ description: 'invalid-submission: every problem (shape or content) with its path in the body' })
  @ApiConflictResponse({ description: 'The task is no longer this reader’s (expired, reassigned, submitted differently)' })
  @ApiNotFoundResponse()
  submit(@CurrentPrincipal() me: Principal, @Param('taskId') taskId: string, @Body() body: SubmissionDto): Promise<SubmissionResultDto> {
    return this.tasks.submit(me, taskId, body);
  }

  /** Managers: move an open task to another reader (named, or the next eligible). */
  @Post(':taskId/reassign')
  @HttpCode(200)
  @Roles('manager', 'admin')
  @ApiOperation({ summary: 'Reassign an open task (managers)' })
  @ApiProblems({ 403: 'Not a manager or admin', 404: 'Unknown task', 504: '' })
  @ApiOkResponse({ type: ReassignResultDto })
  @ApiConflictResponse({ description: 'Task not open, or no eligible reader' })
  @ApiUnprocessableEntityResponse({ description: 'toReaderId is not a known radiologist' })
  reassign(@CurrentPrincipal() me: Principal, @Param('taskId') taskId: string, @Body() dto: ReassignDto): Promise<ReassignResultDto> {
    return this.tasks.reassign(me, taskId, dto);
  }

  /** Managers: set a new deadline for an open task. */
  @Post(':taskId/extend')
  @HttpCode(200)
  @Roles('manager', 'admin')
  @ApiOperation({ summary: 'Set a new deadline for an open task (managers)' })
  @ApiProblems({ 403: 'Not a manager or admin', 404: 'Unknown task', 409: 'The task is not open, or its scan has ended', 504: '' })
  @ApiOkResponse({ type: TaskViewDto })
  @ApiUnprocessableEntityResponse({ description: 'The deadline is invalid (e.g. in the past)' })
  extend(@CurrentPrincipal() me: Principal, @Param('taskId') taskId: string, @Body() dto: ExtendDto): Promise<TaskViewDto> {
    return this.tasks.extend(me, taskId, dto);
  }
}
