import type { ConsentItem, PersonState, RecordView, TimelineItem } from '../../../src/persons/person-state';
import type { AgencyRegistry } from '../../../src/access/access.policy';
import type { Principal, Role } from '../../../src/access/roles';

/** The viewer's agency, a justice partner, and a 42 CFR Part 2 program with a name no other field contains. */
export const OWN = 'shelter';
export const JAIL = 'county-jail';
export const CLINIC = 'recovery-clinic';
export const HOSPITAL = 'hospital-ed';
export const NOW = new Date('2026-03-01T12:00:00Z');

export const REGISTRY: AgencyRegistry = new Map([
  [OWN, { part2: false }],
  [JAIL, { part2: false }],
  [CLINIC, { part2: true }],
  [HOSPITAL, { part2: false }],
]);

/** Personal data each agency holds, distinct per agency so a leak shows which record it came from. */
export const PII: Record<string, { first: string; last: string; dob: string; ssn: string; line1: string; contact: string }> = {
  [OWN]: { first: 'Robert', last: 'Smith', dob: '1988-04-12', ssn: '123456781', line1: '1 Own Street', contact: 'Olive Owncaseworker' },
  [JAIL]: { first: 'Bob', last: 'Smyth', dob: '1988-12-04', ssn: '223456782', line1: '2 Jail Road', contact: 'Jack Jailplanner' },
  [CLINIC]: { first: 'Roberto', last: 'Roybal', dob: '1987-04-12', ssn: '323456783', line1: '3 Clinic Way', contact: 'Carla Counsellor' },
};

export const NEED_CATS = ['housing', 'behavioral_health', 'substance_use'] as const;

export function principal(role: Role, agency = OWN): Principal {
  return { sub: `user-${role}`, agency, agencyId: `id-${agency}`, roles: [role] };
}

const DAY = 86_400_000;
const iso = (days: number): string => new Date(NOW.getTime() + days * DAY).toISOString();

export function consent(agency: string, consentId: string, partners: string[], categories: string[] | null, opts: { expired?: boolean; revoked?: boolean; future?: boolean } = {}): ConsentItem {
  const c: ConsentItem = {
    agency, consentId, form: 'uroi', partners, categories,
    signedAt: opts.future ? iso(1) : iso(-200),
    expiresAt: opts.expired ? iso(-1) : iso(165),
  };
  if (opts.revoked) c.revokedAt = iso(-2);
  return c;
}

const OTHER_PII = { first: 'Rob', last: 'Smitts', dob: '1988-04-13', ssn: '423456784', line1: '4 Other Lane', contact: 'Oscar Other' };
const pii = (agency: string): (typeof PII)[string] => PII[agency] ?? OTHER_PII;

function record(agency: string): RecordView {
  const p = pii(agency);
  return {
    sourceRecordId: `sr-${agency}`, source: `${agency}-src`, agency, recordId: `rec-${agency}`,
    firstName: p.first, lastName: p.last, dateOfBirth: p.dob, sex: 'M', ssnLast4: p.ssn.slice(-4),
    address: { line1: p.line1, city: 'Albuquerque', postalCode: '87102' },
    identifiers: [{ system: 'ssn', value: p.ssn }, { system: 'state_id', value: `SID-${agency}` }],
    firstSeenAt: iso(-300), lastEventAt: iso(-10),
  };
}

/**
 * A person known to `agencies`, each holding one item of every data category: a custody episode,
 * a court case, an open need of each category, a service, a contact, and a consent that names
 * only the hospital (so its visibility follows the category rule, not "it names you").
 * `consents` are the scenario's consents.
 */
export function personState(agencies: string[], consents: ConsentItem[]): PersonState {
  const timeline: TimelineItem[] = [];
  const ev = (agency: string, type: string, at: string, category?: string): void => {
    const t: TimelineItem = { at, type, agency, source: `${agency}-src`, eventId: `ev-${agency}-${type}-${category ?? ''}` };
    if (category) t.category = category;
    timeline.push(t);
  };
  const state: PersonState = {
    personId: 'person-1', agencies, records: [], custody: [], cases: [], needs: [], referrals: [], services: [],
    consents: [], contacts: [], primaryContact: null, timeline, lastActivityAt: iso(-1), criteria: ['multi_agency'],
  };
  agencies.forEach((agency, i) => {
    state.records.push(record(agency));
    state.custody.push({ agency, bookingNumber: `B-${agency}`, facility: `${agency} facility`, bookedAt: iso(-30), scheduledReleaseAt: iso(3 + i) });
    ev(agency, 'booking', iso(-30));
    state.cases.push({ agency, caseNumber: `C-${agency}`, caseType: 'misdemeanor', openedAt: iso(-60), hearings: [{ hearingAt: iso(5) }] });
    ev(agency, 'court_case', iso(-60));
    for (const category of NEED_CATS) {
      state.needs.push({ agency, needId: `N-${agency}-${category}`, category, openedAt: iso(-20) });
      state.referrals.push({ agency, referralId: `R-${agency}-${category}`, need: category, status: 'open', toAgency: CLINIC, referredAt: iso(-19), updatedAt: iso(-19) });
      ev(agency, 'need_opened', iso(-20), category);
    }
    state.services.push({ agency, serviceType: 'meal', program: `${agency} program`, at: iso(-5) });
    ev(agency, 'service', iso(-5));
    state.contacts.push({ agency, name: pii(agency).contact, role: 'worker', phone: '505-555-0100', assignedAt: iso(-40) });
    ev(agency, 'contact_assigned', iso(-40));
    state.consents.push(consent(agency, `K-${agency}-hospital`, [HOSPITAL], null));
    ev(agency, 'consent_signed', iso(-200));
  });
  state.consents.push(...consents);
  state.primaryContact = state.contacts.find((c) => c.agency === CLINIC) ?? state.contacts[0] ?? null;
  return state;
}
