import { accessTo, agencyNameable, consentAccess, decidePersonAccess, seesEverything, type AccessDecision } from '../../../src/access/access.policy';
import {
  bestOfDemographics, maskListEntry, maskPersonView, maskRecord, matchesVisibleFilter, visibleConsents, visibleCustodyStatus,
  visibleNeedCategories, visibleReferrals, visibleState, visibleTimeline,
} from '../../../src/access/person-view.mask';
import { checkPurpose } from '../../../src/access/purpose.policy';
import type { Role } from '../../../src/access/roles';
import type { ConsentItem, PersonState } from '../../../src/persons/person-state';
import { CLINIC, consent, HOSPITAL, JAIL, NOW, OWN, PII, REGISTRY, personState, principal } from './access-fixture.helper';

function decide(state: PersonState, role: Role = 'case_manager', purpose = 'care_coordination', agency = OWN): AccessDecision {
  return decidePersonAccess({ viewer: principal(role, agency), purpose, state, agencies: REGISTRY, now: NOW });
}

describe('purpose of use', () => {
  it('a viewer with several roles acts in the role the purpose fits', () => {
    expect(checkPurpose({ roles: ['case_manager', 'data_steward'] }, 'data_quality')).toEqual({ ok: true, purpose: 'data_quality', role: 'data_steward' });
    expect(checkPurpose({ roles: ['case_manager', 'data_steward'] }, 'care_coordination')).toEqual({ ok: true, purpose: 'care_coordination', role: 'case_manager' });
  });

  it('a repeated header is refused', () => {
    expect(checkPurpose({ roles: ['case_manager'] }, ['care_coordination', 'care_coordination'])).toMatchObject({ ok: false, code: 'purpose_unknown' });
  });

  it('the reason lists the purposes that would fit, and never echoes an unknown value', () => {
    const r = checkPurpose({ roles: ['discharge_planner'] }, 'data_quality');
    expect(r).toMatchObject({ ok: false, reason: expect.stringContaining('allowed: discharge_planning, care_coordination') });
    const u = checkPurpose({ roles: ['discharge_planner'] }, '<script>');
    expect(u.ok || u.reason.includes('<script>')).toBe(false);
  });

  it('a steward acting for data quality sees demographics only, even of its own agency', () => {
    const d = decide(personState([OWN, JAIL], []), 'data_steward', 'data_quality');
    expect(accessTo(d, OWN, 'demographics')).toBe('full');
    expect(accessTo(d, OWN, 'needs', 'housing')).toBe('none');
    expect(accessTo(d, OWN, 'cases')).toBe('none');
  });
});

describe('consent items', () => {
  it('a consent naming the viewer stays visible after it expired or was revoked (consent history)', () => {
    const expired = consent(JAIL, 'k-exp', [OWN], null, { expired: true });
    const revoked = consent(JAIL, 'k-rev', [OWN], null, { revoked: true });
    const state = personState([OWN, JAIL], [expired, revoked]);
    const d = decide(state);
    expect(consentAccess(d, expired)).toBe('full');
    expect(consentAccess(d, revoked)).toBe('full');
    expect(visibleConsents(d, state).map((c) => c.consentId)).toEqual(expect.arrayContaining(['k-exp', 'k-rev']));
    // ...but they grant nothing.
    expect(accessTo(d, JAIL, 'custody')).toBe('pointer');
  });

  it('removes a Part 2 program from the partners of a visible consent unless the gate is open', () => {
    const k = consent(JAIL, 'k1', [OWN, CLINIC], null);
    const closed = personState([OWN, JAIL], [k]);
    expect(visibleConsents(decide(closed), closed).find((c) => c.consentId === 'k1')!.partners).toEqual([OWN]);
    const open = personState([OWN, JAIL], [k, consent(JAIL, 'k2', [OWN], ['substance_use'])]);
    expect(visibleConsents(decide(open), open).find((c) => c.consentId === 'k1')!.partners).toEqual([OWN, CLINIC]);
  });

  it('an agency missing from the registry is treated as a Part 2 program', () => {
    const state = personState([OWN, 'unregistered-agency'], [consent(OWN, 'k1', ['*'], null)]);
    const d = decide(state);
    expect(accessTo(d, 'unregistered-agency', 'demographics')).toBe('none');
    expect(JSON.stringify(maskPersonView(d, state))).not.toContain('unregistered-agency');
  });

  it('a consent naming the viewer by code opens the Part 2 gate; a coalition-wide one does not', () => {
    const named = personState([OWN, CLINIC], [consent(OWN, 'k1', [OWN], ['substance_use'])]);
    const wide = personState([OWN, CLINIC], [consent(OWN, 'k1', ['*'], ['substance_use'])]);
    expect(agencyNameable(decide(named), CLINIC)).toBe(true);
    expect(agencyNameable(decide(wide), CLINIC)).toBe(false);
  });

  it('the viewer\'s own agency is never hidden from itself, even as a Part 2 program', () => {
    const state = personState([CLINIC, JAIL], []);
    const d = decide(state, 'case_manager', 'care_coordination', CLINIC);
    expect(accessTo(d, CLINIC, 'needs', 'substance_use')).toBe('full');
    expect(maskPersonView(d, state).openNeedCategories).toEqual(['behavioral_health', 'housing', 'substance_use']);
  });
});

