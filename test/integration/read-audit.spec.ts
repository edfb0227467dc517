import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalIssuerService } from '../../src/access/local-issuer.service';
import type { Role } from '../../src/access/roles';
import { makeEvent, TestStack, waitFor } from '../support/stack';

interface AuditRow {
  actor: string;
  agency: string | null;
  role: string | null;
  purpose: string | null;
  action: string;
  resource: string;
  person_ids: string[];
  outcome: string;
  details: Record<string, unknown>;
}

/** Every read of person data leaves an entry the auditor's accounting of disclosures lists. */
describe('audit of person reads', () => {
  let stack: TestStack;
  let jail: string;
  let court: string;
  let sent = 0;
  const DAY = 86_400_000;
  const iso = (ms: number): string => new Date(Date.now() + ms).toISOString();
  const maria = { firstName: 'Maria', lastName: 'Lopez', dateOfBirth: '1980-02-03', ssn: '501-22-3344' };

  const token = (sub: string, agency: string, role: Role): Promise<string> =>
    stack.api!.get(LocalIssuerService).mint({ sub, agency, roles: [role], ttlSeconds: 3600 });
  const get = (path: string, tok: string, purpose: string) =>
    stack.http().get(path).set('Authorization', `Bearer ${tok}`).set('X-Purpose-Of-Use', purpose);

  async function send(key: string, events: Record<string, unknown>[]): Promise<void> {
    const res = await stack.sendEvents(key, events);
    expect(res.status).toBe(202);
    for (const r of res.body.results as { status: string }[]) expect(r.status).toBe('accepted');
    sent += events.length;
    await stack.waitAppliedAndRefolded(sent);
  }

  async function personOf(source: string, recordId: string): Promise<string> {
    const [r] = await stack.query<{ person_id: string }>(
      `SELECT lr.person_id FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id JOIN source s ON s.id = sr.source_id
        WHERE s.code = $1 AND sr.record_id = $2`,
      [source, recordId],
    );
    return r.person_id;
  }

  const entries = (action: string): Promise<AuditRow[]> =>
    stack.query<AuditRow>(`SELECT actor, agency, role, purpose, action, resource, person_ids, outcome, details FROM audit_entry WHERE action = $1 ORDER BY seq`, [action]);

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('county-jail', 'jail');
    court = await stack.createSource('county-court', 'court');
    await stack.createSource('bh-clinic', 'provider');
    await send(jail, [makeEvent({ type: 'booking', occurredAt: iso(-3 * DAY), details: { bookingNumber: 'B-1', facility: 'Main', scheduledReleaseAt: iso(2 * DAY) } }, { recordId: 'J-1', ...maria })]);
    await send(court, [makeEvent({ type: 'court_case', occurredAt: iso(-2 * DAY), details: { caseNumber: 'CR-1', caseType: 'misdemeanor' } }, { recordId: 'C-1', ...maria })]);
  });
  afterAll(async () => stack.close());

  it('records the person page, search, list and release worklist with persons, purpose, role and agencies shown', async () => {
    const id = await personOf('county-jail', 'J-1');
    const planner = await token('jp', 'county-jail', 'discharge_planner');
    const steward = await token('ds', 'county-court', 'data_steward');

    await get(`/api/v1/persons/${id}`, planner, 'discharge_planning').expect(200);
    expect((await entries('person.read')).at(-1)).toMatchObject({
      actor: 'jp', agency: 'county-jail', role: 'discharge_planner', purpose: 'discharge_planning', resource: `person/${id}`,
      person_ids: [id], outcome: 'allowed', details: expect.objectContaining({ agencies: ['county-court', 'county-jail'] }),
    });

    const found = await get('/api/v1/persons/search?lastName=Lopez&firstName=Maria', steward, 'data_quality').expect(200);
    expect((found.body.candidates as { personId: string }[]).map((c) => c.personId)).toContain(id);
    expect((await entries('persons.search.read')).at(-1)).toMatchObject({ actor: 'ds', role: 'data_steward', purpose: 'data_quality', person_ids: [id] });
    // Query text can carry names: it is not recorded.
    expect(JSON.stringify(await entries('persons.search.read'))).not.toMatch(/Lopez|Maria/);

    await get('/api/v1/familiar-faces', planner, 'care_coordination').expect(200);
    expect((await entries('familiar-faces.read')).at(-1)).toMatchObject({ actor: 'jp', role: 'discharge_planner', purpose: 'care_coordination', person_ids: [id] });

    await get('/api/v1/custody/releases', planner, 'discharge_planning').expect(200);
    expect((await entries('custody.releases.read')).at(-1)).toMatchObject({ actor: 'jp', purpose: 'discharge_planning', person_ids: [id] });
  });

  it('records a read the policy hid (404) as denied, with the person, and leaves it out of the disclosures', async () => {
    const id = await personOf('county-jail', 'J-1');
    const clinic = await token('km', 'bh-clinic', 'case_manager');
    await get(`/api/v1/persons/${id}`, clinic, 'care_coordination').expect(404);
    expect((await entries('person.read')).at(-1)).toMatchObject({ actor: 'km', agency: 'bh-clinic', person_ids: [id], outcome: 'denied' });
    // A refusal for the purpose is recorded by the denied-request filter.
    await get(`/api/v1/persons/${id}`, clinic, 'data_quality').expect(403);
    expect((await entries('request.denied')).at(-1)).toMatchObject({ actor: 'km', person_ids: [id], outcome: 'denied' });
  });

  it('records the stream opening and every delivered batch', async () => {
    const manager = await token('cm', 'county-court', 'case_manager');
    const server: http.Server = stack.api!.getHttpServer();
    if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    let body = '';
    const req = http.get({
      host: '127.0.0.1', port, path: '/api/v1/familiar-faces/stream',
      headers: { Authorization: `Bearer ${manager}`, 'X-Purpose-Of-Use': 'care_coordination' },
    }, (res) => res.on('data', (c: Buffer) => (body += c.toString('utf8'))));
    req.on('error', () => undefined);
    try {
      await waitFor(async () => (await entries('familiar-faces.stream.open')).some((e) => e.actor === 'cm'), 20_000, 'stream open audited');
      await send(court, [makeEvent({ occurredAt: iso(-DAY) }, { recordId: 'C-1', ...maria })]);
      const id = await personOf('county-court', 'C-1');
      await waitFor(async () => body.includes(id), 20_000, 'the change delivered');
      const batches = (await entries('familiar-faces.stream.read')).filter((e) => e.actor === 'cm');
      expect(batches.flatMap((b) => b.person_ids)).toContain(id);
      expect(batches[0]).toMatchObject({ role: 'case_manager', purpose: 'care_coordination', outcome: 'allowed' });
    } finally {
      req.destroy();
    }
  });

  it("lists who saw the person, from which agency, when and why, in the auditor's accounting of disclosures", async () => {
    const id = await personOf('county-jail', 'J-1');
    const auditor = await token('au', 'county-jail', 'auditor');
    const res = await get(`/api/v1/persons/${id}/disclosures`, auditor, 'audit').expect(200);
    const list = res.body.disclosures as { actor: string; agency: string; purpose: string; action: string; time: string; informationFrom: string[] | null }[];
    expect(list).toEqual(expect.arrayContaining([
      expect.objectContaining({ actor: 'jp', agency: 'county-jail', purpose: 'discharge_planning', action: 'person.read', informationFrom: ['county-court', 'county-jail'], time: expect.any(String) }),
      expect.objectContaining({ actor: 'ds', agency: 'county-court', purpose: 'data_quality', action: 'persons.search.read' }),
      expect.objectContaining({ actor: 'jp', action: 'familiar-faces.read' }),
      expect.objectContaining({ actor: 'jp', action: 'custody.releases.read' }),
    ]));
    // The refused attempt is not a disclosure.
    expect(list.map((d) => d.actor)).not.toContain('km');
  });
});
