import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type QueryRunner } from 'typeorm';
import { multiQuery, preparedQuery } from '../database/multi-statement.query';
import { RecordLinkerService } from '../linkage/record-linker.service';
import { ProjectionService, type FamiliarChange } from '../persons/projection.service';
import { checkEvent, contentHash } from './event.contract';

export interface AppliedEvent {
  inboxId: string;
  sourceRecordId: string;
  /** The record's current demographics changed: it must be (re)linked. */
  demographicsChanged: boolean;
  /** Familiar-list changes the refold caused; published after commit. */
  familiarChanges: FamiliarChange[];
}

interface ApplyRow {
  source_id: string;
  record_id: string;
  payload: unknown;
  applied_at: Date | null;
  rec_id: string | null;
  demographics_hash: Buffer | null;
  demographics_as_of: Date | null;
  version: number | null;
}

const INBOX_ID = /^[1-9]\d{0,18}$/;

/**
 * Applies one inbox event: upserts the source record (latest demographics by occurredAt,
 * every version kept) and appends the typed event. Idempotent: an applied row is skipped.
 *
 * Three round trips per event (BEGIN+lock+read, one combined write, COMMIT) plus linkage when
 * the demographics changed: the worker's throughput is bounded by round trips.
 */
@Injectable()
export class EventApplyService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly linker: RecordLinkerService,
    private readonly projection: ProjectionService,
  ) {}

  async apply(inboxId: string): Promise<AppliedEvent | null> {
    const id = String(inboxId);
    // Inlined into the one simple-protocol statement below, so it must be a plain integer.
    if (!INBOX_ID.test(id)) throw new Error(`inbox event id ${JSON.stringify(id).slice(0, 40)} is not an integer`);
    const qr = this.db.createQueryRunner();
    try {
      let res: AppliedEvent | null;
      try {
        res = await this.applyIn(qr, id);
      } catch (err) {
        await qr.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      await qr.query('COMMIT');
      return res;
    } finally {
      await qr.release();
    }
  }

  private async applyIn(qr: QueryRunner, inboxId: string): Promise<AppliedEvent | null> {
    // One round trip: BEGIN, the record lock (serialises all work on one source record across
    // workers; released at commit), then the read. The read is its own statement, so its snapshot
    // is taken after the lock and sees whatever the previous holder committed.
    const results = await multiQuery(
      qr,
      `BEGIN;
       SELECT pg_advisory_xact_lock(hashtextextended('rec:' || source_id || ':' || record_id, 0)) FROM inbox_event WHERE id = ${inboxId};
       SELECT i.source_id, i.record_id, i.payload, i.applied_at,
              r.id AS rec_id, r.demographics_hash, r.demographics_as_of, r.version
         FROM inbox_event i
         LEFT JOIN LATERAL (
           SELECT s.id, s.demographics_hash, s.demographics_as_of, s.version FROM source_record s
            WHERE s.source_id = i.source_id AND s.record_id = i.record_id FOR UPDATE
         ) r ON true
        WHERE i.id = ${inboxId}
          FOR UPDATE OF i`,
    );
    const rows = results[results.length - 1].rows as ApplyRow[];
    if (rows.length === 0) throw new Error(`inbox event ${inboxId} does not exist`);
    const row = rows[0];
    if (row.applied_at) return null;

    const checked = checkEvent(row.payload);
    if (!checked.ok) throw new Error(`inbox event ${inboxId} no longer satisfies the contract: ${checked.errors.map((e) => e.path).join(', ')}`);
    const { event } = checked;
    const { recordId: _recordId, ...demographics } = event.subject;
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
    steps.push(`INSERT INTO record_event (inbox_event_id, source_record_id, type, occurred_at, details)
      SELECT $1::bigint, rec.id, $2, $3::timestamptz, $4::jsonb FROM rec`);
    steps.push(`UPDATE inbox_event SET applied_at = now(), last_error = NULL WHERE id = $1::bigint`);

    const [first, ...rest] = steps;
    // Prepared: a handful of shapes, planned once per connection instead of on every event.
    const done = await preparedQuery<{ id: string }>(
      qr,
      `WITH rec AS (${first})${rest.map((s, i) => `, s${i} AS (${s})`).join('')} SELECT id FROM rec`,
      params,
    );
    const recordId = String(done[0].id);
    // Linked in the same transaction: an event counts as processed only once its record is linked.
    const link = changed ? await this.linker.linkRecord(qr.manager, recordId, demographics) : null;
    // Every event changes its person's read model; a move or split changes the previous person's too.
    const familiarChanges = await this.projection.afterApply(qr.manager, recordId, link);
    return { inboxId, sourceRecordId: recordId, demographicsChanged: changed, familiarChanges };
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
