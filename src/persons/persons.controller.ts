import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireRoles, type UserRequest } from '../access/auth.guard';
import { AuditService } from '../audit/audit.service';
import { ValidationFailedError } from '../errors/domain.error';
import { PURPOSE_DOC } from '../familiar-faces/familiar-faces.controller';
import { parseQuery, PersonSearchQuery } from '../familiar-faces/read-query.dto';
import { auditPersonRead } from './person-read.audit';
import { PersonQueryService, type PersonPage, type SearchCandidate } from './person-query.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@ApiTags('persons')
@ApiHeader(PURPOSE_DOC)
@Controller('api/v1/persons')
export class PersonsController {
  constructor(
    private readonly persons: PersonQueryService,
    private readonly audit: AuditService,
  ) {}

  @Get('search')
  @RequireRoles('case_manager', 'discharge_planner', 'data_steward')
  @ApiOperation({ summary: 'Candidates ranked by the linkage model, with a match probability' })
  @ApiQuery({ type: PersonSearchQuery })
  search(@Req() req: UserRequest, @Query() raw: Record<string, unknown>): Promise<{ candidates: SearchCandidate[] }> {
    const viewer = this.persons.viewer(req.user!, req.headers);
    const q = parseQuery(PersonSearchQuery, raw);
    return auditPersonRead(this.audit, req, viewer, {
      action: 'persons.search.read', resource: 'persons/search', details: { limit: q.limit ?? 10 },
      run: (outcome) => this.persons.search(viewer, q, outcome),
      agencies: (r) => r.candidates.flatMap((c) => c.agencies),
    });
  }

  @Get(':id')
  @RequireRoles('case_manager', 'discharge_planner', 'data_steward')
  @ApiOperation({ summary: 'A person as the caller may see them; a retired id answers with the survivor' })
  get(@Req() req: UserRequest, @Param('id') id: string): Promise<PersonPage> {
    if (!UUID.test(id)) throw new ValidationFailedError('invalid id', [{ path: 'id', message: 'id must be a person id (UUID)' }]);
    const viewer = this.persons.viewer(req.user!, req.headers);
    const personId = id.toLowerCase();
    return auditPersonRead(this.audit, req, viewer, {
      action: 'person.read', resource: `person/${personId}`,
      run: (outcome) => this.persons.person(viewer, personId, outcome),
      agencies: (page) => page.agencies,
    });
  }
}
