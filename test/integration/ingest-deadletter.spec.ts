import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalIssuerService } from '../../src/access/local-issuer.service';
import { IngestStatusService, type IngestCounts } from '../../src/ingest/ingest-status.service';
import { makeEvent, TestStack, waitFor } from '../support/stack';

const run = promisify(execFile);
const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

const ZERO: IngestCounts = { received: 0, processed: 0, pending: 0, failed: 0, deadLettered: 0 };

/**
 * An event that always fails is dead-lettered after INGEST_ATTEMPTS, shows in the status,
 * and is applied once the cause is fixed and it is retried.
 */
describe('ingest dead letters and status', () => {
  let stack: TestStack;
  let keyA: string;
  let keyB: string;
  let status: IngestStatusService;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1, env: { INGEST_ATTEMPTS: '2', INGEST_BACKOFF_MS: '20' } });
    keyA = await stack.createSource('dl-a', 'provider');
    keyB = await stack.createSource('dl-b', 'provider');
    await stack.createSource('dl-idle', 'court');
    status = stack.api!.get(IngestStatusService);
    // The "bug": applying an event marked poison fails every time.
    await stack.query(`CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.details->>'serviceType' = 'poison' THEN RAISE EXCEPTION 'poisoned test event'; END IF;
        RETURN NEW;
      END $$`);
    await stack.query(`CREATE TRIGGER test_poison_trg BEFORE INSERT ON record_event FOR EACH ROW EXECUTE FUNCTION test_poison()`);
  });
  afterAll(async () => stack?.close());

  const inbox = (eventId: string) =>
    stack.query<{ applied_at: Date | null; dead_lettered_at: Date | null; attempts: number; last_error: string | null }>(
      `SELECT applied_at, dead_lettered_at, attempts, last_error FROM inbox_event WHERE event_id = $1`,
      [eventId],
    ).then((r) => r[0]);

  const cli = async (args: string[]): Promise<unknown> => {
    const { stdout } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL, QUEUE_PREFIX: stack.prefix, LOG_LEVEL: 'silent' },
      timeout: 30_000,
    });
    const lines = stdout.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]);
  };

  it('starts with zero counts for every source', async () => {
    expect(await status.status()).toEqual({ ...ZERO, refoldsPending: 0, sources: { 'dl-a': ZERO, 'dl-b': ZERO, 'dl-idle': ZERO } });
  });

  it('dead-letters a poison event after INGEST_ATTEMPTS and counts it', async () => {
    const good = makeEvent({}, { recordId: 'P-0' });
    const poisonA = makeEvent({ details: { serviceType: 'poison' } }, { recordId: 'P-1' });
    const poisonB = makeEvent({ details: { serviceType: 'poison' } }, { recordId: 'P-2' });
    await stack.sendEvents(keyA, [good, poisonA]);
    await stack.sendEvents(keyB, [poisonB]);

    for (const ev of [poisonA, poisonB]) {
      const row = await waitFor(async () => {
        const r = await inbox(ev.eventId as string);
        return r?.dead_lettered_at ? r : null;
      }, 30_000, 'dead letter');
      expect(row.attempts).toBe(2);
      expect(row.applied_at).toBeNull();
      expect(row.last_error).toMatch(/poisoned test event/);
    }
    await waitFor(async () => (await inbox(good.eventId as string))?.applied_at, 20_000, 'good event applied');
    const [{ n }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM record_event`);
    expect(Number(n)).toBe(1);

    // The applied event's person is refolded just after its apply commits.
    const s = await waitFor(async () => {
      const now = await status.status();
      return now.refoldsPending === 0 && now;
    }, 20_000, 'the refold after the apply');
    expect(s).toEqual({
      received: 3, processed: 1, pending: 0, failed: 0, deadLettered: 2, refoldsPending: 0,
      sources: {
        'dl-a': { received: 2, processed: 1, pending: 0, failed: 0, deadLettered: 1 },
        'dl-b': { received: 1, processed: 0, pending: 0, failed: 0, deadLettered: 1 },
        'dl-idle': ZERO,
      },
    });

    // The same through the admin endpoint.
    const token = await stack.api!.get(LocalIssuerService).mint({ sub: 'ada', agency: 'dl-a', roles: ['admin'], ttlSeconds: 60 });
    const res = await stack.http().get('/api/v1/ingest/status').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(s);
  });

  it('shows the dead letters through the built CLI', async () => {
    // CI builds before testing; a checkout without dist/ tests the service only.
    if (!existsSync(CLI)) return;
    expect(await cli(['ingest', 'status', '--json'])).toMatchObject({ deadLettered: 2, sources: { 'dl-a': { deadLettered: 1 }, 'dl-b': { deadLettered: 1 } } });
  });

  it('re-queues one source, then the rest, once the cause is fixed', async () => {
    await stack.query(`DROP TRIGGER test_poison_trg ON record_event`);

    expect(await status.retryDeadLettered('dl-a')).toEqual({ requeued: 1 });
    await waitFor(async () => (await status.status()).sources['dl-a'].processed === 2, 20_000, 'dl-a applied');
    expect((await status.status()).sources['dl-b']).toMatchObject({ deadLettered: 1, processed: 0 });

    if (existsSync(CLI)) expect(await cli(['ingest', 'retry', '--json'])).toEqual({ requeued: 1 });
    else expect(await status.retryDeadLettered()).toEqual({ requeued: 1 });
    await waitFor(async () => (await status.status()).processed === 3, 20_000, 'everything applied');

    expect(await status.status()).toMatchObject({ received: 3, processed: 3, pending: 0, failed: 0, deadLettered: 0 });
    const rows = await stack.query<{ attempts: number; last_error: string | null }>(`SELECT attempts, last_error FROM inbox_event ORDER BY id`);
    expect(rows.map((r) => r.last_error)).toEqual([null, null, null]);
    const [{ n }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM record_event`);
    expect(Number(n)).toBe(3);
    // Nothing left to retry.
    expect(await status.retryDeadLettered()).toEqual({ requeued: 0 });
  });

  it('names an unknown source when retrying', async () => {
    await expect(status.retryDeadLettered('nope')).rejects.toThrow('source nope not found');
  });
});
