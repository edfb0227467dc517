import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { RequireRoles } from '../access/auth.guard';
import { checkPurpose } from '../access/purpose.policy';
import { ForbiddenError, ValidationFailedError } from '../errors/domain.error';
import { AuditQuery, DisclosuresQuery, parseAuditQuery } from './audit-query.dto';
import { auditContextFromRequest, PURPOSE_OF_USE_HEADER, type AuditContext, type AuditedRequest } from './audit.context';
import { AuditService, type AuditEntryView, type AuditPage } from './audit.service';

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
  constructor(
    private readonly audit: AuditService,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /**
   * The person's ids across merges: the survivor the id resolves to and every id retired into it
   * (transitively). Reads recorded under a merged-away id were reads of this person's information.
   */
  private async mergedIds(personId: string): Promise<{ survivor: string; ids: string[] }> {
    const rows: { id: string; survivor: string }[] = await this.db.query(
      `WITH RECURSIVE up AS (
         SELECT id, retired_into, 0 AS depth FROM person WHERE id = $1
         UNION ALL SELECT p.id, p.retired_into, up.depth + 1 FROM person p JOIN up ON p.id = up.retired_into WHERE up.depth < 50
       ), root AS (SELECT id FROM up WHERE retired_into IS NULL LIMIT 1),
       down AS (
         SELECT id, 0 AS depth FROM root
         UNION ALL SELECT p.id, down.depth + 1 FROM person p JOIN down ON p.retired_into = down.id WHERE down.depth < 50
       ) SELECT down.id::text AS id, (SELECT id::text FROM root) AS survivor FROM down`,
      [personId],
    );
    // An id the person table does not know (e.g. a person whose records were all deleted) is searched as given.
    if (rows.length === 0) return { survivor: personId, ids: [personId] };
    return { survivor: rows[0].survivor, ids: [...new Set([personId, ...rows.map((r) => r.id)])].sort() };
  }

  /** Newest first across the ids, deduplicated; one cursor (a sequence number) pages all of them. */
  private async searchReads(ids: string[], q: DisclosuresQuery): Promise<AuditPage> {
    const r = range(q);
    const pages = await Promise.all(ids.map((personId) => this.audit.search({ ...r, personId, outcome: 'allowed', readsOnly: true })));
    const bySeq = new Map<string, AuditEntryView>();
    for (const p of pages) for (const e of p.entries) bySeq.set(e.seq, e);
    const all = [...bySeq.values()].sort((a, b) => (BigInt(b.seq) > BigInt(a.seq) ? 1 : BigInt(b.seq) < BigInt(a.seq) ? -1 : 0));
    const entries = all.slice(0, r.limit);
    const more = all.length > r.limit || pages.some((p) => p.nextCursor !== null);
    return { entries, nextCursor: more && entries.length > 0 ? entries[entries.length - 1].seq : null };
  }

  @Get(':id/disclosures')
  @RequireRoles('auditor')
  @ApiHeader({ name: 'X-Purpose-Of-Use', required: true, description: 'audit' })
  @ApiOperation({ summary: "Accounting of disclosures: who saw this person's information, from which agency, when and why" })
  disclosures(
    @Req() req: AuditedRequest, @Param('id') id: string, @Query() raw: Record<string, unknown>,
  ): Promise<{ personId: string; retiredInto?: string; personIds: string[]; disclosures: Disclosure[]; nextCursor: string | null }> {
    const ctx = auditorContext(req);
    if (!UUID.test(id)) throw new ValidationFailedError('invalid person id', [{ path: 'id', message: 'id must be a UUID' }]);
    const personId = id.toLowerCase();
    const q = parseAuditQuery(DisclosuresQuery, raw);
    return this.audit.auditedRead({ ...ctx, action: 'audit.disclosures', resource: `person/${personId}` }, async () => {
      const { survivor, ids } = await this.mergedIds(personId);
      const page = await this.searchReads(ids, q);
      const disclosures = page.entries.map((e) => ({
        seq: e.seq, time: e.time, actor: e.actor, agency: e.agency, role: e.role, purpose: e.purpose, action: e.action,
        resource: e.resource, informationFrom: agenciesShown(e.details), requestId: e.requestId,
      }));
      return {
        result: { personId, ...(survivor !== personId ? { retiredInto: survivor } : {}), personIds: ids, disclosures, nextCursor: page.nextCursor },
        personIds: ids, details: { returned: disclosures.length },
      };
    });
  }
}
