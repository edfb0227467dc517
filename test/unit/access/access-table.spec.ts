import { accessTo, consentAccess, decidePersonAccess, type AccessLevel, type DataCategory } from '../../../src/access/access.policy';
import { maskPersonView, matchesVisibleFilter } from '../../../src/access/person-view.mask';
import type { Purpose } from '../../../src/access/purpose.policy';
import type { Role } from '../../../src/access/roles';
import type { ConsentItem } from '../../../src/persons/person-state';
import { CLINIC, consent, HOSPITAL, JAIL, NOW, OWN, PII, REGISTRY, personState, principal } from './access-fixture.helper';

/**
 * The access policy as a table (docs/access.md). Expected levels are written out from the rules,
 * one letter per data category: F = full, P = pointer ("also known to X, contact Y"), N = none.
 *
 * Column order: demographics, custody, cases, needs:housing, needs:behavioral_health,
 * needs:substance_use, services, contacts, consents (a consent the agency recorded that names
 * only the hospital, i.e. not the viewer).
 */
const COLUMNS: { category: DataCategory; need?: string }[] = [
  { category: 'demographics' }, { category: 'custody' }, { category: 'cases' },
  { category: 'needs', need: 'housing' }, { category: 'needs', need: 'behavioral_health' }, { category: 'needs', need: 'substance_use' },
  { category: 'services' }, { category: 'contacts' }, { category: 'consents' },
];
const ALL_F = 'FFFFFFFFF';
const ALL_P = 'PPPPPPPPP';
const ALL_N = 'NNNNNNNNN';

interface Scenario {
  name: string;
  consents: ConsentItem[];
  /** Levels of the jail's (not Part 2) and the clinic's (Part 2) data, for an agency viewer. */
  jail: string;
  clinic: string;
  /** Some consent lets the viewer see someone's data: a person who is not the viewer's client is visible. */
  relates: boolean;
  /** An active consent names substance_use and the viewer's agency by code. */
  gate: boolean;
}

const S: Scenario[] = [
  { name: 'no consent', consents: [], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'consent naming the viewer, general scope', consents: [consent(JAIL, 'k1', [OWN], null)], jail: 'FFFFFPFFF', clinic: ALL_N, relates: true, gate: false },
  { name: 'coalition-wide consent, general scope', consents: [consent(JAIL, 'k1', ['*'], null)], jail: 'FFFFFPFFF', clinic: ALL_N, relates: true, gate: false },
  { name: 'expired consent naming the viewer', consents: [consent(JAIL, 'k1', [OWN], null, { expired: true })], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'revoked consent naming the viewer', consents: [consent(JAIL, 'k1', [OWN], null, { revoked: true })], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'consent signed in the future', consents: [consent(JAIL, 'k1', [OWN], null, { future: true })], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'consent naming another agency only', consents: [consent(JAIL, 'k1', [HOSPITAL], null)], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'consent naming the viewer, housing only (category missing)', consents: [consent(JAIL, 'k1', [OWN], ['housing'])], jail: 'FPPFPPPFP', clinic: ALL_N, relates: true, gate: false },
  { name: 'consent naming the viewer, housing + behavioral health', consents: [consent(JAIL, 'k1', [OWN], ['housing', 'behavioral_health'])], jail: 'FPPFFPPFP', clinic: ALL_N, relates: true, gate: false },
  { name: 'consent naming the viewer and substance_use', consents: [consent(JAIL, 'k1', [OWN], ['substance_use'])], jail: 'FPPPPFPFP', clinic: 'FPPPPFPFP', relates: true, gate: true },
  { name: 'coalition-wide consent naming substance_use (does not name the viewer)', consents: [consent(JAIL, 'k1', ['*'], ['substance_use'])], jail: 'FPPPPFPFP', clinic: ALL_N, relates: true, gate: false },
  { name: 'general consent + substance_use consent, both naming the viewer', consents: [consent(JAIL, 'k1', [OWN], null), consent(JAIL, 'k2', [OWN], ['substance_use'])], jail: ALL_F, clinic: ALL_F, relates: true, gate: true },
  { name: 'general consent naming the viewer + coalition-wide substance_use', consents: [consent(JAIL, 'k1', [OWN], null), consent(JAIL, 'k2', ['*'], ['substance_use'])], jail: ALL_F, clinic: ALL_N, relates: true, gate: false },
  { name: 'expired substance_use consent naming the viewer', consents: [consent(JAIL, 'k1', [OWN], ['substance_use'], { expired: true })], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'revoked substance_use consent naming the viewer', consents: [consent(JAIL, 'k1', [OWN], ['substance_use'], { revoked: true })], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'substance_use consent naming another agency', consents: [consent(JAIL, 'k1', [HOSPITAL], ['substance_use'])], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'general consent recorded by the Part 2 program (ignored: it would name the program)', consents: [consent(CLINIC, 'k1', [OWN], null)], jail: ALL_P, clinic: ALL_N, relates: false, gate: false },
  { name: 'substance_use consent recorded by the Part 2 program', consents: [consent(CLINIC, 'k1', [OWN], ['substance_use'])], jail: 'FPPPPFPFP', clinic: 'FPPPPFPFP', relates: true, gate: true },
  { name: 'general + substance_use consent in one form, naming the viewer', consents: [consent(JAIL, 'k1', [OWN], ['housing', 'behavioral_health', 'substance_use'])], jail: 'FPPFFFPFP', clinic: 'FPPFFFPFP', relates: true, gate: true },
];

