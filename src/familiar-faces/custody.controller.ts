import { Controller, Get, Query, Req } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireRoles, type UserRequest } from '../access/auth.guard';
import { AuditService } from '../audit/audit.service';
import { PersonQueryService, type Page, type ReleaseEntry } from '../persons/person-query.service';
import { auditPersonRead } from '../persons/person-read.audit';
import { PURPOSE_DOC } from './familiar-faces.controller';
import { parseQuery, ReleasesQuery } from './read-query.dto';

@ApiTags('custody')
@ApiHeader(PURPOSE_DOC)
@Controller('api/v1/custody')
export class CustodyController {
  constructor(
    private readonly persons: PersonQueryService,
    private readonly audit: AuditService,
  ) {}

  @Get('releases')
  @RequireRoles('discharge_planner', 'case_manager')
  @ApiOperation({ summary: 'The discharge planner\'s worklist: scheduled releases in the window, with open needs, consent and contacts' })
  @ApiQuery({ type: ReleasesQuery })
  releases(@Req() req: UserRequest, @Query() raw: Record<string, unknown>): Promise<Page<ReleaseEntry>> {
    const viewer = this.persons.viewer(req.user!, req.headers);
    const q = parseQuery(ReleasesQuery, raw);
    return auditPersonRead(this.audit, req, viewer, {
      action: 'custody.releases.read', resource: 'custody/releases', details: { withinDays: q.withinDays ?? 7 },
      run: (outcome) => this.persons.releases(viewer, q, outcome),
      agencies: (page) => page.items.flatMap((e) => e.agencies),
    });
  }
}
