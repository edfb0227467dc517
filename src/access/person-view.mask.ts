import type {
  AddressView, ConsentItem, ContactItem, CourtCase, CustodyEpisode, Need, PersonState, RecordView, Referral, ServiceItem, TimelineItem,
} from '../persons/person-state';
import {
  accessTo, agencyNameable, consentAccess, seesEverything, type AccessDecision, type AccessGranted, type DataCategory,
  type Relation, type ViewMode,
} from './access.policy';
import type { Purpose } from './purpose.policy';
import type { Role } from './roles';

/**
 * Turns a policy decision and a person's state into what the viewer receives. Pure. Every field
 * is copied by name (never spread from the state), so a field added to the state later stays
 * out of responses until someone decides who may see it.
 */

/** A record's demographics as one agency knows them, after masking (same shape as the read model's). Never a full SSN. */
export type MaskedRecord = RecordView;

/** Whom to call. */
export interface ContactRef {
  agency: string;
  name: string;
  role?: string;
  phone?: string;
  email?: string;
}

/** "Also known to agency X; contact Y there." All a viewer learns of an agency without consent. */
export interface AgencyPointer {
  agency: string;
  contact: ContactRef | null;
}

/** Best-of demographics, from the records the viewer may see only. */
export interface BestOf {
  firstName?: string;
  middleName?: string;
  lastName?: string;
  dateOfBirth?: string;
  sex?: string;
  ssnLast4?: string;
}

/** own: the viewer's agency. shared: some of its data under consent. pointer: only that it knows the person. demographics: a steward's view. */
export type AgencyAccessKind = 'own' | 'shared' | 'pointer' | 'demographics';

export interface PersonView {
  personId: string;
  access: {
    role: Role;
    purpose: Purpose;
    mode: ViewMode;
    relation: Relation;
    /** Ids of the consents that widen this view (for the audit entry and the UI). */
    consentIds: string[];
    agencies: { agency: string; access: AgencyAccessKind }[];
  };
  displayName: string | null;
  birthYear: number | null;
  bestOf: BestOf;
  /** Agencies the viewer may name: counts and filters use these. */
  agencies: string[];
  agencyCount: number;
  records: MaskedRecord[];
  pointers: AgencyPointer[];
  custody: CustodyEpisode[];
  inCustody: boolean;
  scheduledReleaseAt: string | null;
  cases: CourtCase[];
  needs: Need[];
  openNeedCategories: string[];
  openNeedCount: number;
  referrals: Referral[];
  services: ServiceItem[];
  consents: ConsentItem[];
  contacts: ContactItem[];
  primaryContact: ContactRef | null;
  timeline: TimelineItem[];
  lastActivityAt: string | null;
  /** The criteria as folded when the viewer sees everything; otherwise null: re-evaluate on visibleState(). */
  criteria: string[] | null;
}

/** A familiar-faces / worklist entry: the person view without records, cases, services and timeline. */
export type PersonListEntry = Omit<PersonView, 'records' | 'cases' | 'services' | 'timeline' | 'referrals'>;

function granted(decision: AccessDecision): AccessGranted {
  if (!decision.allowed) throw new Error(`access denied (${decision.code}): nothing to mask`);
  return decision;
}

/** Which data category a timeline event belongs to; null for types the policy does not know (own agency only). */
export function timelineCategory(type: string): DataCategory | null {
  switch (type) {
    case 'booking': case 'release': return 'custody';
    case 'court_case': case 'hearing': return 'cases';
    case 'referral': case 'need_opened': case 'need_closed': return 'needs';
    case 'service': return 'services';
    case 'consent_signed': case 'consent_revoked': return 'consents';
    case 'contact_assigned': return 'contacts';
    case 'record_corrected': case 'record_expunged': return 'demographics';
    default: return null;
  }
}

const full = (d: AccessDecision, agency: string, cat: DataCategory, need?: string): boolean => accessTo(d, agency, cat, need) === 'full';

/** Agencies the viewer may learn the person is known to (own, under consent, or by pointer). */
export function visibleAgencies(decision: AccessDecision): string[] {
  if (!decision.allowed) return [];
  return decision.agencies.filter((g) => g.nameable).map((g) => g.agency);
}

export function visibleRecords(decision: AccessDecision, state: PersonState): MaskedRecord[] {
  return state.records.filter((r) => full(decision, r.agency, 'demographics')).map(maskRecord);
}