type Ownership = 'own client' | 'not own client';
const OWNERSHIPS: Ownership[] = ['own client', 'not own client'];
const AGENCY_VIEWERS: { role: Role; purpose: Purpose }[] = [
  { role: 'case_manager', purpose: 'care_coordination' },
  { role: 'discharge_planner', purpose: 'discharge_planning' },
  { role: 'discharge_planner', purpose: 'care_coordination' },
];

const letter = (l: AccessLevel): string => ({ full: 'F', pointer: 'P', none: 'N' })[l];
const agenciesOf = (o: Ownership): string[] => (o === 'own client' ? [OWN, JAIL, CLINIC] : [JAIL, CLINIC]);

interface LevelRow {
  viewer: string;
  ownership: Ownership;
  scenario: Scenario;
  role: Role;
  purpose: Purpose;
  agency: string;
  /** null: the person is not visible to the viewer at all. */
  expected: string | null;
}

function expectedFor(role: Role, s: Scenario, ownership: Ownership, agency: string): string | null {
  if (role === 'data_steward') {
    // Demographics only, of every agency the steward may name; the Part 2 program only with the gate open.
    if (agency === CLINIC && !s.gate) return ALL_N;
    return 'FNNNNNNNN';
  }
  if (ownership === 'not own client' && !s.relates) return null;
  if (agency === OWN) return ALL_F;
  return agency === JAIL ? s.jail : s.clinic;
}

const levelRows: LevelRow[] = [];
for (const s of S) {
  for (const ownership of OWNERSHIPS) {
    for (const v of [...AGENCY_VIEWERS, { role: 'data_steward' as Role, purpose: 'data_quality' as Purpose }]) {
      for (const agency of agenciesOf(ownership)) {
        levelRows.push({ viewer: `${v.role}/${v.purpose}`, ownership, scenario: s, role: v.role, purpose: v.purpose, agency, expected: expectedFor(v.role, s, ownership, agency) });
      }
    }
  }
}

describe('access policy table: level per data category', () => {
  it('has a few hundred rows', () => {
    expect(levelRows.length).toBeGreaterThanOrEqual(300);
  });

  it.each(levelRows.map((r) => [r.viewer, r.ownership, r.scenario.name, r.agency, r.expected ?? 'not visible', r] as const))(
    '%s | %s | %s | data from %s -> %s',
    (_v, _o, _s, _a, _e, row) => {
      const state = personState(agenciesOf(row.ownership), row.scenario.consents);
      const d = decidePersonAccess({ viewer: principal(row.role), purpose: row.purpose, state, agencies: REGISTRY, now: NOW });
      if (row.expected === null) {
        expect(d).toMatchObject({ allowed: false, code: 'no_relation' });
        expect(COLUMNS.map((c) => letter(accessTo(d, row.agency, c.category, c.need))).join('')).toBe(ALL_N);
        return;
      }
      expect(d.allowed).toBe(true);
      const got = COLUMNS.map((c) => {
        if (c.category !== 'consents') return letter(accessTo(d, row.agency, c.category, c.need));
        const item = state.consents.find((k) => k.consentId === `K-${row.agency}-hospital`)!;
        return letter(consentAccess(d, item));
      }).join('');
      expect(got).toBe(row.expected);
    },
  );
});

