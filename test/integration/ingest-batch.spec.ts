import { makeEvent, TestStack, waitFor } from '../support/stack';

interface Result {
  eventId: string | null;
  status: 'accepted' | 'duplicate' | 'rejected';
  errors: { path: string; message: string }[];
  warnings: { path: string; message: string }[];
}

/** One batch: every valid event is committed, every invalid one is named field by field. */
describe('POST /api/v1/events batches', () => {
  let stack: TestStack;
  let key: string;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1, env: { BODY_LIMIT: '200kb' } });
    key = await stack.createSource('county-court', 'court');
  });
  afterAll(async () => stack?.close());

  const future = new Date(Date.now() + 3 * 86_400_000).toISOString();
  const pathsOf = (r: Result): string[] => [...new Set(r.errors.map((e) => e.path))];

  it('accepts the valid events of a mixed batch, rejects the rest by field, in request order', async () => {
    const cases: [unknown, Result['status'], string[]][] = [
      [makeEvent({}, { recordId: 'M-1' }), 'accepted', []],
      [makeEvent({}, { dateOfBirth: '1980-02-30' }), 'rejected', ['subject.dateOfBirth']],
      [makeEvent({ type: 'booking', details: { facility: 'Main' } }), 'rejected', ['details.bookingNumber']],
      [makeEvent({ occurredAt: future }), 'rejected', ['occurredAt']],
      [makeEvent({}, { foo: 'bar' }), 'rejected', ['subject.foo']],
      [makeEvent({ type: 'arrest' }), 'rejected', ['type']],
      [makeEvent({ type: 'referral', details: { referralId: 'R-1', need: 'cake', status: 'open' } }), 'rejected', ['details.need']],
      [
        makeEvent({
          type: 'consent_signed',
          details: { consentId: 'K-1', form: 'uroi', partners: ['*'], signedAt: '2026-01-10T00:00:00Z', expiresAt: '2026-01-01T00:00:00Z' },
        }),
        'rejected',
        ['details.expiresAt'],
      ],
      [makeEvent({}, { recordId: 'M-2', ssn: '666-12-3456' }), 'accepted', []],
      ['not an event', 'rejected', ['']],
      [makeEvent({ type: 'record_corrected', details: {} }, { recordId: 'M-3' }), 'accepted', []],
    ];
    const res = await stack.sendEvents(key, cases.map((c) => c[0]));
    expect(res.status).toBe(202);
    const results = res.body.results as Result[];
    expect(results).toHaveLength(cases.length);
    results.forEach((r, i) => {
      const [ev, status, paths] = cases[i];
      expect({ i, status: r.status, paths: pathsOf(r) }).toEqual({ i, status, paths });
      expect(r.eventId).toBe(typeof ev === 'object' && ev !== null ? (ev as { eventId: string }).eventId : null);
      // Every message names the field it is about.
      for (const e of r.errors) expect(e.message).toContain(e.path);
    });
    expect(results[3].errors[0].message).toMatch(/future/);
    expect(results[7].errors[0].message).toBe('details.expiresAt must be after details.signedAt');
    expect(results[4].errors[0].message).toBe('subject.foo is not a known field');

    // The impossible SSN: accepted with a warning that does not repeat it.
    expect(results[8].warnings).toEqual([{ path: 'subject.ssn', message: expect.stringMatching(/structurally impossible.*dropped/) }]);
    expect(JSON.stringify(results[8])).not.toContain('3456');

    // Only the accepted events are stored.
    const accepted = cases.filter((c) => c[1] === 'accepted').map((c) => (c[0] as { eventId: string }).eventId).sort();
    const stored = await stack.query<{ event_id: string }>(`SELECT event_id FROM inbox_event ORDER BY event_id`);
    expect(stored.map((r) => r.event_id)).toEqual(accepted);

    // Applied without the dropped SSN.
    const recs = await waitFor(async () => {
      const r = await stack.query<{ record_id: string; demographics: Record<string, unknown> }>(
        `SELECT record_id, demographics FROM source_record ORDER BY record_id`,
      );
      return r.length === 3 ? r : null;
    }, 20_000, 'three source records');
    expect(recs.map((r) => r.record_id)).toEqual(['M-1', 'M-2', 'M-3']);
    expect(recs[1].demographics).not.toHaveProperty('ssn');
    expect(recs[1].demographics).toMatchObject({ firstName: 'Maria', lastName: 'Lopez' });
    const events = await stack.query<{ type: string }>(`SELECT type FROM record_event ORDER BY id`);
    expect(events.map((e) => e.type).sort()).toEqual(['record_corrected', 'service', 'service']);
  });

  it('answers malformed JSON with a 400 JSON body', async () => {
    const res = await stack.http().post('/api/v1/events').set('Authorization', `Bearer ${key}`).set('Content-Type', 'application/json').send('{"events": [');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual({ statusCode: 400, error: 'malformed_json', message: 'request body is not valid JSON' });
  });

  it('answers a body over BODY_LIMIT with 413 and stores nothing of it', async () => {
    const big = Array.from({ length: 1000 }, () => makeEvent({}, { middleName: 'x'.repeat(100), recordId: 'BIG' }));
    expect(JSON.stringify({ events: big }).length).toBeGreaterThan(200 * 1024);
    const res = await stack.sendEvents(key, big);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ statusCode: 413, error: 'payload_too_large' });
    expect(await stack.query(`SELECT 1 FROM inbox_event WHERE record_id = 'BIG'`)).toEqual([]);
  });

  it.each([
    ['missing', {}],
    ['null', { events: null }],
    ['not an array', { events: { a: 1 } }],
    ['empty', { events: [] }],
    ['over 1000', { events: Array.from({ length: 1001 }, () => ({})) }],
  ])('refuses events %s with 400 naming events', async (_what, body) => {
    const res = await stack.http().post('/api/v1/events').set('Authorization', `Bearer ${key}`).send(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'validation_failed' });
    expect(res.body.errors).toEqual([{ path: 'events', message: expect.stringMatching(/^events must be an array of 1 to 1000 events/) }]);
  });

  it('refuses a body that is a JSON array with 400 naming events', async () => {
    const res = await stack.http().post('/api/v1/events').set('Authorization', `Bearer ${key}`).send([makeEvent()]);
    expect(res.status).toBe(400);
    expect((res.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['events']);
  });

  it('accepts exactly 1000 events', async () => {
    const evs = Array.from({ length: 1000 }, (_, i) => ({ eventId: `k-${i}`, type: 'need_closed', occurredAt: '2026-01-01T00:00:00Z', subject: { recordId: 'K', firstName: 'A', lastName: 'B' }, details: { needId: 'n' } }));
    expect(JSON.stringify({ events: evs }).length).toBeLessThan(200 * 1024);
    const res = await stack.sendEvents(key, evs);
    expect(res.status).toBe(202);
    expect((res.body.results as Result[]).every((r) => r.status === 'accepted')).toBe(true);
  });
});
