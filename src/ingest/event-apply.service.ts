import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import type { AuditEntryInput } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { multiQuery, preparedQuery } from '../database/multi-statement.query';
import { RecordLinkerService, type LinkResult } from '../linkage/record-linker.service';
import { ProjectionService } from '../persons/projection.service';
import { acceptedEvent, contentHash, type ValidEvent } from './event.contract';

export interface AppliedEvent {
  inboxId: string;
  sourceRecordId: string;
  /** The record's current demographics changed: it must be (re)linked. */
  demographicsChanged: boolean;
  /** Persons whose read model is due for a refold after the commit (RefoldBatcher). */
  personIds: string[];
}

export interface BatchOutcome {
  /** Per inbox id the batch took: its effect, or null when it was already applied. */
  applied: Map<string, AppliedEvent | null>;
  /** Ids whose source record another transaction holds: untouched, to be submitted again. */
  deferred: string[];
  /** Ids with no inbox row: left to the single path, which fails them individually. */
  missing: string[];
  /** Every person the batch made due for a refold after the commit (RefoldBatcher). */
  personIds: string[];
}

interface ApplyRow {
  source_id: string;
  record_id: string;
  event_id: string;
  source_code: string;
  agency_code: string;
  payload: unknown;
  applied_at: Date | null;
  rec_id: string | null;
  demographics_hash: Buffer | null;
  demographics_as_of: Date | null;
  version: number | null;
}

interface BatchRow extends ApplyRow {
  id: string;
}

type Demographics = Omit<ValidEvent['subject'], 'recordId'>;

/** One event of a batch, parsed. */
interface PlannedEvent {
  inboxId: string;
  event: ValidEvent;
  occurred: Date;
  demographics: Demographics;
  hash: Buffer;
  /** This event set the record's demographics to what the batch leaves (the one linked). */
  linksRecord: boolean;
  /** The record version this event added (its demographics differed from the current ones). */
  version?: number;
}

/** One source record of a batch: its state as read, then as the batch's events leave it. */
interface RecordPlan {
  sourceId: string;
  recordId: string;
  sourceCode: string;
  agencyCode: string;
  recId: string | null;
  hash: Buffer | null;
  asOf: Date | null;
  version: number;
  demographics: Demographics | null;
  /** The current demographics changed (or the record is new): link it. */
  changed: boolean;
  /** A version was added: updated_at moves. */
  touched: boolean;
  asOfMoved: boolean;
  events: PlannedEvent[];
}

const INBOX_ID = /^[1-9]\d{0,18}$/;

function checkId(inboxId: string): string {
  const id = String(inboxId);
  // Inlined into simple-protocol statements, so it must be a plain integer.
  if (!INBOX_ID.test(id)) throw new Error(`inbox event id ${JSON.stringify(id).slice(0, 40)} is not an integer`);
  return id;
}

function demographicsOf(event: ValidEvent): Demographics {
  const { recordId: _recordId, ...demographics } = event.subject;
  return demographics;
}

/** The audit entry of one applied event: the source acted; the persons its record belongs to (and left). */
function applyAuditEntry(
  row: { inboxId: string; sourceCode: string; agencyCode: string; type: string; sourceRecordId: string },
  personId: string | undefined,
  link: LinkResult | null,
): AuditEntryInput {
  const personIds = [...new Set([personId, link?.previousPersonId].filter((p): p is string => typeof p === 'string'))];
  return {
    actor: `source:${row.sourceCode}`, actorKind: 'source', agency: row.agencyCode, role: null, purpose: null, requestId: null, clientAddress: null,
    action: 'event.apply',
    resource: `inbox-event/${row.inboxId}`,
    personIds,
    details: {
      sourceRecordId: row.sourceRecordId, type: row.type,
      ...(link ? { link: link.action, decisionId: link.decisionId, previousPersonId: link.previousPersonId } : {}),
    },
  };
}