export function visibleCustody(decision: AccessDecision, state: PersonState): CustodyEpisode[] {
  return state.custody.filter((c) => full(decision, c.agency, 'custody')).map((c) => ({ ...c }));
}

/** Open custody (no releasedAt) among the visible episodes; the soonest scheduled release. */
export function visibleCustodyStatus(decision: AccessDecision, state: PersonState): { inCustody: boolean; scheduledReleaseAt: string | null } {
  const open = visibleCustody(decision, state).filter((c) => !c.releasedAt);
  const releases = open.flatMap((c) => (c.scheduledReleaseAt ? [c.scheduledReleaseAt] : [])).sort((a, b) => Date.parse(a) - Date.parse(b));
  return { inCustody: open.length > 0, scheduledReleaseAt: releases[0] ?? null };
}

export function visibleCases(decision: AccessDecision, state: PersonState): CourtCase[] {
  return state.cases.filter((c) => full(decision, c.agency, 'cases')).map((c) => ({ ...c, hearings: c.hearings.map((h) => ({ ...h })) }));
}

export function visibleNeeds(decision: AccessDecision, state: PersonState): Need[] {
  return state.needs.filter((n) => full(decision, n.agency, 'needs', n.category)).map((n) => ({ ...n }));
}

/** Categories of the open needs the viewer may see, sorted: what `needCategory` filters must match on. */
export function visibleNeedCategories(decision: AccessDecision, state: PersonState): string[] {
  return [...new Set(visibleNeeds(decision, state).filter((n) => !n.closedAt).map((n) => n.category))].sort();
}

/** Referrals by the referring agency and the need category; a target the viewer may not name is left out. */
export function visibleReferrals(decision: AccessDecision, state: PersonState): Referral[] {
  return state.referrals
    .filter((r) => full(decision, r.agency, 'needs', r.need))
    .map((r) => {
      const { toAgency, ...rest } = r;
      return toAgency !== undefined && agencyNameable(decision, toAgency) ? { ...rest, toAgency } : { ...rest };
    });
}

export function visibleServices(decision: AccessDecision, state: PersonState): ServiceItem[] {
  return state.services.filter((s) => full(decision, s.agency, 'services')).map((s) => ({ ...s }));
}

/** Consents by consentAccess; partners the viewer may not name are removed from each. */
export function visibleConsents(decision: AccessDecision, state: PersonState): ConsentItem[] {
  return state.consents
    .filter((c) => consentAccess(decision, c) === 'full')
    .map((c) => ({ ...c, partners: c.partners.filter((p) => agencyNameable(decision, p)), categories: c.categories ? [...c.categories] : null }));
}

export function visibleContacts(decision: AccessDecision, state: PersonState): ContactItem[] {
  return state.contacts.filter((c) => full(decision, c.agency, 'contacts')).map((c) => ({ ...c }));
}

export function visibleTimeline(decision: AccessDecision, state: PersonState): TimelineItem[] {
  const d = granted(decision);
  return state.timeline
    .filter((t) => {
      const cat = timelineCategory(t.type);
      if (cat === null) return d.mode === 'agency' && t.agency === d.viewerAgency;
      return full(decision, t.agency, cat, t.category);
    })
    .map((t) => ({ ...t }));
}

function contactRef(c: ContactItem): ContactRef {
  const ref: ContactRef = { agency: c.agency, name: c.name };
  if (c.role !== undefined) ref.role = c.role;
  if (c.phone !== undefined) ref.phone = c.phone;
  if (c.email !== undefined) ref.email = c.email;
  return ref;
}

/** Agencies the viewer knows of but whose records it may not see, with whom to contact there. Not for stewards. */
export function visiblePointers(decision: AccessDecision, state: PersonState): AgencyPointer[] {
  const d = granted(decision);
  if (d.mode !== 'agency') return [];
  return d.agencies
    .filter((g) => g.nameable && !g.own && accessTo(d, g.agency, 'demographics') === 'pointer')
    .map((g) => {
      const c = state.contacts.find((x) => x.agency === g.agency);
      return { agency: g.agency, contact: c ? contactRef(c) : null };
    });
}

/** The primary point of contact, when its agency may be named (a pointer carries whom to call). */
export function visiblePrimaryContact(decision: AccessDecision, state: PersonState): ContactRef | null {
  const d = granted(decision);
  const pc = state.primaryContact;
  if (d.mode !== 'agency' || !pc || !agencyNameable(d, pc.agency)) return null;
  return contactRef(pc);
}

