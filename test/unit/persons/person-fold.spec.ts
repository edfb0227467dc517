import { parseCriteria, type CriterionConfig } from '../../../src/persons/familiar-criteria';
import { foldName, foldPerson, isoFromDb, primaryContact, viewColumns, type AgencyInfo, type FoldEvent, type FoldRecord } from '../../../src/persons/person.fold';
import type { PersonState } from '../../../src/persons/person-state';

const NOW = new Date('2026-03-01T00:00:00Z');
const AGENCIES = new Map<string, AgencyInfo>([
  ['county-jail', { kind: 'jail', part2: false }],
  ['county-court', { kind: 'court', part2: false }],
  ['bh-clinic', { kind: 'provider', part2: true }],
  ['shelter', { kind: 'provider', part2: false }],
]);
const DEFAULT = parseCriteria('[{"id":"multi_agency","minAgencies":2}]');

const REC: Record<string, FoldRecord> = {
  jail: { sourceRecordId: '1', source: 'jail-src', agency: 'county-jail', recordId: 'J-1', demographics: { firstName: 'ROBERT', lastName: 'SMITH', dateOfBirth: '1988-04-12', ssn: '123456789', sex: 'M' } },
  court: { sourceRecordId: '2', source: 'court-src', agency: 'county-court', recordId: 'C-1', demographics: { firstName: 'Robert', lastName: 'Smith', dateOfBirth: '1988-04-12' } },
  clinic: { sourceRecordId: '3', source: 'clinic-src', agency: 'bh-clinic', recordId: 'B-1', demographics: { firstName: 'Bob', lastName: 'Smith', dateOfBirth: '1988-04-12' } },
  shelter: { sourceRecordId: '4', source: 'shelter-src', agency: 'shelter', recordId: 'S-1', demographics: { firstName: 'Robert', lastName: 'Smyth', dateOfBirth: '1988-12-04' } },
};
const recBySrc = new Map(Object.values(REC).map((r) => [r.sourceRecordId, r]));

let seq = 0;
function ev(rec: FoldRecord, type: string, occurredAt: string, details: Record<string, unknown> = {}, eventId?: string): FoldEvent {
  seq += 1;
  return { id: String(seq), eventId: eventId ?? `e${seq}`, sourceRecordId: rec.sourceRecordId, type, occurredAt, details };
}

function fold(events: FoldEvent[], criteria: CriterionConfig[] = DEFAULT, now = NOW): PersonState {
  const recs = [...new Set(events.map((e) => e.sourceRecordId))].map((id) => recBySrc.get(id)!);
  const s = foldPerson('p1', events, recs, AGENCIES, criteria, now);
  if (!s) throw new Error('expected a state');
  return s;
}

