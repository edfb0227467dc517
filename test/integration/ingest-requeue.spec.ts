import { makeEvent, TestStack, waitFor } from '../support/stack';

/**
 * A queue can remember a job id the database no longer has applied: a restored or re-created
 * database behind the same Redis and QUEUE_PREFIX. Adding the job again is ignored by BullMQ,
 * so the re-drive must re-run it.
 */
describe('re-drive of rows whose job the queue already completed', () => {
  let first: TestStack;
  let second: TestStack;

  beforeAll(async () => {
    first = await TestStack.start({ workers: 1 });
  });
  afterAll(async () => {
    await second?.close();
    await first.close();
  });

  it('applies an event whose job id the queue remembers as completed', async () => {
    const key1 = await first.createSource('county-jail', 'jail');
    await first.sendEvents(key1, [makeEvent({ eventId: 'a-1' }, { recordId: 'A-1' })]);
    await waitFor(async () => (await first.query<{ applied_at: Date | null }>(`SELECT applied_at FROM inbox_event`))[0]?.applied_at, 60_000, 'first database applied');
    await first.stopWorkers();

    // A fresh database, same queue prefix: its first inbox row gets the same id, so the same job id.
    second = await TestStack.start({ workers: 1, env: { QUEUE_PREFIX: first.prefix, REDRIVE_GRACE_MS: '0', REDRIVE_INTERVAL_MS: '200' } });
    const key2 = await second.createSource('county-jail', 'jail');
    expect((await second.sendEvents(key2, [makeEvent({ eventId: 'b-1' }, { recordId: 'B-1' })])).status).toBe(202);
    const [row] = await waitFor(async () => {
      const r = await second.query<{ id: string; applied_at: Date | null }>(`SELECT id, applied_at FROM inbox_event`);
      return r[0]?.applied_at ? r : null;
    }, 60_000, 'second database applied');
    expect(row.id).toBe('1');
  });
});
