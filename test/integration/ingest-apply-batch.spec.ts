import { AuditVerifyService } from '../../src/audit/audit-verify.service';
import { EventApplyService } from '../../src/ingest/event-apply.service';
import { RefoldBatcher } from '../../src/persons/refold.batcher';
import { makeEvent, TestStack, waitFor } from '../support/stack';

const at = (minute: number): string => new Date(Date.parse('2025-06-01T00:00:00Z') + minute * 60_000).toISOString();

/** Events of three records, sent out of order: demographics changes, a late change, ties, a repeat. */
function recordStory(): Record<string, unknown>[] {
  const maria = { recordId: 'S-1', firstName: 'Maria', lastName: 'Lopez', dateOfBirth: '1980-02-03' };
  return [
    makeEvent({ eventId: 's1-c', occurredAt: at(30), type: 'need_opened', details: { needId: 'N-1', category: 'housing' } }, { ...maria, address: { line1: '12 Oak St', city: 'Springfield' } }),
    makeEvent({ eventId: 's1-a', occurredAt: at(10), type: 'booking', details: { bookingNumber: 'B-1' } }, maria),
    makeEvent({ eventId: 's1-e', occurredAt: at(50), type: 'service', details: { serviceType: 'intake' } }, { ...maria, address: { line1: '12 Oak St', city: 'Springfield' } }),
    // Late: happened before the newest demographics, so it adds a version without overwriting them.
    makeEvent({ eventId: 's1-late', occurredAt: at(20), type: 'release', details: { bookingNumber: 'B-1' } }, { ...maria, lastName: 'Lopez-Garcia' }),
    makeEvent({ eventId: 's1-d', occurredAt: at(40), type: 'referral', details: { referralId: 'R-1', need: 'housing', status: 'open' } }, { ...maria, phone: '555-010-0000' }),
    // Same instant as s1-d with other demographics: ties go by arrival (inbox id).
    makeEvent({ eventId: 's1-d2', occurredAt: at(40), type: 'need_closed', details: { needId: 'N-1' } }, { ...maria, phone: '555-010-1111' }),
    makeEvent({ eventId: 's2-a', occurredAt: at(15), type: 'court_case', details: { caseNumber: 'C-1' } }, { recordId: 'S-2', firstName: 'Tom', lastName: 'Baker', dateOfBirth: '1975-07-08' }),
    makeEvent({ eventId: 's3-b', occurredAt: at(60), type: 'service', details: { serviceType: 'visit' } }, { recordId: 'S-3', firstName: 'Ana', lastName: 'Ruiz', dateOfBirth: '1990-01-01', ssn: '123-45-6789' }),
  ];
}

/** Everything an apply leaves, without generated ids or wall-clock times. */
async function appliedState(stack: TestStack): Promise<unknown> {
  const records = await stack.query(
    `SELECT record_id, demographics, encode(demographics_hash, 'hex') AS hash, demographics_as_of, version FROM source_record ORDER BY record_id`,
  );
  const versions = await stack.query(
    `SELECT sr.record_id, v.version, encode(v.demographics_hash, 'hex') AS hash, v.occurred_at, i.event_id
       FROM source_record_version v JOIN source_record sr ON sr.id = v.source_record_id JOIN inbox_event i ON i.id = v.inbox_event_id
      ORDER BY sr.record_id, v.version`,
  );
  // record_event ids order the fold among events of the same instant.
  const events = await stack.query(
    `SELECT sr.record_id, i.event_id, e.type, e.occurred_at, e.details,
            rank() OVER (PARTITION BY e.source_record_id ORDER BY e.occurred_at, e.id) AS pos
       FROM record_event e JOIN source_record sr ON sr.id = e.source_record_id JOIN inbox_event i ON i.id = e.inbox_event_id
      ORDER BY sr.record_id, pos`,
  );
  const views = await stack.query<{ state: Record<string, unknown> }>(
    `SELECT v.state, v.display_name, v.familiar, v.open_needs FROM person_view v ORDER BY v.display_name`,
  );
  const strip = (v: unknown): unknown =>
    JSON.parse(JSON.stringify(v, (k, x: unknown) => (['personId', 'sourceRecordId', 'id', 'foldedAt', 'recordIds'].includes(k) ? undefined : x)));
  const unapplied = await stack.query(`SELECT event_id FROM inbox_event WHERE applied_at IS NULL`);
  return { records, versions, events, views: views.map(strip), unapplied };
}

