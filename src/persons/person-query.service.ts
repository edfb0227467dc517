import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decidePersonAccess, seesEverything, type AccessDecision, type AccessGranted } from '../access/access.policy';
import {
  bestOfDemographics, maskPersonView, matchesVisibleFilter, visibleAgencies, visibleConsents, visibleContacts, visibleCustody, visibleNeeds,
  visiblePointers, visiblePrimaryContact, visibleRecords, visibleTimeline, type AgencyPointer, type ContactRef, type MaskedRecord,
  type PersonView,
} from '../access/person-view.mask';
import { checkPurpose, PURPOSE_HEADER, type Purpose } from '../access/purpose.policy';
import type { Principal, Role } from '../access/roles';
import { AppConfig } from '../config/app.config';
import { ForbiddenError, NotFoundError, ValidationFailedError } from '../errors/domain.error';
import { nameQueryVariants, rankName, type NameQuery } from '../familiar-faces/name.rank';
import { decodeCursor, encodeCursor, type Cursor } from '../familiar-faces/page.cursor';
import type { ConsentStatusName, FamiliarListQuery, PersonSearchQuery, ReleasesQuery } from '../familiar-faces/read-query.dto';
import { DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY, searchKeys } from '../linkage/engine/blocking.rules';
import { scorePair } from '../linkage/engine/model.score';
import { normaliseRecord } from '../linkage/engine/record.normalise';
import type { NormalisedRecord } from '../linkage/engine/record.types';
import { ModelStoreService } from '../linkage/model-store.service';
import { EntryViewCache } from './entry-view.cache';
import { VisibleCriteriaCache } from './visible-criteria.cache';
import { parseCriteria, type CriterionConfig } from './familiar-criteria';
import { consentStatus, criteriaMet, criteriaStableUntil, type AgencyInfo, type FoldEvent, type FoldRecord, type LiveEvent } from './person.fold';
import { viewerScope } from '../familiar-faces/viewer-scope.sql';
import type { ContactItem, Need, PersonState } from './person-state';

/** The caller of a read: who, in which role, for which purpose (checked against the role). */
export interface Viewer {
  principal: Principal;
  role: Role;
  purpose: Purpose;
}

export interface ConsentSummary {
  status: ConsentStatusName;
  /** Partners covered by running consents ('*' = the whole coalition), among those the viewer may name. */
  partners: string[];
  expiresAt: string | null;
}

export interface CustodySummary {
  inCustody: boolean;
  scheduledReleaseAt: string | null;
  facility: string | null;
  agency: string | null;
}