/** What the masked view must contain, derived from the expected letters above. */
describe('access policy table: masked person view', () => {
  const rows = S.flatMap((s) => OWNERSHIPS.flatMap((ownership) =>
    [...AGENCY_VIEWERS, { role: 'data_steward' as Role, purpose: 'data_quality' as Purpose }].map((v) => ({ s, ownership, ...v }))));

  it.each(rows.map((r) => [`${r.role}/${r.purpose}`, r.ownership, r.s.name, r] as const))('%s | %s | %s', (_v, _o, _n, r) => {
    const agencies = agenciesOf(r.ownership);
    const state = personState(agencies, r.s.consents);
    const d = decidePersonAccess({ viewer: principal(r.role), purpose: r.purpose, state, agencies: REGISTRY, now: NOW });
    const exp = Object.fromEntries(agencies.map((a) => [a, expectedFor(r.role, r.s, r.ownership, a)]));
    if (Object.values(exp).some((e) => e === null)) {
      expect(d.allowed).toBe(false);
      return;
    }
    const view = maskPersonView(d, state);
    const json = JSON.stringify(view);
    const at = (a: string, col: number): string => exp[a]![col];

    // No full SSN anywhere, from any agency; last 4 only on the records the viewer may see.
    for (const a of agencies) {
      expect(json).not.toContain(PII[a].ssn);
      expect(json).not.toContain(PII[a].ssn.slice(0, 5));
    }
    // Records (with DOB and address) exactly from the agencies whose demographics are F.
    const fullDemo = agencies.filter((a) => at(a, 0) === 'F');
    expect(view.records.map((x) => x.agency).sort()).toEqual([...fullDemo].sort());
    for (const a of agencies) {
      const shown = fullDemo.includes(a);
      expect(json.includes(PII[a].dob)).toBe(shown);
      expect(json.includes(PII[a].line1)).toBe(shown);
      expect(json.includes(PII[a].last)).toBe(shown);
      if (shown) expect(view.records.find((x) => x.agency === a)!.ssnLast4).toBe(PII[a].ssn.slice(-4));
    }
    expect(view.bestOf.dateOfBirth === undefined || fullDemo.some((a) => PII[a].dob === view.bestOf.dateOfBirth)).toBe(true);
    // Pointers exactly for the agencies the viewer may only know of (agency viewers only).
    const pointerAgencies = r.role === 'data_steward' ? [] : agencies.filter((a) => at(a, 0) === 'P');
    expect(view.pointers.map((p) => p.agency).sort()).toEqual(pointerAgencies.sort());
    for (const p of view.pointers) expect(p.contact?.name).toBe(PII[p.agency].contact);
    // Counts after visibility; the Part 2 program is named nowhere unless the gate is open.
    const nameable = agencies.filter((a) => exp[a] !== ALL_N);
    expect(view.agencies.sort()).toEqual(nameable.sort());
    expect(view.agencyCount).toBe(nameable.length);
    if (agencies.includes(CLINIC) && exp[CLINIC] === ALL_N) {
      expect(json).not.toContain(CLINIC);
      expect(json).not.toContain(PII[CLINIC].contact);
    }
    // Open needs counted and filtered only where visible: needCategory=substance_use finds the
    // person only when the viewer may see some substance-use need.
    const needCols: [string, number][] = [['housing', 3], ['behavioral_health', 4], ['substance_use', 5]];
    const visibleCats = needCols.filter(([, col]) => agencies.some((a) => at(a, col) === 'F')).map(([c]) => c);
    expect(view.openNeedCategories).toEqual([...visibleCats].sort());
    expect(view.openNeedCount).toBe(needCols.reduce((n, [, col]) => n + agencies.filter((a) => at(a, col) === 'F').length, 0));
    for (const [cat] of needCols) {
      expect(matchesVisibleFilter(view, { needCategory: cat }, NOW)).toBe(visibleCats.includes(cat));
    }
    // Custody, cases and services from the F agencies only.
    expect(view.custody.map((c) => c.agency).sort()).toEqual(agencies.filter((a) => at(a, 1) === 'F').sort());
    expect(view.inCustody).toBe(agencies.some((a) => at(a, 1) === 'F'));
    expect(view.cases.map((c) => c.agency).sort()).toEqual(agencies.filter((a) => at(a, 2) === 'F').sort());
    expect(view.services.map((c) => c.agency).sort()).toEqual(agencies.filter((a) => at(a, 6) === 'F').sort());
    expect(view.contacts.map((c) => c.agency).sort()).toEqual(agencies.filter((a) => at(a, 7) === 'F').sort());
    // Stewards: no needs, cases, services, custody, contacts or consents.
    if (r.role === 'data_steward') {
      expect([view.needs, view.cases, view.services, view.custody, view.contacts, view.consents, view.referrals, view.timeline].every((l) => l.length === 0)).toBe(true);
      expect(view.primaryContact).toBeNull();
    }
  });
});