/** SSN-like identifier values keep their last 4 digits only. */
function maskIdentifier(i: { system: string; value: string }): { system: string; value: string } {
  const digits = i.value.replace(/\D/g, '');
  const ssnLike = /ssn|social/i.test(i.system) || /^\d{3}-?\d{2}-?\d{4}$/.test(i.value.trim());
  return { system: i.system, value: ssnLike ? (digits.length >= 4 ? `***-**-${digits.slice(-4)}` : '****') : i.value };
}

function last4(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const digits = v.replace(/\D/g, '');
  return digits.length >= 4 ? digits.slice(-4) : undefined;
}

export function maskRecord(r: RecordView): MaskedRecord {
  const m: MaskedRecord = {
    sourceRecordId: r.sourceRecordId, source: r.source, agency: r.agency, recordId: r.recordId,
    firstName: r.firstName, lastName: r.lastName, firstSeenAt: r.firstSeenAt, lastEventAt: r.lastEventAt,
  };
  if (r.middleName !== undefined) m.middleName = r.middleName;
  if (r.dateOfBirth !== undefined) m.dateOfBirth = r.dateOfBirth;
  if (r.sex !== undefined) m.sex = r.sex;
  const ssn = last4(r.ssnLast4);
  if (ssn !== undefined) m.ssnLast4 = ssn;
  if (r.phone !== undefined) m.phone = r.phone;
  if (r.email !== undefined) m.email = r.email;
  if (r.address) {
    const a: AddressView = {};
    for (const k of ['line1', 'line2', 'city', 'state', 'postalCode'] as const) if (r.address[k] !== undefined) a[k] = r.address[k];
    m.address = a;
  }
  if (r.aliases) {
    m.aliases = r.aliases.map((x) => {
      const a: { firstName?: string; lastName?: string; dateOfBirth?: string } = {};
      if (x.firstName !== undefined) a.firstName = x.firstName;
      if (x.lastName !== undefined) a.lastName = x.lastName;
      if (x.dateOfBirth !== undefined) a.dateOfBirth = x.dateOfBirth;
      return a;
    });
  }
  if (r.identifiers) m.identifiers = r.identifiers.map(maskIdentifier);
  return m;
}

/**
 * Best-of over the given records: per field, the value most records agree on; ties go to the
 * record with the latest event, then to the earlier record in the list.
 */
export function bestOfDemographics(records: readonly MaskedRecord[]): BestOf {
  const pick = (field: keyof BestOf): string | undefined => {
    const tally = new Map<string, { n: number; latest: number; first: number }>();
    records.forEach((r, i) => {
      const v = r[field];
      if (v === undefined || v === '') return;
      const t = tally.get(v) ?? { n: 0, latest: -Infinity, first: i };
      t.n += 1;
      t.latest = Math.max(t.latest, Date.parse(r.lastEventAt) || 0);
      tally.set(v, t);
    });
    let best: [string, { n: number; latest: number; first: number }] | undefined;
    for (const e of tally) {
      const [, t] = e;
      if (!best || t.n > best[1].n || (t.n === best[1].n && (t.latest > best[1].latest || (t.latest === best[1].latest && t.first < best[1].first)))) best = e;
    }
    return best?.[0];
  };
  const out: BestOf = {};
  for (const f of ['firstName', 'middleName', 'lastName', 'dateOfBirth', 'sex', 'ssnLast4'] as const) {
    const v = pick(f);
    if (v !== undefined) out[f] = v;
  }
  return out;
}

function agencyAccessKind(d: AccessGranted, agency: string, own: boolean): AgencyAccessKind {
  if (d.mode === 'steward') return 'demographics';
  if (own) return 'own';
  return accessTo(d, agency, 'demographics') === 'full' ? 'shared' : 'pointer';
}

/**
 * The PersonState restricted to what the viewer sees in full, with `agencies` = the agencies it
 * may name. Re-evaluate familiar-faces criteria on this when `seesEverything` is false: a
 * criterion met only through hidden data would otherwise reveal that data.
 */