/** One row of the familiar-faces list, as this viewer may see it. */
export interface FamiliarEntry {
  personId: string;
  /** Null when the viewer sees no record's demographics, only pointers. */
  displayName: string | null;
  birthYear: number | null;
  /** Agencies the viewer may name (its own, shared under consent, pointers). */
  agencies: string[];
  /** own_client or consented. */
  relation: string;
  consent: ConsentSummary;
  primaryContact: ContactRef | null;
  /** Points of contact per agency: contacts the viewer may see, and whom to call at pointer agencies. */
  contacts: (ContactRef & { assignedAt?: string })[];
  pointers: AgencyPointer[];
  custody: CustodySummary;
  openNeeds: string[];
  lastActivityAt: string | null;
  criteria: string[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface SearchCandidate {
  personId: string;
  probability: number;
  displayName: string | null;
  dateOfBirth: string | null;
  agencies: string[];
  relation: string;
  consent: ConsentSummary;
  primaryContact: ContactRef | null;
  pointers: AgencyPointer[];
}

export interface ReleaseEntry extends FamiliarEntry {
  scheduledReleaseAt: string;
  facility: string | null;
  needs: Need[];
}

export interface PersonPage extends Omit<PersonView, 'criteria'> {
  requestedId?: string;
  /** Set when the requested id was retired (merged): this is the survivor's page. */
  retiredInto?: string;
  retiredChain?: string[];
  recordsByAgency: Record<string, MaskedRecord[]>;
  consent: ConsentSummary;
  criteria: string[];
}

interface ViewRow {
  person_id: string;
  folded_at: Date;
  state: PersonState;
  display_name: string;
  scheduled_release_at: Date | null;
  last_activity_at: Date;
  familiar?: boolean;
}

/** Every read of person data ends in one of these; the audit writer records them. */
export interface ReadOutcome {
  personIds: string[];
  denied: string[];
}

type Sort = 'lastActivity' | 'releaseDate' | 'name';

const DAY_MS = 86_400_000;
/** Rows examined per request at most; a page cut short by filtering still returns a cursor. */
const MAX_EXAMINED = 600;
const Q_CANDIDATES = 300;
/** Trigram candidates when the probe has no blocking key (a last name alone). */
const SEARCH_CANDIDATES = 200;
/** Persons whose state is read per round of the search, best match first. */
const SEARCH_BATCH = 20;
const AGENCY_CACHE_MS = 5000;
/** The state is not among them: rows() takes it from the cache of parsed states or reads it for the misses. */
const COLUMNS = `v.person_id, v.folded_at, v.display_name, v.scheduled_release_at, v.last_activity_at`;
/** Parsed states kept per API process (about 10-20 kB of heap each). */
const STATE_CACHE_MAX = 5000;

/**
 * The one read path for person-level data. Every method takes the viewer; every row goes
 * through the access policy (decidePersonAccess + the masking in person-view.mask.ts) before
 * anything is built from it, and every filter is decided on what the viewer may see: SQL only
 * narrows the candidates with index-friendly supersets of each filter.
 */
@Injectable()
export class PersonQueryService {
  private agencyCache?: { at: number; map: Map<string, AgencyInfo> };
  /** person id -> the state as of folded_at (a fold writes a new folded_at), least recently used first. */
  private readonly states = new Map<string, { foldedAt: number; state: PersonState }>();
  private readonly criteria: CriterionConfig[];
  /** Criteria with a window: they can stop holding with no new event, so reads check them again. */
  private readonly windowed: Set<string>;
  private readonly views = new EntryViewCache<{ d: AccessDecision; view: EntryView | null }>();
  private readonly criteriaByView = new VisibleCriteriaCache();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly cfg: AppConfig,
    private readonly models: ModelStoreService,
  ) {
    this.criteria = parseCriteria(cfg.FAMILIAR_CRITERIA);
    this.windowed = new Set(this.criteria.filter((c) => c.withinDays !== undefined).map((c) => c.id));
  }

  /** X-Purpose-Of-Use checked against the caller's roles: 400 when missing or unknown, 403 when it does not fit. */
  viewer(principal: Principal, headers: Record<string, string | string[] | undefined>): Viewer {
    const check = checkPurpose(principal, headers[PURPOSE_HEADER]);
    if (check.ok) return { principal, role: check.role, purpose: check.purpose };
    const details = [{ path: 'X-Purpose-Of-Use', message: check.reason }];
    if (check.code === 'purpose_unfit') throw new ForbiddenError(check.reason, details);
    throw new ValidationFailedError(check.reason, details);
  }

  async agencies(): Promise<Map<string, AgencyInfo>> {
    if (this.agencyCache && Date.now() - this.agencyCache.at < AGENCY_CACHE_MS) return this.agencyCache.map;
    const rows: { code: string; kind: string; part2: boolean }[] = await this.db.query(`SELECT code, kind, part2 FROM agency`);
    const map = new Map(rows.map((r) => [r.code, { kind: r.kind, part2: r.part2 }]));
    this.agencyCache = { at: Date.now(), map };
    return map;
  }

  /**
   * Runs a person_view query selecting COLUMNS and adds each row's state: from the cache when the
   * cached copy has the row's folded_at, else read in one statement (which may return a newer fold).
   * Parsing the jsonb state was the list's largest cost per row; the states are never mutated.
   */
  private async rows(sql: string, params: unknown[]): Promise<ViewRow[]> {
    const keys: Omit<ViewRow, 'state'>[] = await this.db.query(sql, params);
    const out = new Map<string, ViewRow>();
    const missing: string[] = [];
    for (const k of keys) {
      const hit = this.states.get(k.person_id);
      if (hit && hit.foldedAt === k.folded_at.getTime()) {
        this.states.delete(k.person_id);
        this.states.set(k.person_id, hit);
        out.set(k.person_id, { ...k, state: hit.state });
      } else missing.push(k.person_id);
    }
    if (missing.length) {
      const read: { person_id: string; folded_at: Date; state: PersonState }[] = await this.db.query(
        `SELECT person_id, folded_at, state FROM person_view WHERE person_id = ANY($1::uuid[])`, [missing],
      );
      const byId = new Map(read.map((r) => [r.person_id, r]));
      for (const k of keys) {
        const r = byId.get(k.person_id);
        if (!r || out.has(k.person_id)) continue;
        out.set(k.person_id, { ...k, state: r.state });
        this.states.delete(k.person_id);
        this.states.set(k.person_id, { foldedAt: r.folded_at.getTime(), state: r.state });
      }
      while (this.states.size > STATE_CACHE_MAX) this.states.delete(this.states.keys().next().value!);
    }
    // In the query's order; a person gone between the two statements is left out.
    return keys.flatMap((k) => out.get(k.person_id) ?? []);
  }

  private decide(viewer: Viewer, state: PersonState, agencies: Map<string, AgencyInfo>, now: Date): AccessDecision {
    return decidePersonAccess({ viewer: viewer.principal, purpose: viewer.purpose, state, agencies, now });
  }

  /**
   * The criteria the viewer may learn the person meets. As folded when the viewer sees everything;
   * otherwise re-evaluated on the visible events plus one presence per agency it may name, so a
   * criterion met only through hidden data (a Part 2 program, say) does not show.
   */
  private visibleCriteria(
    state: PersonState, view: Pick<PersonView, 'criteria' | 'timeline' | 'agencies'>, agencies: Map<string, AgencyInfo>, now: Date,
  ): string[] {
    if (view.criteria && this.windowed.size === 0) return view.criteria;
    return this.criteriaByView.get(view, agencies, now, () => {
      const events: LiveEvent[] = [];
      const seen = new Set<string>();
      const live = (agency: string, type: string, at: string, category?: string): LiveEvent => ({
        e: { id: '0', eventId: '', sourceRecordId: '', type, occurredAt: at, details: {} } satisfies FoldEvent,
        rec: { sourceRecordId: '', source: '', agency, recordId: '', demographics: {} } satisfies FoldRecord,
        kind: agencies.get(agency)?.kind ?? 'other',
        ...(category ? { category } : {}),
        at: Date.parse(at),
      });
      for (const t of view.timeline) {
        seen.add(t.agency);
        events.push(live(t.agency, t.type, t.at, t.category));
      }
      for (const a of view.agencies) {
        if (seen.has(a)) continue;
        const lastSeen = state.records.filter((r) => r.agency === a).map((r) => r.lastEventAt).sort().pop() ?? now.toISOString();
        events.push(live(a, '', lastSeen));
      }
      const current = criteriaMet(this.criteria, events, now);
      // Folded criteria are as of the last event; a windowed one whose events slid out no longer shows.
      // (Without new events criteria only lapse, so SQL's folded `familiar` stays a superset.)
      const criteria = view.criteria ? view.criteria.filter((c) => !this.windowed.has(c) || current.includes(c)) : current;
      return { criteria, until: criteriaStableUntil(this.criteria, events, now) };
    });
  }

  private consent(view: Pick<PersonView, 'consents'>, now: Date): ConsentSummary {
    const c = consentStatus(view.consents, now, this.cfg.CONSENT_EXPIRING_DAYS);
    return { status: c.status, partners: c.partners, expiresAt: c.expiresAt };
  }

  /** The list entry (and the parts of the masked view it is made of) for one row, or null when the policy shows the viewer nothing. */
  private build(viewer: Viewer, row: ViewRow, agencies: Map<string, AgencyInfo>, now: Date): { view: EntryView; entry: FamiliarEntry } | null {
    // The decision depends on the viewer's agency, roles and purpose, never on who the user is.
    const viewerKey = `${viewer.principal.agency}|${viewer.principal.roles.join(',')}|${viewer.purpose}`;
    const { d, view } = this.views.get(row.state, viewerKey, agencies, now, () => {
      const decision = this.decide(viewer, row.state, agencies, now);
      return { d: decision, view: decision.allowed ? entryView(decision, row.state) : null };
    });
    if (!d.allowed || !view) return null;
    const criteria = this.visibleCriteria(row.state, view, agencies, now);
    const open = view.custody.filter((c) => !c.releasedAt).sort((a, b) => Date.parse(b.bookedAt) - Date.parse(a.bookedAt));
    const soonest = open.find((c) => c.scheduledReleaseAt === view.scheduledReleaseAt) ?? open[0];
    const contacts: FamiliarEntry['contacts'] = [
      ...view.contacts.map((c: ContactItem) => ({ ...contactRef(c), assignedAt: c.assignedAt })),
      ...view.pointers.flatMap((p) => (p.contact ? [p.contact] : [])),
    ];
    const entry: FamiliarEntry = {
      personId: row.person_id,
      displayName: view.displayName,
      birthYear: view.birthYear,
      agencies: view.agencies,
      relation: d.relation,
      consent: this.consent(view, now),
      primaryContact: view.primaryContact,
      contacts,
      pointers: view.pointers,
      custody: {
        inCustody: view.inCustody, scheduledReleaseAt: view.scheduledReleaseAt,
        facility: soonest?.facility ?? null, agency: soonest?.agency ?? null,
      },
      openNeeds: view.openNeedCategories,
      lastActivityAt: view.lastActivityAt,
      criteria,
    };
    return { view, entry };
  }

  // ---------------------------------------------------------------- familiar-faces list

  async list(viewer: Viewer, q: FamiliarListQuery, outcome?: ReadOutcome): Promise<Page<FamiliarEntry>> {
    const limit = q.limit ?? 25;
    const sort = q.q ? 'rank' : (q.sort ?? 'lastActivity');
    const cursor = q.cursor ? decodeCursor(q.cursor, sort) : undefined;
    const agencies = await this.agencies();
    const now = new Date();
    const params: unknown[] = [];
    const p = (v: unknown): string => `$${params.push(v)}`;
    const scope = viewerScope(viewer.principal.agency, viewer.role, p);
    // Every condition is a superset of what the policy lets this viewer see (it still decides every
    // row): a filter on what the viewer's agency recorded or a consent lets it see, else the relation.
    const where: string[] = ['v.familiar'];
    const visible: string[] = [];
    if (q.agency) where.push(`v.agencies @> ARRAY[${p(q.agency)}]::text[]`);
    if (q.inCustody === true || q.releaseWithinDays !== undefined) visible.push(scope.custody());
    if (q.releaseWithinDays !== undefined) {
      // The soonest release over all open episodes is never later than the soonest visible one.
      where.push(`v.scheduled_release_at <= ${p(new Date(now.getTime() + q.releaseWithinDays * DAY_MS))}::timestamptz`);
    }
    if (q.needCategory) visible.push(scope.need(q.needCategory));
    // custody() and need() imply the relation; repeating it would only mislead the planner's estimates.
    where.push(...(visible.length ? visible : [scope.relation()]));
    if (q.consentStatus && q.consentStatus !== 'none') where.push(`EXISTS (SELECT 1 FROM person_consent pc WHERE pc.person_id = v.person_id)`);
    // Criteria are thresholds: those met on the visible events are among those met on all of them.
    if (q.criteria) where.push(`v.criteria @> ARRAY[${p(q.criteria)}]::text[]`);

    const accept = (row: ViewRow): FamiliarEntry | null => {
      const built = this.build(viewer, row, agencies, now);
      if (!built) return null;
      const { view, entry } = built;
      if (entry.criteria.length === 0) return null;
      if (!matchesVisibleFilter(view, q, now)) return null;
      if (q.consentStatus && entry.consent.status !== q.consentStatus) return null;
      if (q.criteria && !entry.criteria.includes(q.criteria)) return null;
      return entry;
    };
    const page = q.q
      ? await this.rankedPage(q.q, where, params, limit, cursor, accept)
      : await this.keysetPage(sort as Sort, where, params, limit, cursor, accept);
    outcome?.personIds.push(...page.items.map((e) => e.personId));
    return page;
  }

  /** Keyset pages over an index order, refilled until `limit` entries pass the policy and the filters. */
  private async keysetPage(
    sort: Sort, baseWhere: string[], baseParams: unknown[], limit: number, cursor: Cursor | undefined,
    accept: (r: ViewRow) => FamiliarEntry | null,
  ): Promise<Page<FamiliarEntry>> {
    const items: FamiliarEntry[] = [];
    let pos = cursor;
    let examined = 0;
    let lastKey: Cursor | undefined;
    const batch = pageBatch(limit);
    // releaseDate walks three segments: release date set (by date), in custody without a date, the rest.
    let segment = sort === 'releaseDate' ? releaseSegment(pos) : 0;
    for (;;) {
      const params = [...baseParams];
      const p = (v: unknown): string => `$${params.push(v)}`;
      const where = [...baseWhere];
      let order: string;
      if (sort === 'lastActivity') {
        order = 'v.last_activity_at DESC, v.person_id';
        if (pos) {
          const k = p(pos.k);
          where.push(`v.last_activity_at <= ${k}::timestamptz AND (v.last_activity_at < ${k}::timestamptz OR v.person_id > ${p(pos.id)}::uuid)`);
        }
      } else if (sort === 'name') {
        order = 'v.display_name, v.person_id';
        if (pos) where.push(`(v.display_name, v.person_id) > (${p(pos.k)}::text, ${p(pos.id)}::uuid)`);
      } else if (segment === 0) {
        order = 'v.scheduled_release_at, v.person_id';
        where.push('v.in_custody AND v.scheduled_release_at IS NOT NULL');
        if (pos && typeof pos.k === 'string' && pos.k.startsWith('0|')) {
          where.push(`(v.scheduled_release_at, v.person_id) > (${p(pos.k.slice(2))}::timestamptz, ${p(pos.id)}::uuid)`);
        }
      } else {
        order = 'v.person_id';
        where.push(segment === 1 ? 'v.in_custody AND v.scheduled_release_at IS NULL' : 'NOT v.in_custody');
        if (pos && pos.k === `${segment}|`) where.push(`v.person_id > ${p(pos.id)}::uuid`);
      }
      const rows = await this.rows(
        `SELECT ${COLUMNS} FROM person_view v WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${batch}`,
        params,
      );
      for (const row of rows) {
        examined += 1;
        const key = keyOf(sort, segment, row);
        const e = accept(row);
        if (e) {
          if (items.length === limit) return { items, nextCursor: encodeCursor(lastKey!) };
          items.push(e);
        }
        lastKey = key;
        if (examined >= MAX_EXAMINED) return { items, nextCursor: encodeCursor(key) };
      }
      if (rows.length === batch) {
        pos = lastKey;
        continue;
      }
      if (sort === 'releaseDate' && segment < 2) {
        segment += 1;
        pos = undefined;
        continue;
      }
      return { items, nextCursor: null };
    }
  }

  /** `q`: trigram candidates on search_name, ranked with the linkage comparators against the names the viewer sees. */
  private async rankedPage(
    text: string, baseWhere: string[], baseParams: unknown[], limit: number, cursor: Cursor | undefined,
    accept: (r: ViewRow) => FamiliarEntry | null,
  ): Promise<Page<FamiliarEntry>> {
    const query = nameQueryVariants(text);
    const params = [...baseParams];
    const p = (v: unknown): string => `$${params.push(v)}`;
    const where = [...baseWhere, `(${query.variants.map((s) => `v.search_name % ${p(s)}`).join(' OR ')})`];
    const rows = await this.rows(
      `SELECT ${COLUMNS} FROM person_view v WHERE ${where.join(' AND ')} LIMIT ${Q_CANDIDATES}`,
      params,
    );
    const ranked: { entry: FamiliarEntry; rank: number }[] = [];
    for (const row of rows) {
      const entry = accept(row);
      if (!entry || entry.displayName === null) continue;
      const rank = this.rankVisible(query, row.state, entry);
      if (rank > 0) ranked.push({ entry, rank });
    }
    ranked.sort((a, b) => b.rank - a.rank || (a.entry.personId < b.entry.personId ? -1 : 1));
    const after = cursor
      ? ranked.filter((r) => r.rank < (cursor.k as number) || (r.rank === cursor.k && r.entry.personId > cursor.id))
      : ranked;
    const page = after.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => r.entry),
      nextCursor: after.length > limit && last ? encodeCursor({ s: 'rank', k: last.rank, id: last.entry.personId }) : null,
    };
  }

  /** Best comparator score of the query against the names (and aliases) of records the viewer may see. */
  private rankVisible(query: NameQuery, state: PersonState, entry: FamiliarEntry): number {
    const shared = new Set(entry.agencies.filter((a) => !entry.pointers.some((p) => p.agency === a)));
    let best = 0;
    for (const r of state.records) {
      if (!shared.has(r.agency)) continue;
      best = Math.max(best, rankName(query, r.firstName, r.lastName));
      for (const a of r.aliases ?? []) best = Math.max(best, rankName(query, a.firstName ?? r.firstName, a.lastName ?? r.lastName));
    }
    return best;
  }

  // ---------------------------------------------------------------- one entry (the SSE stream)

  /**
   * The list entry for one person as this viewer may see it. `visible` says whether the viewer
   * may see the person at all (for `removed`), `entry` whether it is on the viewer's list.
   */
  async familiarEntry(viewer: Viewer, personId: string): Promise<{ visible: boolean; entry: FamiliarEntry | null }> {
    const rows = await this.rows(`SELECT ${COLUMNS}, v.familiar FROM person_view v WHERE v.person_id = $1`, [personId]);
    const row = rows[0];
    if (!row) return { visible: false, entry: null };
    const built = this.build(viewer, row, await this.agencies(), new Date());
    if (!built) return { visible: false, entry: null };
    return { visible: true, entry: row.familiar && built.entry.criteria.length > 0 ? built.entry : null };
  }

  /** The id a retired person resolves to (the survivor) with the chain walked, or null when unknown. */
  async resolve(personId: string): Promise<{ id: string; chain: string[] } | null> {
    const rows: { id: string; retired_into: string | null }[] = await this.db.query(
      `WITH RECURSIVE chain AS (
         SELECT id, retired_into, 0 AS depth FROM person WHERE id = $1
         UNION ALL
         SELECT p.id, p.retired_into, c.depth + 1 FROM person p JOIN chain c ON p.id = c.retired_into WHERE c.depth < 50
       ) SELECT id, retired_into FROM chain ORDER BY depth`,
      [personId],
    );
    const last = rows[rows.length - 1];
    if (!last || last.retired_into) return null;
    return { id: last.id, chain: rows.map((r) => r.id) };
  }

  // ---------------------------------------------------------------- person page

  async person(viewer: Viewer, requestedId: string, outcome?: ReadOutcome): Promise<PersonPage> {
    const resolved = await this.resolve(requestedId);
    if (!resolved) throw new NotFoundError('person not found');
    const rows = await this.rows(`SELECT ${COLUMNS} FROM person_view v WHERE v.person_id = $1`, [resolved.id]);
    if (!rows[0]) throw new NotFoundError('person not found');
    const now = new Date();
    const agencies = await this.agencies();
    const d = this.decide(viewer, rows[0].state, agencies, now);
    if (!d.allowed) {
      outcome?.denied.push(resolved.id);
      // The same answer as for an unknown id: the viewer must not learn that the person exists.
      if (d.code === 'no_relation') throw new NotFoundError('person not found');
      throw new ForbiddenError(d.reason);
    }
    const view = maskPersonView(d, rows[0].state);
    const recordsByAgency: Record<string, MaskedRecord[]> = {};
    for (const r of view.records) (recordsByAgency[r.agency] ??= []).push(r);
    outcome?.personIds.push(resolved.id);
    return {
      ...view,
      ...(resolved.id !== requestedId ? { requestedId, retiredInto: resolved.id, retiredChain: resolved.chain } : {}),
      recordsByAgency,
      consent: this.consent(view, now),
      criteria: this.visibleCriteria(rows[0].state, view, agencies, now),
    };
  }

  // ---------------------------------------------------------------- search

  /**
   * The case manager's lookup. Candidate records come from the linkage engine's blocking keys of
   * the probe (the keys the linker itself blocks on, too-common keys skipped), or from trigrams of
   * the name when the probe has none (a last name alone), and are scored with the active model.
   * Their persons are then read best score first, a few at a time, each through the policy, and
   * scored on the candidate records the viewer may see and on the best-of of the records it may
   * see, until no unread person can beat the page.
   */
  async search(viewer: Viewer, q: PersonSearchQuery, outcome?: ReadOutcome): Promise<{ candidates: SearchCandidate[] }> {
    const limit = q.limit ?? 10;
    const probe = normaliseRecord({ id: 'query', firstName: q.firstName ?? '', lastName: q.lastName, dateOfBirth: q.dateOfBirth });
    const now = new Date();
    const keys = searchKeys(probe);
    const records = keys.length ? await this.blockedRecords(keys) : await this.trigramRecords(viewer, q, probe);
    if (records.length === 0) return { candidates: [] };
    const [agencies, model] = await Promise.all([this.agencies(), this.models.active()]);
    const score = new Map<string, number>();
    const upper = new Map<string, number>();
    for (const r of records) {
      const pr = scorePair(model, probe, r.normalised).probability;
      score.set(r.id, pr);
      upper.set(r.person_id, Math.max(upper.get(r.person_id) ?? 0, pr));
    }
    // Best record first; the visible score is at most this (the best-of of visible records aside).
    const order = [...upper].filter(([, u]) => u >= 0.001).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    const out: SearchCandidate[] = [];
    for (let i = 0; i < order.length; i += SEARCH_BATCH) {
      if (out.length >= limit) {
        out.sort(byProbability);
        if (out[limit - 1].probability >= order[i][1]) break;
      }
      const params: unknown[] = [order.slice(i, i + SEARCH_BATCH).map(([id]) => id)];
      const p = (v: unknown): string => `$${params.push(v)}`;
      const scope = viewerScope(viewer.principal.agency, viewer.role, p);
      const rows = await this.rows(`SELECT ${COLUMNS} FROM person_view v WHERE v.person_id = ANY($1::uuid[]) AND ${scope.relation()}`, params);
      for (const row of rows) {
        const c = this.candidate(viewer, row, agencies, now, probe, model, score);
        if (c) out.push(c);
      }
    }
    out.sort(byProbability);
    const candidates = out.slice(0, limit);
    outcome?.personIds.push(...candidates.map((c) => c.personId));
    return { candidates };
  }

  /** One search candidate as the viewer may see it, scored on the visible records only; null when hidden or too weak. */
  private candidate(
    viewer: Viewer, row: ViewRow, agencies: Map<string, AgencyInfo>, now: Date, probe: NormalisedRecord,
    model: Awaited<ReturnType<ModelStoreService['active']>>, score: Map<string, number>,
  ): SearchCandidate | null {
    const built = this.build(viewer, row, agencies, now);
    // Only persons with records the viewer may see: a match must not reveal hidden demographics.
    if (!built || built.view.records.length === 0) return null;
    const { view, entry } = built;
    let probability = 0;
    for (const r of view.records) probability = Math.max(probability, score.get(r.sourceRecordId) ?? 0);
    const b = view.bestOf;
    if (b.lastName) {
      const best = normaliseRecord({ id: 'best', firstName: b.firstName ?? '', middleName: b.middleName, lastName: b.lastName, dateOfBirth: b.dateOfBirth });
      probability = Math.max(probability, scorePair(model, probe, best).probability);
    }
    if (probability < 0.001) return null;
    return {
      personId: entry.personId, probability: Math.round(probability * 10000) / 10000, displayName: view.displayName,
      dateOfBirth: view.bestOf.dateOfBirth ?? null, agencies: view.agencies, relation: entry.relation, consent: entry.consent,
      primaryContact: view.primaryContact, pointers: view.pointers,
    };
  }

  /**
   * The candidate records of the probe, by the linker's candidate rule (isCandidate) over the
   * probe's search keys: two shared keys, or one carried by at most DEFAULT_SELECTIVE_KEY records.
   * A key carried by more than DEFAULT_KEY_CAP records is skipped, as the linker skips it. Records
   * reached through one mid-size key only (a surname sound and birth year) scored too low to show
   * in nearly every case and were three quarters of the rows read (docs/familiar-faces.md).
   * A person's other records are not scored: the best-of of what the viewer sees stands in for them.
   */
  private async blockedRecords(keys: string[]): Promise<CandidateRecord[]> {
    return this.db.query(
      `WITH hits AS (
         SELECT k.key, b.source_record_id FROM unnest($1::text[]) AS k(key)
         CROSS JOIN LATERAL (SELECT source_record_id FROM blocking_key b WHERE b.key = k.key LIMIT $2::integer + 1) b
       ), sizes AS (
         SELECT key, count(*) AS records FROM hits GROUP BY key HAVING count(*) <= $2::integer
       ), picked AS (
         SELECT h.source_record_id FROM hits h JOIN sizes s USING (key)
          GROUP BY h.source_record_id HAVING count(*) >= 2 OR min(s.records) <= $3::integer
       )
       SELECT lr.source_record_id::text AS id, lr.person_id, lr.normalised FROM picked JOIN linkage_record lr USING (source_record_id)`,
      [keys, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY],
    );
  }

  /** Without blocking keys: persons whose name is trigram-similar (and birth year near), then their records. */
  private async trigramRecords(viewer: Viewer, q: PersonSearchQuery, probe: NormalisedRecord): Promise<CandidateRecord[]> {
    const names = nameQueryVariants(`${q.firstName ?? ''} ${q.lastName}`.trim());
    const params: unknown[] = [];
    const p = (v: unknown): string => `$${params.push(v)}`;
    const scope = viewerScope(viewer.principal.agency, viewer.role, p);
    const nameCond = names.variants.map((x) => `v.search_name % ${p(x)}`).join(' OR ');
    const dob = probe.dobs[0];
    const year = dob ? Number(dob.digits.slice(0, 4)) : undefined;
    // Typos keep the year (or slip it by one); an unknown year stays a candidate.
    const yearCond = year ? ` AND (v.birth_year BETWEEN ${p(year - 1)} AND ${p(year + 1)} OR v.birth_year IS NULL)` : '';
    return this.db.query(
      `SELECT lr.source_record_id::text AS id, lr.person_id, lr.normalised FROM linkage_record lr
        WHERE lr.person_id IN (SELECT v.person_id FROM person_view v WHERE (${nameCond})${yearCond} AND ${scope.relation()} LIMIT ${SEARCH_CANDIDATES})`,
      params,
    );
  }

  // ---------------------------------------------------------------- the discharge planner's worklist

  async releases(viewer: Viewer, q: ReleasesQuery, outcome?: ReadOutcome): Promise<Page<ReleaseEntry>> {
    const limit = q.limit ?? 50;
    const days = q.withinDays ?? 7;
    const cursor = q.cursor ? decodeCursor(q.cursor, 'release') : undefined;
    const now = new Date();
    const to = new Date(now.getTime() + days * DAY_MS);
    const agencies = await this.agencies();
    const items: ReleaseEntry[] = [];
    let pos = cursor;
    let lastKey: Cursor | undefined;
    let examined = 0;
    const batch = pageBatch(limit);
    for (;;) {
      const params: unknown[] = [now, to];
      const p = (v: unknown): string => `$${params.push(v)}`;
      const after = pos ? ` AND (v.scheduled_release_at, v.person_id) > (${p(pos.k)}::timestamptz, ${p(pos.id)}::uuid)` : '';
      const scope = viewerScope(viewer.principal.agency, viewer.role, p);
      const rows = await this.rows(
        `SELECT ${COLUMNS} FROM person_view v
          WHERE v.in_custody AND v.scheduled_release_at >= $1 AND v.scheduled_release_at <= $2${after}
            AND ${scope.custody()}
          ORDER BY v.scheduled_release_at, v.person_id LIMIT ${batch}`,
        params,
      );
      for (const row of rows) {
        examined += 1;
        const key: Cursor = { s: 'release', k: row.scheduled_release_at!.toISOString(), id: row.person_id };
        const built = this.build(viewer, row, agencies, now);
        // The custody episode itself must be visible to the viewer, with its release in the window.
        const episode = built?.view.custody.find((c) => {
          const t = c.releasedAt || !c.scheduledReleaseAt ? NaN : Date.parse(c.scheduledReleaseAt);
          return t >= now.getTime() && t <= to.getTime();
        });
        if (built && episode) {
          if (items.length === limit) {
            outcome?.personIds.push(...items.map((e) => e.personId));
            return { items, nextCursor: encodeCursor(lastKey!) };
          }
          items.push({
            ...built.entry, scheduledReleaseAt: episode.scheduledReleaseAt!, facility: episode.facility ?? null,
            needs: built.view.needs.filter((n) => !n.closedAt),
          });
        }
        lastKey = key;
        if (examined >= MAX_EXAMINED) {
          outcome?.personIds.push(...items.map((e) => e.personId));
          return { items, nextCursor: encodeCursor(key) };
        }
      }
      if (rows.length < batch) {
        outcome?.personIds.push(...items.map((e) => e.personId));
        return { items, nextCursor: null };
      }
      pos = lastKey;
    }
  }
}

