import type { ConsentItem, PersonState } from '../persons/person-state';
import { checkPurpose, type Purpose, type PurposeDenialCode } from './purpose.policy';
import type { Principal, Role } from './roles';

/**
 * The one access policy every read of person data goes through (issue 6, docs/access.md).
 * Pure: no Nest, no database. Inputs are the viewer, the person's folded state, the agency
 * registry's Part 2 flags, the clock and the stated purpose; the output is a JSON-serialisable
 * decision that `accessTo` and the helpers in person-view.mask.ts read.
 */

/** full: the item itself. pointer: only "also known to agency X, contact Y". none: not even that. */
export type AccessLevel = 'full' | 'pointer' | 'none';

export const DATA_CATEGORIES = ['demographics', 'custody', 'cases', 'needs', 'services', 'contacts', 'consents'] as const;
export type DataCategory = (typeof DATA_CATEGORIES)[number];

/** 42 CFR Part 2: needs its own explicit consent, never covered by a general one. */
export const SUBSTANCE_USE = 'substance_use';

/** What the policy needs from the agency registry (agency.part2). */
export interface AgencyFacts {
  part2: boolean;
}
/** Agency code -> facts. An agency missing from it is treated as a Part 2 program (fail closed). */
export type AgencyRegistry = ReadonlyMap<string, AgencyFacts>;

/** agency: the viewer's agency acts on its own clients and under consent. steward: match review. */
export type ViewMode = 'agency' | 'steward';
export type Relation = 'own_client' | 'consented' | 'steward';

export interface AgencyGrant {
  agency: string;
  own: boolean;
  part2: boolean;
  /** May the viewer learn that the person is known to this agency at all. */
  nameable: boolean;
}

/** What the person's active consents grant the viewer's agency (consents recorded by hidden agencies do not count). */
export interface ConsentCoverage {
  /** Some active consent names the viewer's agency (or '*') with the form's general scope. */
  general: boolean;
  /** Need categories named explicitly by an active consent that names the viewer's agency (or '*'). */
  categories: string[];
  /** Some active consent names the viewer's agency (or '*'). */
  any: boolean;
  /** Ids of the consents that grant this, for the audit entry. */
  consentIds: string[];
}

export interface AccessGranted {
  allowed: true;
  personId: string;
  viewerAgency: string;
  role: Role;
  purpose: Purpose;
  mode: ViewMode;
  relation: Relation;
  /** An active consent names substance_use and the viewer's agency by code: Part 2 agencies may be named. */
  part2Gate: boolean;
  coverage: ConsentCoverage;
  /** One per agency with a live record of the person, in the state's order. */
  agencies: AgencyGrant[];
  /** Agency codes named inside items (consent partners, referral targets) with no record of the person. */
  mentioned: { agency: string; nameable: boolean }[];
}

export type AccessDenialCode = PurposeDenialCode | 'role_reads_no_person_data' | 'no_relation';

export interface AccessDenied {
  allowed: false;
  personId: string;
  code: AccessDenialCode;
  /** Safe to return to the caller: names no agency and no personal data. */
  reason: string;
}

export type AccessDecision = AccessGranted | AccessDenied;

export interface AccessInput {
  viewer: Principal;
  /** The X-Purpose-Of-Use header as received (checked here), or an already checked purpose. */
  purpose: string | readonly string[] | undefined;
  state: PersonState;
  agencies: AgencyRegistry;
  now: Date;
}

/** In effect at `now`: signed, not expired, not revoked. */
export function consentActive(c: ConsentItem, now: Date): boolean {
  const t = now.getTime();
  return !c.revokedAt && Date.parse(c.signedAt) <= t && Date.parse(c.expiresAt) > t;
}

/** The consent names the agency explicitly or is coalition-wide. */
export function consentNames(c: ConsentItem, agency: string): boolean {
  return c.partners.includes(agency) || c.partners.includes('*');
}

function isPart2(agencies: AgencyRegistry, code: string): boolean {
  return agencies.get(code)?.part2 ?? true;
}

/**
 * Is the Part 2 gate open: an active consent that lists substance_use and names the viewer's
 * agency by its code ('*' does not name anyone, and Part 2 consent must name its recipient).
 */
function part2GateOpen(state: PersonState, viewerAgency: string, now: Date): boolean {
  return state.consents.some(
    (c) => consentActive(c, now) && c.partners.includes(viewerAgency) && (c.categories ?? []).includes(SUBSTANCE_USE),
  );
}

/** May the viewer learn of this agency at all (own agency, a non-Part 2 agency, or the Part 2 gate is open). */
function nameable(agency: string, viewerAgency: string, agencies: AgencyRegistry, gate: boolean): boolean {
  return agency === viewerAgency || gate || !isPart2(agencies, agency);
}