export function visibleState(decision: AccessDecision, state: PersonState): PersonState {
  const d = granted(decision);
  const timeline = visibleTimeline(d, state);
  const contacts = visibleContacts(d, state);
  const pc = state.primaryContact;
  return {
    personId: state.personId,
    agencies: visibleAgencies(d),
    records: state.records.filter((r) => full(d, r.agency, 'demographics')).map((r) => ({ ...r })),
    custody: visibleCustody(d, state),
    cases: visibleCases(d, state),
    needs: visibleNeeds(d, state),
    referrals: visibleReferrals(d, state),
    services: visibleServices(d, state),
    consents: visibleConsents(d, state),
    contacts,
    primaryContact: pc && contacts.some((c) => c.agency === pc.agency) ? { ...pc } : null,
    timeline,
    lastActivityAt: latest(timeline.map((t) => t.at)) ?? '',
    criteria: seesEverything(d, state) ? [...state.criteria] : [],
  };
}

function latest(ts: string[]): string | null {
  let best: string | null = null;
  for (const t of ts) if (best === null || Date.parse(t) > Date.parse(best)) best = t;
  return best;
}

/** The JSON a viewer receives for GET /persons/:id. Throws on a denied decision (check `allowed` first). */
export function maskPersonView(decision: AccessDecision, state: PersonState): PersonView {
  const d = granted(decision);
  const records = visibleRecords(d, state);
  const bestOf = bestOfDemographics(records);
  const needs = visibleNeeds(d, state);
  const openNeeds = needs.filter((n) => !n.closedAt);
  const agencies = visibleAgencies(d);
  const timeline = visibleTimeline(d, state);
  const custody = visibleCustody(d, state);
  const status = visibleCustodyStatus(d, state);
  const name = [bestOf.firstName, bestOf.lastName].filter((x) => x !== undefined).join(' ');
  return {
    personId: state.personId,
    access: {
      role: d.role, purpose: d.purpose, mode: d.mode, relation: d.relation, consentIds: [...d.coverage.consentIds],
      agencies: d.agencies.filter((g) => g.nameable).map((g) => ({ agency: g.agency, access: agencyAccessKind(d, g.agency, g.own) })),
    },
    displayName: name === '' ? null : name,
    birthYear: bestOf.dateOfBirth ? Number(bestOf.dateOfBirth.slice(0, 4)) : null,
    bestOf,
    agencies,
    agencyCount: agencies.length,
    records,
    pointers: visiblePointers(d, state),
    custody,
    inCustody: status.inCustody,
    scheduledReleaseAt: status.scheduledReleaseAt,
    cases: visibleCases(d, state),
    needs,
    openNeedCategories: [...new Set(openNeeds.map((n) => n.category))].sort(),
    openNeedCount: openNeeds.length,
    referrals: visibleReferrals(d, state),
    services: visibleServices(d, state),
    consents: visibleConsents(d, state),
    contacts: visibleContacts(d, state),
    primaryContact: visiblePrimaryContact(d, state),
    timeline,
    lastActivityAt: latest(timeline.map((t) => t.at)),
    criteria: seesEverything(d, state) ? [...state.criteria] : null,
  };
}

/** A list / worklist entry: the same masking, without the detail lists. */
export function maskListEntry(decision: AccessDecision, state: PersonState): PersonListEntry {
  const { records: _r, cases: _c, services: _s, timeline: _t, referrals: _f, ...entry } = maskPersonView(decision, state);
  return entry;
}

/** Filters of the familiar-faces list and the release worklist that depend on visible data. */
export interface VisibleFilter {
  agency?: string;
  needCategory?: string;
  inCustody?: boolean;
  /** Scheduled release between now and now + N days, among visible open custody. */
  releaseWithinDays?: number;
}

/**
 * Applies the filters to the masked view, so a filter can only match what the viewer sees.
 * SQL may pre-filter on the unmasked columns (a superset for agency/needCategory/inCustody=true/
 * releaseWithinDays), but a negative filter (inCustody=false) must be decided here only.
 */
export function matchesVisibleFilter(view: Pick<PersonView, 'agencies' | 'openNeedCategories' | 'inCustody' | 'scheduledReleaseAt'>, f: VisibleFilter, now: Date): boolean {
  if (f.agency !== undefined && !view.agencies.includes(f.agency)) return false;
  if (f.needCategory !== undefined && !view.openNeedCategories.includes(f.needCategory)) return false;
  if (f.inCustody !== undefined && view.inCustody !== f.inCustody) return false;
  if (f.releaseWithinDays !== undefined) {
    if (!view.inCustody || view.scheduledReleaseAt === null) return false;
    const t = Date.parse(view.scheduledReleaseAt);
    if (t < now.getTime() || t > now.getTime() + f.releaseWithinDays * 86_400_000) return false;
  }
  return true;
}
