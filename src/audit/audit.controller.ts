import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRoles } from '../access/auth.guard';
import { checkPurpose } from '../access/purpose.policy';
import { ForbiddenError, ValidationFailedError } from '../errors/domain.error';
import { AuditQuery, DisclosuresQuery, parseAuditQuery } from './audit-query.dto';
import { auditContextFromRequest, PURPOSE_OF_USE_HEADER, type AuditContext, type AuditedRequest } from './audit.context';
import { AuditService, type AuditPage } from './audit.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Disclosure {
  seq: string;
  time: string;
  /** Who saw it: user subject (or source:<code>). */
  actor: string;
  /** The viewer's agency. */
  agency: string | null;
  role: string | null;
  /** Why: the purpose of use stated. */
  purpose: string | null;
  action: string;
  resource: string;
  /** Whose records were shown, when the read named them (details.agencies). */
  informationFrom: string[] | null;
  requestId: string | null;
}

function agenciesShown(details: Record<string, unknown>): string[] | null {
  const a = details.agencies;
  return Array.isArray(a) && a.every((x) => typeof x === 'string') ? a : null;
}

/**
 * Auditors read with purpose `audit` (the shared purpose check: 400 when missing or unknown,
 * 403 when it does not fit); any other purpose is refused here, and audited as denied.
 */
function auditorContext(req: AuditedRequest): AuditContext {
  const check = checkPurpose(req.user!, req.headers[PURPOSE_OF_USE_HEADER]);
  if (!check.ok) {
    const details = [{ path: 'X-Purpose-Of-Use', message: check.reason }];
    if (check.code === 'purpose_unfit') throw new ForbiddenError(check.reason, details);
    throw new ValidationFailedError(check.reason, details);
  }
  if (check.purpose !== 'audit') {
    throw new ForbiddenError('the audit log is read with X-Purpose-Of-Use: audit', [{ path: 'X-Purpose-Of-Use', message: 'X-Purpose-Of-Use must be audit' }]);
  }
  return { ...auditContextFromRequest(req), role: check.role };
}

function range(q: DisclosuresQuery): { from?: Date; to?: Date; before?: string; limit: number } {
  return { from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined, before: q.cursor, limit: q.limit ?? 100 };
}

@ApiTags('audit')
@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireRoles('auditor')
  @ApiHeader({ name: 'X-Purpose-Of-Use', required: true, description: 'audit' })
  @ApiOperation({ summary: 'Search the audit log, newest first; nextCursor pages on' })
  search(@Req() req: AuditedRequest, @Query() raw: Record<string, unknown>): Promise<AuditPage> {
    const ctx = auditorContext(req);
    const q = parseAuditQuery(AuditQuery, raw);
    const filters = {
      personId: q.personId ?? null, actor: q.actor ?? null, agency: q.agency ?? null, action: q.action ?? null,
      outcome: q.outcome ?? null, from: q.from ?? null, to: q.to ?? null,
    };
    return this.audit.auditedRead({ ...ctx, action: 'audit.search', resource: 'audit', details: filters }, async () => {
      const page = await this.audit.search({ ...range(q), personId: q.personId, actor: q.actor, agency: q.agency, action: q.action, outcome: q.outcome });
      return { result: page, personIds: q.personId ? [q.personId] : [], details: { returned: page.entries.length } };
    });
  }
}

@ApiTags('audit')
@Controller('api/v1/persons')
export class DisclosuresController {
  constructor(private readonly audit: AuditService) {}

  @Get(':id/disclosures')
  @RequireRoles('auditor')
  @ApiHeader({ name: 'X-Purpose-Of-Use', required: true, description: 'audit' })
  @ApiOperation({ summary: "Accounting of disclosures: who saw this person's information, from which agency, when and why" })
  disclosures(@Req() req: AuditedRequest, @Param('id') id: string, @Query() raw: Record<string, unknown>): Promise<{ personId: string; disclosures: Disclosure[]; nextCursor: string | null }> {
    const ctx = auditorContext(req);
    if (!UUID.test(id)) throw new ValidationFailedError('invalid person id', [{ path: 'id', message: 'id must be a UUID' }]);
    const personId = id.toLowerCase();
    const q = parseAuditQuery(DisclosuresQuery, raw);
    return this.audit.auditedRead({ ...ctx, action: 'audit.disclosures', resource: `person/${personId}` }, async () => {
      const page = await this.audit.search({ ...range(q), personId, outcome: 'allowed', readsOnly: true });
      const disclosures = page.entries.map((e) => ({
        seq: e.seq, time: e.time, actor: e.actor, agency: e.agency, role: e.role, purpose: e.purpose, action: e.action,
        resource: e.resource, informationFrom: agenciesShown(e.details), requestId: e.requestId,
      }));
      return { result: { personId, disclosures, nextCursor: page.nextCursor }, personIds: [personId], details: { returned: disclosures.length } };
    });
  }
}