// ---------------------------------------------------------------- pure helpers

/** What a list entry, a search candidate and a worklist entry are made of: the masked view's fields they use. */
type EntryView = Pick<
  PersonView,
  'displayName' | 'birthYear' | 'bestOf' | 'agencies' | 'records' | 'pointers' | 'custody' | 'inCustody' | 'scheduledReleaseAt' |
  'needs' | 'openNeedCategories' | 'consents' | 'contacts' | 'primaryContact' | 'timeline' | 'lastActivityAt' | 'criteria'
>;

/**
 * The same fields as maskPersonView, from the same per-category helpers of the policy module,
 * without the parts no entry shows (cases, services, referrals, per-agency access kinds); a list
 * builds one per row, so this is the read path's inner loop.
 */
function entryView(d: AccessGranted, state: PersonState): EntryView {
  const records = visibleRecords(d, state);
  const bestOf = bestOfDemographics(records);
  const needs = visibleNeeds(d, state);
  const custody = visibleCustody(d, state);
  const releases = custody.flatMap((c) => (!c.releasedAt && c.scheduledReleaseAt ? [c.scheduledReleaseAt] : [])).sort((a, b) => Date.parse(a) - Date.parse(b));
  const timeline = visibleTimeline(d, state);
  const name = [bestOf.firstName, bestOf.lastName].filter((x) => x !== undefined).join(' ');
  let last: string | null = null;
  let lastAt = -Infinity;
  for (const t of timeline) {
    const at = Date.parse(t.at);
    if (at > lastAt) [last, lastAt] = [t.at, at];
  }
  return {
    displayName: name === '' ? null : name,
    birthYear: bestOf.dateOfBirth ? Number(bestOf.dateOfBirth.slice(0, 4)) : null,
    bestOf,
    agencies: visibleAgencies(d),
    records,
    pointers: visiblePointers(d, state),
    custody,
    inCustody: custody.some((c) => !c.releasedAt),
    scheduledReleaseAt: releases[0] ?? null,
    needs,
    openNeedCategories: [...new Set(needs.filter((n) => !n.closedAt).map((n) => n.category))].sort(),
    consents: visibleConsents(d, state),
    contacts: visibleContacts(d, state),
    primaryContact: visiblePrimaryContact(d, state),
    timeline,
    lastActivityAt: last,
    criteria: seesEverything(d, state) ? [...state.criteria] : null,
  };
}

