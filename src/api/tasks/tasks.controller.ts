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
  InboxPageDto,
  InboxQuery,
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

/** The annotation client's inbox. */
@ApiTags('tasks')
@ApiBearerAuth()
@Controller('me')
export class MeController {
  constructor(private readonly tasks: TasksService) {}

  /** The caller's tasks of one status (default open), ordered by deadline. */
  @Get('tasks')
  @ApiOperation({ summary: 'My inbox: my tasks of one status, by deadline' })
  @ApiOkResponse({ type: InboxPageDto })
  inbox(@CurrentPrincipal() me: Principal, @Query() q: InboxQuery): Promise<InboxPageDto> {
    return this.tasks.inbox(me, q);
  }
}

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
   * The de-identified DICOM (ETag, Range), or `?format=png` for an 8-bit windowed preview. A radiologist gets the
   * image of their task while it is open, and after submitting it (to re-view their own work); once the task was
   * reassigned, expired or cancelled, 404. Managers and admins get the image of any task.
   */
  @Get(':taskId/image')
  @ApiOperation({ summary: 'The task’s de-identified DICOM, or a PNG preview' })
  @ApiProblems({ 416: 'The Range cannot be satisfied' })
  @ApiProduces('application/dicom', 'image/png')
  @ApiResponse({ status: 200, description: 'The image' })
  @ApiResponse({ status: 206, description: 'A byte range of the DICOM' })
  @ApiResponse({ status: 415, description: 'No PNG preview for this transfer syntax' })
  @ApiNotFoundResponse({ description: 'Unknown, another reader’s, or no longer the caller’s task (reassigned, expired, cancelled)' })
  async image(
    @CurrentPrincipal() me: Principal,
    @Param('taskId') taskId: string,
    @Query() q: ImageQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const task = await this.tasks.imageTask(me, taskId);
    if (q.format === 'png') await this.images.sendPng(task, req, res);
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