/** Decides what the viewer may see of one person. Call once per person per request. */
export function decidePersonAccess(input: AccessInput): AccessDecision {
  const { viewer, state, agencies, now } = input;
  const personId = state.personId;
  const purpose = checkPurpose(viewer, input.purpose);
  if (!purpose.ok) return { allowed: false, personId, code: purpose.code, reason: purpose.reason };
  const { role } = purpose;
  if (role === 'auditor' || role === 'admin') {
    return {
      allowed: false, personId, code: 'role_reads_no_person_data',
      reason: role === 'auditor' ? 'auditors read the audit log, not person records' : 'admin reads no person data',
    };
  }
  const mode: ViewMode = role === 'data_steward' ? 'steward' : 'agency';
  const gate = part2GateOpen(state, viewer.agency, now);
  const grants: AgencyGrant[] = state.agencies.map((agency) => ({
    agency,
    own: agency === viewer.agency,
    part2: isPart2(agencies, agency),
    nameable: nameable(agency, viewer.agency, agencies, gate),
  }));

  // A consent recorded by an agency the viewer may not name must not widen what the viewer
  // sees either: data appearing with no visible basis would point at the hidden agency.
  const coverage: ConsentCoverage = { general: false, categories: [], any: false, consentIds: [] };
  const explicit = new Set<string>();
  for (const c of state.consents) {
    if (!consentActive(c, now) || !consentNames(c, viewer.agency)) continue;
    if (!nameable(c.agency, viewer.agency, agencies, gate)) continue;
    coverage.any = true;
    coverage.consentIds.push(c.consentId);
    if (c.categories === null) coverage.general = true;
    else for (const cat of c.categories) explicit.add(cat);
  }
  coverage.categories = [...explicit].sort();

  const mentioned = [...new Set([...state.consents.flatMap((c) => c.partners), ...state.referrals.flatMap((r) => (r.toAgency ? [r.toAgency] : []))])]
    .filter((a) => a !== '*' && !state.agencies.includes(a))
    .sort()
    .map((agency) => ({ agency, nameable: nameable(agency, viewer.agency, agencies, gate) }));
  const base = {
    allowed: true as const, personId, viewerAgency: viewer.agency, role, purpose: purpose.purpose, mode,
    part2Gate: gate, coverage, agencies: grants, mentioned,
  };
  if (mode === 'steward') {
    if (!grants.some((g) => g.nameable)) return noRelation(personId);
    return { ...base, relation: 'steward' };
  }
  if (grants.some((g) => g.own)) return { ...base, relation: 'own_client' };
  // Not the viewer's client: visible only when a consent lets the viewer see someone's data.
  if (coverage.any && grants.some((g) => g.nameable)) return { ...base, relation: 'consented' };
  return noRelation(personId);
}

function noRelation(personId: string): AccessDenied {
  return { allowed: false, personId, code: 'no_relation', reason: 'person not found' };
}

/** Does the viewer's consent coverage reach this category of another agency's data. */
function covered(cov: ConsentCoverage, category: DataCategory, needCategory: string | undefined): boolean {
  switch (category) {
    case 'demographics':
    case 'contacts':
      // Any release names whose information it is and whom to call.
      return cov.any;
    case 'needs':
      if (needCategory === SUBSTANCE_USE) return cov.categories.includes(SUBSTANCE_USE);
      return cov.general || (needCategory !== undefined && cov.categories.includes(needCategory));
    case 'custody':
    case 'cases':
    case 'services':
    case 'consents':
      return cov.general;
  }
}

/**
 * The level at which the viewer may see `category` data that `agency` contributed.
 * `needCategory` is the need category of a need, referral or need event (required for 'needs').
 * Consent items have their own item-level rule: see `consentAccess`.
 */
export function accessTo(decision: AccessDecision, agency: string, category: DataCategory, needCategory?: string): AccessLevel {
  if (!decision.allowed) return 'none';
  if (!agencyNameable(decision, agency)) return 'none';
  if (decision.mode === 'steward') return category === 'demographics' ? 'full' : 'none';
  if (agency === decision.viewerAgency) return 'full';
  return covered(decision.coverage, category, needCategory) ? 'full' : 'pointer';
}

/**
 * May the viewer learn of this agency code, wherever it appears (an item's agency, a referral's
 * toAgency, a consent's partners, a count). A code the decision has not seen is not nameable.
 */
export function agencyNameable(decision: AccessDecision, agency: string): boolean {
  if (!decision.allowed) return false;
  if (agency === '*' || agency === decision.viewerAgency) return true;
  return (decision.agencies.find((g) => g.agency === agency) ?? decision.mentioned.find((m) => m.agency === agency))?.nameable ?? false;
}

/**
 * Consent items: the viewer sees its own agency's consents and any consent that names its agency
 * (or '*'), active or not, because those are what govern its access; others only under a
 * general-scope consent. Never a consent recorded by an agency the viewer may not name.
 * Stewards see none.
 */
export function consentAccess(decision: AccessDecision, consent: ConsentItem): AccessLevel {
  if (!decision.allowed || decision.mode === 'steward') return 'none';
  const level = accessTo(decision, consent.agency, 'consents');
  if (level !== 'pointer') return level;
  return consentNames(consent, decision.viewerAgency) ? 'full' : 'pointer';
}

/** The viewer sees everything the person's state holds (so state-level facts such as criteria may be shown as they are). */
export function seesEverything(decision: AccessDecision, state: PersonState): boolean {
  if (!decision.allowed || decision.mode !== 'agency') return false;
  return state.agencies.every((a) => a === decision.viewerAgency) && decision.mentioned.every((m) => m.nameable);
}