// The batch's effects in one statement of data-modifying CTEs; new records are matched to their
// versions and events by (source_id, record_id). Constant text: prepared once per connection.
const BATCH_WRITE_SQL = `
WITH ins AS (
  INSERT INTO source_record (source_id, record_id, demographics, demographics_hash, demographics_as_of, version)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::bytea[], $5::timestamptz[], $6::integer[])
  RETURNING id, source_id, record_id
), upd AS (
  UPDATE source_record sr
     SET demographics = COALESCE(u.dem, sr.demographics), demographics_hash = COALESCE(u.hash, sr.demographics_hash),
         demographics_as_of = u.as_of, version = u.version, updated_at = CASE WHEN u.touch THEN now() ELSE sr.updated_at END
    FROM unnest($7::bigint[], $8::jsonb[], $9::bytea[], $10::timestamptz[], $11::integer[], $12::boolean[]) AS u(id, dem, hash, as_of, version, touch)
   WHERE sr.id = u.id
), recs AS (
  SELECT id, source_id, record_id FROM ins
  UNION ALL
  SELECT * FROM unnest($13::bigint[], $14::uuid[], $15::text[]) AS x(id, source_id, record_id)
), ver AS (
  INSERT INTO source_record_version (source_record_id, version, demographics, demographics_hash, occurred_at, inbox_event_id)
  SELECT recs.id, v.version, v.dem, v.hash, v.occurred_at, v.inbox_id
    FROM unnest($16::uuid[], $17::text[], $18::integer[], $19::jsonb[], $20::bytea[], $21::timestamptz[], $22::bigint[])
         AS v(source_id, record_id, version, dem, hash, occurred_at, inbox_id)
    JOIN recs ON recs.source_id = v.source_id AND recs.record_id = v.record_id
), ev AS (
  INSERT INTO record_event (inbox_event_id, source_record_id, event_id, type, occurred_at, details)
  SELECT e.inbox_id, recs.id, i.event_id, e.type, e.occurred_at, e.details
    FROM unnest($23::bigint[], $24::uuid[], $25::text[], $26::text[], $27::timestamptz[], $28::jsonb[]) WITH ORDINALITY
         AS e(inbox_id, source_id, record_id, type, occurred_at, details, n)
    JOIN recs ON recs.source_id = e.source_id AND recs.record_id = e.record_id
    JOIN inbox_event i ON i.id = e.inbox_id
   ORDER BY e.n
), mark AS (
  UPDATE inbox_event SET applied_at = now(), last_error = NULL WHERE id = ANY($29::bigint[])
)
SELECT id::text AS id, source_id::text AS source_id, record_id FROM ins`;

/**
 * Applies inbox events: upserts the source record (latest demographics by occurredAt, every
 * version kept), appends the typed event, links the record when its demographics changed,
 * records the persons touched as due for a refold and appends one audit entry per event, all in
 * one transaction; the caller refolds those persons after the commit (RefoldBatcher).
 * Idempotent: an applied row is skipped.
 *
 * applyBatch() does this for many events at once with set-based statements (the worker's path,
 * see ApplyBatcher); apply() does it for one (the fallback that isolates a failing event).
 */
