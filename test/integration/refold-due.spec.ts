import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { Client } from 'pg';
import { EventApplyService } from '../../src/ingest/event-apply.service';
import { IngestStatusService } from '../../src/ingest/ingest-status.service';
import { applyJobId, INGEST_QUEUE } from '../../src/ingest/ingest.queue';
import { RedriveService } from '../../src/ingest/redrive.service';
import { ProjectionService } from '../../src/persons/projection.service';
import { makeEvent, TestStack, waitFor } from '../support/stack';

/** The refold that follows an apply in its own transaction: its debt is recorded, swept and never lost. */
describe('refold after apply', () => {
  let stack: TestStack;
  let key: string;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    key = await stack.createSource('due-jail', 'jail');
  });
  afterAll(async () => stack?.close());

  const viewOf = async (personId: string): Promise<{ open_needs: string[] } | undefined> =>
    (await stack.query<{ open_needs: string[] }>(`SELECT open_needs FROM person_view WHERE person_id = $1`, [personId]))[0];
  const due = async (): Promise<string[]> =>
    (await stack.query<{ person_id: string }>(`SELECT person_id::text AS person_id FROM person_refold_due ORDER BY id`)).map((r) => r.person_id);

  it('records the persons an apply touched as due, in its transaction, and the sweep refolds what no refold followed', async () => {
    const ev = makeEvent(
      { eventId: 'due-1', type: 'need_opened', details: { needId: 'N-1', category: 'housing' } },
      { recordId: 'D-1', firstName: 'Rosa', lastName: 'Tsosie', dateOfBirth: '1975-03-04' },
    );
    expect((await stack.sendEvents(key, [ev])).status).toBe(202);
    const [row] = await stack.query<{ id: string }>(`SELECT id::text AS id FROM inbox_event WHERE event_id = 'due-1'`);
    // The apply commits; the process stops before the refold that would follow it.
    const res = await stack.api!.get(EventApplyService).apply(row.id);
    const person = await stack.personOf('due-jail', 'D-1');
    expect(res!.personIds).toEqual([person]);
    expect(await due()).toEqual([person]);
    expect(await viewOf(person)).toBeUndefined();
    expect((await stack.api!.get(IngestStatusService).status()).refoldsPending).toBe(1);

    // A worker starts; its job finds the event applied (no refold from it), and the sweep refolds the person.
    const worker = await stack.startWorker();
    const swept = await worker.get(RedriveService).sweepRefolds(0);
    expect(swept).toBe(1);
    expect(await due()).toEqual([]);
    expect((await viewOf(person))?.open_needs).toEqual(['housing']);
    expect((await stack.api!.get(IngestStatusService).status()).refoldsPending).toBe(0);
    expect(await worker.get(RedriveService).sweepRefolds(0)).toBe(0);
    await stack.stopWorkers();
  });

  it('a refold deletes only the due rows committed before its load; a later one stays for the next refold', async () => {
    const person = await stack.personOf('due-jail', 'D-1');
    const other = new Client({ connectionString: stack.dbUrl });
    await other.connect();
    try {
      // An apply in flight: its due row is written but not committed while the refold runs.
      await other.query('BEGIN');
      await other.query(`INSERT INTO person_refold_due (person_id) VALUES ($1)`, [person]);
      await stack.db.query(`INSERT INTO person_refold_due (person_id) VALUES ($1)`, [person]);
      expect(await due()).toEqual([person]);
      await stack.db.transaction((em) => stack.api!.get(ProjectionService).refold(em, [person]));
      expect(await due()).toEqual([]);
      await other.query('COMMIT');
      expect(await due()).toEqual([person]);
      await stack.db.transaction((em) => stack.api!.get(ProjectionService).refold(em, [person]));
      expect(await due()).toEqual([]);
    } finally {
      await other.end();
    }
  });

  it('a job completes only once the refold after its apply committed', async () => {
    const person = await stack.personOf('due-jail', 'D-1');
    const worker = await stack.startWorker();
    const queue = worker.get<Queue>(getQueueToken(INGEST_QUEUE));
    const holder = new Client({ connectionString: stack.dbUrl });
    await holder.connect();
    try {
      // The person's refold lock, held elsewhere: the refold after the apply waits for it.
      await holder.query(`SELECT pg_advisory_lock(hashtextextended('person:' || $1, 2))`, [person]);
      const ev = makeEvent(
        { eventId: 'due-2', type: 'need_opened', details: { needId: 'N-2', category: 'legal' } },
        { recordId: 'D-1', firstName: 'Rosa', lastName: 'Tsosie', dateOfBirth: '1975-03-04' },
      );
      expect((await stack.sendEvents(key, [ev])).status).toBe(202);
      const [row] = await stack.query<{ id: string }>(`SELECT id::text AS id FROM inbox_event WHERE event_id = 'due-2'`);
      await waitFor(async () => (await stack.query<{ applied_at: Date | null }>(`SELECT applied_at FROM inbox_event WHERE id = $1`, [row.id]))[0].applied_at, 20_000, 'the apply committed');
      await new Promise((r) => setTimeout(r, 300));
      expect(await queue.getJobState(applyJobId(row.id))).toBe('active');
      expect(await due()).toEqual([person]);
      expect((await viewOf(person))?.open_needs).toEqual(['housing']);

      await holder.query(`SELECT pg_advisory_unlock(hashtextextended('person:' || $1, 2))`, [person]);
      await waitFor(async () => (await queue.getJobState(applyJobId(row.id))) === 'completed', 20_000, 'the job completed');
      expect(await due()).toEqual([]);
      expect((await viewOf(person))?.open_needs).toEqual(['housing', 'legal']);
    } finally {
      await holder.end();
      await stack.stopWorkers();
    }
  });

  it('the sweep refolds the others when one person cannot be folded, and reports that one', async () => {
    const good = await stack.personOf('due-jail', 'D-1');
    const booking = makeEvent(
      { eventId: 'due-bad', type: 'booking', details: { bookingNumber: 'B-9', scheduledReleaseAt: '2026-02-01T00:00:00Z' } },
      { recordId: 'D-9', firstName: 'Tomas', lastName: 'Begay', dateOfBirth: '1961-11-30' },
    );
    expect((await stack.sendEvents(key, [booking])).status).toBe(202);
    const [row] = await stack.query<{ id: string }>(`SELECT id::text AS id FROM inbox_event WHERE event_id = 'due-bad'`);
    await stack.api!.get(EventApplyService).apply(row.id);
    const bad = await stack.personOf('due-jail', 'D-9');
    // A stored event the fold cannot read (the contract never lets one in; this stands for a fold defect).
    await stack.db.query(`UPDATE record_event SET details = jsonb_set(details, '{scheduledReleaseAt}', '"not a time"') WHERE event_id = 'due-bad'`);
    await stack.db.query(`INSERT INTO person_refold_due (person_id) VALUES ($1)`, [good]);
    expect(new Set(await due())).toEqual(new Set([good, bad]));

    const worker = await stack.startWorker();
    await expect(worker.get(RedriveService).sweepRefolds(0)).rejects.toThrow(RangeError);
    expect(await due()).toEqual([bad]);
    expect((await stack.api!.get(IngestStatusService).status()).refoldsPending).toBe(1);
    await stack.db.query(`UPDATE record_event SET details = jsonb_set(details, '{scheduledReleaseAt}', '"2026-02-01T00:00:00Z"') WHERE event_id = 'due-bad'`);
    expect(await worker.get(RedriveService).sweepRefolds(0)).toBe(1);
    expect(await due()).toEqual([]);
    await stack.stopWorkers();
  });

  it('a person is not due until the grace period has passed, so the sweep leaves a live worker its own refolds', async () => {
    const person = await stack.personOf('due-jail', 'D-1');
    await stack.db.query(`INSERT INTO person_refold_due (person_id) VALUES ($1)`, [person]);
    const worker = await stack.startWorker();
    expect(await worker.get(RedriveService).sweepRefolds(60_000)).toBe(0);
    expect(await due()).toEqual([person]);
    expect(await worker.get(RedriveService).sweepRefolds(0)).toBe(1);
    expect(await due()).toEqual([]);
    await stack.stopWorkers();
  });
});