describe('foldPerson', () => {
  it('opens a custody episode on booking and closes it on release of the same booking number', () => {
    const booked = fold([ev(REC.jail, 'booking', '2026-02-01T10:00:00Z', { bookingNumber: 'B1', facility: 'Main', scheduledReleaseAt: '2026-03-05T12:00:00-07:00' })]);
    expect(booked.custody).toEqual([{ agency: 'county-jail', bookingNumber: 'B1', facility: 'Main', bookedAt: '2026-02-01T10:00:00.000Z', scheduledReleaseAt: '2026-03-05T19:00:00.000Z' }]);
    expect(viewColumns(booked)).toMatchObject({ inCustody: true, scheduledReleaseAt: '2026-03-05T19:00:00.000Z' });

    const released = fold([
      ev(REC.jail, 'booking', '2026-02-01T10:00:00Z', { bookingNumber: 'B1', scheduledReleaseAt: '2026-03-05T12:00:00Z' }),
      ev(REC.jail, 'booking', '2026-02-03T10:00:00Z', { bookingNumber: 'B2' }),
      ev(REC.jail, 'release', '2026-02-10T10:00:00Z', { bookingNumber: 'B1' }),
    ]);
    expect(released.custody.map((c) => [c.bookingNumber, c.releasedAt])).toEqual([['B1', '2026-02-10T10:00:00.000Z'], ['B2', undefined]]);
    expect(viewColumns(released)).toMatchObject({ inCustody: true, scheduledReleaseAt: null });
    const both = fold([ev(REC.jail, 'booking', '2026-02-01T10:00:00Z', { bookingNumber: 'B1' }), ev(REC.jail, 'release', '2026-02-02T10:00:00Z', { bookingNumber: 'B1' })]);
    expect(viewColumns(both).inCustody).toBe(false);
  });

  it('ignores a release for a booking it never saw', () => {
    const s = fold([ev(REC.jail, 'release', '2026-02-10T10:00:00Z', { bookingNumber: 'X' })]);
    expect(s.custody).toEqual([]);
  });

  it('keeps court cases with their hearings in time order, creating a case for a hearing that names an unseen one', () => {
    const s = fold([
      ev(REC.court, 'court_case', '2026-01-01T00:00:00Z', { caseNumber: 'CR-1', caseType: 'felony' }),
      ev(REC.court, 'hearing', '2026-01-02T00:00:00Z', { caseNumber: 'CR-1', hearingAt: '2026-04-01T09:00:00Z', hearingType: 'trial' }),
      ev(REC.court, 'hearing', '2026-01-03T00:00:00Z', { caseNumber: 'CR-1', hearingAt: '2026-03-10T09:00:00Z', hearingType: 'status' }),
      ev(REC.court, 'hearing', '2026-01-04T00:00:00Z', { caseNumber: 'CR-1', hearingAt: '2026-03-10T09:00:00Z', hearingType: 'status' }),
      ev(REC.court, 'hearing', '2026-01-05T00:00:00Z', { caseNumber: 'CR-2', hearingAt: '2026-05-01T09:00:00Z' }),
    ]);
    expect(s.cases).toEqual([
      { agency: 'county-court', caseNumber: 'CR-1', caseType: 'felony', openedAt: '2026-01-01T00:00:00.000Z', hearings: [
        { hearingAt: '2026-03-10T09:00:00.000Z', hearingType: 'status' }, { hearingAt: '2026-04-01T09:00:00.000Z', hearingType: 'trial' }] },
      { agency: 'county-court', caseNumber: 'CR-2', openedAt: '2026-01-05T00:00:00.000Z', hearings: [{ hearingAt: '2026-05-01T09:00:00.000Z' }] },
    ]);
  });

  it('opens and closes needs, and open needs are the categories still open', () => {
    const s = fold([
      ev(REC.clinic, 'need_opened', '2026-01-01T00:00:00Z', { needId: 'n1', category: 'housing' }),
      ev(REC.clinic, 'need_opened', '2026-01-02T00:00:00Z', { needId: 'n2', category: 'behavioral_health' }),
      ev(REC.clinic, 'need_closed', '2026-01-03T00:00:00Z', { needId: 'n1' }),
    ]);
    expect(s.needs.map((n) => [n.needId, n.category, n.closedAt])).toEqual([['n1', 'housing', '2026-01-03T00:00:00.000Z'], ['n2', 'behavioral_health', undefined]]);
    expect(viewColumns(s).openNeeds).toEqual(['behavioral_health']);
    expect(s.timeline.map((t) => t.category)).toEqual(['housing', 'behavioral_health', 'housing']);
  });

  it('keeps the latest status of each referral by occurredAt, with who referred and to whom', () => {
    const s = fold([
      ev(REC.jail, 'referral', '2026-01-05T00:00:00Z', { referralId: 'r1', need: 'housing', status: 'accepted', toAgency: 'shelter' }),
      ev(REC.jail, 'referral', '2026-01-01T00:00:00Z', { referralId: 'r1', need: 'housing', status: 'open', toAgency: 'shelter' }),
      ev(REC.jail, 'referral', '2026-01-02T00:00:00Z', { referralId: 'r2', need: 'medical', status: 'open' }),
    ]);
    expect(s.referrals).toEqual([
      { agency: 'county-jail', referralId: 'r1', need: 'housing', status: 'accepted', toAgency: 'shelter', referredAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-05T00:00:00.000Z' },
      { agency: 'county-jail', referralId: 'r2', need: 'medical', status: 'open', referredAt: '2026-01-02T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z' },
    ]);
  });

  it('lists services', () => {
    const s = fold([ev(REC.shelter, 'service', '2026-01-01T00:00:00Z', { serviceType: 'bed_night', program: 'Winter' })]);
    expect(s.services).toEqual([{ agency: 'shelter', serviceType: 'bed_night', program: 'Winter', at: '2026-01-01T00:00:00.000Z' }]);
  });

  it('a revocation ends only the consent it names; overlapping consents stand', () => {
    const s = fold([
      ev(REC.clinic, 'consent_signed', '2026-01-01T00:00:00Z', { consentId: 'c1', form: 'uroi', partners: ['county-jail', 'shelter'], signedAt: '2026-01-01T00:00:00Z', expiresAt: '2027-01-01T00:00:00Z' }),
      ev(REC.clinic, 'consent_signed', '2026-01-02T00:00:00Z', { consentId: 'c2', form: 'uroi', partners: ['*'], categories: ['substance_use', 'housing'], signedAt: '2026-01-02T00:00:00Z', expiresAt: '2026-06-01T00:00:00Z' }),
      ev(REC.clinic, 'consent_revoked', '2026-02-01T00:00:00Z', { consentId: 'c1' }),
      ev(REC.clinic, 'consent_revoked', '2026-02-02T00:00:00Z', { consentId: 'unknown' }),
    ]);
    expect(s.consents).toEqual([
      { agency: 'bh-clinic', consentId: 'c1', form: 'uroi', partners: ['county-jail', 'shelter'], categories: null, signedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2027-01-01T00:00:00.000Z', revokedAt: '2026-02-01T00:00:00.000Z' },
      { agency: 'bh-clinic', consentId: 'c2', form: 'uroi', partners: ['*'], categories: ['housing', 'substance_use'], signedAt: '2026-01-02T00:00:00.000Z', expiresAt: '2026-06-01T00:00:00.000Z' },
    ]);
  });

  it('re-signing a revoked consent id replaces it', () => {
    const s = fold([
      ev(REC.clinic, 'consent_signed', '2026-01-01T00:00:00Z', { consentId: 'c1', form: 'uroi', partners: ['shelter'], signedAt: '2026-01-01T00:00:00Z', expiresAt: '2027-01-01T00:00:00Z' }),
      ev(REC.clinic, 'consent_revoked', '2026-01-05T00:00:00Z', { consentId: 'c1' }),
      ev(REC.clinic, 'consent_signed', '2026-01-10T00:00:00Z', { consentId: 'c1', form: 'uroi', partners: ['shelter'], signedAt: '2026-01-10T00:00:00Z', expiresAt: '2027-01-10T00:00:00Z' }),
    ]);
    expect(s.consents).toHaveLength(1);
    expect(s.consents[0].revokedAt).toBeUndefined();
  });

  it('keeps the latest contact per agency', () => {
    const s = fold([
      ev(REC.jail, 'contact_assigned', '2026-01-01T00:00:00Z', { name: 'Ann', role: 'discharge planner' }),
      ev(REC.jail, 'contact_assigned', '2026-01-03T00:00:00Z', { name: 'Bea', phone: '505-555-0100' }),
      ev(REC.clinic, 'contact_assigned', '2026-01-02T00:00:00Z', { name: 'Cal', email: 'cal@example.org' }),
    ]);
    expect(s.contacts).toEqual([
      { agency: 'bh-clinic', name: 'Cal', email: 'cal@example.org', assignedAt: '2026-01-02T00:00:00.000Z' },
      { agency: 'county-jail', name: 'Bea', phone: '505-555-0100', assignedAt: '2026-01-03T00:00:00.000Z' },
    ]);
    expect(s.primaryContact?.name).toBe('Bea');
    expect(s.primaryContactBasis).toBe('assignment');
  });

  describe('primary contact rule', () => {
    const c = (agency: string, name: string, assignedAt: string) => ({ agency, name, assignedAt });
    const r = (agency: string, status: string, updatedAt: string, toAgency?: string) =>
      ({ agency, referralId: `${agency}-${updatedAt}`, need: 'housing', status, referredAt: updatedAt, updatedAt, ...(toAgency ? { toAgency } : {}) });

    it('is none without contacts', () => {
      expect(primaryContact([], [r('county-jail', 'open', '2026-01-01')])).toBeNull();
    });
    it('is the most recent explicit assignment when no open referral is newer', () => {
      const got = primaryContact([c('county-jail', 'Ann', '2026-01-05'), c('shelter', 'Sam', '2026-01-02')], [r('county-jail', 'open', '2026-01-04', 'shelter')]);
      expect(got).toEqual({ contact: expect.objectContaining({ name: 'Ann' }), basis: 'assignment' });
    });
    it('else the receiving agency of the newest open referral', () => {
      const got = primaryContact([c('county-jail', 'Ann', '2026-01-05'), c('shelter', 'Sam', '2026-01-02')], [r('county-jail', 'open', '2026-01-06', 'shelter')]);
      expect(got).toEqual({ contact: expect.objectContaining({ name: 'Sam' }), basis: 'referral' });
    });
    it('or its referring agency when the receiving one has no contact', () => {
      const got = primaryContact([c('county-jail', 'Ann', '2026-01-01'), c('shelter', 'Sam', '2026-01-02')], [r('county-jail', 'open', '2026-01-06', 'bh-clinic')]);
      expect(got).toEqual({ contact: expect.objectContaining({ name: 'Ann' }), basis: 'referral' });
    });
    it('else the most recent contact; closed referrals do not count', () => {
      const got = primaryContact([c('county-jail', 'Ann', '2026-01-01'), c('shelter', 'Sam', '2026-01-02')], [r('county-court', 'accepted', '2026-01-06', 'bh-clinic')]);
      expect(got).toEqual({ contact: expect.objectContaining({ name: 'Sam' }), basis: 'latest' });
      const closed = primaryContact([c('county-jail', 'Ann', '2026-01-01'), c('shelter', 'Sam', '2026-01-02')], [r('county-jail', 'completed', '2026-01-06')]);
      expect(closed).toEqual({ contact: expect.objectContaining({ name: 'Sam' }), basis: 'assignment' });
    });
  });

  it('keeps demographics per agency with only the last 4 of an SSN, and a best-of view', () => {
    const s = fold([
      ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }),
      ev(REC.court, 'court_case', '2026-01-02T00:00:00Z', { caseNumber: 'X' }),
      ev(REC.clinic, 'service', '2026-01-03T00:00:00Z', { serviceType: 'intake' }),
    ]);
    const jail = s.records.find((r) => r.agency === 'county-jail')!;
    expect(jail).toMatchObject({ firstName: 'ROBERT', lastName: 'SMITH', ssnLast4: '6789', sex: 'M', firstSeenAt: '2026-01-01T00:00:00.000Z' });
    expect(JSON.stringify(s)).not.toContain('123456789');
    expect(JSON.stringify(s)).not.toContain('12345');
    expect(s.bestOf).toEqual({ firstName: 'Robert', lastName: 'Smith', dateOfBirth: '1988-04-12', sex: 'M', displayName: 'Robert Smith' });
    expect(viewColumns(s)).toMatchObject({ displayName: 'Robert Smith', searchName: 'robert smith', birthYear: 1988 });
    expect(s.agencies).toEqual(['bh-clinic', 'county-court', 'county-jail']);
  });

  it('folds names for search', () => {
    expect(foldName("  José  O'Neil-Núñez ")).toBe('jose o neil nunez');
  });

  it('drops the events a record_expunged names, and a whole record without eventIds', () => {
    const events = [
      ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }, 'bk-1'),
      ev(REC.jail, 'booking', '2026-01-05T00:00:00Z', { bookingNumber: 'B2' }, 'bk-2'),
      ev(REC.clinic, 'need_opened', '2026-01-02T00:00:00Z', { needId: 'n1', category: 'substance_use' }, 'bk-1'),
      ev(REC.jail, 'record_expunged', '2026-01-10T00:00:00Z', { eventIds: ['bk-1'] }),
    ];
    const s = fold(events);
    expect(s.custody.map((c) => c.bookingNumber)).toEqual(['B2']);
    // Event ids are the source's own: the same id in another record is untouched.
    expect(s.needs).toHaveLength(1);
    expect(s.timeline.map((t) => t.type)).toEqual(['need_opened', 'booking']);

    const whole = fold([...events, ev(REC.clinic, 'record_expunged', '2026-01-11T00:00:00Z')]);
    expect(whole.needs).toEqual([]);
    expect(whole.agencies).toEqual(['county-jail']);
    expect(whole.records.map((r) => r.agency)).toEqual(['county-jail']);
    expect(foldPerson('p1', [ev(REC.clinic, 'service', '2026-01-01T00:00:00Z', { serviceType: 'x' }), ev(REC.clinic, 'record_expunged', '2026-01-02T00:00:00Z')], [REC.clinic], AGENCIES, DEFAULT, NOW)).toBeNull();
  });

  it('gives the same state whatever order the events arrive in', () => {
    const base = [
      ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }),
      ev(REC.jail, 'release', '2026-01-04T00:00:00Z', { bookingNumber: 'B1' }),
      ev(REC.clinic, 'need_opened', '2026-01-02T00:00:00Z', { needId: 'n1', category: 'housing' }),
      ev(REC.clinic, 'need_closed', '2026-01-03T00:00:00Z', { needId: 'n1' }),
      ev(REC.clinic, 'consent_signed', '2026-01-02T00:00:00Z', { consentId: 'c1', form: 'uroi', partners: ['*'], signedAt: '2026-01-02T00:00:00Z', expiresAt: '2027-01-01T00:00:00Z' }),
      ev(REC.clinic, 'consent_revoked', '2026-01-06T00:00:00Z', { consentId: 'c1' }),
      ev(REC.jail, 'contact_assigned', '2026-01-01T00:00:00Z', { name: 'Ann' }),
      ev(REC.jail, 'contact_assigned', '2026-01-07T00:00:00Z', { name: 'Bea' }),
    ];
    const inOrder = fold(base);
    expect(inOrder.custody[0].releasedAt).toBeDefined();
    expect(inOrder.needs[0].closedAt).toBeDefined();
    expect(inOrder.consents[0].revokedAt).toBeDefined();
    expect(inOrder.primaryContact?.name).toBe('Bea');
    // Deterministic shuffles (a small LCG), so a failure reproduces.
    let x = 7;
    const rnd = (): number => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let k = 0; k < 10; k++) {
      const shuffled = [...base];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      expect(fold(shuffled)).toEqual(inOrder);
    }
    expect(fold([...base].reverse())).toEqual(inOrder);
    expect(inOrder.lastActivityAt).toBe('2026-01-07T00:00:00.000Z');
  });

  it('breaks occurredAt ties by record_event id', () => {
    const a = ev(REC.jail, 'contact_assigned', '2026-01-01T00:00:00Z', { name: 'First' });
    const b = ev(REC.jail, 'contact_assigned', '2026-01-01T00:00:00Z', { name: 'Second' });
    expect(fold([b, a]).contacts[0].name).toBe('Second');
    const ten = { ...b, id: '10' };
    const nine = { ...a, id: '9' };
    expect(fold([ten, nine]).contacts[0].name).toBe('Second');
  });

  describe('familiar-faces criteria', () => {
    it('by default: known to at least 2 distinct agencies', () => {
      const one = fold([ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }), ev(REC.jail, 'booking', '2026-01-02T00:00:00Z', { bookingNumber: 'B2' })]);
      expect(one.criteria).toEqual([]);
      expect(viewColumns(one).familiar).toBe(false);
      const two = fold([ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }), ev(REC.shelter, 'service', '2020-01-01T00:00:00Z', { serviceType: 'bed' })]);
      expect(two.criteria).toEqual(['multi_agency']);
      expect(viewColumns(two).familiar).toBe(true);
    });

    it('frequent booking: at least 3 bookings in 365 days', () => {
      const crit = parseCriteria('[{"id":"frequent_booking","eventType":"booking","min":3,"withinDays":365}]');
      const bookings = (dates: string[]) => dates.map((d, i) => ev(REC.jail, 'booking', d, { bookingNumber: `B${i}` }));
      expect(fold(bookings(['2025-04-01T00:00:00Z', '2025-09-01T00:00:00Z', '2026-02-01T00:00:00Z']), crit).criteria).toEqual(['frequent_booking']);
      expect(fold(bookings(['2025-02-01T00:00:00Z', '2025-09-01T00:00:00Z', '2026-02-01T00:00:00Z']), crit).criteria).toEqual([]);
      expect(fold(bookings(['2025-09-01T00:00:00Z', '2026-02-01T00:00:00Z']), crit).criteria).toEqual([]);
    });

    it('jail and behavioural health within 180 days, each list entry naming the criteria met', () => {
      const crit = parseCriteria(JSON.stringify([
        { id: 'multi_agency', minAgencies: 2 },
        { id: 'jail_and_bh', allOf: [{ agencyKind: 'jail' }, { needCategory: 'behavioral_health' }], withinDays: 180 },
      ]));
      const recent = fold([
        ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }),
        ev(REC.clinic, 'need_opened', '2026-02-01T00:00:00Z', { needId: 'n', category: 'behavioral_health' }),
      ], crit);
      expect(recent.criteria).toEqual(['multi_agency', 'jail_and_bh']);
      const old = fold([
        ev(REC.jail, 'booking', '2025-01-01T00:00:00Z', { bookingNumber: 'B1' }),
        ev(REC.clinic, 'need_opened', '2026-02-01T00:00:00Z', { needId: 'n', category: 'behavioral_health' }),
      ], crit);
      expect(old.criteria).toEqual(['multi_agency']);
      const noBh = fold([
        ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }),
        ev(REC.clinic, 'need_opened', '2026-02-01T00:00:00Z', { needId: 'n', category: 'housing' }),
      ], crit);
      expect(noBh.criteria).toEqual(['multi_agency']);
    });

    it('an expunged record no longer counts', () => {
      const s = fold([
        ev(REC.jail, 'booking', '2026-01-01T00:00:00Z', { bookingNumber: 'B1' }),
        ev(REC.shelter, 'service', '2026-01-01T00:00:00Z', { serviceType: 'bed' }),
        ev(REC.shelter, 'record_expunged', '2026-01-03T00:00:00Z'),
      ]);
      expect(s.criteria).toEqual([]);
    });
  });
});

describe('isoFromDb', () => {
  it('gives what Date gives for timestamps as PostgreSQL writes them in JSON, and for any other form', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const forms: string[] = ['2025-06-01T00:10:00+00:00', '2025-06-01T00:10:00.5+00:00', '2025-06-01T00:10:00.000Z', '2025-06-01T02:10:00+02:00', '2025-06-01T00:10:00.999999-07:00'];
    for (let i = 0; i < 2000; i++) {
      const d = new Date(Date.UTC(1900 + rnd(200), rnd(12), 1 + rnd(28), rnd(24), rnd(60), rnd(60)));
      const micros = rnd(1_000_000);
      // PostgreSQL drops trailing zeros of the fraction, and the fraction when it is zero.
      const frac = rnd(4) === 0 ? '' : `.${String(micros).padStart(6, '0')}`.replace(/0+$/, '').replace(/\.$/, '');
      forms.push(`${d.toISOString().slice(0, 19)}${frac}${['+00:00', 'Z', '+05:30', '-03:00'][rnd(4)]}`);
    }
    for (const v of forms) expect(isoFromDb(v)).toBe(new Date(v).toISOString());
  });
});
