import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

/** `?limit=` of a list: a whole number from 1 to `max`; the service applies `default` when it is absent. */
export function LimitParam(o: { default: number; max: number; description?: string }): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ minimum: 1, maximum: o.max, default: o.default, ...(o.description ? { description: o.description } : {}) }),
    IsOptional(),
    Type(() => Number),
    IsInt(),
    Min(1),
    Max(o.max),
  );
}

/** `?cursor=&limit=` of every list that can grow (keyset pagination: see ./cursor.ts). */
export class PageQuery {
  @ApiPropertyOptional({ description: 'Opaque cursor from nextCursor' })
  @IsOptional()
  @IsString()
  cursor?: string;

  @LimitParam({ default: 50, max: 200 })
  limit?: number;
}
