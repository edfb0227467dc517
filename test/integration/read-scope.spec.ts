import type { Role } from '../../src/access/roles';
import { pick, randInt, seededRng } from '../../src/linkage/engine/random.seed';
import { filterKeys } from '../../src/persons/person.fold';
import { makeEvent, TestStack } from '../support/stack';

/**
 * The read path narrows in SQL (person_view.filter_keys) before the policy decides each row. These
 * cases pin that the narrowing never shows more than the policy allows and never hides what it
 * allows: per viewer agency, consent scope (general, a category, substance use), revocation, expiry.
 */
describe('read path: SQL narrowing agrees with the access policy', () => {
  let stack: TestStack;
  let jail: string;
  let clinic: string;
  let courtManager: string;
  let jailManager: string;
  let clinicManager: string;
  let steward: string;

  const DAY = 86_400_000;
  const iso = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();

  const token = (sub: string, agency: string, role: Role): Promise<string> => stack.token(sub, agency, role);

  const send = (key: string, events: Record<string, unknown>[]): Promise<void> => stack.sendApplied(key, events);

  const get = (path: string, tok: string, purpose?: string) => stack.read(path, tok, purpose);

  async function ids(path: string, tok: string, purpose?: string): Promise<string[]> {
    const res = await get(path, tok, purpose).expect(200);
    return (res.body.items as { personId: string }[]).map((e) => e.personId);
  }

  const personOf = (source: string, recordId: string): Promise<string> => stack.personOf(source, recordId);

  const dana = { recordId: 'D-1', firstName: 'Dana', lastName: 'Okonkwo', dateOfBirth: '1975-05-06', sex: 'F', ssn: '512-66-7788' };

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('county-jail', 'jail');
    clinic = await stack.createSource('bh-clinic', 'provider');
    await stack.createSource('county-court', 'court');
    courtManager = await token('cm', 'county-court', 'case_manager');
    jailManager = await token('jm', 'county-jail', 'case_manager');
    clinicManager = await token('km', 'bh-clinic', 'case_manager');
    steward = await token('ds', 'county-court', 'data_steward');
    // Dana: known to the jail (in custody) and the clinic (housing and substance-use needs); familiar.
    await send(jail, [makeEvent({ type: 'booking', occurredAt: iso(-2 * DAY), details: { bookingNumber: 'DB-1', facility: 'Main', scheduledReleaseAt: iso(3 * DAY) } }, dana)]);
    await send(clinic, [
      makeEvent({ type: 'need_opened', occurredAt: iso(-DAY), details: { needId: 'DN-1', category: 'housing' } }, { ...dana, recordId: 'DK-1' }),
      makeEvent({ type: 'need_opened', occurredAt: iso(-DAY), details: { needId: 'DN-2', category: 'substance_use' } }, { ...dana, recordId: 'DK-1' }),
    ]);
  });
  afterAll(async () => stack.close());

  it('keeps per agency which open needs and custody each agency recorded, and what consents grant whom', async () => {
    const id = await personOf('county-jail', 'D-1');
    const [row] = await stack.query<{ filter_keys: string[] }>(`SELECT filter_keys FROM person_view WHERE person_id = $1`, [id]);
    expect(row.filter_keys).toEqual(['custody|county-jail', 'need|bh-clinic|housing', 'need|bh-clinic|substance_use']);
  });

  it('a need filter finds only needs the viewer may see: own agency, or a consent covering the category', async () => {
    const id = await personOf('county-jail', 'D-1');
    // Own agency's needs: the clinic finds Dana by either category.
    expect(await ids('/api/v1/familiar-faces?needCategory=housing', clinicManager)).toEqual([id]);
    expect(await ids('/api/v1/familiar-faces?needCategory=substance_use', clinicManager)).toEqual([id]);
    // No consent: the jail sees Dana (its client) but not the clinic's needs, so neither filter finds her.
    expect(await ids('/api/v1/familiar-faces', jailManager)).toEqual([id]);
    expect(await ids('/api/v1/familiar-faces?needCategory=housing', jailManager)).toEqual([]);

    // A consent naming the jail for employment only: still not housing.
    await send(clinic, [makeEvent({ type: 'consent_signed', occurredAt: iso(-1000), details: { consentId: 'DC-1', form: 'uroi', partners: ['county-jail'], categories: ['employment'], signedAt: iso(-1000), expiresAt: iso(90 * DAY) } }, { ...dana, recordId: 'DK-1' })]);
    expect(await ids('/api/v1/familiar-faces?needCategory=housing', jailManager)).toEqual([]);

    // A general consent naming the jail: housing now, but never substance use (42 CFR Part 2 needs its own consent).
    await send(clinic, [makeEvent({ type: 'consent_signed', occurredAt: iso(-1000), details: { consentId: 'DC-2', form: 'uroi', partners: ['county-jail'], signedAt: iso(-1000), expiresAt: iso(90 * DAY) } }, { ...dana, recordId: 'DK-1' })]);
    expect(await ids('/api/v1/familiar-faces?needCategory=housing', jailManager)).toEqual([id]);
    expect(await ids('/api/v1/familiar-faces?needCategory=substance_use', jailManager)).toEqual([]);
    // One that names substance use does.
    await send(clinic, [makeEvent({ type: 'consent_signed', occurredAt: iso(-1000), details: { consentId: 'DC-4', form: 'uroi', partners: ['county-jail'], categories: ['substance_use'], signedAt: iso(-1000), expiresAt: iso(90 * DAY) } }, { ...dana, recordId: 'DK-1' })]);
    expect(await ids('/api/v1/familiar-faces?needCategory=substance_use', jailManager)).toEqual([id]);

    // Revoked: gone from the keys and from the filter.
    await send(clinic, [
      makeEvent({ type: 'consent_revoked', occurredAt: iso(-500), details: { consentId: 'DC-2' } }, { ...dana, recordId: 'DK-1' }),
      makeEvent({ type: 'consent_revoked', occurredAt: iso(-500), details: { consentId: 'DC-4' } }, { ...dana, recordId: 'DK-1' }),
    ]);
    expect(await ids('/api/v1/familiar-faces?needCategory=housing', jailManager)).toEqual([]);
    expect(await ids('/api/v1/familiar-faces?needCategory=substance_use', jailManager)).toEqual([]);
    const [row] = await stack.query<{ filter_keys: string[] }>(`SELECT filter_keys FROM person_view WHERE person_id = $1`, [id]);
    expect(row.filter_keys).not.toContain('grant|county-jail|general');
    expect(row.filter_keys).toContain('grant|county-jail|employment');
  });

  it('the custody filter and the worklist find custody only the viewer may see; a person with no relation not at all', async () => {
    const id = await personOf('county-jail', 'D-1');
    expect(await ids('/api/v1/familiar-faces?inCustody=true', jailManager)).toEqual([id]);
    expect(await ids('/api/v1/custody/releases?withinDays=7', jailManager)).toEqual([id]);
    // The clinic knows Dana but sees no jail data without a general consent naming it.
    expect(await ids('/api/v1/familiar-faces?inCustody=true', clinicManager)).toEqual([]);
    expect(await ids('/api/v1/custody/releases?withinDays=7', clinicManager)).toEqual([]);
    // The court has no record of Dana: nothing, whatever the filter.
    expect(await ids('/api/v1/familiar-faces', courtManager)).toEqual([]);
    expect(await ids('/api/v1/familiar-faces?inCustody=true', courtManager)).toEqual([]);

    // An expired general consent naming the court (still in the keys: expiry is the policy's to decide) shows nothing.
    await send(jail, [makeEvent({ type: 'consent_signed', occurredAt: iso(-40 * DAY), details: { consentId: 'JC-1', form: 'uroi', partners: ['county-court'], signedAt: iso(-40 * DAY), expiresAt: iso(-DAY) } }, dana)]);
    expect(await ids('/api/v1/familiar-faces', courtManager)).toEqual([]);
    expect(await get(`/api/v1/persons/${id}`, courtManager).then((r) => r.status)).toBe(404);
    // A running one: the court now sees Dana, her custody, and finds her by it.
    await send(jail, [makeEvent({ type: 'consent_signed', occurredAt: iso(-1000), details: { consentId: 'JC-2', form: 'uroi', partners: ['county-court'], signedAt: iso(-1000), expiresAt: iso(90 * DAY) } }, dana)]);
    expect(await ids('/api/v1/familiar-faces', courtManager)).toEqual([id]);
    expect(await ids('/api/v1/familiar-faces?inCustody=true', courtManager)).toEqual([id]);
    expect(await ids('/api/v1/familiar-faces?releaseWithinDays=7', courtManager)).toEqual([id]);
    expect(await ids('/api/v1/familiar-faces?releaseWithinDays=1', courtManager)).toEqual([]);
  });

  it('search candidates come from the blocking keys, or from the name alone, and only persons the viewer may see', async () => {
    const id = await personOf('county-jail', 'D-1');
    const search = (qs: string, tok: string, purpose?: string) => get(`/api/v1/persons/search?${qs}`, tok, purpose).expect(200)
      .then((r) => (r.body.candidates as { personId: string; probability: number }[]));
    // Typo in the surname, day and month swapped: the linker's keys still meet.
    const typo = await search('firstName=Dana&lastName=Okonkow&dateOfBirth=1975-06-05', jailManager);
    expect(typo[0]?.personId).toBe(id);
    expect(typo[0].probability).toBeGreaterThan(0.5);
    // A last name alone has no blocking key: trigram candidates.
    expect((await search('lastName=Okonkwo', jailManager)).map((c) => c.personId)).toEqual([id]);
    // A data steward of an agency with no record of Dana still finds her (match review), the unrelated case manager does not.
    expect((await search('firstName=Dana&lastName=Okonkwo&dateOfBirth=1975-05-06', steward, 'data_quality')).map((c) => c.personId)).toContain(id);
    const unrelated = await token('other', 'county-court', 'case_manager');
    await send(jail, [makeEvent({ type: 'consent_revoked', occurredAt: iso(-100), details: { consentId: 'JC-2' } }, dana)]);
    expect(await search('firstName=Dana&lastName=Okonkwo&dateOfBirth=1975-05-06', unrelated)).toEqual([]);
    expect(await search('lastName=Okonkwo', unrelated)).toEqual([]);
  });
  it('the keys the projection writes equal the SQL rule person_view_filter_keys(state), for stored persons and 400 generated states', async () => {
    const stored = await stack.query<{ same: boolean }>(
      `SELECT filter_keys @> person_view_filter_keys(state) AND filter_keys <@ person_view_filter_keys(state) AS same FROM person_view`,
    );
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.every((r) => r.same)).toBe(true);

    const rng = seededRng(7);
    const agencies = ['county-jail', 'bh-clinic', 'county-court', '*'];
    const some = <T>(xs: readonly T[], max: number): T[] => Array.from({ length: randInt(rng, max + 1) }, () => pick(rng, xs));
    const maybe = (v: string): string | undefined => (rng() < 0.5 ? v : undefined);
    const states = Array.from({ length: 400 }, () => ({
      needs: some(agencies.slice(0, 3), 4).map((agency, i) => ({ agency, needId: `n${i}`, category: pick(rng, ['housing', 'substance_use', 'food']), openedAt: iso(0), closedAt: maybe(iso(0)) })),
      custody: some(agencies.slice(0, 3), 3).map((agency, i) => ({ agency, bookingNumber: `b${i}`, bookedAt: iso(0), releasedAt: maybe(iso(0)) })),
      consents: some(agencies.slice(0, 3), 3).map((agency, i) => ({
        agency, consentId: `c${i}`, form: 'uroi', partners: [...new Set(some(agencies, 3))],
        categories: rng() < 0.4 ? null : some(['housing', 'substance_use', 'employment'], 2), signedAt: iso(0), expiresAt: iso(DAY), revokedAt: maybe(iso(0)),
      })),
    }));
    const sql = await stack.query<{ keys: string[] }>(
      `SELECT person_view_filter_keys(s) AS keys FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(s, n) ORDER BY n`,
      [JSON.stringify(states)],
    );
    expect(sql.map((r) => [...r.keys].sort())).toEqual(states.map((s) => filterKeys(s)));
    expect(states.filter((s) => filterKeys(s).some((k) => k.endsWith('|general'))).length).toBeGreaterThan(20);
  });
});
