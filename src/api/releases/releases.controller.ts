import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

import { Body, Controller, Get, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';

import type { Logger } from '../../logger';
import { RELEASE_VERSION } from '../../releases/layout';
import type { ReaderPseudonym } from '../../releases/pseudonyms';
import { CurrentPrincipal, Principal, Roles } from '../auth/principal';
import { ApiProblems } from '../common/openapi';
import { LOGGER } from '../deps';
import { NotFoundError } from '../errors';
import { CreateReleaseDto } from './releases.dto';
import { ReleasesService } from './releases.service';
import type { ReleaseView } from './releases.service';

function checkVersion(version: string): void {
  if (!RELEASE_VERSION.test(version)) throw new NotFoundError('release', `No release ${version}.`);
}

const CONTENT_TYPES: Record<string, string> = {
  '.dicom': 'application/dicom',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
};

/**
 * Dataset releases (VinDr-CXR layout): managers start them; every signed-in user may list and download published
 * ones (de-identified images, readers under pseudonyms). The pseudonym ↔ reader mapping is for managers only.
 */
@ApiTags('releases')
@ApiBearerAuth()
@Controller('releases')
export class ReleasesController {
  constructor(
    private readonly releases: ReleasesService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Starts the `releaseDataset` workflow for `version` (default splits: train and test). 202 with the release and
   * its progress; 409 `release-exists` (with `releaseStatus`) when the version is running or published (a version is
   * never overwritten); 409 `labels-outside-taxonomy` when a released scan of the splits carries labels the configured
   * taxonomy does not name (nothing is claimed: the version starts once the data is fixed). A failed version (refused
   * by its gate, or its workflow closed without publishing) starts again.
   */
  @Post()
  @HttpCode(202)
  @Roles('manager', 'admin')
  @ApiOperation({ summary: 'Start a dataset release (releaseDataset workflow)' })
  @ApiProblems({
    403: 'Not a manager or admin',
    409:
      'release-exists: the version is running or published (`releaseStatus`); labels-outside-taxonomy: a released scan ' +
      'of the splits carries labels outside the configured taxonomy, nothing is claimed or started (`scans` names them ' +
      'with their split and labels, `scanCount` counts them all)',
  })
  async create(@CurrentPrincipal() me: Principal, @Body() dto: CreateReleaseDto): Promise<ReleaseView> {
    return this.releases.start(dto.version, dto.splits ?? ['train', 'test'], me.readerId);
  }

  /**
   * Every release, newest first, with live progress for running ones. A running release whose workflow closed
   * without publishing (terminated, failed, timed out) is read as `failed`, with `failureReason` and `failureDetail`.
   */
  @Get()
  @ApiOperation({ summary: 'List releases, newest first' })
  async list(): Promise<{ items: ReleaseView[] }> {
    return { items: await this.releases.list() };
  }

  /** The stable pseudonyms of the readers (R1…Rn) and who they are. Managers only. */
  @Get('pseudonyms')
  @Roles('manager', 'admin')
  @ApiOperation({ summary: 'The readers behind the published pseudonyms (managers only)' })
  @ApiProblems({ 403: 'Not a manager or admin' })
  async pseudonyms(): Promise<{ items: ReaderPseudonym[] }> {
    return { items: await this.releases.pseudonyms() };
  }

  /** One release: status, progress (running), outcome, why it failed (failed), links (published). */
  @Get(':version')
  @ApiOperation({ summary: 'One release: status, progress, gate failures, links' })
  @ApiProblems({ 404: 'No such release' })
  async get(@Param('version') version: string): Promise<ReleaseView> {
    checkVersion(version);
    const r = await this.releases.get(version);
    if (!r) throw new NotFoundError('release', `No release ${version}.`);
    return r;
  }

  /** The whole published release as a tar stream (`<version>/…`); verify with `sha256sum -c SHA256SUMS` inside. */
  @Get(':version/archive.tar')
  @ApiProduces('application/x-tar')
  @ApiOkResponse({ description: 'tar, streamed' })
  @ApiOperation({ summary: 'Download a published release as one streamed tar' })
  @ApiProblems({ 404: 'No such published release' })
  async archive(@Param('version') version: string, @Res() res: Response): Promise<void> {
    checkVersion(version);
    const stream = async (): Promise<void> => this.releases.tar(version, res);
    // An unknown or unpublished version throws before any byte is written (then the headers below are not sent).
    res.status(200).type('application/x-tar');
    res.setHeader('Content-Disposition', `attachment; filename="readflow-${version}.tar"`);
    try {
      await stream();
    } catch (e) {
      this.logger.error({ err: e, version }, 'release tar failed');
      if (!res.headersSent) {
        res.removeHeader('Content-Disposition');
        throw e;
      }
      res.destroy(e as Error);
    }
  }

  /** One file of a published release, with its SHA-256 (`Repr-Digest`, RFC 9530, and `X-Checksum-SHA256`). */
  @Get(':version/files/*path')
  @ApiOkResponse({ description: 'the file, streamed' })
  @ApiOperation({ summary: 'Download one file of a published release, with its SHA-256' })
  @ApiParam({ name: 'path', description: 'path inside the release, e.g. annotations/annotations_train.csv' })
  @ApiProblems({ 404: 'No such release or file' })
  async file(@Param('version') version: string, @Param('path') rel: string | string[], @Res() res: Response): Promise<void> {
    checkVersion(version);
    const f = await this.releases.file(version, Array.isArray(rel) ? rel.join('/') : rel);
    const ext = f.name.slice(f.name.lastIndexOf('.'));
    res.status(200).type(CONTENT_TYPES[ext] ?? 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', String(f.size));
    res.setHeader('Content-Disposition', `attachment; filename="${f.name}"`);
    if (f.sha256) {
      res.setHeader('X-Checksum-SHA256', f.sha256);
      res.setHeader('Repr-Digest', `sha-256=:${Buffer.from(f.sha256, 'hex').toString('base64')}:`);
    }
    try {
      await pipeline(createReadStream(f.full), res);
    } catch (e) {
      this.logger.error({ err: e, version }, 'release file download failed');
      res.destroy(e as Error);
    }
  }
}