describe('masking', () => {
  it('keeps only the last 4 digits of an SSN and of SSN-like identifiers', () => {
    const m = maskRecord({
      sourceRecordId: 's', source: 'x', agency: OWN, recordId: 'r', firstName: 'A', lastName: 'B', ssnLast4: '123-45-6789',
      identifiers: [{ system: 'ssn', value: '123-45-6789' }, { system: 'medicaid', value: '987654321' }, { system: 'state_id', value: 'NM-77' }],
      firstSeenAt: NOW.toISOString(), lastEventAt: NOW.toISOString(),
    });
    expect(m.ssnLast4).toBe('6789');
    expect(m.identifiers).toEqual([
      { system: 'ssn', value: '***-**-6789' }, { system: 'medicaid', value: '***-**-4321' }, { system: 'state_id', value: 'NM-77' },
    ]);
  });

  it('copies record fields by name, so a field added to the state later does not leak', () => {
    const state = personState([OWN], []);
    (state.records[0] as unknown as Record<string, unknown>).ssn = PII[OWN].ssn;
    expect(JSON.stringify(maskPersonView(decide(state), state))).not.toContain(PII[OWN].ssn);
  });

  it('a pointer carries whom to call but not when the contact was assigned', () => {
    const state = personState([OWN, JAIL], []);
    const view = maskPersonView(decide(state), state);
    expect(view.pointers).toEqual([{ agency: JAIL, contact: { agency: JAIL, name: PII[JAIL].contact, role: 'worker', phone: '505-555-0100' } }]);
  });

  it('the primary contact at a hidden Part 2 program is not shown', () => {
    const state = personState([OWN, JAIL, CLINIC], []);
    expect(state.primaryContact?.agency).toBe(CLINIC);
    expect(maskPersonView(decide(state), state).primaryContact).toBeNull();
  });

  it('a referral to a hidden Part 2 program keeps its need but drops its target', () => {
    const state = personState([OWN], []);
    const refs = visibleReferrals(decide(state), state);
    expect(refs.length).toBe(3);
    expect(refs.every((r) => r.toAgency === undefined)).toBe(true);
  });

  it('best-of comes from visible records only and favours the value most records agree on', () => {
    const state = personState([OWN, JAIL, CLINIC], [consent(JAIL, 'k1', [OWN], null)]);
    const view = maskPersonView(decide(state), state);
    expect([PII[OWN].dob, PII[JAIL].dob]).toContain(view.bestOf.dateOfBirth);
    const recs = [OWN, JAIL, JAIL].map((a, i) => ({ ...maskRecord(state.records.find((r) => r.agency === a)!), lastEventAt: `2026-01-0${i + 1}T00:00:00Z` }));
    expect(bestOfDemographics(recs)).toMatchObject({ lastName: PII[JAIL].last, dateOfBirth: PII[JAIL].dob });
    // A tie goes to the record with the latest event.
    expect(bestOfDemographics(recs.slice(0, 2))).toMatchObject({ lastName: PII[JAIL].last });
  });

  it('the timeline hides events whose category the viewer may not see', () => {
    const state = personState([OWN, JAIL], [consent(JAIL, 'k1', [OWN], null)]);
    const t = visibleTimeline(decide(state), state);
    expect(t.some((e) => e.agency === JAIL && e.category === 'substance_use')).toBe(false);
    expect(t.some((e) => e.agency === JAIL && e.category === 'housing')).toBe(true);
    expect(t.some((e) => e.agency === OWN && e.category === 'substance_use')).toBe(true);
    expect(t.some((e) => e.agency === CLINIC)).toBe(false);
  });

  it('an event type the policy does not know is shown to its own agency only', () => {
    const state = personState([OWN, JAIL], [consent(JAIL, 'k1', [OWN], null)]);
    state.timeline.push({ at: NOW.toISOString(), type: 'future_type', agency: JAIL, source: 's', eventId: 'e1' });
    state.timeline.push({ at: NOW.toISOString(), type: 'future_type', agency: OWN, source: 's', eventId: 'e2' });
    expect(visibleTimeline(decide(state), state).filter((e) => e.type === 'future_type').map((e) => e.eventId)).toEqual(['e2']);
  });

  it('throws rather than masking for a denied decision', () => {
    const state = personState([JAIL], []);
    const d = decide(state);
    expect(d.allowed).toBe(false);
    expect(() => maskPersonView(d, state)).toThrow(/access denied/);
  });

  it('the list entry is the view without detail lists', () => {
    const state = personState([OWN, JAIL], []);
    const e = maskListEntry(decide(state), state);
    expect(Object.keys(e)).not.toEqual(expect.arrayContaining(['records']));
    expect(e).toMatchObject({ agencyCount: 2, displayName: `${PII[OWN].first} ${PII[OWN].last}` });
  });
});

