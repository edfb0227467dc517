import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { RequireRoles, type UserRequest } from '../access/auth.guard';
import { ValidationFailedError } from '../errors/domain.error';
import { PersonQueryService, type FamiliarEntry, type Page } from '../persons/person-query.service';
import { FamiliarSseService } from './familiar-sse.service';
import { STREAM_ID } from './familiar-stream.service';
import { FamiliarListQuery, parseQuery } from './read-query.dto';

export const PURPOSE_DOC = { name: 'X-Purpose-Of-Use', required: true, description: 'care_coordination, discharge_planning or data_quality (must fit the role)' };

@ApiTags('familiar-faces')
@ApiHeader(PURPOSE_DOC)
@Controller('api/v1/familiar-faces')
export class FamiliarFacesController {
  constructor(
    private readonly persons: PersonQueryService,
    private readonly sse: FamiliarSseService,
  ) {}

  @Get()
  @RequireRoles('case_manager', 'discharge_planner')
  @ApiOperation({ summary: 'The familiar-faces list as the caller may see it; filters apply to what the caller sees' })
  @ApiQuery({ type: FamiliarListQuery })
  list(@Req() req: UserRequest, @Query() raw: Record<string, unknown>): Promise<Page<FamiliarEntry>> {
    const viewer = this.persons.viewer(req.user!, req.headers);
    return this.persons.list(viewer, parseQuery(FamiliarListQuery, raw));
  }

  @Get('stream')
  @RequireRoles('case_manager', 'discharge_planner')
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiOperation({ summary: 'Server-Sent Events: added / updated / removed entries of the caller\'s list' })
  stream(@Req() req: UserRequest, @Res() res: Response): void {
    const viewer = this.persons.viewer(req.user!, req.headers);
    const last = req.headers['last-event-id'];
    if (last !== undefined && (typeof last !== 'string' || !STREAM_ID.test(last.trim()))) {
      throw new ValidationFailedError('invalid Last-Event-ID', [{ path: 'Last-Event-ID', message: 'Last-Event-ID must be an id this stream sent' }]);
    }
    this.sse.open(viewer, req, res, typeof last === 'string' ? last.trim() : undefined);
  }
}
