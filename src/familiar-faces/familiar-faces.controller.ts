import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { RequireRoles, type UserRequest } from '../access/auth.guard';
import { AuditService } from '../audit/audit.service';
import { ValidationFailedError } from '../errors/domain.error';
import { PersonQueryService, type FamiliarEntry, type Page } from '../persons/person-query.service';
import { auditPersonRead, readContext } from '../persons/person-read.audit';
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
    private readonly audit: AuditService,
  ) {}

  @Get()
  @RequireRoles('case_manager', 'discharge_planner')
  @ApiOperation({ summary: 'The familiar-faces list as the caller may see it; filters apply to what the caller sees' })
  @ApiQuery({ type: FamiliarListQuery })
  list(@Req() req: UserRequest, @Query() raw: Record<string, unknown>): Promise<Page<FamiliarEntry>> {
    const viewer = this.persons.viewer(req.user!, req.headers);
    const q = parseQuery(FamiliarListQuery, raw);
    return auditPersonRead(this.audit, req, viewer, {
      action: 'familiar-faces.read', resource: 'familiar-faces', details: { limit: q.limit ?? 25, search: q.q !== undefined },
      run: (outcome) => this.persons.list(viewer, q, outcome),
      agencies: (page) => page.items.flatMap((e) => e.agencies),
    });
  }

  @Get('stream')
  @RequireRoles('case_manager', 'discharge_planner')
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiOperation({ summary: 'Server-Sent Events: added / updated / removed entries of the caller\'s list' })
  async stream(@Req() req: UserRequest, @Res() res: Response): Promise<void> {
    const viewer = this.persons.viewer(req.user!, req.headers);
    const last = req.headers['last-event-id'];
    if (last !== undefined && (typeof last !== 'string' || !STREAM_ID.test(last.trim()))) {
      throw new ValidationFailedError('invalid Last-Event-ID', [{ path: 'Last-Event-ID', message: 'Last-Event-ID must be an id this stream sent' }]);
    }
    // The opening is recorded before anything is sent; each delivered batch gets its own entry (FamiliarSseService).
    const ctx = readContext(req, viewer);
    await this.audit.recordAlone({ ...ctx, action: 'familiar-faces.stream.open', resource: 'familiar-faces/stream', details: { resume: last !== undefined } });
    this.sse.open(viewer, req, res, typeof last === 'string' ? last.trim() : undefined, ctx);
  }
}
