import { InjectQueue } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { DataSource, type EntityManager } from 'typeorm';
import { AppConfig } from '../config/app.config';
import { checkEvent, contentHash, type FieldIssue, type ValidEvent } from './event.contract';
import { applyJobId, INGEST_QUEUE, type ApplyJobData } from './ingest.queue';

export type EventStatus = 'accepted' | 'duplicate' | 'rejected';

export interface EventResult {
  eventId: string | null;
  status: EventStatus;
  errors: FieldIssue[];
  warnings: FieldIssue[];
}

interface Candidate {
  index: number;
  event: ValidEvent;
  raw: unknown;
  hash: Buffer;
}

/** Accepts events into the durable inbox, then queues them. */
@Injectable()
export class InboxService implements BeforeApplicationShutdown {
  private readonly log = new Logger(InboxService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectQueue(INGEST_QUEUE) private readonly queue: Queue<ApplyJobData>,
    private readonly cfg: AppConfig,
  ) {}

  /**
   * Commits every valid event before returning; each result is in request order.
   * A failed enqueue is not an error for the caller: the re-drive picks the row up.
   */
  async accept(
    sourceId: string,
    rawEvents: unknown[],
    /** Runs last in the inbox transaction with the final results (the batch's audit entry). */
    inTransaction?: (em: EntityManager, results: EventResult[]) => Promise<unknown>,
  ): Promise<EventResult[]> {
    const results: EventResult[] = new Array<EventResult>(rawEvents.length);
    const firstInBatch = new Map<string, Candidate>();
    const candidates: Candidate[] = [];

    rawEvents.forEach((raw, index) => {
      const r = checkEvent(raw);
      if (!r.ok) {
        results[index] = { eventId: r.eventId ?? null, status: 'rejected', errors: r.errors, warnings: [] };
        return;
      }
      const hash = contentHash(raw);
      const earlier = firstInBatch.get(r.event.eventId);
      if (earlier) {
        results[index] = earlier.hash.equals(hash)
          ? { eventId: r.event.eventId, status: 'duplicate', errors: [], warnings: r.warnings }
          : conflict(r.event.eventId);
        return;
      }
      const c = { index, event: r.event, raw, hash };
      firstInBatch.set(r.event.eventId, c);
      candidates.push(c);
      results[index] = { eventId: r.event.eventId, status: 'accepted', errors: [], warnings: r.warnings };
    });

    const inserted: { id: string; event_id: string }[] = [];
    const insertCandidates = async (em: EntityManager): Promise<void> => {
      const rows: { id: string; event_id: string }[] = await em.query(
        `INSERT INTO inbox_event (source_id, event_id, type, record_id, occurred_at, payload, content_hash)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::bytea[])
         ON CONFLICT ON CONSTRAINT inbox_event_source_event_uq DO NOTHING
         RETURNING id, event_id`,
        [
          sourceId,
          candidates.map((c) => c.event.eventId),
          candidates.map((c) => c.event.type),
          candidates.map((c) => c.event.subject.recordId),
          candidates.map((c) => c.event.occurredAt),
          candidates.map((c) => JSON.stringify(c.raw)),
          candidates.map((c) => c.hash),
        ],
      );
      inserted.push(...rows);
      if (rows.length === candidates.length) return;
      const fresh = new Set(rows.map((r) => r.event_id));
      const seen = candidates.filter((c) => !fresh.has(c.event.eventId));
      const existing: { event_id: string; content_hash: Buffer }[] = await em.query(
        `SELECT event_id, content_hash FROM inbox_event WHERE source_id = $1 AND event_id = ANY($2::text[])`,
        [sourceId, seen.map((c) => c.event.eventId)],
      );
      const hashes = new Map(existing.map((e) => [e.event_id, e.content_hash]));
      for (const c of seen) {
        const prior = hashes.get(c.event.eventId);
        results[c.index] = prior?.equals(c.hash)
          ? { ...results[c.index], status: 'duplicate' }
          : conflict(c.event.eventId);
      }
    };
    if (candidates.length > 0 || inTransaction) {
      await this.db.transaction(async (em) => {
        if (candidates.length > 0) await insertCandidates(em);
        await inTransaction?.(em, results);
      });
    }
    await this.enqueue(inserted.map((r) => r.id));
    return results;
  }

  /**
   * BullMQ emits an unhandled 'error' (killing the process) when a queue is closed while it is
   * still connecting, which short CLI commands do; let it finish connecting first, bounded.
   */
  async beforeApplicationShutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.queue.waitUntilReady().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, 3000))),
    ]);
    clearTimeout(timer);
  }

  /**
   * For rows that are open in the inbox: enqueue, and also retry jobs BullMQ already gave up on.
   * Adding an existing job id is a no-op, so a failed job of a row whose failure was never recorded
   * (the database was down for every attempt) would otherwise stay stranded.
   */
  async requeue(inboxIds: string[]): Promise<void> {
    await this.enqueue(inboxIds);
    try {
      const states = await Promise.all(inboxIds.map((id) => this.queue.getJobState(applyJobId(id))));
      for (const [i, state] of states.entries()) {
        // 'completed' while the row is unapplied: the database was restored or replaced behind a
        // queue that still remembers the job id, so adding it again would be silently ignored.
        if (state !== 'failed' && state !== 'completed') continue;
        const job = await this.queue.getJob(applyJobId(inboxIds[i]));
        await job?.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
      }
    } catch (err) {
      this.log.warn({ count: inboxIds.length, err: err instanceof Error ? err.message : String(err) }, 'retrying failed jobs failed; next re-drive tries again');
    }
  }

  async enqueue(inboxIds: string[]): Promise<void> {
    if (inboxIds.length === 0) return;
    try {
      await this.queue.addBulk(
        inboxIds.map((id) => ({
          name: 'apply',
          data: { inboxId: id },
          opts: {
            jobId: applyJobId(id),
            attempts: this.cfg.INGEST_ATTEMPTS,
            backoff: { type: 'exponential', delay: this.cfg.INGEST_BACKOFF_MS },
            removeOnComplete: { count: 10_000 },
            removeOnFail: false,
          },
        })),
      );
    } catch (err) {
      // The events are committed; the re-drive will enqueue them once Redis answers.
      this.log.warn({ count: inboxIds.length, err: err instanceof Error ? err.message : String(err) }, 'enqueue failed; left for re-drive');
    }
  }
}

function conflict(eventId: string): EventResult {
  return {
    eventId,
    status: 'rejected',
    errors: [{ path: 'eventId', message: `eventId ${JSON.stringify(eventId)} was already accepted from this source with different content` }],
    warnings: [],
  };
}