interface CandidateRecord {
  id: string;
  person_id: string;
  normalised: NormalisedRecord;
}

function byProbability(a: SearchCandidate, b: SearchCandidate): number {
  return b.probability - a.probability || (a.personId < b.personId ? -1 : 1);
}

function contactRef(c: ContactItem): ContactRef {
  const ref: ContactRef = { agency: c.agency, name: c.name };
  if (c.role !== undefined) ref.role = c.role;
  if (c.phone !== undefined) ref.phone = c.phone;
  if (c.email !== undefined) ref.email = c.email;
  return ref;
}

/**
 * Rows read per statement for a page of `limit`: a quarter more than the page, because the SQL
 * narrowing is a superset of what the policy shows, and a second statement to make up a few
 * rejected rows cost more than reading them in the first.
 */
function pageBatch(limit: number): number {
  return Math.min(limit + 1 + Math.ceil(limit / 4), 126);
}

function keyOf(sort: Sort, segment: number, row: ViewRow): Cursor {
  if (sort === 'lastActivity') return { s: sort, k: row.last_activity_at.toISOString(), id: row.person_id };
  if (sort === 'name') return { s: sort, k: row.display_name, id: row.person_id };
  return { s: sort, k: segment === 0 ? `0|${row.scheduled_release_at!.toISOString()}` : `${segment}|`, id: row.person_id };
}

function releaseSegment(c: Cursor | undefined): number {
  if (!c || typeof c.k !== 'string') return 0;
  const seg = Number(c.k.slice(0, 1));
  return seg === 1 || seg === 2 ? seg : 0;
}