describe('filters and facts after visibility', () => {
  it('inCustody=false matches a person whose only custody the viewer may not see (the negative filter reveals nothing)', () => {
    const state = personState([OWN, JAIL], []);
    state.custody = state.custody.filter((c) => c.agency === JAIL);
    const view = maskPersonView(decide(state), state);
    expect(view.inCustody).toBe(false);
    expect(matchesVisibleFilter(view, { inCustody: false }, NOW)).toBe(true);
    expect(matchesVisibleFilter(view, { inCustody: true }, NOW)).toBe(false);
  });

  it('releaseWithinDays uses the soonest visible scheduled release', () => {
    const state = personState([OWN, JAIL], []);
    const d = decide(state);
    const status = visibleCustodyStatus(d, state);
    expect(status).toEqual({ inCustody: true, scheduledReleaseAt: state.custody[0].scheduledReleaseAt });
    const view = maskPersonView(d, state);
    expect(matchesVisibleFilter(view, { releaseWithinDays: 7 }, NOW)).toBe(true);
    expect(matchesVisibleFilter(view, { releaseWithinDays: 2 }, NOW)).toBe(false);
  });

  it('agency filter: a hidden Part 2 program never matches, a pointer agency does', () => {
    const state = personState([OWN, JAIL, CLINIC], []);
    const view = maskPersonView(decide(state), state);
    expect(matchesVisibleFilter(view, { agency: CLINIC }, NOW)).toBe(false);
    expect(matchesVisibleFilter(view, { agency: JAIL }, NOW)).toBe(true);
  });

  it('needCategory=substance_use needs a consent naming substance_use', () => {
    const other = (consents: ConsentItem[]): string[] => {
      const s = personState([OWN, JAIL], consents);
      s.needs = s.needs.filter((n) => n.agency === JAIL);
      return visibleNeedCategories(decide(s), s);
    };
    expect(other([])).toEqual([]);
    expect(other([consent(JAIL, 'k1', ['*'], null)])).toEqual(['behavioral_health', 'housing']);
    expect(other([consent(JAIL, 'k1', ['*'], ['substance_use'])])).toEqual(['substance_use']);
  });

  it('criteria are shown as folded only when the viewer sees everything; visibleState is what to re-evaluate', () => {
    const mine = personState([OWN], []);
    // A referral to the hidden Part 2 program is something the viewer does not see in full.
    expect(seesEverything(decide(mine), mine)).toBe(false);
    mine.referrals = [];
    expect(seesEverything(decide(mine), mine)).toBe(true);
    expect(maskPersonView(decide(mine), mine).criteria).toEqual(['multi_agency']);
    const shared = personState([OWN, JAIL, CLINIC], []);
    const d = decide(shared);
    expect(maskPersonView(d, shared).criteria).toBeNull();
    const vs = visibleState(d, shared);
    expect(vs.agencies).toEqual([OWN, JAIL]);
    expect(vs.criteria).toEqual([]);
    expect(new Set(vs.needs.map((n) => n.agency))).toEqual(new Set([OWN]));
    expect(JSON.stringify(vs)).not.toContain(CLINIC);
  });

  it('a person known only to other agencies, with a consent naming another agency, is not visible', () => {
    const d = decide(personState([JAIL, HOSPITAL], [consent(JAIL, 'k1', [HOSPITAL], null)]));
    expect(d).toMatchObject({ allowed: false, code: 'no_relation', reason: 'person not found' });
  });
});
