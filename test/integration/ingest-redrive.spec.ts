import { EventApplyService } from '../../src/ingest/event-apply.service';
import { IngestStatusService } from '../../src/ingest/ingest-status.service';
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

const REDRIVE_FAST = { REDRIVE_GRACE_MS: '0', REDRIVE_INTERVAL_MS: '200' };

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

    // Status: all pending; one with a failed attempt behind it counts as failed too.
    const status = stack.api!.get(IngestStatusService);
    const pending = { received: 60, processed: 0, pending: 60, failed: 0, deadLettered: 0 };
    expect(await status.status()).toEqual({ ...pending, refoldsPending: 0, sources: { 'redrive-src': pending } });
    const [{ id }] = await stack.query<{ id: string }>(`SELECT min(id)::text AS id FROM inbox_event`);
    await stack.api!.get(EventApplyService).recordFailure(id, new Error('transient'), false);
    expect(await status.status()).toMatchObject({ pending: 60, failed: 1, sources: { 'redrive-src': { pending: 60, failed: 1 } } });

    await stack.startWorker(REDRIVE_FAST);
    await waitFor(async () => (await openCount(stack)) === 0, 30_000, 'every event applied');
    const [{ n }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM record_event`);
    expect(Number(n)).toBe(60);
    const recs = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM source_record`);
    expect(Number(recs[0].n)).toBe(7);
    const done = { received: 60, processed: 60, pending: 0, failed: 0, deadLettered: 0 };
    // The read model follows each apply by one refold.
    const settled = await waitFor(async () => {
      const now = await status.status();
      return now.refoldsPending === 0 && now;
    }, 30_000, 'the refolds after the applies');
    expect(settled).toEqual({ ...done, refoldsPending: 0, sources: { 'redrive-src': done } });
  });

  it('revives an event whose job BullMQ gave up on without its failure being recorded', async () => {
    // Applying fails, and so does recording the failure (as when the database is down), so the
    // row stays open while its job ends in the failed set after INGEST_ATTEMPTS.
    await stack.query(`CREATE SEQUENCE test_fail_seq`);
    await stack.query(`CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.details->>'serviceType' = 'stuck' THEN PERFORM nextval('test_fail_seq'); RAISE EXCEPTION 'apply down'; END IF;
        RETURN NEW;
      END $$`);
    await stack.query(`CREATE FUNCTION test_no_failure() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.attempts <> OLD.attempts THEN RAISE EXCEPTION 'database down'; END IF;
        RETURN NEW;
      END $$`);
    await stack.query(`CREATE TRIGGER test_fail_trg BEFORE INSERT ON record_event FOR EACH ROW EXECUTE FUNCTION test_fail()`);
    await stack.query(`CREATE TRIGGER test_no_failure_trg BEFORE UPDATE ON inbox_event FOR EACH ROW EXECUTE FUNCTION test_no_failure()`);

    if (stack.workers.length === 0) await stack.startWorker(REDRIVE_FAST);
    const ev = makeEvent({ details: { serviceType: 'stuck' } }, { recordId: 'RD-stuck' });
    await stack.sendEvents(key, [ev]);
    // Every attempt (INGEST_ATTEMPTS, 5 by default) has failed.
    await waitFor(async () => {
      const [r] = await stack.query<{ n: string }>(`SELECT last_value AS n FROM test_fail_seq`);
      return Number(r.n) >= 5;
    }, 30_000, 'five failed attempts');
    const [row] = await stack.query<{ attempts: number; dead: Date | null }>(`SELECT attempts, dead_lettered_at AS dead FROM inbox_event WHERE event_id = $1`, [ev.eventId]);
    expect(row).toEqual({ attempts: 0, dead: null });

    await stack.query(`DROP TRIGGER test_fail_trg ON record_event`);
    await stack.query(`DROP TRIGGER test_no_failure_trg ON inbox_event`);
    await waitFor(async () => {
      const [r] = await stack.query<{ applied_at: Date | null }>(`SELECT applied_at FROM inbox_event WHERE event_id = $1`, [ev.eventId]);
      return r.applied_at;
    }, 30_000, 'the stranded event applied');
  });
});
