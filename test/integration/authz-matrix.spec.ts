import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalIssuerService } from '../../src/access/local-issuer.service';
import type { Role } from '../../src/access/roles';
import { makeEvent, TestStack } from '../support/stack';

type Caller = Role | 'source_key' | 'anonymous';
const CALLERS: Caller[] = ['case_manager', 'discharge_planner', 'data_steward', 'auditor', 'admin', 'source_key', 'anonymous'];

/** Each caller states the purpose that fits its role (admin has none: it states care_coordination). */
const PURPOSE: Record<Caller, string | null> = {
  case_manager: 'care_coordination', discharge_planner: 'discharge_planning', data_steward: 'data_quality', auditor: 'audit',
  admin: 'care_coordination', source_key: null, anonymous: null,
};

type Row = Record<Caller, number>;
const row = (allowed: Partial<Row>, otherwise: { user: number; source: number; anonymous: number } = { user: 403, source: 401, anonymous: 401 }): Row => ({
  case_manager: otherwise.user, discharge_planner: otherwise.user, data_steward: otherwise.user, auditor: otherwise.user, admin: otherwise.user,
  source_key: otherwise.source, anonymous: otherwise.anonymous, ...allowed,
});
const OPEN: Row = row({}, { user: 200, source: 200, anonymous: 200 });

/**
 * Every route the app serves, with the status each caller gets. A route without a row fails the
 * test, so a new endpoint cannot be added without deciding who may call it.
 */
const MATRIX: Record<string, Row> = {
  'GET /health/live': OPEN,
  'GET /health/ready': OPEN,
  // Swagger UI, its assets and documents: public on purpose (no data). Called as GET /api/docs-json.
  'GET /api/docs*': OPEN,
  // A bearer that is not a source key is refused as unauthenticated.
  'POST /api/v1/events': row({ source_key: 202 }, { user: 401, source: 401, anonymous: 401 }),
  'GET /api/v1/ingest/status': row({ admin: 200 }),
  'GET /api/v1/audit': row({ auditor: 200 }),
  'GET /api/v1/persons/:id/disclosures': row({ auditor: 200 }),
  'GET /api/v1/persons/search': row({ case_manager: 200, discharge_planner: 200, data_steward: 200 }),
  'GET /api/v1/persons/:id': row({ case_manager: 200, discharge_planner: 200, data_steward: 200 }),
  // Match explanations: data stewards only (a case manager's purpose does not reach them).
  'GET /api/v1/persons/:id/links': row({ data_steward: 200 }),
  'GET /api/v1/familiar-faces': row({ case_manager: 200, discharge_planner: 200 }),
  'GET /api/v1/familiar-faces/stream': row({ case_manager: 200, discharge_planner: 200 }),
  'GET /api/v1/custody/releases': row({ case_manager: 200, discharge_planner: 200 }),
};

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** The routes Express will dispatch (Nest controllers and anything else mounted), as "METHOD /path". */
function servedRoutes(instance: unknown): string[] {
  const app = instance as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
  const out = new Set<string>();
  const walk = (layers: Layer[]): void => {
    for (const l of layers) {
      if (l.route) {
        // Nest's not-found fallback (app.all('/{*path}')) serves nothing.
        if (l.route.path === '/{*path}') continue;
        for (const [m, on] of Object.entries(l.route.methods)) {
          if (on && m !== '_all') out.add(`${m.toUpperCase()} ${l.route.path.startsWith('/api/docs') ? '/api/docs*' : l.route.path}`);
        }
      } else if (l.handle?.stack) walk(l.handle.stack);
    }
  };
  walk((app.router ?? app._router)?.stack ?? []);
  return [...out].sort();
}

interface Answer {
  status: number;
  body: string;
}