describe('access policy table: roles and purposes', () => {
  const cases: [Role, string | undefined, string][] = [
    ['case_manager', 'care_coordination', 'allowed'],
    ['case_manager', 'discharge_planning', 'purpose_unfit'],
    ['case_manager', 'data_quality', 'purpose_unfit'],
    ['case_manager', 'audit', 'purpose_unfit'],
    ['discharge_planner', 'discharge_planning', 'allowed'],
    ['discharge_planner', 'care_coordination', 'allowed'],
    ['discharge_planner', 'data_quality', 'purpose_unfit'],
    ['discharge_planner', 'audit', 'purpose_unfit'],
    ['data_steward', 'data_quality', 'allowed'],
    ['data_steward', 'care_coordination', 'purpose_unfit'],
    ['data_steward', 'discharge_planning', 'purpose_unfit'],
    ['data_steward', 'audit', 'purpose_unfit'],
    ['auditor', 'audit', 'role_reads_no_person_data'],
    ['auditor', 'care_coordination', 'purpose_unfit'],
    ['auditor', 'data_quality', 'purpose_unfit'],
    ['admin', 'care_coordination', 'purpose_unfit'],
    ['admin', 'discharge_planning', 'purpose_unfit'],
    ['admin', 'data_quality', 'purpose_unfit'],
    ['admin', 'audit', 'purpose_unfit'],
    ...(['case_manager', 'discharge_planner', 'data_steward', 'auditor', 'admin'] as Role[]).flatMap((r): [Role, string | undefined, string][] => [
      [r, undefined, 'purpose_missing'],
      [r, '', 'purpose_missing'],
      [r, 'treatment', 'purpose_unknown'],
      [r, 'CARE_COORDINATION', 'purpose_unknown'],
    ]),
  ];
  it.each(cases)('%s with purpose %s -> %s', (role, purpose, outcome) => {
    const state = personState([OWN, JAIL, CLINIC], []);
    const d = decidePersonAccess({ viewer: principal(role), purpose, state, agencies: REGISTRY, now: NOW });
    if (outcome === 'allowed') {
      expect(d.allowed).toBe(true);
      return;
    }
    expect(d).toMatchObject({ allowed: false, code: outcome });
    if (!d.allowed) {
      expect(d.reason).toMatch(/X-Purpose-Of-Use|audit log|person data/);
      // The reason names no agency and no personal data.
      for (const a of [OWN, JAIL, CLINIC]) expect(d.reason).not.toContain(a);
    }
    expect(COLUMNS.every((c) => accessTo(d, OWN, c.category, c.need) === 'none')).toBe(true);
  });
});
