import { makeEvent, TestStack, waitFor } from '../support/stack';

/** Deletes this stack's queue keys only: other test files share the Redis server. */
async function wipeQueue(stack: TestStack): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await stack.redis.scan(cursor, 'MATCH', `${stack.prefix}*`, 'COUNT', 1000);
    if (keys.length) deleted += await stack.redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

const openCount = async (stack: TestStack): Promise<number> =>
  Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NULL`))[0].n);

/** The inbox, not Redis, is the truth: anything accepted and not applied is queued again. */
describe('ingest re-drive', () => {
  let stack: TestStack;
  let key: string;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    key = await stack.createSource('redrive-src', 'provider');
  });
  afterAll(async () => stack?.close());

  it('applies every accepted event after the queue was wiped', async () => {
    const events = Array.from({ length: 60 }, (_, i) => makeEvent({ occurredAt: `2026-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z` }, { recordId: `RD-${i % 7}` }));
    const res = await stack.sendEvents(key, events);
    expect((res.body.results as { status: string }[]).every((r) => r.status === 'accepted')).toBe(true);
    // The jobs were queued, then Redis lost them.
    expect(await stack.redis.exists(`${stack.prefix}:ingest:apply-1`)).toBe(1);
    expect(await wipeQueue(stack)).toBeGreaterThan(0);
    expect(await stack.redis.exists(`${stack.prefix}:ingest:apply-1`)).toBe(0);
    expect(await openCount(stack)).toBe(60);

    await stack.startWorker({ REDRIVE_GRACE_MS: '0', REDRIVE_INTERVAL_MS: '200' });
    await waitFor(async () => (await openCount(stack)) === 0, 30_000, 'every event applied');
    const [{ n }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM record_event`);
    expect(Number(n)).toBe(60);
    const recs = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM source_record`);
    expect(Number(recs[0].n)).toBe(7);
  });
});