describe('authorization matrix: every endpoint × every role', () => {
  let stack: TestStack;
  let port: number;
  let personId: string;
  const creds = {} as Record<Caller, string | null>;
  const answers: { route: string; caller: Caller; answer: Answer }[] = [];
  const ssns = ['501-22-3344', '612-33-4455'];
  const DAY = 86_400_000;
  const iso = (ms: number): string => new Date(Date.now() + ms).toISOString();

  function call(method: string, path: string, caller: Caller): Promise<Answer> {
    const purpose = PURPOSE[caller];
    const cred = creds[caller];
    const body = method === 'POST' ? JSON.stringify({ events: [makeEvent({}, { recordId: 'MX-1', firstName: 'Ana', lastName: 'Matrix', ssn: ssns[1] })] }) : undefined;
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port, path, method,
        headers: {
          ...(cred ? { Authorization: `Bearer ${cred}` } : {}), ...(purpose ? { 'X-Purpose-Of-Use': purpose } : {}),
          ...(body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}),
        },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        // A stream never ends: its status and first bytes are the answer.
        if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          res.once('data', (c: string) => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, body: c });
          });
          return;
        }
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    const jail = await stack.createSource('county-jail', 'jail');
    const court = await stack.createSource('county-court', 'court');
    await stack.createSource('coalition-office', 'other');
    const maria = { firstName: 'Maria', lastName: 'Lopez', dateOfBirth: '1980-02-03', ssn: ssns[0], address: { line1: '12 Elm Street', city: 'Springfield', state: 'NM', postalCode: '87001' } };
    const events = [
      [jail, makeEvent({ type: 'booking', occurredAt: iso(-3 * DAY), details: { bookingNumber: 'B-1', facility: 'Main', scheduledReleaseAt: iso(2 * DAY) } }, { recordId: 'J-1', ...maria })],
      [jail, makeEvent({ type: 'need_opened', occurredAt: iso(-3 * DAY), details: { needId: 'N-1', category: 'housing' } }, { recordId: 'J-1', ...maria })],
      [court, makeEvent({ type: 'court_case', occurredAt: iso(-2 * DAY), details: { caseNumber: 'CR-1', caseType: 'misdemeanor' } }, { recordId: 'C-1', ...maria })],
      [jail, makeEvent({ type: 'consent_signed', occurredAt: iso(-DAY), details: { consentId: 'U-1', form: 'uroi', partners: ['county-court'], signedAt: iso(-DAY), expiresAt: iso(200 * DAY) } }, { recordId: 'J-1', ...maria })],
    ] as const;
    for (const [key, e] of events) {
      const res = await stack.sendEvents(key, [e]);
      expect(res.status).toBe(202);
      expect((res.body.results as { status: string; errors?: unknown }[])[0]).toMatchObject({ status: 'accepted' });
    }
    await stack.waitAppliedAndRefolded(events.length);
    const [p] = await stack.query<{ person_id: string }>(
      `SELECT lr.person_id FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id WHERE sr.record_id = 'J-1'`,
    );
    personId = p.person_id;

    const issuer = stack.api!.get(LocalIssuerService);
    const mint = (sub: string, agency: string, role: Role): Promise<string> => issuer.mint({ sub, agency, roles: [role], ttlSeconds: 3600 });
    creds.case_manager = await mint('cm', 'county-court', 'case_manager');
    creds.discharge_planner = await mint('dp', 'county-jail', 'discharge_planner');
    creds.data_steward = await mint('ds', 'coalition-office', 'data_steward');
    creds.auditor = await mint('au', 'coalition-office', 'auditor');
    creds.admin = await mint('ad', 'county-jail', 'admin');
    creds.source_key = court;
    creds.anonymous = null;

    const server: http.Server = stack.api!.getHttpServer();
    if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => stack.close());

  it('has a row for every route the app serves, and every row is a served route', () => {
    const served = servedRoutes(stack.api!.getHttpAdapter().getInstance());
    expect(served.length).toBeGreaterThan(5);
    expect(served.filter((r) => !(r in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((r) => !served.includes(r))).toEqual([]);
  });

  it('answers each caller as the matrix says', async () => {
    const wrong: string[] = [];
    for (const [route, expected] of Object.entries(MATRIX)) {
      const [method, template] = route.split(' ');
      const path = template.replace(':id', personId).replace('/api/docs*', '/api/docs-json') + (template.endsWith('/search') ? '?lastName=Lopez&firstName=Maria' : '');
      for (const caller of CALLERS) {
        const answer = await call(method, path, caller);
        answers.push({ route, caller, answer });
        if (answer.status !== expected[caller]) wrong.push(`${route} as ${caller}: ${answer.status}, expected ${expected[caller]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  const bodyOf = (route: string, caller: Caller): Record<string, unknown> => {
    const a = answers.find((x) => x.route === route && x.caller === caller);
    if (!a) throw new Error(`no answer for ${route} as ${caller}`);
    return JSON.parse(a.answer.body) as Record<string, unknown>;
  };

  it('returns the fields each role may see', async () => {
    // Agency view under consent: the court's case manager sees the jail's custody and needs.
    const cm = bodyOf('GET /api/v1/persons/:id', 'case_manager');
    expect((cm.custody as unknown[]).length).toBe(1);
    expect((cm.needs as unknown[]).length).toBe(1);
    expect(JSON.stringify(cm.records)).toContain('1980-02-03');
    // Steward: demographics of every record, nothing else.
    const ds = bodyOf('GET /api/v1/persons/:id', 'data_steward');
    const records = ds.records as { dateOfBirth?: string; ssnLast4?: string; agency: string }[];
    expect(records.map((r) => r.agency).sort()).toEqual(['county-court', 'county-jail']);
    expect(records[0]).toMatchObject({ dateOfBirth: '1980-02-03', ssnLast4: '3344' });
    for (const k of ['custody', 'cases', 'needs', 'referrals', 'services', 'contacts', 'consents', 'pointers']) expect(ds[k]).toEqual([]);
    // Steward's match explanations: the same records' demographics and each one's link decision, nothing else.
    const links = bodyOf('GET /api/v1/persons/:id/links', 'data_steward');
    expect(Object.keys(links).sort()).toEqual(['openReviewTasks', 'personId', 'records']);
    const linked = links.records as { agency: string; dateOfBirth?: string; ssnLast4?: string; link: { explanation: { fields: { bits: number }[] } } | null }[];
    expect(linked.map((r) => r.agency).sort()).toEqual(['county-court', 'county-jail']);
    expect(linked.find((r) => r.agency === 'county-jail')).toMatchObject({ dateOfBirth: '1980-02-03', ssnLast4: '3344' });
    for (const r of linked) expect(r.link).not.toBeNull();
    expect(linked.find((r) => r.agency === 'county-court')!.link!.explanation.fields.length).toBeGreaterThan(0);
    expect(JSON.stringify(links)).not.toMatch(/B-1|CR-1|housing|U-1|misdemeanor/);
    // Lists and search apply the same rules per entry: the court's case manager (jail consent names the court)
    // and the jail's discharge planner (own client) see custody and the housing need; the steward's
    // search gives demographics, no pointers, contacts or consent partners.
    type Entry = { personId: string; displayName: string | null; openNeeds: string[]; custody: { inCustody: boolean }; pointers: unknown[] };
    const cmList = (bodyOf('GET /api/v1/familiar-faces', 'case_manager').items as Entry[]).find((e) => e.personId === personId)!;
    expect(cmList).toMatchObject({ displayName: 'Maria Lopez', openNeeds: ['housing'], custody: { inCustody: true } });
    const dpList = (bodyOf('GET /api/v1/familiar-faces', 'discharge_planner').items as Entry[]).find((e) => e.personId === personId)!;
    expect(dpList).toMatchObject({ displayName: 'Maria Lopez', openNeeds: ['housing'], custody: { inCustody: true } });
    const release = (bodyOf('GET /api/v1/custody/releases', 'discharge_planner').items as (Entry & { scheduledReleaseAt: string; needs: unknown[] })[])
      .find((e) => e.personId === personId)!;
    expect(release.needs).toHaveLength(1);
    expect(release.scheduledReleaseAt).toEqual(expect.any(String));
    const dsSearch = (bodyOf('GET /api/v1/persons/search', 'data_steward').candidates as Record<string, unknown>[]).find((c) => c.personId === personId)!;
    expect(dsSearch).toMatchObject({ displayName: 'Maria Lopez', dateOfBirth: '1980-02-03', pointers: [], primaryContact: null });
    expect(JSON.stringify(dsSearch)).not.toMatch(/B-1|CR-1|housing|U-1|Main/);
    // Auditor's accounting of disclosures: who read, from where, why; no person data.
    // (Asked again now: the matrix called it before the person reads.)
    const again = await call('GET', `/api/v1/persons/${personId}/disclosures`, 'auditor');
    expect(again.status).toBe(200);
    const disc = JSON.parse(again.body) as Record<string, unknown>;
    expect((disc.disclosures as { action: string }[]).map((d) => d.action)).toEqual(expect.arrayContaining(['person.read', 'person.links.read']));
    expect(JSON.stringify(disc)).not.toMatch(/Lopez|Maria|1980-02-03|Elm Street/);
    // Auditor: the log, no person records.
    const au = bodyOf('GET /api/v1/audit', 'auditor');
    expect(JSON.stringify(au)).not.toMatch(/Lopez|1980-02-03|Elm Street/);
    // Admin: counts, no person data.
    expect(JSON.stringify(bodyOf('GET /api/v1/ingest/status', 'admin'))).not.toMatch(/Lopez|Maria|1980-02-03|Elm Street/);
    // Refusals carry no person data either.
    for (const a of answers.filter((x) => x.answer.status >= 400)) expect(a.answer.body).not.toMatch(/Lopez|Maria|1980-02-03|Elm Street/);
  });

  it('never returns a full SSN, with or without dashes, in any body', () => {
    expect(answers.length).toBe(Object.keys(MATRIX).length * CALLERS.length);
    for (const a of answers) {
      for (const ssn of ssns) {
        expect(a.answer.body).not.toContain(ssn);
        expect(a.answer.body).not.toContain(ssn.replace(/-/g, ''));
      }
    }
  });
});
