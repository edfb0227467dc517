import type { Role } from '../../src/access/roles';
import { makeEvent, TestStack, waitFor } from '../support/stack';

/** A list entry or record in a JSON response, loosely typed for assertions. */
interface Entry {
  personId: string;
  agencies: string[];
  pointers: { agency: string }[];
  contacts: { agency: string }[];
  custody: { inCustody: boolean };
  consent: { status: string };
  primaryContact: unknown;
}

/** The read APIs of issue 5, driven end to end: events in through the ingest API, answers out of the read APIs. */
describe('familiar-faces read APIs', () => {
  let stack: TestStack;
  let jail: string;
  let court: string;
  let jailPlanner: string;
  let courtManager: string;
  let clinicManager: string;
  let steward: string;
  let admin: string;

  const iso = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();
  const DAY = 86_400_000;

  const token = (sub: string, agency: string, role: Role): Promise<string> => stack.token(sub, agency, role);

  const send = (key: string, events: Record<string, unknown>[]): Promise<void> => stack.sendApplied(key, events);

  const get = (path: string, tok: string, purpose?: string) => stack.read(path, tok, purpose);

  const personOf = (source: string, recordId: string): Promise<string> => stack.personOf(source, recordId);

  // Response bodies are JSON; arr() types a list in them for the assertions.
  const arr = <T = Entry>(v: unknown): T[] => v as T[];

  const maria = { firstName: 'Maria', lastName: 'Lopez', dateOfBirth: '1980-02-03', ssn: '501-22-3344', sex: 'F' };

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('county-jail', 'jail');
    court = await stack.createSource('county-court', 'court');
    await stack.createSource('bh-clinic', 'provider');
    jailPlanner = await token('jp', 'county-jail', 'discharge_planner');
    courtManager = await token('cm', 'county-court', 'case_manager');
    clinicManager = await token('km', 'bh-clinic', 'case_manager');
    steward = await token('ds', 'county-court', 'data_steward');
    admin = await token('ad', 'county-jail', 'admin');
  });
  afterAll(async () => stack.close());

  it('makes a person a familiar face when a second agency\'s record links', async () => {
    await send(jail, [makeEvent({ type: 'booking', occurredAt: iso(-3 * DAY), details: { bookingNumber: 'B-1', facility: 'Main', scheduledReleaseAt: iso(2 * DAY) } }, { recordId: 'J-1', ...maria })]);
    const id = await personOf('county-jail', 'J-1');
    const before = await get('/api/v1/familiar-faces', jailPlanner, 'discharge_planning').expect(200);
    expect(arr<{ personId: string }>(before.body.items).map((e) => e.personId)).not.toContain(id);

    await send(court, [makeEvent({ type: 'court_case', occurredAt: iso(-2 * DAY), details: { caseNumber: 'CR-1', caseType: 'misdemeanor' } }, { recordId: 'C-1', ...maria })]);
    expect(await personOf('county-court', 'C-1')).toBe(id);
    const after = await get('/api/v1/familiar-faces', jailPlanner, 'discharge_planning').expect(200);
    const entry = arr(after.body.items).find((e) => e.personId === id)!;
    expect(entry).toMatchObject({
      displayName: 'Maria Lopez', birthYear: 1980, criteria: ['multi_agency'], relation: 'own_client',
      custody: { inCustody: true, facility: 'Main', agency: 'county-jail' },
    });
    expect([...entry.agencies].sort()).toEqual(['county-court', 'county-jail']);
    expect(entry.consent.status).toBe('none');
  });

  it('shows a viewer without consent only pointers to the other agency, and whom to contact there', async () => {
    const id = await personOf('county-jail', 'J-1');
    await send(jail, [makeEvent({ type: 'contact_assigned', occurredAt: iso(-2 * DAY), details: { name: 'Jo Planner', role: 'discharge planner', phone: '505-555-0101' } }, { recordId: 'J-1', ...maria })]);
    const page = await get(`/api/v1/persons/${id}`, courtManager).expect(200);
    expect(arr<{ agency: string }>(page.body.records).map((r) => r.agency)).toEqual(['county-court']);
    expect(page.body.custody).toEqual([]);
    expect(page.body.pointers).toEqual([{ agency: 'county-jail', contact: expect.objectContaining({ name: 'Jo Planner' }) }]);
    expect(JSON.stringify(page.body)).not.toContain('B-1');
    // The list applies the same policy: no custody for the court, and a custody filter cannot find it.
    const list = await get('/api/v1/familiar-faces?inCustody=true', courtManager).expect(200);
    expect(arr<{ personId: string }>(list.body.items).map((e) => e.personId)).not.toContain(id);
    const all = await get('/api/v1/familiar-faces', courtManager).expect(200);
    const entry = arr(all.body.items).find((e) => e.personId === id)!;
    expect(entry.custody.inCustody).toBe(false);
    expect(arr<{ agency: string }>(entry.pointers).map((p) => p.agency)).toEqual(['county-jail']);
    // A third agency with no relation to the person does not see it at all.
    expect(await get(`/api/v1/persons/${id}`, clinicManager).then((r) => r.status)).toBe(404);
    const clinicList = await get('/api/v1/familiar-faces', clinicManager).expect(200);
    expect(clinicList.body.items).toEqual([]);
  });

  it('widens the view under consent, then reports expiring, revoked and expired consents', async () => {
    const id = await personOf('county-jail', 'J-1');
    // Near expiry: inside the 30-day window, so 'expiring'.
    await send(jail, [makeEvent({ type: 'consent_signed', occurredAt: iso(-DAY), details: { consentId: 'U-1', form: 'uroi', partners: ['county-court'], signedAt: iso(-DAY), expiresAt: iso(10 * DAY) } }, { recordId: 'J-1', ...maria })]);
    let page = await get(`/api/v1/persons/${id}`, courtManager).expect(200);
    expect(page.body.consent).toMatchObject({ status: 'expiring', partners: ['county-court'] });
    expect(arr<{ bookingNumber: string }>(page.body.custody).map((c) => c.bookingNumber)).toEqual(['B-1']);
    expect(arr<{ agency: string }>(page.body.records).map((r) => r.agency).sort()).toEqual(['county-court', 'county-jail']);

    await send(jail, [makeEvent({ type: 'consent_signed', occurredAt: iso(-DAY), details: { consentId: 'U-2', form: 'uroi', partners: ['*'], signedAt: iso(-DAY), expiresAt: iso(300 * DAY) } }, { recordId: 'J-1', ...maria })]);
    const active = await get('/api/v1/familiar-faces?consentStatus=active', courtManager).expect(200);
    expect(arr<{ personId: string }>(active.body.items).map((e) => e.personId)).toContain(id);

    await send(jail, [
      makeEvent({ type: 'consent_revoked', occurredAt: iso(-1000), details: { consentId: 'U-1' } }, { recordId: 'J-1', ...maria }),
      makeEvent({ type: 'consent_revoked', occurredAt: iso(-1000), details: { consentId: 'U-2' } }, { recordId: 'J-1', ...maria }),
    ]);
    page = await get(`/api/v1/persons/${id}`, courtManager).expect(200);
    expect(page.body.custody).toEqual([]);
    const jailView = await get(`/api/v1/persons/${id}`, jailPlanner, 'discharge_planning').expect(200);
    expect(jailView.body.consent.status).toBe('revoked');
    const revoked = await get('/api/v1/familiar-faces?consentStatus=revoked', jailPlanner, 'discharge_planning').expect(200);
    expect(arr<{ personId: string }>(revoked.body.items).map((e) => e.personId)).toContain(id);

    // A consent that runs out a few seconds from now turns from expiring to expired without any event.
    await send(jail, [makeEvent({ type: 'consent_signed', occurredAt: iso(-1000), details: { consentId: 'U-3', form: 'uroi', partners: ['county-court'], signedAt: iso(-1000), expiresAt: iso(4000) } }, { recordId: 'J-1', ...maria })]);
    expect((await get(`/api/v1/persons/${id}`, jailPlanner, 'discharge_planning').expect(200)).body.consent.status).toBe('expiring');
    await waitFor(async () => (await get(`/api/v1/persons/${id}`, jailPlanner, 'discharge_planning')).body.consent.status === 'expired', 30_000, 'consent expired');
    expect((await get(`/api/v1/persons/${id}`, courtManager).expect(200)).body.custody).toEqual([]);
  });

  it('opens and closes needs, and filters by the needs the viewer may see', async () => {
    const id = await personOf('county-jail', 'J-1');
    await send(jail, [makeEvent({ type: 'need_opened', occurredAt: iso(-DAY), details: { needId: 'N-1', category: 'housing' } }, { recordId: 'J-1', ...maria })]);
    let res = await get('/api/v1/familiar-faces?needCategory=housing', jailPlanner, 'discharge_planning').expect(200);
    expect(arr<{ personId: string; openNeeds: string[] }>(res.body.items).map((e) => [e.personId, e.openNeeds])).toEqual([[id, ['housing']]]);
    // The court has no consent: the jail's need is invisible to it and its filter must not find the person.
    res = await get('/api/v1/familiar-faces?needCategory=housing', courtManager).expect(200);
    expect(res.body.items).toEqual([]);

    await send(jail, [makeEvent({ type: 'need_closed', occurredAt: iso(-1000), details: { needId: 'N-1' } }, { recordId: 'J-1', ...maria })]);
    res = await get('/api/v1/familiar-faces?needCategory=housing', jailPlanner, 'discharge_planning').expect(200);
    expect(res.body.items).toEqual([]);
    const page = await get(`/api/v1/persons/${id}`, jailPlanner, 'discharge_planning').expect(200);
    expect(page.body.needs).toEqual([expect.objectContaining({ needId: 'N-1', category: 'housing', closedAt: expect.any(String) })]);
  });

  it('puts a scheduled release on the worklist and takes it off at release', async () => {
    const id = await personOf('county-jail', 'J-1');
    await send(jail, [makeEvent({ type: 'need_opened', occurredAt: iso(-DAY), details: { needId: 'N-2', category: 'medication' } }, { recordId: 'J-1', ...maria })]);
    let list = await get('/api/v1/custody/releases?withinDays=7', jailPlanner, 'discharge_planning').expect(200);
    expect(list.body.items).toEqual([
      expect.objectContaining({ personId: id, facility: 'Main', openNeeds: ['medication'], needs: [expect.objectContaining({ needId: 'N-2' })] }),
    ]);
    expect(list.body.items[0].contacts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Jo Planner' })]));
    // Outside the window: not on a 1-day list.
    expect((await get('/api/v1/custody/releases?withinDays=1', jailPlanner, 'discharge_planning').expect(200)).body.items).toEqual([]);

    await send(jail, [makeEvent({ type: 'release', occurredAt: iso(-1000), details: { bookingNumber: 'B-1' } }, { recordId: 'J-1', ...maria })]);
    list = await get('/api/v1/custody/releases?withinDays=7', jailPlanner, 'discharge_planning').expect(200);
    expect(list.body.items).toEqual([]);
    const entry = arr((await get('/api/v1/familiar-faces', jailPlanner, 'discharge_planning').expect(200)).body.items).find((e) => e.personId === id)!;
    expect(entry.custody.inCustody).toBe(false);
  });

  it('chooses the primary point of contact by the documented precedence', async () => {
    const id = await personOf('county-jail', 'J-1');
    // A consent so the jail sees the court's contacts in full.
    await send(court, [makeEvent({ type: 'consent_signed', occurredAt: iso(-DAY), details: { consentId: 'CU-1', form: 'uroi', partners: ['county-jail'], signedAt: iso(-DAY), expiresAt: iso(200 * DAY) } }, { recordId: 'C-1', ...maria })]);
    await send(court, [makeEvent({ type: 'contact_assigned', occurredAt: iso(-DAY), details: { name: 'Cy Court', role: 'case manager' } }, { recordId: 'C-1', ...maria })]);
    let page = await get(`/api/v1/persons/${id}`, jailPlanner, 'discharge_planning').expect(200);
    // The most recent explicit assignment (the court's, a day ago, after the jail's two days ago).
    expect(page.body.primaryContact).toMatchObject({ agency: 'county-court', name: 'Cy Court' });
    // A newer open referral from the court to the jail: the receiving agency's contact.
    await send(court, [makeEvent({ type: 'referral', occurredAt: iso(-1000), details: { referralId: 'R-1', need: 'housing', status: 'open', toAgency: 'county-jail' } }, { recordId: 'C-1', ...maria })]);
    page = await get(`/api/v1/persons/${id}`, jailPlanner, 'discharge_planning').expect(200);
    expect(page.body.primaryContact).toMatchObject({ agency: 'county-jail', name: 'Jo Planner' });
    const entry = arr((await get('/api/v1/familiar-faces', jailPlanner, 'discharge_planning').expect(200)).body.items).find((e) => e.personId === id)!;
    expect(entry.primaryContact).toMatchObject({ agency: 'county-jail', name: 'Jo Planner' });
    expect(arr<{ agency: string }>(entry.contacts).map((c) => c.agency).sort()).toEqual(['county-court', 'county-jail']);
  });

  it('finds Robert Smith from "Bob Smyth 1988-12-04" with a match probability', async () => {
    await send(jail, [makeEvent({ type: 'booking', occurredAt: iso(-DAY), details: { bookingNumber: 'B-7' } }, { recordId: 'J-7', firstName: 'Robert', lastName: 'Smith', dateOfBirth: '1988-04-12', sex: 'M' })]);
    await send(jail, [makeEvent({ occurredAt: iso(-DAY) }, { recordId: 'J-8', firstName: 'Roberta', lastName: 'Smithers', dateOfBirth: '1960-01-20', sex: 'F' })]);
    const id = await personOf('county-jail', 'J-7');
    const res = await get('/api/v1/persons/search?firstName=Bob&lastName=Smyth&dateOfBirth=1988-12-04', jailPlanner, 'discharge_planning').expect(200);
    expect(res.body.candidates[0]).toMatchObject({ personId: id, displayName: 'Robert Smith', dateOfBirth: '1988-04-12' });
    expect(res.body.candidates[0].probability).toBeGreaterThan(0.5);
    // The court has no relation to Robert Smith: its search does not find him.
    const other = await get('/api/v1/persons/search?firstName=Bob&lastName=Smyth&dateOfBirth=1988-12-04', courtManager).expect(200);
    expect(arr<{ personId: string }>(other.body.candidates).map((c) => c.personId)).not.toContain(id);
  });

  it('answers a retired id with the survivor\'s page and says so', async () => {
    await send(jail, [makeEvent({ occurredAt: '2026-01-01T00:00:00Z' }, { recordId: 'J-20', firstName: 'Denise', lastName: 'Yazzie', dateOfBirth: '1990-07-07' })]);
    const old = await personOf('county-jail', 'J-20');
    await send(jail, [makeEvent({ type: 'record_corrected', details: {}, occurredAt: '2026-02-01T00:00:00Z' }, { recordId: 'J-20', ...maria })]);
    const survivor = await personOf('county-jail', 'J-20');
    expect(survivor).not.toBe(old);
    const page = await get(`/api/v1/persons/${old}`, jailPlanner, 'discharge_planning').expect(200);
    expect(page.body).toMatchObject({ personId: survivor, requestedId: old, retiredInto: survivor });
  });

  it('pages with an opaque cursor: every entry once, in order', async () => {
    const people = [
      { firstName: 'Anita', lastName: 'Begay', dateOfBirth: '1971-03-14', ssn: '512-34-7781' },
      { firstName: 'Marcus', lastName: 'Chavez', dateOfBirth: '1984-11-02', ssn: '623-18-4410' },
      { firstName: 'Lena', lastName: 'Okafor', dateOfBirth: '1992-06-25', ssn: '734-52-9902' },
      { firstName: 'Tomas', lastName: 'Whitehorse', dateOfBirth: '1966-09-09', ssn: '245-71-3358' },
      { firstName: 'Grace', lastName: 'Nguyen', dateOfBirth: '1979-12-30', ssn: '356-09-1267' },
    ];
    for (const [i, subject] of people.entries()) {
      await send(jail, [makeEvent({ occurredAt: iso(-(10 + i) * 60_000) }, { recordId: `JP-${i}`, ...subject })]);
      await send(court, [makeEvent({ occurredAt: iso(-(10 + i) * 60_000) }, { recordId: `CP-${i}`, ...subject })]);
    }
    const full = (await get('/api/v1/familiar-faces?limit=100', jailPlanner, 'discharge_planning').expect(200)).body.items as { personId: string; lastActivityAt: string }[];
    expect(full.length).toBeGreaterThanOrEqual(5);
    for (const sort of ['lastActivity', 'name', 'releaseDate']) {
      const everything = (await get(`/api/v1/familiar-faces?limit=100&sort=${sort}`, jailPlanner, 'discharge_planning').expect(200)).body.items as { personId: string }[];
      const seen: string[] = [];
      let cursor: string | null = null as string | null;
      do {
        const res = await get(`/api/v1/familiar-faces?limit=2&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`, jailPlanner, 'discharge_planning').expect(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...arr<{ personId: string }>(res.body.items).map((e) => e.personId));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(everything.map((e) => e.personId));
    }
    const times = full.map((e) => Date.parse(e.lastActivityAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const named = arr<{ displayName: string }>((await get('/api/v1/familiar-faces?q=tom%20whitehorce', jailPlanner, 'discharge_planning').expect(200)).body.items);
    expect(named.map((e) => e.displayName)).toEqual(['Tomas Whitehorse']);
  });

  it('rejects bad parameters with 400s naming the field', async () => {
    const bad = async (path: string, field: string, tok = jailPlanner, purpose = 'discharge_planning'): Promise<void> => {
      const res = await get(path, tok, purpose);
      expect(res.status).toBe(400);
      expect(arr<{ path: string }>(res.body.errors).map((e) => e.path)).toContain(field);
    };
    await bad('/api/v1/familiar-faces?limit=1000', 'limit');
    await bad('/api/v1/familiar-faces?limit=abc', 'limit');
    await bad('/api/v1/familiar-faces?needCategory=bogus', 'needCategory');
    await bad('/api/v1/familiar-faces?consentStatus=maybe', 'consentStatus');
    await bad('/api/v1/familiar-faces?inCustody=yes', 'inCustody');
    await bad('/api/v1/familiar-faces?sort=random', 'sort');
    await bad('/api/v1/familiar-faces?releaseWithinDays=-1', 'releaseWithinDays');
    await bad('/api/v1/familiar-faces?cursor=not-a-cursor', 'cursor');
    await bad('/api/v1/familiar-faces?colour=blue', 'colour');
    await bad('/api/v1/custody/releases?withinDays=999', 'withinDays');
    await bad('/api/v1/persons/search?firstName=Bob', 'lastName');
    await bad('/api/v1/persons/search?lastName=Smith&dateOfBirth=12/04/1988', 'dateOfBirth');
    await bad('/api/v1/persons/not-a-uuid', 'id');
    await bad('/api/v1/familiar-faces', 'X-Purpose-Of-Use', jailPlanner, 'sightseeing');
    // A cursor from one sort is not accepted for another.
    const c = String((await get('/api/v1/familiar-faces?limit=1', jailPlanner, 'discharge_planning').expect(200)).body.nextCursor);
    await bad(`/api/v1/familiar-faces?sort=name&cursor=${c}`, 'cursor');
  });

  it('refuses purposes and roles that do not fit', async () => {
    expect((await get('/api/v1/familiar-faces', courtManager, 'discharge_planning')).status).toBe(403);
    expect((await get('/api/v1/familiar-faces', admin, 'care_coordination')).status).toBe(403);
    expect((await get('/api/v1/familiar-faces', steward, 'data_quality')).status).toBe(403);
    expect((await stack.http().get('/api/v1/familiar-faces')).status).toBe(401);
    // A steward sees demographics for match review, not custody or needs.
    const id = await personOf('county-jail', 'J-1');
    const page = await get(`/api/v1/persons/${id}`, steward, 'data_quality').expect(200);
    expect(page.body.records.length).toBeGreaterThan(0);
    expect(page.body.custody).toEqual([]);
    expect(page.body.needs).toEqual([]);
  });
});
