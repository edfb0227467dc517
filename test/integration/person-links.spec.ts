import type { Role } from '../../src/access/roles';
import { PartnersService } from '../../src/partners/partners.service';
import type { PersonLinks } from '../../src/persons/persons.controller';
import { makeEvent, TestStack } from '../support/stack';

interface AuditRow {
  seq: string;
  actor: string;
  role: string | null;
  purpose: string | null;
  action: string;
  resource: string;
  person_ids: string[];
  outcome: string;
  details: Record<string, unknown>;
}

/** GET /api/v1/persons/:id/links: the data steward's match explanations (issue 6). */
describe('person links: match explanations for data stewards', () => {
  let stack: TestStack;
  let jail: string;
  let court: string;
  let sud: string;
  const maria = { firstName: 'Maria', lastName: 'Lopez', dateOfBirth: '1980-02-03', ssn: '501-22-3344', address: { line1: '12 Elm Street', city: 'Springfield', state: 'NM', postalCode: '87001' } };

  const token = (sub: string, agency: string, roles: Role[]): Promise<string> => stack.token(sub, agency, roles);
  const get = (path: string, tok: string, purpose?: string) => stack.read(path, tok, purpose);

  const send = (key: string, events: Record<string, unknown>[]): Promise<void> => stack.sendApplied(key, events);

  const personOf = (source: string, recordId: string): Promise<string> => stack.personOf(source, recordId);

  const entries = (action: string): Promise<AuditRow[]> =>
    stack.query<AuditRow>(`SELECT seq::text AS seq, actor, role, purpose, action, resource, person_ids, outcome, details FROM audit_entry WHERE action = $1 ORDER BY seq`, [action]);

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('county-jail', 'jail');
    court = await stack.createSource('county-court', 'court');
    await stack.createSource('coalition-office', 'other');
    sud = (await stack.api!.get(PartnersService).createSource({ code: 'sud-clinic', name: 'SUD clinic', kind: 'provider', part2: true })).apiKey;
    await send(jail, [makeEvent({ type: 'need_opened', details: { needId: 'N-1', category: 'housing' } }, { recordId: 'J-1', ...maria })]);
    await send(court, [makeEvent({ type: 'court_case', details: { caseNumber: 'CR-1', caseType: 'misdemeanor' } }, { recordId: 'C-1', ...maria, firstName: 'Mari' })]);
    await send(sud, [makeEvent({}, { recordId: 'S-1', ...maria })]);
  });
  afterAll(async () => stack.close());

  it("shows each record's masked demographics and current decision with field contributions summing to the weight", async () => {
    const id = await personOf('county-jail', 'J-1');
    expect(await personOf('county-court', 'C-1')).toBe(id);
    expect(await personOf('sud-clinic', 'S-1')).toBe(id);
    const steward = await token('ds', 'coalition-office', ['data_steward']);
    const res = await get(`/api/v1/persons/${id}/links`, steward, 'data_quality').expect(200);
    const body = res.body as PersonLinks;
    expect(body.personId).toBe(id);
    // The Part 2 program's record (and its decision) stay hidden: no consent names the steward.
    expect(body.records.map((r) => r.agency).sort()).toEqual(['county-court', 'county-jail']);
    expect(JSON.stringify(body)).not.toMatch(/sud-clinic|S-1/);
    const court1 = body.records.find((r) => r.recordId === 'C-1')!;
    expect(court1).toMatchObject({ source: 'county-court', firstName: 'Mari', lastName: 'Lopez', dateOfBirth: '1980-02-03', ssnLast4: '3344' });
    expect(court1.link).toMatchObject({ personId: id, action: 'link', actor: 'auto', locked: false, modelVersion: expect.any(String), decidedAt: expect.any(String) });
    const e = court1.link!.explanation;
    expect(e.fields.length).toBeGreaterThan(3);
    expect(e.priorBits! + e.fields.reduce((s, f) => s + f.bits, 0)).toBeCloseTo(e.weight!, 6);
    expect(court1.link!.probability).toBeGreaterThan(0.9);
    expect(e.fields.find((f) => f.field === 'ssn')).toMatchObject({ bits: expect.any(Number) });
    expect(e.thresholds).toEqual({ upper: expect.any(Number), lower: expect.any(Number) });
    expect(body.records.find((r) => r.recordId === 'J-1')!.link).toMatchObject({ action: 'new' });
    // Demographics only: no needs, cases, services, custody, contacts or consents; never a full SSN.
    for (const k of ['needs', 'cases', 'services', 'custody', 'contacts', 'consents', 'timeline', 'pointers']) expect(body).not.toHaveProperty(k);
    expect(JSON.stringify(body)).not.toMatch(/501-?22-?3344|housing|CR-1|misdemeanor/);
  });

  it('lists open review tasks raised on the shown records', async () => {
    const id = await personOf('county-jail', 'J-1');
    await stack.query(
      `INSERT INTO review_task (kind, source_record_id, person_ids, probability, decision_id)
       SELECT 'possible_match', lr.source_record_id, ARRAY[lr.person_id], 0.42, lr.decision_id
         FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id WHERE sr.record_id IN ('C-1', 'S-1')`,
    );
    const steward = await token('ds', 'coalition-office', ['data_steward']);
    const body = (await get(`/api/v1/persons/${id}/links`, steward, 'data_quality').expect(200)).body as PersonLinks;
    // The task on the Part 2 record is not shown.
    expect(body.openReviewTasks).toEqual([
      { id: expect.any(String), kind: 'possible_match', source: 'county-court', recordId: 'C-1', personIds: [id], probability: 0.42, createdAt: expect.any(String) },
    ]);
  });

  it('is audited as a person read, listed in the accounting of disclosures', async () => {
    const id = await personOf('county-jail', 'J-1');
    const steward = await token('ds', 'coalition-office', ['data_steward']);
    await get(`/api/v1/persons/${id}/links`, steward, 'data_quality').expect(200);
    expect((await entries('person.links.read')).at(-1)).toMatchObject({
      actor: 'ds', role: 'data_steward', purpose: 'data_quality', resource: `person/${id}/links`, person_ids: [id], outcome: 'allowed',
      details: { agencies: ['county-court', 'county-jail'], returned: 1 },
    });
    const auditor = await token('au', 'coalition-office', ['auditor']);
    const disclosures = (await get(`/api/v1/persons/${id}/disclosures`, auditor, 'audit').expect(200)).body as { disclosures: { actor: string; action: string }[] };
    expect(disclosures.disclosures).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'ds', action: 'person.links.read' })]));
  });

  it('answers a retired id with the survivor, saying so', async () => {
    await send(jail, [makeEvent({ occurredAt: '2026-01-01T00:00:00Z' }, { recordId: 'J-20', firstName: 'Denise', lastName: 'Yazzie', dateOfBirth: '1990-07-07' })]);
    const old = await personOf('county-jail', 'J-20');
    const steward = await token('ds', 'coalition-office', ['data_steward']);
    // Read before the merge, under the id that will be retired.
    await get(`/api/v1/persons/${old}/links`, steward, 'data_quality').expect(200);
    const before = (await entries('person.links.read')).at(-1)!;
    expect(before.person_ids).toEqual([old]);
    await send(jail, [makeEvent({ type: 'record_corrected', details: {}, occurredAt: '2026-02-01T00:00:00Z' }, { recordId: 'J-20', ...maria })]);
    const survivor = await personOf('county-jail', 'J-20');
    expect(survivor).not.toBe(old);
    const body = (await get(`/api/v1/persons/${old}/links`, steward, 'data_quality').expect(200)).body as PersonLinks;
    expect(body).toMatchObject({ personId: survivor, requestedId: old, retiredInto: survivor });
    expect(body.records.find((r) => r.recordId === 'J-20')!.link).toMatchObject({ action: 'move', personId: survivor });
    expect((await entries('person.links.read')).at(-1)).toMatchObject({ person_ids: [survivor], outcome: 'allowed' });

    // The accounting of disclosures follows the merge both ways: the survivor's lists the read made
    // under the retired id, and the retired id's is the survivor's.
    const auditor = await token('au', 'coalition-office', ['auditor']);
    type Disclosures = { personId: string; retiredInto?: string; personIds: string[]; disclosures: { seq: string; action: string }[] };
    const ofSurvivor = (await get(`/api/v1/persons/${survivor}/disclosures`, auditor, 'audit').expect(200)).body as Disclosures;
    expect(ofSurvivor.personIds).toEqual([old, survivor].sort());
    expect(ofSurvivor.disclosures.map((d) => d.seq)).toContain(before.seq);
    const seqs = ofSurvivor.disclosures.map((d) => BigInt(d.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => (b > a ? 1 : b < a ? -1 : 0)));
    expect(new Set(seqs).size).toBe(seqs.length);
    const ofOld = (await get(`/api/v1/persons/${old}/disclosures`, auditor, 'audit').expect(200)).body as Disclosures;
    expect(ofOld).toMatchObject({ personId: old, retiredInto: survivor, personIds: [old, survivor].sort() });
    expect(ofOld.disclosures.map((d) => d.seq)).toEqual(ofSurvivor.disclosures.map((d) => d.seq));
    // Paging across both ids: every entry once.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await get(`/api/v1/persons/${survivor}/disclosures?limit=2${cursor ? `&cursor=${cursor}` : ''}`, auditor, 'audit').expect(200)).body as Disclosures & { nextCursor: string | null };
      paged.push(...page.disclosures.map((d) => d.seq));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(ofSurvivor.disclosures.map((d) => d.seq));
  });

  it('does not point the steward at a person known only to a Part 2 program, nor show evidence against one', async () => {
    await send(sud, [makeEvent({}, { recordId: 'S-30', firstName: 'Octavia', lastName: 'Brightwater', dateOfBirth: '1961-03-09' })]);
    await send(jail, [makeEvent({}, { recordId: 'J-30', firstName: 'Olivia', lastName: 'Brightwater', dateOfBirth: '1961-03-09' })]);
    const hidden = await personOf('sud-clinic', 'S-30');
    const visible = await personOf('county-jail', 'J-30');
    expect(visible).not.toBe(hidden);
    // The linker did compare the two (so the test is not vacuous): the hidden person is the best candidate.
    const [d] = await stack.query<{ explanation: { candidates: { personId: string }[]; bestMatch?: unknown } }>(
      `SELECT d.explanation FROM linkage_record lr JOIN link_decision d ON d.id = lr.decision_id JOIN source_record sr ON sr.id = lr.source_record_id WHERE sr.record_id = 'J-30'`,
    );
    expect(d.explanation.candidates[0].personId).toBe(hidden);
    expect(d.explanation.bestMatch).toBeDefined();
    await stack.query(
      `INSERT INTO review_task (kind, source_record_id, person_ids, probability, decision_id)
       SELECT 'possible_match', lr.source_record_id, ARRAY[lr.person_id, $1::uuid], 0.5, lr.decision_id
         FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id WHERE sr.record_id = 'J-30'`,
      [hidden],
    );
    const steward = await token('ds', 'coalition-office', ['data_steward']);
    const body = (await get(`/api/v1/persons/${visible}/links`, steward, 'data_quality').expect(200)).body as PersonLinks;
    expect(JSON.stringify(body)).not.toContain(hidden);
    const link = body.records.find((r) => r.recordId === 'J-30')!.link!;
    expect(link).toMatchObject({ personId: visible, probability: null, weight: null });
    expect(link.explanation).toMatchObject({ fields: [], lines: [], priorBits: null, weight: null, probability: null });
    expect(body.openReviewTasks).toEqual([]);
  });

  it('refuses other roles and purposes, unknown and hidden persons', async () => {
    const id = await personOf('county-jail', 'J-1');
    // A steward who is also a case manager reads explanations only under data_quality.
    const both = await token('both', 'county-jail', ['case_manager', 'data_steward']);
    await get(`/api/v1/persons/${id}/links`, both, 'care_coordination').expect(403);
    expect((await entries('request.denied')).at(-1)).toMatchObject({ actor: 'both', outcome: 'denied' });
    await get(`/api/v1/persons/${id}/links`, both, 'data_quality').expect(200);
    const manager = await token('cm', 'county-jail', ['case_manager']);
    await get(`/api/v1/persons/${id}/links`, manager, 'care_coordination').expect(403);
    const steward = await token('ds', 'coalition-office', ['data_steward']);
    await get(`/api/v1/persons/${id}/links`, steward, '').expect(400);
    await get('/api/v1/persons/not-a-uuid/links', steward, 'data_quality').expect(400);
    await get('/api/v1/persons/00000000-0000-4000-8000-000000000000/links', steward, 'data_quality').expect(404);
    // A person known only to the Part 2 program does not exist for the steward: 404, recorded as denied.
    await send(sud, [makeEvent({}, { recordId: 'S-9', firstName: 'Quentin', lastName: 'Zabala', dateOfBirth: '1955-05-05' })]);
    const hidden = await personOf('sud-clinic', 'S-9');
    const res = await get(`/api/v1/persons/${hidden}/links`, steward, 'data_quality').expect(404);
    expect(JSON.stringify(res.body)).not.toMatch(/Quentin|Zabala|sud-clinic/);
    expect((await entries('person.links.read')).at(-1)).toMatchObject({ person_ids: [hidden], outcome: 'denied' });
  });
});
