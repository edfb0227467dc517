import { makeEvent, TestStack, waitFor } from '../support/stack';

describe('POST /api/v1/events', () => {
  let stack: TestStack;
  let key: string;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    key = await stack.createSource('county-jail', 'jail');
  });
  afterAll(async () => stack.close());

  it('accepts a valid event, commits it and applies it to a source record', async () => {
    const ev = makeEvent({}, { recordId: 'J-1' });
    const res = await stack.sendEvents(key, [ev]);
    expect(res.status).toBe(202);
    expect(res.body.results).toEqual([{ eventId: ev.eventId, status: 'accepted', errors: [], warnings: [] }]);
    const rows = await waitFor(async () => {
      const r = await stack.query<{ applied_at: Date | null }>(`SELECT applied_at FROM inbox_event WHERE event_id = $1`, [ev.eventId]);
      return r[0]?.applied_at ? r : null;
    });
    expect(rows).toHaveLength(1);
    const recs = await stack.query<{ record_id: string; version: number }>(`SELECT record_id, version FROM source_record`);
    expect(recs).toEqual([{ record_id: 'J-1', version: 1 }]);
  });
});
