import { makeEvent, TestStack, waitFor } from '../support/stack';

interface Result {
  eventId: string | null;
  status: string;
  errors: { path: string; message: string }[];
}

/** Resends are safe: (source, eventId) is the identity, content decides duplicate or conflict. */
describe('ingest idempotency and ordering', () => {
  let stack: TestStack;
  let jail: string;
  let court: string;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('idem-jail', 'jail');
    court = await stack.createSource('idem-court', 'court');
  });
  afterAll(async () => stack?.close());

  const statuses = (res: { body: { results: Result[] } }): string[] => res.body.results.map((r) => r.status);
  const applied = (eventIds: string[]) =>
    waitFor(async () => {
      const r = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE event_id = ANY($1::text[]) AND applied_at IS NOT NULL`, [eventIds]);
      return Number(r[0].n) === eventIds.length;
    }, 20_000, `${eventIds.length} applied`);
  const counts = async (eventId: string) => {
    const [r] = await stack.query<{ inbox: string; events: string }>(
      `SELECT count(DISTINCT e.id) AS inbox, count(re.id) AS events
         FROM inbox_event e LEFT JOIN record_event re ON re.inbox_event_id = e.id WHERE e.event_id = $1`,
      [eventId],
    );
    return { inbox: Number(r.inbox), events: Number(r.events) };
  };

  it('answers a resend with the same content as duplicate, storing nothing twice', async () => {
    const ev = makeEvent({}, { recordId: 'D-1' });
    expect(statuses(await stack.sendEvents(jail, [ev]))).toEqual(['accepted']);
    await applied([ev.eventId as string]);
    // Same content, keys in another order.
    const reordered = Object.fromEntries(Object.entries(ev).reverse());
    const again = await stack.sendEvents(jail, [reordered]);
    expect(again.body.results).toEqual([{ eventId: ev.eventId, status: 'duplicate', errors: [], warnings: [] }]);
    // Give a (wrongly) queued second apply every chance to run before counting.
    await stack.sendEvents(jail, [makeEvent({}, { recordId: 'D-1b' })]).then((r) => applied([r.body.results[0].eventId as string]));
    expect(await counts(ev.eventId as string)).toEqual({ inbox: 1, events: 1 });
  });

  it('rejects a resend with different content as a conflict on eventId and keeps the first', async () => {
    const ev = makeEvent({}, { recordId: 'D-2' });
    await stack.sendEvents(jail, [ev]);
    const changed = { ...ev, details: { serviceType: 'changed' } };
    const res = await stack.sendEvents(jail, [changed]);
    expect(res.status).toBe(202);
    expect(res.body.results).toEqual([
      { eventId: ev.eventId, status: 'rejected', warnings: [], errors: [{ path: 'eventId', message: expect.stringMatching(/already accepted from this source with different content/) }] },
    ]);
    await applied([ev.eventId as string]);
    const rows = await stack.query<{ details: unknown }>(
      `SELECT re.details FROM record_event re JOIN inbox_event e ON e.id = re.inbox_event_id WHERE e.event_id = $1`,
      [ev.eventId],
    );
    expect(rows).toEqual([{ details: { serviceType: 'intake' } }]);
  });

  it('treats the same eventId from two sources as two events', async () => {
    const ev = makeEvent({}, { recordId: 'D-3' });
    expect(statuses(await stack.sendEvents(jail, [ev]))).toEqual(['accepted']);
    expect(statuses(await stack.sendEvents(court, [{ ...ev, details: { serviceType: 'other' } }]))).toEqual(['accepted']);
    expect(statuses(await stack.sendEvents(court, [{ ...ev, details: { serviceType: 'other' } }]))).toEqual(['duplicate']);
    await waitFor(async () => (await counts(ev.eventId as string)).events === 2, 20_000, 'both applied');
    const recs = await stack.query<{ code: string }>(
      `SELECT s.code FROM source_record r JOIN source s ON s.id = r.source_id WHERE r.record_id = 'D-3' ORDER BY s.code`,
    );
    expect(recs).toEqual([{ code: 'idem-court' }, { code: 'idem-jail' }]);
  });

  it('answers duplicates and conflicts inside one batch, against stored events too', async () => {
    const stored = makeEvent({}, { recordId: 'D-4' });
    await stack.sendEvents(jail, [stored]);
    const a = makeEvent({}, { recordId: 'D-4' });
    const b = makeEvent({}, { recordId: 'D-4' });
    const res = await stack.sendEvents(jail, [a, { ...a }, b, { ...b, details: { serviceType: 'x' } }, { ...stored }, { ...stored, type: 'need_closed', details: { needId: 'n' } }]);
    expect(statuses(res)).toEqual(['accepted', 'duplicate', 'accepted', 'rejected', 'duplicate', 'rejected']);
    expect((res.body.results as Result[])[3].errors.map((e) => e.path)).toEqual(['eventId']);
    expect((res.body.results as Result[])[5].errors.map((e) => e.path)).toEqual(['eventId']);
    await applied([stored, a, b].map((e) => e.eventId as string));
    for (const e of [stored, a, b]) expect(await counts(e.eventId as string)).toEqual({ inbox: 1, events: 1 });
  });

  it('keeps the newest demographics when an older event arrives later, and every version', async () => {
    const newer = makeEvent({ occurredAt: '2026-01-20T10:00:00Z' }, { recordId: 'O-1', lastName: 'Lopez-Garcia', dateOfBirth: '1980-02-03' });
    const older = makeEvent({ occurredAt: '2026-01-10T10:00:00Z' }, { recordId: 'O-1', lastName: 'Lopez', dateOfBirth: '1980-03-02' });
    await stack.sendEvents(jail, [newer]);
    await applied([newer.eventId as string]);
    await stack.sendEvents(jail, [older]);
    await applied([older.eventId as string]);

    const [rec] = await stack.query<{ id: string; demographics: Record<string, unknown>; demographics_as_of: Date; version: number }>(
      `SELECT id, demographics, demographics_as_of, version FROM source_record WHERE record_id = 'O-1'`,
    );
    expect(rec.demographics).toMatchObject({ lastName: 'Lopez-Garcia', dateOfBirth: '1980-02-03' });
    expect(rec.demographics_as_of.toISOString()).toBe('2026-01-20T10:00:00.000Z');
    expect(rec.version).toBe(2);

    const versions = await stack.query<{ version: number; last: string; occurred_at: Date }>(
      `SELECT version, demographics->>'lastName' AS last, occurred_at FROM source_record_version WHERE source_record_id = $1 ORDER BY version`,
      [rec.id],
    );
    expect(versions.map((v) => [v.version, v.last, v.occurred_at.toISOString()])).toEqual([
      [1, 'Lopez-Garcia', '2026-01-20T10:00:00.000Z'],
      [2, 'Lopez', '2026-01-10T10:00:00.000Z'],
    ]);
    const events = await stack.query<{ occurred_at: Date }>(`SELECT occurred_at FROM record_event WHERE source_record_id = $1 ORDER BY occurred_at`, [rec.id]);
    expect(events.map((e) => e.occurred_at.toISOString())).toEqual(['2026-01-10T10:00:00.000Z', '2026-01-20T10:00:00.000Z']);
  });
});
