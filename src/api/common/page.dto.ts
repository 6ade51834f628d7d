import type { Type } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';

import type { Page } from './cursor';

/**
 * The base class of a page (`Page<T>` of ./cursor.ts: what every keyset-paginated list answers) of `item`s, for OpenAPI: `class ScanPageDto extends PageOf(ScanSummaryDto) {}` gives each
 * list its own schema name with the same two fields.
 */
export function PageOf<T>(item: Type<T>): Type<Page<T>> {
  class PageDto implements Page<T> {
    @ApiProperty({ type: [item] })
    items!: T[];
    @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' })
    nextCursor!: string | null;
  }
  return PageDto;
}
