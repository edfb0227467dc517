import { runCli } from '../../src/cli';
import type { PersonState } from '../../src/persons/person-state';
import { makeEvent, TestStack, waitFor } from '../support/stack';

interface ViewRow {
  person_id: string;
  state: PersonState;
  familiar: boolean;
  criteria: string[];
  agencies: string[];
  agency_count: number;
  in_custody: boolean;
  scheduled_release_at: Date | null;
  open_needs: string[];
  display_name: string;
  search_name: string;
  birth_year: number | null;
}

/** Projections driven through the real pipeline: api -> inbox -> worker (apply + link + refold) -> stream. */
describe('person projections', () => {
  let stack: TestStack;
  let jail: string;
  let clinic: string;
  let shelter: string;
  let applied = 0;

  const send = async (key: string, events: Record<string, unknown>[]): Promise<void> => {
    const res = await stack.sendEvents(key, events);
    expect(res.status).toBe(202);
    applied += events.length;
    await stack.waitAppliedAndRefolded(applied);
  };

  const personOf = async (source: string, recordId: string): Promise<string> => {
    const [r] = await stack.query<{ person_id: string }>(
      `SELECT lr.person_id FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id
         JOIN source s ON s.id = sr.source_id WHERE s.code = $1 AND sr.record_id = $2`,
      [source, recordId],
    );
    return r.person_id;
  };

  const viewOf = async (source: string, recordId: string): Promise<ViewRow> => {
    const id = await personOf(source, recordId);
    const [v] = await stack.query<ViewRow>(`SELECT * FROM person_view WHERE person_id = $1`, [id]);
    if (!v) throw new Error(`no person_view row for ${source}/${recordId}`);
    return v;
  };

  const streamFor = async (personId: string): Promise<string[]> => {
    const raw = (await stack.redis.xrange(`${stack.prefix}:familiar-faces`, '-', '+')) as [string, string[]][];
    return raw
      .map(([, f]) => ({ personId: f[f.indexOf('personId') + 1], kind: f[f.indexOf('kind') + 1] }))
      .filter((e) => e.personId === personId)
      .map((e) => e.kind);
  };

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('county-jail', 'jail');
    clinic = await stack.createSource('bh-clinic', 'provider');
    shelter = await stack.createSource('shelter', 'provider');
  });
  afterAll(async () => stack?.close());

  const RUTH = { firstName: 'Ruth', lastName: 'Ortega', dateOfBirth: '1979-05-14', ssn: '219-09-9998' };

  it('a person becomes a familiar face when a second agency\'s record links, and the stream says added', async () => {
    await send(jail, [makeEvent({ type: 'booking', occurredAt: '2026-09-01T08:00:00Z', details: { bookingNumber: 'B-100', facility: 'Main Jail', scheduledReleaseAt: '2026-12-01T17:00:00Z' } }, { recordId: 'J-RO', ...RUTH })]);
    const before = await viewOf('county-jail', 'J-RO');
    expect(before).toMatchObject({ familiar: false, agencies: ['county-jail'], in_custody: true, display_name: 'Ruth Ortega', search_name: 'ruth ortega', birth_year: 1979 });
    expect(before.scheduled_release_at?.toISOString()).toBe('2026-12-01T17:00:00.000Z');
    expect(JSON.stringify(before.state)).not.toContain('219099998');
    expect(before.state.records[0].ssnLast4).toBe('9998');

    await send(clinic, [makeEvent({ type: 'service', occurredAt: '2026-09-05T10:00:00Z', details: { serviceType: 'intake' } }, { recordId: 'C-RO', firstName: 'Ruth', lastName: 'Ortega', dateOfBirth: '1979-05-14' })]);
    const pid = await personOf('bh-clinic', 'C-RO');
    expect(pid).toBe(before.person_id);
    const after = await viewOf('bh-clinic', 'C-RO');
    expect(after).toMatchObject({ familiar: true, criteria: ['multi_agency'], agencies: ['bh-clinic', 'county-jail'], agency_count: 2 });
    expect(after.state.lastActivityAt).toBe('2026-09-05T10:00:00.000Z');
    await waitFor(async () => (await streamFor(pid)).length > 0, 20_000, 'a stream entry');
    expect(await streamFor(pid)).toEqual(['added']);
  });

  it('release closes the custody episode (and a familiar person\'s change is streamed as updated)', async () => {
    const pid = await personOf('county-jail', 'J-RO');
    await send(jail, [makeEvent({ type: 'release', occurredAt: '2026-09-10T12:00:00Z', details: { bookingNumber: 'B-100' } }, { recordId: 'J-RO', ...RUTH })]);
    const v = await viewOf('county-jail', 'J-RO');
    expect(v.in_custody).toBe(false);
    expect(v.scheduled_release_at).toBeNull();
    expect(v.state.custody).toEqual([
      { agency: 'county-jail', bookingNumber: 'B-100', facility: 'Main Jail', bookedAt: '2026-09-01T08:00:00.000Z', scheduledReleaseAt: '2026-12-01T17:00:00.000Z', releasedAt: '2026-09-10T12:00:00.000Z' },
    ]);
    await waitFor(async () => (await streamFor(pid)).length > 1, 20_000, 'an update entry');
    expect(await streamFor(pid)).toEqual(['added', 'updated']);
  });

  it('needs open and close', async () => {
    const subject = { recordId: 'C-RO', firstName: 'Ruth', lastName: 'Ortega', dateOfBirth: '1979-05-14' };
    await send(clinic, [
      makeEvent({ type: 'need_opened', occurredAt: '2026-09-11T09:00:00Z', details: { needId: 'N-1', category: 'housing' } }, subject),
      makeEvent({ type: 'need_opened', occurredAt: '2026-09-11T09:05:00Z', details: { needId: 'N-2', category: 'behavioral_health' } }, subject),
    ]);
    expect((await viewOf('bh-clinic', 'C-RO')).open_needs).toEqual(['behavioral_health', 'housing']);
    await send(clinic, [makeEvent({ type: 'need_closed', occurredAt: '2026-09-20T09:00:00Z', details: { needId: 'N-1' } }, subject)]);
    const v = await viewOf('bh-clinic', 'C-RO');
    expect(v.open_needs).toEqual(['behavioral_health']);
    expect(v.state.needs.find((n) => n.needId === 'N-1')?.closedAt).toBe('2026-09-20T09:00:00.000Z');
  });

  it('consents: signed, then one revoked; the other stands', async () => {
    const subject = { recordId: 'C-RO', firstName: 'Ruth', lastName: 'Ortega', dateOfBirth: '1979-05-14' };
    const signed = (consentId: string, partners: string[]) =>
      makeEvent({ type: 'consent_signed', occurredAt: '2026-09-12T09:00:00Z', details: { consentId, form: 'uroi', partners, signedAt: '2026-09-12T09:00:00Z', expiresAt: '2027-09-12T09:00:00Z' } }, subject);
    await send(clinic, [signed('U-1', ['county-jail']), signed('U-2', ['*'])]);
    const pid = await personOf('bh-clinic', 'C-RO');
    const rows = () => stack.query<{ consent_id: string; partners: string[]; revoked_at: Date | null }>(
      `SELECT consent_id, partners, revoked_at FROM person_consent WHERE person_id = $1 ORDER BY consent_id`, [pid]);
    expect(await rows()).toEqual([
      { consent_id: 'U-1', partners: ['county-jail'], revoked_at: null },
      { consent_id: 'U-2', partners: ['*'], revoked_at: null },
    ]);
    await send(clinic, [makeEvent({ type: 'consent_revoked', occurredAt: '2026-09-15T09:00:00Z', details: { consentId: 'U-1' } }, subject)]);
    const after = await rows();
    expect(after[0].revoked_at?.toISOString()).toBe('2026-09-15T09:00:00.000Z');
    expect(after[1].revoked_at).toBeNull();
  });

  it('contact precedence: newest open referral beats an older assignment; a newer assignment wins again', async () => {
    const jailSubject = { recordId: 'J-RO', ...RUTH };
    const clinicSubject = { recordId: 'C-RO', firstName: 'Ruth', lastName: 'Ortega', dateOfBirth: '1979-05-14' };
    await send(jail, [makeEvent({ type: 'contact_assigned', occurredAt: '2026-09-13T09:00:00Z', details: { name: 'Ann Planner', role: 'discharge planner' } }, jailSubject)]);
    let s = (await viewOf('county-jail', 'J-RO')).state;
    expect([s.primaryContact?.name, s.primaryContactBasis]).toEqual(['Ann Planner', 'assignment']);

    // A newer open referral from the clinic to the shelter; neither has a contact: the most recent contact.
    await send(clinic, [makeEvent({ type: 'referral', occurredAt: '2026-09-14T09:00:00Z', details: { referralId: 'R-1', need: 'housing', status: 'open', toAgency: 'shelter' } }, clinicSubject)]);
    s = (await viewOf('county-jail', 'J-RO')).state;
    expect([s.primaryContact?.name, s.primaryContactBasis]).toEqual(['Ann Planner', 'latest']);

    // The shelter's contact, assigned before the referral: chosen through the referral.
    await send(shelter, [makeEvent({ type: 'contact_assigned', occurredAt: '2026-09-01T09:00:00Z', details: { name: 'Sam Shelter' } }, { recordId: 'S-RO', firstName: 'Ruth', lastName: 'Ortega', dateOfBirth: '1979-05-14' })]);
    expect(await personOf('shelter', 'S-RO')).toBe(await personOf('county-jail', 'J-RO'));
    s = (await viewOf('county-jail', 'J-RO')).state;
    expect([s.primaryContact?.name, s.primaryContactBasis]).toEqual(['Sam Shelter', 'referral']);
    expect(s.contacts.map((c) => c.agency)).toEqual(['county-jail', 'shelter']);

    // A clinic assignment newer than the referral: the explicit assignment wins.
    await send(clinic, [makeEvent({ type: 'contact_assigned', occurredAt: '2026-09-16T09:00:00Z', details: { name: 'Cleo Clinician' } }, clinicSubject)]);
    s = (await viewOf('county-jail', 'J-RO')).state;
    expect([s.primaryContact?.name, s.primaryContactBasis]).toEqual(['Cleo Clinician', 'assignment']);
  });

  it('a record moving to another person takes its events\' effects with it', async () => {
    const alicia = { firstName: 'Alicia', lastName: 'Smith', dateOfBirth: '1971-11-30' };
    await send(clinic, [makeEvent({ type: 'need_opened', occurredAt: '2026-08-01T00:00:00Z', details: { needId: 'AN-1', category: 'medical' } }, { recordId: 'C-AS', ...alicia })]);
    await send(jail, [makeEvent({ type: 'booking', occurredAt: '2026-08-02T00:00:00Z', details: { bookingNumber: 'B-200' } }, { recordId: 'J-DY', firstName: 'Denise', lastName: 'Yazzie', dateOfBirth: '1990-07-07' })]);
    const denise = await personOf('county-jail', 'J-DY');
    const aliciaId = await personOf('bh-clinic', 'C-AS');
    expect(denise).not.toBe(aliciaId);
    expect((await viewOf('county-jail', 'J-DY')).in_custody).toBe(true);
    expect((await viewOf('bh-clinic', 'C-AS')).familiar).toBe(false);

    // The jail corrects its record: it is Alicia Smith. The booking moves with the record.
    await send(jail, [makeEvent({ type: 'record_corrected', occurredAt: '2026-08-03T00:00:00Z', details: {} }, { recordId: 'J-DY', ...alicia })]);
    expect(await personOf('county-jail', 'J-DY')).toBe(aliciaId);
    const v = await viewOf('bh-clinic', 'C-AS');
    expect(v).toMatchObject({ familiar: true, in_custody: true, agencies: ['bh-clinic', 'county-jail'], open_needs: ['medical'] });
    expect(v.state.custody.map((c) => c.bookingNumber)).toEqual(['B-200']);
    expect(await stack.query(`SELECT 1 FROM person_view WHERE person_id = $1`, [denise])).toEqual([]);
    await waitFor(async () => (await streamFor(aliciaId)).length > 0, 20_000, 'an added entry');
    expect(await streamFor(aliciaId)).toEqual(['added']);
  });

  it('an expunged record stops counting: the person leaves the list (stream says removed)', async () => {
    const aliciaId = await personOf('bh-clinic', 'C-AS');
    await send(clinic, [makeEvent({ type: 'record_expunged', occurredAt: '2026-08-04T00:00:00Z', details: {} }, { recordId: 'C-AS', firstName: 'Alicia', lastName: 'Smith', dateOfBirth: '1971-11-30' })]);
    const [v] = await stack.query<ViewRow>(`SELECT * FROM person_view WHERE person_id = $1`, [aliciaId]);
    expect(v).toMatchObject({ familiar: false, agencies: ['county-jail'], open_needs: [] });
    expect(v.state.records.map((r) => r.recordId)).toEqual(['J-DY']);
    await waitFor(async () => (await streamFor(aliciaId)).length > 1, 20_000, 'a removed entry');
    expect(await streamFor(aliciaId)).toEqual(['added', 'removed']);
  });

  it('an event expunged by its eventId stops counting; the record and its other events stay', async () => {
    const subject = { recordId: 'J-EX', firstName: 'Ernesto', lastName: 'Quintanilla', dateOfBirth: '1984-02-14' };
    const booking = makeEvent({ type: 'booking', occurredAt: '2026-08-10T00:00:00Z', details: { bookingNumber: 'B-900' } }, subject);
    const need = makeEvent({ type: 'need_opened', occurredAt: '2026-08-11T00:00:00Z', details: { needId: 'EN-1', category: 'housing' } }, subject);
    await send(jail, [booking, need]);
    expect(await viewOf('county-jail', 'J-EX')).toMatchObject({ in_custody: true, open_needs: ['housing'] });
    await send(jail, [makeEvent({ type: 'record_expunged', occurredAt: '2026-08-12T00:00:00Z', details: { eventIds: [booking.eventId] } }, subject)]);
    const v = await viewOf('county-jail', 'J-EX');
    expect(v).toMatchObject({ in_custody: false, open_needs: ['housing'] });
    expect(v.state.custody).toEqual([]);
    expect(v.state.records.map((r) => r.recordId)).toEqual(['J-EX']);
  });

  it('a late event gives the same state as the same events in order', async () => {
    const day = (d: number) => `2026-07-${String(d).padStart(2, '0')}T10:00:00Z`;
    const story = (recordId: string, firstName: string, lastName: string, dateOfBirth: string) => {
      const subject = { recordId, firstName, lastName, dateOfBirth };
      return [
        makeEvent({ type: 'booking', occurredAt: day(1), details: { bookingNumber: `BK-${recordId}`, scheduledReleaseAt: '2026-07-20T10:00:00Z' } }, subject),
        makeEvent({ type: 'release', occurredAt: day(5), details: { bookingNumber: `BK-${recordId}` } }, subject),
        makeEvent({ type: 'contact_assigned', occurredAt: day(2), details: { name: 'Pat' } }, subject),
        makeEvent({ type: 'contact_assigned', occurredAt: day(6), details: { name: 'Quinn' } }, subject),
      ];
    };
    const inOrder = story('J-Q1', 'Xavier', 'Quintana', '1985-03-03');
    await send(jail, [inOrder[0]]);
    await send(jail, [inOrder[2]]);
    await send(jail, [inOrder[1]]);
    await send(jail, [inOrder[3]]);
    // The release and the newer contact arrive first; the booking and the older contact late.
    const late = story('J-Q2', 'Yolanda', 'Begay', '1962-10-21');
    await send(jail, [late[1]]);
    await send(jail, [late[3]]);
    expect((await viewOf('county-jail', 'J-Q2')).state.custody).toEqual([]);
    await send(jail, [late[0]]);
    await send(jail, [late[2]]);

    const a = await viewOf('county-jail', 'J-Q1');
    const b = await viewOf('county-jail', 'J-Q2');
    expect(a.person_id).not.toBe(b.person_id);
    const comparable = (v: ViewRow) => ({
      inCustody: v.in_custody, custody: v.state.custody.map((c) => ({ ...c, bookingNumber: c.bookingNumber.slice(0, 5) })),
      contacts: v.state.contacts, primary: v.state.primaryContact, last: v.state.lastActivityAt,
      timeline: v.state.timeline.map((t) => [t.at, t.type]),
    });
    expect(comparable(a).custody[0].releasedAt).toBe('2026-07-05T10:00:00.000Z');
    expect(comparable(b)).toEqual(comparable(a));
    expect(b.state.primaryContact?.name).toBe('Quinn');
  });

  it('projections rebuild reproduces person_view and person_consent exactly', async () => {
    const snapshot = async () => ({
      views: await stack.query(`SELECT person_id, state, display_name, search_name, birth_year, agencies, agency_count, familiar, criteria,
                                       in_custody, scheduled_release_at, open_needs, last_activity_at FROM person_view ORDER BY person_id`),
      consents: await stack.query(`SELECT * FROM person_consent ORDER BY person_id, agency, consent_id`),
    });
    const before = await snapshot();
    expect(before.views.length).toBeGreaterThanOrEqual(4);
    expect(before.consents.length).toBe(2);
    const familiar = before.views.filter((v) => (v as { familiar: boolean }).familiar).length;

    await stack.query(`TRUNCATE person_view, person_consent`);
    // A stale row of a person with no linked record is dropped by the rebuild.
    const [orphan] = await stack.query<{ id: string }>(`INSERT INTO person DEFAULT VALUES RETURNING id`);
    await stack.query(
      `INSERT INTO person_view (person_id, state, display_name, search_name, agencies, agency_count, familiar, last_activity_at)
       VALUES ($1, '{}', 'x', 'x', '{}', 0, false, now())`,
      [orphan.id],
    );

    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await runCli(['node', 'cli', 'projections', 'rebuild', '--json', '--batch-size', '2']);
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
    expect(process.exitCode ?? 0).toBe(0);
    const res = JSON.parse(out[out.length - 1]) as { persons: number; orphans: number; added: number };
    expect(res).toMatchObject({ persons: before.views.length, orphans: 1, added: familiar });
    expect(await snapshot()).toEqual(before);
  });
});
