import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { checkEvent, contentHash } from './event.contract';

export interface AppliedEvent {
  inboxId: string;
  sourceRecordId: string;
  /** The record's current demographics changed: it must be (re)linked. */
  demographicsChanged: boolean;
}

interface InboxRow {
  id: string;
  source_id: string;
  record_id: string;
  payload: unknown;
  applied_at: Date | null;
}

/**
 * Applies one inbox event: upserts the source record (latest demographics by occurredAt,
 * every version kept) and appends the typed event. Idempotent: an applied row is skipped.
 */
@Injectable()
export class EventApplyService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async apply(inboxId: string): Promise<AppliedEvent | null> {
    return this.db.transaction((em) => this.applyIn(em, inboxId));
  }

  private async applyIn(em: EntityManager, inboxId: string): Promise<AppliedEvent | null> {
    const head: Pick<InboxRow, 'source_id' | 'record_id'>[] = await em.query(
      `SELECT source_id, record_id FROM inbox_event WHERE id = $1`,
      [inboxId],
    );
    if (head.length === 0) throw new Error(`inbox event ${inboxId} does not exist`);
    // Serialises all work on one source record across workers; released at commit.
    await em.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`rec:${head[0].source_id}:${head[0].record_id}`]);
    const rows: InboxRow[] = await em.query(
      `SELECT id, source_id, record_id, payload, applied_at FROM inbox_event WHERE id = $1 FOR UPDATE`,
      [inboxId],
    );
    const row = rows[0];
    if (row.applied_at) return null;

    const checked = checkEvent(row.payload);
    if (!checked.ok) throw new Error(`inbox event ${inboxId} no longer satisfies the contract: ${checked.errors.map((e) => e.path).join(', ')}`);
    const { event } = checked;
    const { recordId: _recordId, ...demographics } = event.subject;
    const hash = contentHash(demographics);

    const existing: { id: string; demographics_hash: Buffer; demographics_as_of: Date; version: number }[] = await em.query(
      `SELECT id, demographics_hash, demographics_as_of, version FROM source_record
        WHERE source_id = $1 AND record_id = $2 FOR UPDATE`,
      [row.source_id, row.record_id],
    );
    let recordId: string;
    let changed = false;
    if (existing.length === 0) {
      const ins: { id: string }[] = await em.query(
        `INSERT INTO source_record (source_id, record_id, demographics, demographics_hash, demographics_as_of)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [row.source_id, row.record_id, JSON.stringify(demographics), hash, event.occurredAt],
      );
      recordId = ins[0].id;
      changed = true;
      await this.addVersion(em, recordId, 1, demographics, hash, event.occurredAt, inboxId);
    } else {
      const cur = existing[0];
      recordId = cur.id;
      if (!cur.demographics_hash.equals(hash)) {
        const version = cur.version + 1;
        await this.addVersion(em, recordId, version, demographics, hash, event.occurredAt, inboxId);
        // A late event keeps its version in history but does not overwrite newer demographics.
        if (new Date(event.occurredAt) >= cur.demographics_as_of) {
          changed = true;
          await em.query(
            `UPDATE source_record SET demographics = $2, demographics_hash = $3, demographics_as_of = $4, version = $5, updated_at = now() WHERE id = $1`,
            [recordId, JSON.stringify(demographics), hash, event.occurredAt, version],
          );
        } else {
          await em.query(`UPDATE source_record SET version = $2, updated_at = now() WHERE id = $1`, [recordId, version]);
        }
      } else if (new Date(event.occurredAt) > cur.demographics_as_of) {
        await em.query(`UPDATE source_record SET demographics_as_of = $2 WHERE id = $1`, [recordId, event.occurredAt]);
      }
    }

    await em.query(
      `INSERT INTO record_event (inbox_event_id, source_record_id, type, occurred_at, details) VALUES ($1, $2, $3, $4, $5)`,
      [inboxId, recordId, event.type, event.occurredAt, JSON.stringify(event.details)],
    );
    await em.query(`UPDATE inbox_event SET applied_at = now(), last_error = NULL WHERE id = $1`, [inboxId]);
    return { inboxId, sourceRecordId: recordId, demographicsChanged: changed };
  }

  private async addVersion(
    em: EntityManager, recordId: string, version: number, demographics: object, hash: Buffer, occurredAt: string, inboxId: string,
  ): Promise<void> {
    await em.query(
      `INSERT INTO source_record_version (source_record_id, version, demographics, demographics_hash, occurred_at, inbox_event_id)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [recordId, version, JSON.stringify(demographics), hash, occurredAt, inboxId],
    );
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
