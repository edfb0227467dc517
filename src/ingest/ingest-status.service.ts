import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { NotFoundError } from '../errors/domain.error';
import { InboxService } from './inbox.service';
import { applyJobId, INGEST_QUEUE, type ApplyJobData } from './ingest.queue';

export interface IngestCounts {
  received: number;
  processed: number;
  pending: number;
  failed: number;
  deadLettered: number;
}
export interface IngestStatus extends IngestCounts {
  /** Persons whose read model awaits the refold that follows an apply (not per source: a person spans sources). */
  refoldsPending: number;
  sources: Record<string, IngestCounts>;
}

@Injectable()
export class IngestStatusService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectQueue(INGEST_QUEUE) private readonly queue: Queue<ApplyJobData>,
    private readonly inbox: InboxService,
  ) {}

  /**
   * pending: accepted, not yet applied, not dead-lettered; failed: pending whose last attempt
   * failed; refoldsPending: persons of applied events whose read model is not refolded yet.
   */
  async status(): Promise<IngestStatus> {
    const rows: { code: string; received: string; processed: string; pending: string; failed: string; dead: string }[] = await this.db.query(
      `SELECT s.code,
              count(e.id) AS received,
              count(e.applied_at) AS processed,
              count(e.id) FILTER (WHERE e.applied_at IS NULL AND e.dead_lettered_at IS NULL) AS pending,
              count(e.id) FILTER (WHERE e.applied_at IS NULL AND e.dead_lettered_at IS NULL AND e.attempts > 0) AS failed,
              count(e.dead_lettered_at) AS dead
         FROM source s LEFT JOIN inbox_event e ON e.source_id = s.id
        GROUP BY s.code ORDER BY s.code`,
    );
    const [{ n: refolds }] = await this.db.query<{ n: string }[]>(`SELECT count(DISTINCT person_id) AS n FROM person_refold_due`);
    const total: IngestStatus = { received: 0, processed: 0, pending: 0, failed: 0, deadLettered: 0, refoldsPending: Number(refolds), sources: {} };
    for (const r of rows) {
      const c: IngestCounts = {
        received: Number(r.received), processed: Number(r.processed), pending: Number(r.pending),
        failed: Number(r.failed), deadLettered: Number(r.dead),
      };
      total.sources[r.code] = c;
      total.received += c.received;
      total.processed += c.processed;
      total.pending += c.pending;
      total.failed += c.failed;
      total.deadLettered += c.deadLettered;
    }
    return total;
  }

  /** Re-queues dead-lettered events (all, or one source's) after the cause was fixed. */
  async retryDeadLettered(sourceCode?: string): Promise<{ requeued: number }> {
    if (sourceCode) {
      const found: unknown[] = await this.db.query(`SELECT 1 FROM source WHERE code = $1`, [sourceCode]);
      if (found.length === 0) throw new NotFoundError(`source ${sourceCode} not found`);
    }
    // TypeORM answers an UPDATE with [rows, affected], not rows.
    const [rows]: [{ id: string }[], number] = await this.db.query(
      `UPDATE inbox_event e SET dead_lettered_at = NULL, attempts = 0
         FROM source s
        WHERE s.id = e.source_id AND e.dead_lettered_at IS NOT NULL AND e.applied_at IS NULL
          AND ($1::text IS NULL OR s.code = $1)
       RETURNING e.id`,
      [sourceCode ?? null],
    );
    for (const r of rows) await this.removeJob(applyJobId(r.id));
    await this.inbox.enqueue(rows.map((r) => r.id));
    return { requeued: rows.length };
  }

  /**
   * The finished job must go, or re-adding its id is a no-op. A job that just dead-lettered its
   * row may still hold its lock for a moment while BullMQ moves it to failed: wait that out.
   */
  private async removeJob(jobId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const job = await this.queue.getJob(jobId);
      if (!job) return;
      try {
        await job.remove();
        return;
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