@Injectable()
export class EventApplyService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly linker: RecordLinkerService,
    private readonly projection: ProjectionService,
    private readonly audit: AuditService,
  ) {}

  async apply(inboxId: string): Promise<AppliedEvent | null> {
    const id = checkId(inboxId);
    return this.inTransaction((qr) => this.applyIn(qr, id));
  }

  /**
   * One transaction for many events. Source records are try-locked (never waited for, so no
   * deadlock between batches on records): events whose record another transaction holds are
   * returned as deferred, untouched. Events of one record are applied in (occurredAt, id) order,
   * giving the state applying them one by one in that order gives. Throws when anything fails;
   * the caller then applies the events one by one.
   */
  async applyBatch(inboxIds: readonly string[]): Promise<BatchOutcome> {
    const ids = [...new Set(inboxIds.map(checkId))];
    return this.inTransaction((qr) => this.applyBatchIn(qr, ids));
  }

  private async inTransaction<T>(fn: (qr: QueryRunner) => Promise<T>): Promise<T> {
    const qr = this.db.createQueryRunner();
    try {
      await qr.startTransaction();
      let res: T;
      try {
        res = await fn(qr);
      } catch (err) {
        await qr.rollbackTransaction().catch(() => undefined);
        throw err;
      }
      await qr.commitTransaction();
      return res;
    } finally {
      await qr.release();
    }
  }

  private async applyBatchIn(qr: QueryRunner, ids: string[]): Promise<BatchOutcome> {
    const em = qr.manager;
    const out: BatchOutcome = { applied: new Map(), deferred: [], missing: [], personIds: [] };
    const locks = await preparedQuery<{ id: string; got: boolean }>(
      em,
      `WITH l AS MATERIALIZED (
         SELECT h, pg_try_advisory_xact_lock(h) AS got
           FROM (SELECT DISTINCT hashtextextended('rec:' || source_id || ':' || record_id, 0) AS h
                   FROM inbox_event WHERE id = ANY($1::bigint[])) s
       )
       SELECT i.id::text AS id, l.got FROM inbox_event i
         JOIN l ON l.h = hashtextextended('rec:' || i.source_id || ':' || i.record_id, 0)
        WHERE i.id = ANY($1::bigint[])`,
      [ids],
    );
    const locked: string[] = [];
    for (const l of locks) (l.got ? locked : out.deferred).push(l.id);
    const found = new Set(locks.map((l) => l.id));
    out.missing = ids.filter((id) => !found.has(id));
    if (locked.length === 0) return out;

    // A statement after the locks: its snapshot sees what the records' previous holders committed.
    const rows = await preparedQuery<BatchRow>(
      em,
      `SELECT i.id::text AS id, i.source_id::text AS source_id, i.record_id, i.payload, i.applied_at,
              s.code AS source_code, a.code AS agency_code,
              r.id::text AS rec_id, r.demographics_hash, r.demographics_as_of, r.version
         FROM inbox_event i
         JOIN source s ON s.id = i.source_id
         JOIN agency a ON a.id = s.agency_id
         LEFT JOIN LATERAL (
           SELECT sr.id, sr.demographics_hash, sr.demographics_as_of, sr.version FROM source_record sr
            WHERE sr.source_id = i.source_id AND sr.record_id = i.record_id FOR UPDATE
         ) r ON true
        WHERE i.id = ANY($1::bigint[])
          FOR UPDATE OF i`,
      [locked],
    );

    const plans = new Map<string, RecordPlan>();
    for (const row of rows) {
      if (row.applied_at) {
        out.applied.set(row.id, null);
        continue;
      }
      const key = `${row.source_id}\u0000${row.record_id}`;
      let plan = plans.get(key);
      if (!plan) {
        plan = {
          sourceId: row.source_id, recordId: row.record_id, sourceCode: row.source_code, agencyCode: row.agency_code,
          recId: row.rec_id, hash: row.demographics_hash, asOf: row.demographics_as_of, version: row.version ?? 0,
          demographics: null, changed: false, touched: false, asOfMoved: false, events: [],
        };
        plans.set(key, plan);
      }
      const event = acceptedEvent(row.payload);
      const demographics = demographicsOf(event);
      plan.events.push({ inboxId: row.id, event, occurred: new Date(event.occurredAt), demographics, hash: contentHash(demographics), linksRecord: false });
    }
    if (plans.size === 0) return out;

    // Replays apply()'s rules per record, in occurredAt order.
    const ordered = [...plans.values()].sort((a, b) => (a.recId && b.recId ? Number(a.recId) - Number(b.recId) : a.recId ? -1 : b.recId ? 1 : 0));
    for (const plan of ordered) {
      plan.events.sort((a, b) => a.occurred.getTime() - b.occurred.getTime() || Number(a.inboxId) - Number(b.inboxId));
      let linker: PlannedEvent | undefined;
      for (const e of plan.events) {
        if (plan.hash === null) {
          Object.assign(plan, { hash: e.hash, asOf: e.occurred, version: 1, demographics: e.demographics, changed: true, touched: true });
          linker = e;
          e.version = 1;
        } else if (!plan.hash.equals(e.hash)) {
          plan.version += 1;
          plan.touched = true;
          e.version = plan.version;
          // A late event keeps its version in history but does not overwrite newer demographics.
          if (e.occurred >= plan.asOf!) {
            Object.assign(plan, { hash: e.hash, asOf: e.occurred, demographics: e.demographics, changed: true });
            linker = e;
          }
        } else if (e.occurred > plan.asOf!) {
          plan.asOf = e.occurred;
          plan.asOfMoved = true;
        }
      }
      if (linker) linker.linksRecord = true;
    }

    const cols = <T>(n: number): T[][] => Array.from({ length: n }, () => [] as T[]);
    const [nSrc, nRid, nDem, nHash, nAsOf, nVer] = cols<unknown>(6);
    const [uId, uDem, uHash, uAsOf, uVer, uTouch] = cols<unknown>(6);
    const [xId, xSrc, xRid] = cols<unknown>(3);
    const [vSrc, vRid, vVer, vDem, vHash, vAt, vInbox] = cols<unknown>(7);
    const [eInbox, eSrc, eRid, eType, eAt, eDetails] = cols<unknown>(6);
    const appliedIds: string[] = [];
    for (const plan of ordered) {
      if (plan.recId === null) {
        nSrc.push(plan.sourceId); nRid.push(plan.recordId); nDem.push(JSON.stringify(plan.demographics)); nHash.push(plan.hash);
        nAsOf.push(plan.asOf!.toISOString()); nVer.push(plan.version);
      } else {
        xId.push(plan.recId); xSrc.push(plan.sourceId); xRid.push(plan.recordId);
        if (plan.touched || plan.asOfMoved) {
          uId.push(plan.recId); uDem.push(plan.changed ? JSON.stringify(plan.demographics) : null); uHash.push(plan.changed ? plan.hash : null);
          uAsOf.push(plan.asOf!.toISOString()); uVer.push(plan.version); uTouch.push(plan.touched);
        }
      }
      for (const e of plan.events) {
        const version = e.version;
        if (version !== undefined) {
          vSrc.push(plan.sourceId); vRid.push(plan.recordId); vVer.push(version); vDem.push(JSON.stringify(e.demographics));
          vHash.push(e.hash); vAt.push(e.event.occurredAt); vInbox.push(e.inboxId);
        }
        eInbox.push(e.inboxId); eSrc.push(plan.sourceId); eRid.push(plan.recordId); eType.push(e.event.type);
        eAt.push(e.event.occurredAt); eDetails.push(JSON.stringify(e.event.details));
        appliedIds.push(e.inboxId);
      }
    }
    const inserted = await preparedQuery<{ id: string; source_id: string; record_id: string }>(em, BATCH_WRITE_SQL, [
      nSrc, nRid, nDem, nHash, nAsOf, nVer, uId, uDem, uHash, uAsOf, uVer, uTouch, xId, xSrc, xRid,
      vSrc, vRid, vVer, vDem, vHash, vAt, vInbox, eInbox, eSrc, eRid, eType, eAt, eDetails, appliedIds,
    ]);
    for (const r of inserted) plans.get(`${r.source_id}\u0000${r.record_id}`)!.recId = String(r.id);

    // Linked in the same transaction, in record-id order (new records last, by their new ids),
    // set-based, with the decisions linking them one by one in this order would make. linkBatch
    // takes every blocking key of the batch in one sorted statement, so two batches cannot
    // deadlock on keys taken record by record.
    const toLink = ordered.filter((p) => p.changed).sort((a, b) => Number(a.recId) - Number(b.recId));
    const links = await this.linker.linkBatch(em, toLink.map((p) => ({ sourceRecordId: p.recId!, demographics: p.demographics! })));

    // Each touched person is due for one refold, after the commit.
    const { personIds, personOf } = await this.projection.markDue(em, ordered.map((p) => ({ sourceRecordId: p.recId!, link: links.get(p.recId!) ?? null })));
    out.personIds = personIds;

    const entries: AuditEntryInput[] = [];
    for (const p of ordered) {
      for (const e of p.events) {
        entries.push(applyAuditEntry(
          { inboxId: e.inboxId, sourceCode: p.sourceCode, agencyCode: p.agencyCode, type: e.event.type, sourceRecordId: p.recId! },
          personOf.get(p.recId!), e.linksRecord ? (links.get(p.recId!) ?? null) : null,
        ));
        // The batch's persons are refolded together: they are in out.personIds, not per event.
        out.applied.set(e.inboxId, { inboxId: e.inboxId, sourceRecordId: p.recId!, demographicsChanged: e.linksRecord, personIds: [] });
      }
    }
    // Last: the audit chain's head lock is held only until the commit that follows.
    await this.audit.recordMany(em, entries);
    return out;
  }

  private async applyIn(qr: QueryRunner, inboxId: string): Promise<AppliedEvent | null> {
    // One round trip: the record lock (serialises all work on one source record across workers;
    // released at commit), then the read. The read is its own statement, so its snapshot is taken
    // after the lock and sees whatever the previous holder committed.
    const results = await multiQuery(
      qr,
      `SELECT pg_advisory_xact_lock(hashtextextended('rec:' || source_id || ':' || record_id, 0)) FROM inbox_event WHERE id = ${inboxId};
       SELECT i.source_id, i.record_id, i.event_id, i.payload, i.applied_at, s.code AS source_code, a.code AS agency_code,
              r.id AS rec_id, r.demographics_hash, r.demographics_as_of, r.version
         FROM inbox_event i
         JOIN source s ON s.id = i.source_id
         JOIN agency a ON a.id = s.agency_id
         LEFT JOIN LATERAL (
           SELECT sr.id, sr.demographics_hash, sr.demographics_as_of, sr.version FROM source_record sr
            WHERE sr.source_id = i.source_id AND sr.record_id = i.record_id FOR UPDATE
         ) r ON true
        WHERE i.id = ${inboxId}
          FOR UPDATE OF i`,
    );
    const rows = results[results.length - 1].rows as ApplyRow[];
    if (rows.length === 0) throw new Error(`inbox event ${inboxId} does not exist`);
    const row = rows[0];
    if (row.applied_at) return null;

    const event = acceptedEvent(row.payload);
    const demographics = demographicsOf(event);
    const hash = contentHash(demographics);
    const occurred = new Date(event.occurredAt);

    // Every effect and the applied mark go in one statement of data-modifying CTEs.
    const params: unknown[] = [inboxId, event.type, event.occurredAt, JSON.stringify(event.details)];
    const p = (v: unknown): string => `$${params.push(v)}`;
    let dem: string | undefined;
    const demographicsParams = (): string => (dem ??= `${p(JSON.stringify(demographics))}::jsonb, ${p(hash)}::bytea`);
    // `rec` is the source record's id: inserted, or the one read above.
    const steps: string[] = [];
    let changed = false;
    const addVersion = (version: number): void => {
      steps.push(`INSERT INTO source_record_version (source_record_id, version, demographics, demographics_hash, occurred_at, inbox_event_id)
        SELECT rec.id, ${p(version)}::integer, ${demographicsParams()}, $3::timestamptz, $1::bigint FROM rec`);
    };
    if (row.rec_id === null) {
      changed = true;
      steps.push(`INSERT INTO source_record (source_id, record_id, demographics, demographics_hash, demographics_as_of)
        VALUES (${p(row.source_id)}::uuid, ${p(row.record_id)}, ${demographicsParams()}, $3::timestamptz) RETURNING id`);
      addVersion(1);
    } else {
      steps.push(`SELECT ${p(row.rec_id)}::bigint AS id`);
      if (!row.demographics_hash!.equals(hash)) {
        const version = row.version! + 1;
        addVersion(version);
        // A late event keeps its version in history but does not overwrite newer demographics.
        if (occurred >= row.demographics_as_of!) {
          changed = true;
          steps.push(`UPDATE source_record SET (demographics, demographics_hash) = (${demographicsParams()}),
              demographics_as_of = $3::timestamptz, version = ${p(version)}::integer, updated_at = now()
            WHERE id = (SELECT id FROM rec)`);
        } else {
          steps.push(`UPDATE source_record SET version = ${p(version)}::integer, updated_at = now() WHERE id = (SELECT id FROM rec)`);
        }
      } else if (occurred > row.demographics_as_of!) {
        steps.push(`UPDATE source_record SET demographics_as_of = $3::timestamptz WHERE id = (SELECT id FROM rec)`);
      }
    }
    steps.push(`INSERT INTO record_event (inbox_event_id, source_record_id, event_id, type, occurred_at, details)
      SELECT $1::bigint, rec.id, ${p(row.event_id)}, $2, $3::timestamptz, $4::jsonb FROM rec`);
    steps.push(`UPDATE inbox_event SET applied_at = now(), last_error = NULL WHERE id = $1::bigint`);

    const [first, ...rest] = steps;
    // Prepared: a handful of shapes, planned once per connection instead of on every event.
    const done = await preparedQuery<{ id: string }>(
      qr,
      `WITH rec AS (${first})${rest.map((s, i) => `, s${i} AS (${s})`).join('')} SELECT id FROM rec`,
      params,
    );
    const recordId = String(done[0].id);
    const em: EntityManager = qr.manager;
    // Linked in the same transaction: an event counts as processed only once its record is linked.
    const link = changed ? await this.linker.linkRecord(em, recordId, demographics) : null;
    // Every event changes its person's read model; a move or split changes the previous person's too.
    const { personIds, personOf } = await this.projection.markDue(em, [{ sourceRecordId: recordId, link }]);
    await this.audit.record(em, applyAuditEntry(
      { inboxId, sourceCode: row.source_code, agencyCode: row.agency_code, type: event.type, sourceRecordId: recordId },
      personOf.get(recordId), link,
    ));
    return { inboxId, sourceRecordId: recordId, demographicsChanged: changed, personIds };
  }

  /** Records a failed attempt in its own transaction; the last one dead-letters the event. */
  async recordFailure(inboxId: string, error: unknown, final: boolean): Promise<void> {
    const message = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 1000);
    await this.db.query(
      `UPDATE inbox_event SET attempts = attempts + 1, last_error = $2,
              dead_lettered_at = CASE WHEN $3::boolean THEN now() ELSE NULL END
        WHERE id = $1 AND applied_at IS NULL`,
      [inboxId, message, final],
    );
  }
}
