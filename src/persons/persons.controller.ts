import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireRoles, type UserRequest } from '../access/auth.guard';
import type { MaskedRecord } from '../access/person-view.mask';
import { StewardMentionsService } from '../access/steward-mentions.service';
import { AuditService } from '../audit/audit.service';
import { ForbiddenError, ValidationFailedError } from '../errors/domain.error';
import { PURPOSE_DOC } from '../familiar-faces/familiar-faces.controller';
import { parseQuery, PersonSearchQuery } from '../familiar-faces/read-query.dto';
import { LinksService, type CurrentLink } from '../linkage/links.service';
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
    private readonly links: LinksService,
    private readonly mentions: StewardMentionsService,
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

  @Get(':id/links')
  @RequireRoles('data_steward')
  @ApiOperation({
    summary: "A data steward's view of how the person's records were linked: each record's demographics (masked) and current link decision with field contributions in bits; open review tasks",
  })
  personLinks(@Req() req: UserRequest, @Param('id') id: string): Promise<PersonLinks> {
    const personId = checkId(id);
    const viewer = this.persons.viewer(req.user!, req.headers);
    // Match explanations are linkage-quality data: the steward role, under data_quality, only.
    if (viewer.role !== 'data_steward') throw new ForbiddenError('match explanations are read as data_steward with X-Purpose-Of-Use data_quality');
    return auditPersonRead(this.audit, req, viewer, {
      action: 'person.links.read', resource: `person/${personId}/links`,
      run: async (outcome) => {
        // The steward view decides which records may be shown (Part 2 gate, demographics only).
        const page = await this.persons.person(viewer, personId, outcome);
        const { links, openTasks } = await this.links.currentLinks(page.records.map((r) => r.sourceRecordId));
        // Other persons are named only when the steward could look them up (not known to Part 2 programs alone).
        const self = new Set([page.personId, ...(page.retiredChain ?? [])]);
        const others = [...links.flatMap((l) => candidateIds(l.explanation)), ...openTasks.flatMap((t) => t.personIds)].filter((p) => !self.has(p));
        const named = await this.mentions.mentionable(others);
        const shown = (p: string): boolean => self.has(p) || named.has(p);
        const bySrid = new Map(links.map((l) => [l.sourceRecordId, l]));
        const records = new Map(page.records.map((r) => [r.sourceRecordId, r]));
        return {
          personId: page.personId,
          ...(page.retiredInto ? { requestedId: page.requestedId, retiredInto: page.retiredInto, retiredChain: page.retiredChain } : {}),
          records: page.records.map((r) => ({ ...r, link: linkView(bySrid.get(r.sourceRecordId), shown) })),
          openReviewTasks: openTasks.filter((t) => t.personIds.every(shown)).map((t) => ({
            id: t.id, kind: t.kind, source: records.get(t.sourceRecordId)?.source ?? null, recordId: records.get(t.sourceRecordId)?.recordId ?? null,
            personIds: t.personIds, probability: t.probability, createdAt: t.createdAt,
          })),
        };
      },
      agencies: (r) => r.records.map((x) => x.agency),
    });
  }

  @Get(':id')
  @RequireRoles('case_manager', 'discharge_planner', 'data_steward')
  @ApiOperation({ summary: 'A person as the caller may see them; a retired id answers with the survivor' })
  get(@Req() req: UserRequest, @Param('id') id: string): Promise<PersonPage> {
    const personId = checkId(id);
    const viewer = this.persons.viewer(req.user!, req.headers);
    return auditPersonRead(this.audit, req, viewer, {
      action: 'person.read', resource: `person/${personId}`,
      run: (outcome) => this.persons.person(viewer, personId, outcome),
      agencies: (page) => page.agencies,
    });
  }
}

function checkId(id: string): string {
  if (!UUID.test(id)) throw new ValidationFailedError('invalid id', [{ path: 'id', message: 'id must be a person id (UUID)' }]);
  return id.toLowerCase();
}

/** One field's evidence: its comparison level and contribution in bits (never the values compared). */
export interface FieldContributionView {
  field: string;
  level: string;
  bits: number;
  detail?: string;
}

export interface LinkExplanationView {
  thresholds: { upper: number; lower: number } | null;
  /** Prior plus field contributions sum to weight (bits); probability follows from weight. */
  priorBits: number | null;
  weight: number | null;
  probability: number | null;
  fields: FieldContributionView[];
  /** Which alias or name variant matched, when not the primary name. */
  alias: string | null;
  lines: string[];
  /** The best-scoring candidate persons at decision time. */
  candidates: { personId: string; probability: number }[];
}

export interface RecordLinkView {
  personId: string;
  decisionId: string;
  action: string;
  reason: string;
  probability: number | null;
  weight: number | null;
  modelVersion: string;
  /** auto, or the steward who decided. */
  actor: string;
  decidedAt: string;
  locked: boolean;
  flags: string[];
  explanation: LinkExplanationView;
}

export interface PersonLinks {
  personId: string;
  requestedId?: string;
  retiredInto?: string;
  retiredChain?: string[];
  records: (MaskedRecord & { link: RecordLinkView | null })[];
  openReviewTasks: {
    id: string; kind: string; source: string | null; recordId: string | null; personIds: string[]; probability: number | null; createdAt: string;
  }[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);

function storedCandidates(explanation: unknown): { personId: string; probability: number }[] {
  return arr(obj(explanation).candidates).flatMap((c) => {
    const x = obj(c);
    const personId = str(x.personId);
    const probability = num(x.probability);
    return personId !== null && probability !== null ? [{ personId, probability }] : [];
  });
}

function candidateIds(explanation: unknown): string[] {
  return storedCandidates(explanation).map((c) => c.personId);
}

/**
 * Copies the stored explanation by name, so whatever else the linker stores stays out of responses.
 * Candidates the steward may not be pointed at are left out; when the best one is among them, the
 * evidence (which compared this record with that person) is left out too.
 */
export function linkView(l: CurrentLink | undefined, shown: (personId: string) => boolean): RecordLinkView | null {
  if (!l) return null;
  const e = obj(l.explanation);
  const t = obj(e.thresholds);
  const upper = num(t.upper);
  const lower = num(t.lower);
  const candidates = storedCandidates(l.explanation);
  const best = candidates.reduce<{ personId: string; probability: number } | null>((b, c) => (b === null || c.probability > b.probability ? c : b), null);
  const withheld = best !== null && !shown(best.personId);
  const evidence = withheld ? {} : obj(e.bestMatch);
  return {
    personId: l.personId, decisionId: l.decisionId, action: l.action, reason: l.reason,
    probability: withheld ? null : l.probability, weight: withheld ? null : l.weight,
    modelVersion: l.modelVersion, actor: l.actor, decidedAt: l.decidedAt, locked: l.locked, flags: [...l.flags],
    explanation: {
      thresholds: upper !== null && lower !== null ? { upper, lower } : null,
      priorBits: num(evidence.priorBits),
      weight: num(evidence.weight),
      probability: num(evidence.probability),
      fields: arr(evidence.fields).flatMap((f) => {
        const x = obj(f);
        const field = str(x.field);
        const level = str(x.level);
        const bits = num(x.bits);
        if (field === null || level === null || bits === null) return [];
        const detail = str(x.detail);
        return [detail === null ? { field, level, bits } : { field, level, bits, detail }];
      }),
      alias: str(evidence.alias),
      lines: arr(evidence.lines).flatMap((x) => (typeof x === 'string' ? [x] : [])),
      candidates: candidates.filter((c) => shown(c.personId)),
    },
  };
}
