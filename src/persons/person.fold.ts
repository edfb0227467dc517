import type { CriterionCondition, CriterionConfig } from './familiar-criteria';
import type {
  AddressView, BestOfView, ConsentItem, ContactItem, CourtCase, CustodyEpisode, Need, PersonState, RecordView, Referral,
  ServiceItem, TimelineItem,
} from './person-state';

/**
 * The pure fold from a person's event log to its read model. No I/O: the projection service
 * loads the rows, this decides what they mean. Same input, same output, whatever the arrival order.
 */

/** One record_event row. */
export interface FoldEvent {
  /** record_event.id (bigint as a string): the tie-break after occurredAt. */
  id: string;
  /** The source's own event id (inbox_event.event_id), named by record_expunged. */
  eventId: string;
  sourceRecordId: string;
  type: string;
  /** ISO-8601. */
  occurredAt: string;
  details: Record<string, unknown>;
}

/** One source record linked to the person, with its current demographics (the event subject minus recordId). */
export interface FoldRecord {
  sourceRecordId: string;
  source: string;
  agency: string;
  recordId: string;
  demographics: Record<string, unknown>;
}

export interface AgencyInfo {
  kind: string;
  part2: boolean;
}

/** Referral statuses that keep a referral open. */
export const OPEN_REFERRAL_STATUSES = ['open', 'accepted'];

const DAY_MS = 86_400_000;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const iso = (v: string): string => new Date(v).toISOString();
// A timestamptz as PostgreSQL writes it in JSON in UTC (2025-06-01T00:10:00.5+00:00), or already canonical.
const DB_UTC = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:\+00:00|Z)$/;
/**
 * iso() for a record_event.occurred_at from the load, which PostgreSQL has already validated: the
 * refold calls it once per event, and the text form skips Date. Other zones take Date's path.
 */
export const isoFromDb = (v: string): string => {
  const m = DB_UTC.exec(v);
  // Date parsing truncates a fraction to milliseconds; so does this.
  return m ? `${m[1]}.${`${m[2] ?? ''}000`.slice(0, 3)}Z` : iso(v);
};

/** Events in (occurredAt, id) order; each time is parsed once, not once per comparison. */
function byTimeThenId(events: FoldEvent[]): FoldEvent[] {
  const keyed = events.map((e) => ({ e, t: Date.parse(e.occurredAt) }));
  keyed.sort((a, b) => a.t - b.t
    // Numeric ids as strings: shorter is smaller.
    || a.e.id.length - b.e.id.length || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0));
  return keyed.map((k) => k.e);
}