describe('batched apply', () => {
  describe('events of one record in one batch', () => {
    let batched: TestStack;
    let sequential: TestStack;

    beforeAll(async () => {
      batched = await TestStack.start({ workers: 0 });
      sequential = await TestStack.start({ workers: 0 });
    });
    afterAll(async () => {
      await batched?.close();
      await sequential?.close();
    });

    it('leave exactly the state that applying them one by one in occurredAt order leaves', async () => {
      const story = recordStory();
      // Record S-3 exists before the batch in both databases (the batch then updates it).
      const first = makeEvent({ eventId: 's3-a', occurredAt: at(5) }, { recordId: 'S-3', firstName: 'Ana', lastName: 'Ruiz', dateOfBirth: '1990-01-01' });
      for (const stack of [batched, sequential]) {
        const key = await stack.createSource('batch-src', 'jail');
        expect((await stack.sendEvents(key, [first])).status).toBe(202);
        const [pre] = await stack.query<{ id: string }>(`SELECT id::text AS id FROM inbox_event`);
        const res = await stack.api!.get(EventApplyService).apply(pre.id);
        await stack.api!.get(RefoldBatcher).refresh(res!.personIds);
        expect((await stack.sendEvents(key, story)).status).toBe(202);
      }

      const ids = (await batched.query<{ id: string }>(`SELECT id::text AS id FROM inbox_event WHERE applied_at IS NULL ORDER BY id DESC`)).map((r) => r.id);
      const out = await batched.api!.get(EventApplyService).applyBatch(ids);
      // One transaction took every event.
      expect({ applied: out.applied.size, deferred: out.deferred, missing: out.missing }).toEqual({ applied: story.length, deferred: [], missing: [] });
      // The apply leaves its persons due; the refold after the commit folds them.
      expect(Number((await batched.query<{ n: string }>(`SELECT count(DISTINCT person_id) AS n FROM person_refold_due`))[0].n)).toBe(out.personIds.length);
      await batched.api!.get(RefoldBatcher).refresh(out.personIds);
      expect(await batched.query(`SELECT person_id FROM person_refold_due`)).toEqual([]);

      const seq = await sequential.query<{ id: string }>(`SELECT id::text AS id FROM inbox_event WHERE applied_at IS NULL ORDER BY occurred_at, id`);
      for (const { id } of seq) {
        const res = await sequential.api!.get(EventApplyService).apply(id);
        await sequential.api!.get(RefoldBatcher).refresh(res!.personIds);
      }

      const want = await appliedState(sequential);
      expect(await appliedState(batched)).toEqual(want);
      // Sanity: the story exercised versions, a late version and the fold.
      expect((want as { versions: unknown[] }).versions.length).toBeGreaterThanOrEqual(6);
      expect((want as { views: unknown[] }).views.length).toBeGreaterThanOrEqual(3);

      // A second batch of the same ids changes nothing (idempotent) and reports them as applied before.
      const again = await batched.api!.get(EventApplyService).applyBatch(ids);
      expect([...again.applied.values()].every((v) => v === null)).toBe(true);
      expect(await appliedState(batched)).toEqual(want);
    });
  });

  describe('in the worker', () => {
    let stack: TestStack;

    beforeAll(async () => {
      // A generous linger so the test's events land in few batches even on a busy machine.
      stack = await TestStack.start({
        workers: 0,
        env: { WORKER_CONCURRENCY: '60', INGEST_APPLY_BATCH_SIZE: '30', INGEST_APPLY_LINGER_MS: '300', INGEST_ATTEMPTS: '2', INGEST_BACKOFF_MS: '100' },
      });
    });
    afterAll(async () => stack?.close());

    it('writes one audit entry per applied event, in batches, and the chain verifies', async () => {
      const key = await stack.createSource('audit-src', 'court', 'county-court');
      const events = Array.from({ length: 40 }, (_, i) =>
        makeEvent({ eventId: `au-${i}`, occurredAt: at(i) }, { recordId: `AU-${i % 10}`, firstName: `Name${i % 10}`, lastName: i < 20 ? 'Smith' : 'Smythe' }),
      );
      expect((await stack.sendEvents(key, events)).status).toBe(202);
      await stack.startWorker();
      await waitFor(async () => {
        const [r] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NULL`);
        return Number(r.n) === 0;
      }, 60_000, 'every event applied');

      const entries = await stack.query<{ resource: string; actor: string; actor_kind: string; agency: string; person_ids: string[]; details: Record<string, unknown>; time: Date }>(
        `SELECT resource, actor, actor_kind, agency, person_ids, details, time FROM audit_entry WHERE action = 'event.apply' ORDER BY seq`,
      );
      const inbox = await stack.query<{ id: string; person_id: string; source_record_id: string }>(
        `SELECT i.id::text AS id, lr.person_id::text AS person_id, sr.id::text AS source_record_id
           FROM inbox_event i JOIN source_record sr ON sr.source_id = i.source_id AND sr.record_id = i.record_id
           JOIN linkage_record lr ON lr.source_record_id = sr.id`,
      );
      expect(entries.map((e) => e.resource).sort()).toEqual(inbox.map((r) => `inbox-event/${r.id}`).sort());
      const byResource = new Map(entries.map((e) => [e.resource, e]));
      for (const r of inbox) {
        const e = byResource.get(`inbox-event/${r.id}`)!;
        expect({ actor: e.actor, kind: e.actor_kind, agency: e.agency, record: e.details.sourceRecordId }).toEqual({
          actor: 'source:audit-src', kind: 'source', agency: 'county-court', record: r.source_record_id,
        });
        expect(e.person_ids).toContain(r.person_id);
      }
      // Each new record's linking event carries the link decision.
      const linked = entries.filter((e) => typeof e.details.decisionId === 'string');
      expect(linked.length).toBeGreaterThanOrEqual(10);
      expect(new Set(linked.map((e) => e.details.link))).not.toContain(undefined);
      // Batched: entries of one batch are appended under one head lock and share its time.
      expect(new Set(entries.map((e) => e.time.toISOString())).size).toBeLessThan(entries.length / 2);

      const report = await stack.api!.get(AuditVerifyService).verify();
      expect(report).toMatchObject({ ok: true, firstBreak: null });
      await stack.stopWorkers();
    });

    it('a failing event in a batch fails only its own job; the others apply', async () => {
      await stack.query(`CREATE FUNCTION test_batch_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.details->>'serviceType' = 'poison' THEN RAISE EXCEPTION 'poisoned test event'; END IF;
          RETURN NEW;
        END $$`);
      await stack.query(`CREATE TRIGGER test_batch_poison_trg BEFORE INSERT ON record_event FOR EACH ROW EXECUTE FUNCTION test_batch_poison()`);
      try {
        const key = await stack.createSource('poison-src', 'jail');
        const events = Array.from({ length: 25 }, (_, i) =>
          makeEvent({ eventId: `pb-${i}`, occurredAt: at(i), details: { serviceType: i === 12 ? 'poison' : 'visit' } }, { recordId: `PB-${i}`, firstName: `Pat${i}` }),
        );
        expect((await stack.sendEvents(key, events)).status).toBe(202);
        await stack.startWorker();
        const open = async (): Promise<{ event_id: string; attempts: number; dead: boolean; last_error: string | null }[]> =>
          stack.query(`SELECT i.event_id, i.attempts, i.dead_lettered_at IS NOT NULL AS dead, i.last_error FROM inbox_event i
                         JOIN source s ON s.id = i.source_id WHERE s.code = 'poison-src' AND i.applied_at IS NULL`);
        await waitFor(async () => {
          const rows = await open();
          return rows.length === 1 && rows[0].dead;
        }, 60_000, 'the good events applied and the poison one dead-lettered');
        const [poison] = await open();
        expect(poison).toMatchObject({ event_id: 'pb-12', attempts: 2, dead: true });
        expect(poison.last_error).toMatch(/poisoned test event/);
        // The others never failed an attempt: their batch was rolled back and re-applied one by one.
        const [others] = await stack.query<{ applied: string; failed: string }>(
          `SELECT count(*) FILTER (WHERE applied_at IS NOT NULL) AS applied, count(*) FILTER (WHERE attempts > 0) AS failed
             FROM inbox_event i JOIN source s ON s.id = i.source_id WHERE s.code = 'poison-src' AND i.event_id <> 'pb-12'`,
        );
        expect(others).toEqual({ applied: '24', failed: '0' });
        const [dups] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT inbox_event_id FROM record_event GROUP BY 1 HAVING count(*) > 1) d`);
        expect(dups.n).toBe('0');
      } finally {
        await stack.stopWorkers();
        await stack.query(`DROP TRIGGER test_batch_poison_trg ON record_event`);
      }
    });
    it('a batch that fills the lock table is applied in halves, not one by one; nothing fails', async () => {
      // Stands in for PostgreSQL's "out of shared memory" (53200, max_locks_per_transaction): any
      // apply statement writing more than 4 events fails with it. Applied statement sizes are logged.
      await stack.query(`CREATE TABLE test_apply_sizes (n integer NOT NULL)`);
      await stack.query(`CREATE FUNCTION test_lock_table() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE k integer;
        BEGIN
          SELECT count(*) INTO k FROM new_events;
          IF k > 4 THEN RAISE EXCEPTION 'out of shared memory' USING ERRCODE = '53200'; END IF;
          INSERT INTO test_apply_sizes VALUES (k);
          RETURN NULL;
        END $$`);
      await stack.query(`CREATE TRIGGER test_lock_table_trg AFTER INSERT ON record_event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION test_lock_table()`);
      try {
        const key = await stack.createSource('locks-src', 'provider');
        const events = Array.from({ length: 24 }, (_, i) =>
          makeEvent({ eventId: `lk-${i}`, occurredAt: at(i), details: { serviceType: 'visit' } }, { recordId: `LK-${i}`, firstName: `Lee${i}` }),
        );
        expect((await stack.sendEvents(key, events)).status).toBe(202);
        await stack.startWorker();
        const counts = async (): Promise<{ applied: string; failed: string }> => (await stack.query<{ applied: string; failed: string }>(
          `SELECT count(*) FILTER (WHERE applied_at IS NOT NULL) AS applied, count(*) FILTER (WHERE attempts > 0) AS failed
             FROM inbox_event i JOIN source s ON s.id = i.source_id WHERE s.code = 'locks-src'`,
        ))[0];
        await waitFor(async () => (await counts()).applied === '24', 60_000, 'every event applied');
        expect((await counts()).failed).toBe('0');
        const sizes = (await stack.query<{ n: number }>(`SELECT n FROM test_apply_sizes`)).map((r) => r.n);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(24);
        expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
        // Halves of a batch, not the one-by-one fallback.
        expect(Math.max(...sizes)).toBeGreaterThan(1);
        expect(sizes.length).toBeLessThan(24);
      } finally {
        await stack.stopWorkers();
        await stack.query(`DROP TRIGGER test_lock_table_trg ON record_event`);
      }
    });
  });

  describe('two workers with batches', () => {
    let stack: TestStack;

    beforeAll(async () => {
      stack = await TestStack.start({ workers: 0, env: { WORKER_CONCURRENCY: '40', INGEST_APPLY_BATCH_SIZE: '20', INGEST_APPLY_LINGER_MS: '20', DB_POOL_SIZE: '8' } });
    });
    afterAll(async () => stack?.close());

    it('apply 800 events over 12 records exactly once, in occurredAt order per record', async () => {
      const key = await stack.createSource('two-src', 'provider');
      const RECORDS = 12;
      const events = Array.from({ length: 800 }, (_, i) => ({ i, r: (i * 7919) % 800 }))
        .sort((a, b) => a.r - b.r) // arrival order differs from occurredAt order
        .map(({ i }) =>
          makeEvent({ eventId: `tw-${i}`, occurredAt: at(i) }, { recordId: `TW-${i % RECORDS}`, firstName: 'Lee', lastName: `Name${Math.floor(i / RECORDS) % 5}`, dateOfBirth: '1985-03-04' }),
        );
      expect((await stack.sendEvents(key, events)).status).toBe(202);
      await stack.startWorker();
      await stack.startWorker();
      await waitFor(async () => {
        const [r] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NULL`);
        return Number(r.n) === 0;
      }, 170_000, 'every event applied');

      const [c] = await stack.query<{ events: string; distinct_inbox: string; failed: string; audits: string; audited: string }>(
        `SELECT (SELECT count(*) FROM record_event) AS events,
                (SELECT count(DISTINCT inbox_event_id) FROM record_event) AS distinct_inbox,
                (SELECT count(*) FROM inbox_event WHERE attempts > 0 OR dead_lettered_at IS NOT NULL) AS failed,
                (SELECT count(*) FROM audit_entry WHERE action = 'event.apply') AS audits,
                (SELECT count(DISTINCT resource) FROM audit_entry WHERE action = 'event.apply') AS audited`,
      );
      expect(c).toEqual({ events: '800', distinct_inbox: '800', failed: '0', audits: '800', audited: '800' });
      // Each record carries the demographics of its latest event, and versions are 1..n.
      const rows = await stack.query<{ record_id: string; last_name: string; expected: string; version: number; versions: number[] }>(
        `SELECT sr.record_id, sr.demographics->>'lastName' AS last_name, sr.version,
                (SELECT e.payload->'subject'->>'lastName' FROM inbox_event e WHERE e.source_id = sr.source_id AND e.record_id = sr.record_id
                  ORDER BY e.occurred_at DESC LIMIT 1) AS expected,
                (SELECT array_agg(v.version ORDER BY v.version) FROM source_record_version v WHERE v.source_record_id = sr.id) AS versions
           FROM source_record sr ORDER BY sr.record_id`,
      );
      expect(rows).toHaveLength(RECORDS);
      for (const r of rows) {
        expect({ record: r.record_id, lastName: r.last_name, versions: r.versions }).toEqual({
          record: r.record_id, lastName: r.expected, versions: Array.from({ length: r.version }, (_, i) => i + 1),
        });
      }
      expect((await stack.api!.get(AuditVerifyService).verify()).ok).toBe(true);
    });
  });
});
