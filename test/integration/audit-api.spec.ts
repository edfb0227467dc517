import { randomUUID } from 'node:crypto';
import { LocalIssuerService } from '../../src/access/local-issuer.service';
import { AuditService } from '../../src/audit/audit.service';
import { AuditVerifyService } from '../../src/audit/audit-verify.service';
import { systemAuditContext } from '../../src/audit/audit.context';
import { PartnersService } from '../../src/partners/partners.service';
import type { Response } from 'supertest';
import type { AuditPage } from '../../src/audit/audit.service';
import { makeEvent, TestStack } from '../support/stack';

const actors = (res: Response): string[] => (res.body as AuditPage).entries.map((e) => e.actor);
const actions = (res: Response): string[] => (res.body as AuditPage).entries.map((e) => e.action);
const paths = (res: Response): string[] => (res.body as { errors: { path: string }[] }).errors.map((e) => e.path);

interface EntryRow {
  seq: string;
  actor: string;
  actor_kind: string;
  agency: string | null;
  role: string | null;
  purpose: string | null;
  action: string;
  resource: string;
  person_ids: string[];
  outcome: string;
  request_id: string | null;
  client_address: string | null;
  details: Record<string, unknown>;
}

describe('audit: what gets recorded, and the auditor endpoints', () => {
  let stack: TestStack;
  let issuer: LocalIssuerService;
  let key: string;
  let auditor: string;

  const entries = (where = 'true', params: unknown[] = []): Promise<EntryRow[]> =>
    stack.query<EntryRow>(
      `SELECT seq::text AS seq, actor, actor_kind, agency, role, purpose, action, resource, person_ids, outcome, request_id,
              client_address::text AS client_address, details
         FROM audit_entry WHERE ${where} ORDER BY audit_entry.seq`,
      params,
    );
  const last = async (action: string): Promise<EntryRow> => {
    const rows = await entries('action = $1', [action]);
    expect(rows.length).toBeGreaterThan(0);
    return rows[rows.length - 1];
  };

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    key = await stack.createSource('county-jail', 'jail');
    await stack.createSource('clinic', 'provider');
    issuer = stack.api!.get(LocalIssuerService);
    auditor = await issuer.mint({ sub: 'audrey', agency: 'clinic', roles: ['auditor'], ttlSeconds: 600 });
  });
  afterAll(async () => stack.close());

  it('records source creation and token mint, with the acting context', async () => {
    const created = await entries(`action = 'source.create'`);
    expect(created.map((e) => e.resource)).toEqual(['source/county-jail', 'source/clinic']);
    expect(created[0]).toMatchObject({ actor_kind: 'system', outcome: 'allowed', details: { agency: 'county-jail', kind: 'jail', part2: false } });
    expect(created[0].details.keyId).toMatch(/^[0-9a-f]{16}$/);
    const minted = await last('token.mint');
    expect(minted).toMatchObject({ resource: 'user/audrey', details: { sub: 'audrey', agency: 'clinic', roles: ['auditor'], ttlSeconds: 600 } });
  });

  it('records each ingest batch once, in its transaction, with counts and the source', async () => {
    const before = (await entries(`action = 'events.ingest'`)).length;
    const good = makeEvent();
    const res = await stack
      .http()
      .post('/api/v1/events')
      .set('Authorization', `Bearer ${key}`)
      .set('X-Request-Id', 'batch-req-1')
      .send({ events: [good, good, { eventId: 'x' }] });
    expect(res.status).toBe(202);
    const rows = await entries(`action = 'events.ingest'`);
    expect(rows.length).toBe(before + 1);
    expect(rows[rows.length - 1]).toMatchObject({
      actor: 'source:county-jail', actor_kind: 'source', agency: 'county-jail', resource: 'source/county-jail', outcome: 'allowed',
      request_id: 'batch-req-1', details: { received: 3, accepted: 1, duplicate: 1, rejected: 1 },
    });
    expect(rows[rows.length - 1].client_address).toMatch(/127\.0\.0\.1/);
    // No event content reaches the log.
    expect(JSON.stringify(rows)).not.toMatch(/Maria|Lopez|1980-02-03/);
  });

  it('an ingest whose audit entry cannot be written stores nothing', async () => {
    const audit = stack.api!.get(AuditService);
    const original = audit.record.bind(audit);
    const spy = jest.spyOn(audit, 'record').mockImplementation(async (em, entry) => {
      await original(em, entry);
      throw new Error('audit store unavailable');
    });
    try {
      const ev = makeEvent();
      const res = await stack.sendEvents(key, [ev]);
      expect(res.status).toBe(500);
      expect(await stack.query(`SELECT 1 FROM inbox_event WHERE event_id = $1`, [ev.eventId])).toHaveLength(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('records the admin reading ingest status', async () => {
    const admin = await issuer.mint({ sub: 'ada', agency: 'county-jail', roles: ['admin'], ttlSeconds: 60 });
    const res = await stack.http().get('/api/v1/ingest/status').set('Authorization', `Bearer ${admin}`);
    expect(res.status).toBe(200);
    expect(await last('ingest_status.read')).toMatchObject({ actor: 'ada', actor_kind: 'user', agency: 'county-jail', role: 'admin', outcome: 'allowed' });
  });

  it('records refused requests as denied: no token, wrong role, bad API key', async () => {
    const before = Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM audit_entry WHERE outcome = 'denied'`))[0].n);
    expect((await stack.http().get('/api/v1/ingest/status').set('X-Request-Id', 'denied-1')).status).toBe(401);
    const cm = await issuer.mint({ sub: 'carl', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 60 });
    expect((await stack.http().get('/api/v1/ingest/status').set('Authorization', `Bearer ${cm}`)).status).toBe(403);
    expect((await stack.sendEvents('ffk_0123456789abcdef_' + 'a'.repeat(43), [makeEvent()])).status).toBe(401);
    const denied = await entries(`outcome = 'denied'`);
    expect(denied.length).toBe(before + 3);
    const [anon, wrongRole, badKey] = denied.slice(-3);
    expect(anon).toMatchObject({
      actor: 'anonymous', action: 'request.denied', resource: 'GET /api/v1/ingest/status', request_id: 'denied-1',
      details: { status: 401, reason: 'unauthenticated', credential: 'none' },
    });
    expect(wrongRole).toMatchObject({ actor: 'carl', agency: 'county-jail', details: { status: 403, reason: 'forbidden' } });
    expect(badKey).toMatchObject({ actor_kind: 'source', resource: 'POST /api/v1/events', details: { status: 401, keyId: '0123456789abcdef', credential: 'api_key' } });
  });

  it('an auditor searches the log by person, actor, agency and time, page by page', async () => {
    const audit = stack.api!.get(AuditService);
    const personId = randomUUID();
    const other = randomUUID();
    // Reads as the read APIs record them.
    for (const [actor, agency, ids] of [['carl', 'county-jail', [personId]], ['dana', 'clinic', [personId, other]], ['carl', 'county-jail', [other]]] as const) {
      await audit.recordAlone({
        actor, actorKind: 'user', agency, role: 'case_manager', purpose: 'care_coordination', requestId: null, clientAddress: null,
        action: 'person.read', resource: `person/${ids[0]}`, personIds: ids,
      });
    }
    const get = (query: Record<string, string>, token = auditor, purpose = 'audit') =>
      stack.http().get('/api/v1/audit').query(query).set('Authorization', `Bearer ${token}`).set('X-Purpose-Of-Use', purpose);

    const byPerson = await get({ personId, action: 'person.read' });
    expect(byPerson.status).toBe(200);
    expect(actors(byPerson)).toEqual(['dana', 'carl']);
    expect((await get({ personId, actor: 'carl' })).body.entries).toHaveLength(1);
    // The auditor's own searches are entries about this person too.
    expect(actions(await get({ personId, actor: 'audrey' }))).toEqual(['audit.search', 'audit.search']);
    expect(actors(await get({ personId, agency: 'county-jail' }))).toEqual(['carl']);
    expect((await get({ personId, from: new Date(Date.now() + 3600_000).toISOString() })).body.entries).toHaveLength(0);
    expect((await get({ personId, to: new Date(Date.now() - 3600_000).toISOString() })).body.entries).toHaveLength(0);

    const page1 = await get({ personId, action: 'person.read', limit: '1' });
    expect(page1.body.entries).toHaveLength(1);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await get({ personId, action: 'person.read', limit: '1', cursor: page1.body.nextCursor });
    expect(actors(page2)).toEqual(['carl']);
    expect(page2.body.nextCursor).toBeNull();

    // The search is itself audited.
    expect(await last('audit.search')).toMatchObject({ actor: 'audrey', role: 'auditor', purpose: 'audit', person_ids: [personId] });
  });

  it('rejects bad audit queries naming the field, and callers who are not auditors or state another purpose', async () => {
    const get = (query: Record<string, string>, token = auditor, purpose?: string) => {
      const r = stack.http().get('/api/v1/audit').query(query).set('Authorization', `Bearer ${token}`);
      return purpose === undefined ? r : r.set('X-Purpose-Of-Use', purpose);
    };
    const bad = await get({ personId: 'nope', from: 'yesterday', limit: '0', colour: 'red' }, auditor, 'audit');
    expect(bad.status).toBe(400);
    expect(paths(bad)).toEqual(['colour']);
    const bad2 = await get({ personId: 'nope', from: 'yesterday', limit: '0' }, auditor, 'audit');
    expect(paths(bad2).sort()).toEqual(['from', 'limit', 'personId']);
    expect((await get({ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, auditor, 'audit')).body.errors[0].path).toBe('to');
    const noPurpose = await get({}, auditor);
    expect(noPurpose.status).toBe(400);
    expect(noPurpose.body.errors[0].path).toBe('X-Purpose-Of-Use');
    expect((await get({}, auditor, 'care_coordination')).status).toBe(403);
    const unknown = await get({}, auditor, 'curiosity');
    expect(unknown.status).toBe(400);
    expect(paths(unknown)).toEqual(['X-Purpose-Of-Use']);
    const admin = await issuer.mint({ sub: 'ada', agency: 'county-jail', roles: ['admin'], ttlSeconds: 60 });
    expect((await get({}, admin, 'audit')).status).toBe(403);
    expect(await last('request.denied')).toMatchObject({ actor: 'ada', resource: 'GET /api/v1/audit', outcome: 'denied' });
  });

  it("accounts for disclosures: who saw the person's information, from which agency, when and why", async () => {
    const audit = stack.api!.get(AuditService);
    const personId = randomUUID();
    const base = { actorKind: 'user' as const, requestId: null, clientAddress: null, resource: `person/${personId}`, personIds: [personId] };
    await audit.recordAlone({
      ...base, actor: 'carl', agency: 'county-jail', role: 'case_manager', purpose: 'care_coordination', action: 'person.read',
      details: { agencies: ['county-jail', 'clinic'] },
    });
    await audit.recordAlone({ ...base, actor: 'dana', agency: 'clinic', role: 'discharge_planner', purpose: 'discharge_planning', action: 'familiar_faces.read' });
    // Not disclosures: a refused read, and a change that is not a read.
    await audit.recordAlone({ ...base, actor: 'eve', agency: 'clinic', role: 'case_manager', purpose: 'care_coordination', action: 'person.read', outcome: 'denied' });
    await audit.recordAlone({ ...systemAuditContext('linkage'), action: 'link.decide', resource: `person/${personId}`, personIds: [personId] });

    const res = await stack
      .http()
      .get(`/api/v1/persons/${personId}/disclosures`)
      .set('Authorization', `Bearer ${auditor}`)
      .set('X-Purpose-Of-Use', 'audit');
    expect(res.status).toBe(200);
    expect(res.body.personId).toBe(personId);
    expect(res.body.disclosures).toEqual([
      expect.objectContaining({ actor: 'dana', agency: 'clinic', role: 'discharge_planner', purpose: 'discharge_planning', action: 'familiar_faces.read', time: expect.any(String), informationFrom: null }),
      expect.objectContaining({
        actor: 'carl', agency: 'county-jail', role: 'case_manager', purpose: 'care_coordination', action: 'person.read', informationFrom: ['county-jail', 'clinic'],
      }),
    ]);
    expect(await last('audit.disclosures')).toMatchObject({ actor: 'audrey', person_ids: [personId], resource: `person/${personId}` });

    const cm = await issuer.mint({ sub: 'carl', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 60 });
    const refused = await stack.http().get(`/api/v1/persons/${personId}/disclosures`).set('Authorization', `Bearer ${cm}`).set('X-Purpose-Of-Use', 'audit');
    expect(refused.status).toBe(403);
    expect(await last('request.denied')).toMatchObject({ actor: 'carl', person_ids: [personId], resource: 'GET /api/v1/persons/:id/disclosures' });
    const badId = await stack.http().get('/api/v1/persons/123/disclosures').set('Authorization', `Bearer ${auditor}`).set('X-Purpose-Of-Use', 'audit');
    expect(badId.status).toBe(400);
    expect(badId.body.errors[0].path).toBe('id');
  });

  it('records source key rotation, disabling and agency changes; the chain still verifies', async () => {
    const partners = stack.api!.get(PartnersService);
    await partners.rotateKey('clinic');
    await partners.setAgencyPart2('clinic', true);
    await partners.disableSource('clinic');
    const rows = await entries(`action IN ('source.rotate_key', 'agency.update', 'source.disable')`);
    expect(rows.map((r) => [r.action, r.resource])).toEqual([
      ['source.rotate_key', 'source/clinic'],
      ['agency.update', 'agency/clinic'],
      ['source.disable', 'source/clinic'],
    ]);
    expect(rows[1].details).toEqual({ part2: true });
    await expect(partners.disableSource('nowhere')).rejects.toThrow(/not found/);
    expect(await entries(`resource = 'source/nowhere'`)).toHaveLength(0);

    const report = await stack.api!.get(AuditVerifyService).verify();
    expect(report).toMatchObject({ ok: true, firstBreak: null });
    expect(report.entries).toBeGreaterThan(15);
  });

  it('refuses to record outside a transaction and refuses non-uuid person ids', async () => {
    const audit = stack.api!.get(AuditService);
    const entry = { ...systemAuditContext('test'), action: 'person.read', resource: 'person/x' };
    await expect(audit.record(stack.api!.get(PartnersService)['db'].manager, entry)).rejects.toThrow(/inside the transaction/);
    await expect(audit.recordAlone({ ...entry, personIds: ['Maria Lopez'] })).rejects.toThrow(/uuids/);
    expect(await entries(`resource = 'person/x'`)).toHaveLength(0);
  });
});