/** Lower-case, accents and punctuation removed, single spaces: the form search_name is compared in. */
export function foldName(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** ROBERT -> Robert, o'neil -> O'Neil; mixed case is left as the source wrote it. */
function tidyCase(s: string): string {
  if (s !== s.toUpperCase() && s !== s.toLowerCase()) return s;
  return s.toLowerCase().replace(/(^|[\s'-])(\p{L})/gu, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

function recordView(r: FoldRecord, firstSeenAt: string, lastEventAt: string): RecordView {
  const d = r.demographics;
  const ssn = str(d.ssn)?.replace(/\D/g, '');
  const address = d.address && typeof d.address === 'object' ? (d.address as AddressView) : undefined;
  const aliases = Array.isArray(d.aliases) ? (d.aliases as RecordView['aliases']) : undefined;
  const identifiers = Array.isArray(d.identifiers) ? (d.identifiers as RecordView['identifiers']) : undefined;
  return {
    sourceRecordId: r.sourceRecordId,
    source: r.source,
    agency: r.agency,
    recordId: r.recordId,
    firstName: str(d.firstName) ?? '',
    ...(str(d.middleName) ? { middleName: str(d.middleName) } : {}),
    lastName: str(d.lastName) ?? '',
    ...(str(d.dateOfBirth) ? { dateOfBirth: str(d.dateOfBirth) } : {}),
    ...(str(d.sex) ? { sex: str(d.sex) } : {}),
    // Never the full number: the read model keeps the last four digits only.
    ...(ssn && ssn.length >= 4 ? { ssnLast4: ssn.slice(-4) } : {}),
    ...(str(d.phone) ? { phone: str(d.phone) } : {}),
    ...(str(d.email) ? { email: str(d.email) } : {}),
    ...(address ? { address } : {}),
    ...(aliases?.length ? { aliases } : {}),
    ...(identifiers?.length ? { identifiers } : {}),
    firstSeenAt,
    lastEventAt,
  };
}

/** Majority vote over the records (case-insensitive), ties to the most recently active record. */
function vote(records: RecordView[], pick: (r: RecordView) => string | undefined): string | undefined {
  const tally = new Map<string, { n: number; latest: string; value: string }>();
  for (const r of records) {
    const v = pick(r);
    if (!v) continue;
    const k = v.toLowerCase();
    const cur = tally.get(k);
    if (!cur) tally.set(k, { n: 1, latest: r.lastEventAt, value: v });
    else {
      cur.n++;
      if (r.lastEventAt > cur.latest) Object.assign(cur, { latest: r.lastEventAt, value: v });
    }
  }
  let best: { n: number; latest: string; value: string } | undefined;
  for (const t of tally.values()) {
    if (!best || t.n > best.n || (t.n === best.n && (t.latest > best.latest || (t.latest === best.latest && t.value < best.value)))) best = t;
  }
  return best?.value;
}

export function bestOf(records: RecordView[]): BestOfView {
  const firstName = vote(records, (r) => r.firstName) ?? '';
  const lastName = vote(records, (r) => r.lastName) ?? '';
  const middleName = vote(records, (r) => r.middleName);
  const dateOfBirth = vote(records, (r) => r.dateOfBirth);
  const sex = vote(records, (r) => (r.sex && r.sex !== 'U' ? r.sex : undefined));
  return {
    firstName,
    ...(middleName ? { middleName } : {}),
    lastName,
    ...(dateOfBirth ? { dateOfBirth } : {}),
    ...(sex ? { sex } : {}),
    displayName: `${tidyCase(firstName)} ${tidyCase(lastName)}`.trim(),
  };
}

export interface LiveEvent {
  e: FoldEvent;
  rec: FoldRecord;
  kind: string;
  category?: string;
  at: number;
}

function meets(cond: CriterionCondition, events: LiveEvent[]): boolean {
  let n = 0;
  const agencies = new Set<string>();
  for (const le of events) {
    if (cond.eventType && le.e.type !== cond.eventType) continue;
    if (cond.agencyKind && le.kind !== cond.agencyKind) continue;
    if (cond.agency && le.rec.agency !== cond.agency) continue;
    if (cond.needCategory && le.category !== cond.needCategory) continue;
    n++;
    agencies.add(le.rec.agency);
  }
  return n >= (cond.min ?? 1) && agencies.size >= (cond.minAgencies ?? 1);
}

/** Events dated up to this far ahead of now count (clocks differ; ingest accepts 24 h of skew). */
const CRITERIA_AHEAD_MS = DAY_MS;

/** Ids of the criteria the live events meet, evaluated at `now`. */
export function criteriaMet(criteria: CriterionConfig[], events: LiveEvent[], now: Date): string[] {
  const met: string[] = [];
  for (const c of criteria) {
    const from = c.withinDays ? now.getTime() - c.withinDays * DAY_MS : -Infinity;
    const window = events.filter((le) => le.at > from && le.at <= now.getTime() + CRITERIA_AHEAD_MS);
    const ok = c.allOf ? c.allOf.every((sub) => meets(sub, window)) : meets(c, window);
    if (ok) met.push(c.id);
  }
  return met;
}

/**
 * The first instant after `now` at which criteriaMet over the same events may answer differently:
 * an event leaves a criterion's window, or one dated more than a day ahead comes into range.
 * Between now and then the answer is the one criteriaMet gives at now.
 */
export function criteriaStableUntil(criteria: CriterionConfig[], events: LiveEvent[], now: Date): number {
  const t = now.getTime();
  let until = Infinity;
  for (const le of events) {
    if (le.at - CRITERIA_AHEAD_MS > t) until = Math.min(until, le.at - CRITERIA_AHEAD_MS);
  }
  for (const c of criteria) {
    if (!c.withinDays) continue;
    const w = c.withinDays * DAY_MS;
    for (const le of events) if (le.at + w > t) until = Math.min(until, le.at + w);
  }
  return until;
}

/**
 * Folds the events of every record linked to one person. Returns null when no record is live
 * (every record wholly expunged, or none linked): the person has no read model.
 */
export function foldPerson(
  personId: string, events: FoldEvent[], records: FoldRecord[], agencies: Map<string, AgencyInfo>,
  criteria: CriterionConfig[], now: Date,
): PersonState | null {
  const recs = new Map(records.map((r) => [r.sourceRecordId, r]));
  const sorted = byTimeThenId(events.filter((e) => recs.has(e.sourceRecordId)));

  // Expunges first: they remove events whatever their position in time.
  const wholly = new Set<string>();
  const dropped = new Set<string>();
  for (const e of sorted) {
    if (e.type !== 'record_expunged') continue;
    const ids = Array.isArray(e.details.eventIds) ? e.details.eventIds.filter((x): x is string => typeof x === 'string') : [];
    if (ids.length === 0) wholly.add(e.sourceRecordId);
    else for (const id of ids) dropped.add(`${e.sourceRecordId}\u0000${id}`);
  }
  const live = sorted.filter(
    (e) => e.type !== 'record_expunged' && !wholly.has(e.sourceRecordId) && !dropped.has(`${e.sourceRecordId}\u0000${e.eventId}`),
  );
  if (live.length === 0) return null;

  const custody = new Map<string, CustodyEpisode>();
  const cases = new Map<string, CourtCase>();
  const needs = new Map<string, Need>();
  const referrals = new Map<string, Referral>();
  const services: ServiceItem[] = [];
  const consents = new Map<string, ConsentItem>();
  const contacts = new Map<string, ContactItem>();
  const timeline: TimelineItem[] = [];
  const liveEvents: LiveEvent[] = [];
  const seen = new Map<string, { first: string; last: string }>();

  for (const e of live) {
    const rec = recs.get(e.sourceRecordId)!;
    const agency = rec.agency;
    const at = isoFromDb(e.occurredAt);
    const d = e.details;
    const key = (id: unknown): string => `${agency}\u0000${String(id)}`;
    let category: string | undefined;

    const s = seen.get(rec.sourceRecordId);
    if (!s) seen.set(rec.sourceRecordId, { first: at, last: at });
    else s.last = at;

    switch (e.type) {
      case 'booking': {
        const k = key(d.bookingNumber);
        const cur = custody.get(k);
        const facility = str(d.facility) ?? cur?.facility;
        const scheduled = str(d.scheduledReleaseAt) ? iso(str(d.scheduledReleaseAt)!) : cur?.scheduledReleaseAt;
        custody.set(k, {
          agency,
          bookingNumber: String(d.bookingNumber),
          ...(facility ? { facility } : {}),
          bookedAt: cur?.bookedAt ?? at,
          ...(scheduled ? { scheduledReleaseAt: scheduled } : {}),
          ...(cur?.releasedAt ? { releasedAt: cur.releasedAt } : {}),
        });
        break;
      }
      case 'release': {
        const cur = custody.get(key(d.bookingNumber));
        // A release for a booking never seen closes nothing.
        if (cur && !cur.releasedAt) cur.releasedAt = at;
        break;
      }
      case 'court_case': {
        const k = key(d.caseNumber);
        const cur = cases.get(k);
        const caseType = str(d.caseType) ?? cur?.caseType;
        cases.set(k, { agency, caseNumber: String(d.caseNumber), ...(caseType ? { caseType } : {}), openedAt: cur?.openedAt ?? at, hearings: cur?.hearings ?? [] });
        break;
      }
      case 'hearing': {
        const k = key(d.caseNumber);
        let c = cases.get(k);
        if (!c) cases.set(k, (c = { agency, caseNumber: String(d.caseNumber), openedAt: at, hearings: [] }));
        const hearingAt = iso(String(d.hearingAt));
        const hearingType = str(d.hearingType);
        if (!c.hearings.some((h) => h.hearingAt === hearingAt && h.hearingType === hearingType)) {
          c.hearings.push({ hearingAt, ...(hearingType ? { hearingType } : {}) });
        }
        break;
      }
      case 'need_opened': {
        category = String(d.category);
        needs.set(key(d.needId), { agency, needId: String(d.needId), category, openedAt: at });
        break;
      }
      case 'need_closed': {
        const n = needs.get(key(d.needId));
        if (n) {
          category = n.category;
          if (!n.closedAt) n.closedAt = at;
        }
        break;
      }
      case 'referral': {
        category = String(d.need);
        const k = key(d.referralId);
        const cur = referrals.get(k);
        const toAgency = str(d.toAgency);
        referrals.set(k, {
          agency,
          referralId: String(d.referralId),
          need: category,
          status: String(d.status),
          ...(toAgency ? { toAgency } : {}),
          referredAt: cur?.referredAt ?? at,
          updatedAt: at,
        });
        break;
      }
      case 'service':
        services.push({ agency, serviceType: String(d.serviceType), ...(str(d.program) ? { program: str(d.program) } : {}), at });
        break;
      case 'consent_signed': {
        const partners = Array.isArray(d.partners) ? [...new Set(d.partners.map(String))].sort() : [];
        const categories = Array.isArray(d.categories) ? [...new Set(d.categories.map(String))].sort() : null;
        // Signing the same consent id again replaces it (and ends an earlier revocation).
        consents.set(key(d.consentId), {
          agency, consentId: String(d.consentId), form: String(d.form), partners, categories,
          signedAt: iso(String(d.signedAt)), expiresAt: iso(String(d.expiresAt)),
        });
        break;
      }
      case 'consent_revoked': {
        // Ends only the consent it names; others (overlapping or not) stand.
        const c = consents.get(key(d.consentId));
        if (c && !c.revokedAt) c.revokedAt = at;
        break;
      }
      case 'contact_assigned':
        contacts.set(agency, {
          agency, name: String(d.name),
          ...(str(d.role) ? { role: str(d.role) } : {}),
          ...(str(d.phone) ? { phone: str(d.phone) } : {}),
          ...(str(d.email) ? { email: str(d.email) } : {}),
          assignedAt: at,
        });
        break;
      default:
        break;
    }
    timeline.push({ at, type: e.type, agency, source: rec.source, eventId: e.eventId, ...(category ? { category } : {}) });
    liveEvents.push({ e, rec, kind: agencies.get(agency)?.kind ?? 'other', category, at: Date.parse(e.occurredAt) });
  }

  const recordViews = records
    .filter((r) => seen.has(r.sourceRecordId))
    .map((r) => recordView(r, seen.get(r.sourceRecordId)!.first, seen.get(r.sourceRecordId)!.last))
    .sort((a, b) => a.agency.localeCompare(b.agency) || a.source.localeCompare(b.source) || a.recordId.localeCompare(b.recordId));
  const referralList = [...referrals.values()].sort((a, b) => a.referredAt.localeCompare(b.referredAt) || a.referralId.localeCompare(b.referralId));
  const contactList = [...contacts.values()].sort((a, b) => a.agency.localeCompare(b.agency));
  const primary = primaryContact(contactList, referralList);
  for (const c of cases.values()) c.hearings.sort((a, b) => a.hearingAt.localeCompare(b.hearingAt));

  return {
    personId,
    bestOf: bestOf(recordViews),
    agencies: [...new Set(recordViews.map((r) => r.agency))].sort(),
    records: recordViews,
    custody: [...custody.values()].sort((a, b) => a.bookedAt.localeCompare(b.bookedAt) || a.bookingNumber.localeCompare(b.bookingNumber)),
    cases: [...cases.values()].sort((a, b) => a.openedAt.localeCompare(b.openedAt) || a.caseNumber.localeCompare(b.caseNumber)),
    needs: [...needs.values()].sort((a, b) => a.openedAt.localeCompare(b.openedAt) || a.needId.localeCompare(b.needId)),
    referrals: referralList,
    services,
    consents: [...consents.values()].sort((a, b) => a.signedAt.localeCompare(b.signedAt) || a.consentId.localeCompare(b.consentId)),
    contacts: contactList,
    primaryContact: primary?.contact ?? null,
    ...(primary ? { primaryContactBasis: primary.basis } : {}),
    timeline,
    lastActivityAt: timeline[timeline.length - 1].at,
    criteria: criteriaMet(criteria, liveEvents, now),
  };
}

/**
 * The primary point of contact (docs/familiar-faces.md):
 * 1. the most recent explicit assignment, when no open referral is newer than it;
 * 2. else (an open referral is newer) the contact of that referral's receiving agency, or of the referring agency;
 * 3. else the most recent assignment of any agency.
 */
export function primaryContact(
  contacts: ContactItem[], referrals: Referral[],
): { contact: ContactItem; basis: NonNullable<PersonState['primaryContactBasis']> } | null {
  if (contacts.length === 0) return null;
  const latest = contacts.reduce((a, b) => (b.assignedAt > a.assignedAt ? b : a));
  const open = referrals.filter((r) => OPEN_REFERRAL_STATUSES.includes(r.status));
  const newestOpen = open.reduce<Referral | undefined>((a, b) => (!a || b.updatedAt > a.updatedAt ? b : a), undefined);
  if (!newestOpen || latest.assignedAt >= newestOpen.updatedAt) return { contact: latest, basis: 'assignment' };
  const byAgency = new Map(contacts.map((c) => [c.agency, c]));
  const viaReferral = (newestOpen.toAgency ? byAgency.get(newestOpen.toAgency) : undefined) ?? byAgency.get(newestOpen.agency);
  if (viaReferral) return { contact: viaReferral, basis: 'referral' };
  return { contact: latest, basis: 'latest' };
}

/** The indexed columns of person_view, derived from a state. */
export interface ViewColumns {
  displayName: string;
  searchName: string;
  birthYear: number | null;
  agencies: string[];
  familiar: boolean;
  criteria: string[];
  inCustody: boolean;
  scheduledReleaseAt: string | null;
  openNeeds: string[];
  lastActivityAt: string;
  /** person_view.filter_keys: see filterKeys. */
  filterKeys: string[];
}

/**
 * Who contributed what, for the list's SQL pre-filter (docs/familiar-faces.md): `need|<agency>|<category>`
 * per open need, `custody|<agency>` per open custody episode, and per unrevoked consent and partner
 * `grant|<partner>`, plus `|general` when it has no category list or `|<category>` per listed category.
 * Distinct and sorted. The SQL function person_view_filter_keys(state) states the same rule; an
 * integration test holds the two equal. Computed here because the function cost ~0.3 ms per row
 * on every refold write.
 */
export function filterKeys(s: Pick<PersonState, 'needs' | 'custody' | 'consents'>): string[] {
  const keys = new Set<string>();
  for (const n of s.needs) if (!n.closedAt) keys.add(`need|${n.agency}|${n.category}`);
  for (const c of s.custody) if (!c.releasedAt) keys.add(`custody|${c.agency}`);
  for (const k of s.consents) {
    if (k.revokedAt) continue;
    for (const partner of k.partners) {
      keys.add(`grant|${partner}`);
      if (!Array.isArray(k.categories)) keys.add(`grant|${partner}|general`);
      else for (const cat of k.categories) keys.add(`grant|${partner}|${cat}`);
    }
  }
  return [...keys].sort();
}

export function viewColumns(s: PersonState): ViewColumns {
  const best = s.bestOf ?? bestOf(s.records);
  const open = s.custody.filter((c) => !c.releasedAt);
  const releases = open.map((c) => c.scheduledReleaseAt).filter((x): x is string => !!x).sort();
  const dob = best.dateOfBirth ? Number(best.dateOfBirth.slice(0, 4)) : NaN;
  return {
    displayName: best.displayName,
    searchName: foldName(`${best.firstName} ${best.lastName}`),
    birthYear: Number.isFinite(dob) ? dob : null,
    agencies: s.agencies,
    familiar: s.criteria.length > 0,
    criteria: s.criteria,
    inCustody: open.length > 0,
    scheduledReleaseAt: releases[0] ?? null,
    openNeeds: [...new Set(s.needs.filter((n) => !n.closedAt).map((n) => n.category))].sort(),
    lastActivityAt: s.lastActivityAt,
    filterKeys: filterKeys(s),
  };
}

export type ConsentStatus = 'active' | 'expiring' | 'expired' | 'revoked' | 'none';

export interface ConsentLike {
  partners: string[];
  expiresAt: string | Date;
  revokedAt?: string | Date | null;
}

/**
 * A person's consent status at `now` (docs/familiar-faces.md): revoked when every consent is,
 * active when an unrevoked one runs past the expiring window, expiring when the latest-running
 * one ends inside it, expired when all unrevoked ones have ended, none without consents.
 */
export function consentStatus(
  consents: ConsentLike[], now: Date, expiringDays: number,
): { status: ConsentStatus; partners: string[]; expiresAt: string | null } {
  if (consents.length === 0) return { status: 'none', partners: [], expiresAt: null };
  const unrevoked = consents.filter((c) => !c.revokedAt);
  if (unrevoked.length === 0) return { status: 'revoked', partners: [], expiresAt: null };
  const t = now.getTime();
  const ends = (c: ConsentLike): number => new Date(c.expiresAt).getTime();
  const running = unrevoked.filter((c) => ends(c) > t);
  const latest = Math.max(...unrevoked.map(ends));
  const partners = [...new Set(running.flatMap((c) => c.partners))].sort();
  const status: ConsentStatus = running.length === 0 ? 'expired' : latest > t + expiringDays * DAY_MS ? 'active' : 'expiring';
  return { status, partners: partners.includes('*') ? ['*'] : partners, expiresAt: new Date(latest).toISOString() };
}
