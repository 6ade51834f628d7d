/**
 * `POST /api/v1/temporal-codec/decode`: the Temporal codec-server protocol, so operators see decrypted payloads in the
 * Temporal UI (its codec-endpoint setting: `<PUBLIC_URL>/api/v1/temporal-codec`) or the CLI
 * (`temporal workflow show --codec-endpoint <PUBLIC_URL>/api/v1/temporal-codec --codec-auth "Bearer <manager token>"`).
 *
 * Body and answer are proto3-JSON `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`; the
 * `X-Namespace` header, when sent, must be ReadFlow's namespace. Managers and admins only: decoding shows readings
 * before release. There is deliberately no `/encode`: nobody forges messages through the UI. CORS for the Temporal
 * UI's origin is set in bootstrap (`temporalCodecCors`).
 */
import { Body, Controller, Delete, Headers, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Payload } from '@temporalio/common';
import type { Request, Response } from 'express';
import { ArrayMaxSize, IsArray } from 'class-validator';

import type { Config } from '../../config/config';
import { AesGcmPayloadCodec } from '../../temporal/payload-codec';
import { AuthedRequest, bearerTokenOf, CODEC_COOKIE, CODEC_PATH, Roles } from '../auth/principal';
import { CONFIG } from '../deps';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationFailedError } from '../errors';

/** How long a codec session lasts in the browser (the token itself is checked on every request). */
const CODEC_SESSION_SECONDS = 12 * 60 * 60;

/** Most payloads decoded per request (a history page's worth). */
export const MAX_CODEC_PAYLOADS = 1000;

export class CodecPayloadsDto {
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'proto3-JSON payloads (bytes as base64)' })
  @IsArray()
  @ArrayMaxSize(MAX_CODEC_PAYLOADS)
  payloads!: unknown[];
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function fromJson(raw: unknown, i: number): Payload {
  const bad = (message: string): ValidationFailedError =>
    new ValidationFailedError([{ path: `payloads[${i}]`, code: 'invalid-payload', message }]);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('a payload is an object { metadata, data }');
  const p = raw as JsonPayload;
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) {
    if (typeof v !== 'string' || !BASE64.test(v)) throw bad(`metadata.${k} must be base64`);
    metadata[k] = Buffer.from(v, 'base64');
  }
  if (p.data !== undefined && (typeof p.data !== 'string' || !BASE64.test(p.data))) throw bad('data must be base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v ?? new Uint8Array()).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

@ApiTags('operations')
@ApiBearerAuth()
@ApiForbiddenResponse({ description: 'Not a manager or admin, or another namespace' })
@Roles('manager', 'admin')
@Controller('temporal-codec')
export class TemporalCodecController {
  private readonly codec?: AesGcmPayloadCodec;

  constructor(@Inject(CONFIG) private readonly config: Config) {
    const keys = config.security.payloadKeys;
    if (keys?.length) this.codec = new AesGcmPayloadCodec(keys);
  }

  /** Decrypts payloads for the Temporal UI or CLI (codec-server protocol). */
  @Post('decode')
  @HttpCode(200)
  @ApiOkResponse({ type: CodecPayloadsDto })
  @ApiOperation({ summary: 'Decode Temporal payloads for the Temporal UI or CLI (codec server protocol)' })
  async decode(@Body() body: CodecPayloadsDto, @Headers('x-namespace') namespace?: string): Promise<{ payloads: JsonPayload[] }> {
    if (!this.codec) throw new NotFoundError('route', 'payload encryption is not configured (READFLOW_PAYLOAD_KEYS)');
    if (namespace !== undefined && namespace !== this.config.temporal.namespace) {
      throw new ForbiddenError(`this codec serves the namespace ${this.config.temporal.namespace} only`);
    }
    const payloads = body.payloads.map(fromJson);
    try {
      return { payloads: (await this.codec.decode(payloads)).map(toJson) };
    } catch (err) {
      throw new ValidationFailedError([{ path: 'payloads', code: 'undecodable', message: (err as Error).message }]);
    }
  }

  /**
   * Lets the Temporal UI decode in this browser: sets the codec cookie (the caller's own token; HttpOnly,
   * SameSite=Strict, path `/api/v1/temporal-codec`, 12 h), which the UI sends with its decode requests when its codec
   * setting "include cross-origin credentials" is on. The page calls it when a manager or admin signs in.
   */
  @Post('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The codec cookie is set' })
  @ApiOperation({ summary: 'Start a codec session for the Temporal UI in this browser (sets an HttpOnly cookie)' })
  startSession(@Req() req: Request, @Res({ passthrough: true }) res: Response): void {
    const token = bearerTokenOf(req as AuthedRequest);
    if (!token) throw new UnauthorizedError('A codec session starts from a bearer token (Authorization: Bearer <token>).');
    res.setHeader('Set-Cookie', this.cookie(token, CODEC_SESSION_SECONDS));
  }

  /** Ends the codec session: the cookie is cleared (the page calls it at sign-out). */
  @Delete('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The codec cookie is cleared' })
  @ApiOperation({ summary: 'End the codec session for the Temporal UI in this browser' })
  endSession(@Res({ passthrough: true }) res: Response): void {
    res.setHeader('Set-Cookie', this.cookie('', 0));
  }

  private cookie(value: string, maxAge: number): string {
    const secure = this.config.http.publicUrl.startsWith('https:') ? '; Secure' : '';
    return `${CODEC_COOKIE}=${value}; Path=${CODEC_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`;
  }
}
