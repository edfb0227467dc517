import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app.config';
import { ProjectionService } from '../persons/projection.service';
import { RefoldBatcher } from '../persons/refold.batcher';
import { InboxService } from './inbox.service';

const REDRIVE_LOCK = 'ingest:redrive';
const BATCH = 5000;
const REFOLD_BATCH = 500;

/**
 * Re-enqueues accepted events that are still unapplied after the grace period
 * (Redis flushed, crash between commit and enqueue), and refolds persons whose due refold is
 * older than the grace period (a worker stopped, or a refold failed, after an apply committed).
 * A timer in each worker rather than a BullMQ repeatable job, because a Redis flush would erase
 * the repeatable job too.
 */
@Injectable()
export class RedriveService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(RedriveService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly inbox: InboxService,
    private readonly projection: ProjectionService,
    private readonly refolds: RefoldBatcher,
    private readonly cfg: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.redrive()
        .then(() => this.sweepRefolds())
        .catch((err: unknown) => this.log.error({ err: err instanceof Error ? err.name : 'unknown' }, 're-drive failed'))
        .finally(() => (this.running = undefined));
    }, this.cfg.REDRIVE_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * Refolds every person whose due refold is older than the grace period. Returns how many. When a
   * batch fails its persons are refolded one by one, so one person whose fold fails does not hold
   * back the rest; that failure is then thrown (the person stays due and counted in ingest status).
   */
  async sweepRefolds(graceMs: number = this.cfg.REDRIVE_GRACE_MS): Promise<number> {
    let total = 0;
    const failed = new Map<string, unknown>();
    for (;;) {
      const ids = await this.projection.duePersons(this.db.manager, graceMs, REFOLD_BATCH, [...failed.keys()]);
      if (ids.length === 0) break;
      try {
        await this.refolds.refresh(ids);
        total += ids.length;
      } catch {
        for (const id of ids) {
          try {
            await this.refolds.refresh([id]);
            total += 1;
          } catch (err) {
            failed.set(id, err);
          }
        }
      }
    }
    if (total > 0) this.log.log({ count: total }, 'refolded persons left due');
    if (failed.size > 0) throw [...failed.values()][0];
    return total;
  }

  /** One pass; only one worker at a time does it. Returns how many rows it queued. */
  async redrive(graceMs: number = this.cfg.REDRIVE_GRACE_MS): Promise<number> {
    return this.db.transaction(async (em) => {
      const [{ locked }]: { locked: boolean }[] = await em.query(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked`, [REDRIVE_LOCK]);
      if (!locked) return 0;
      let total = 0;
      let after = '0';
      for (;;) {
        const rows: { id: string }[] = await em.query(
          `SELECT id FROM inbox_event
            WHERE applied_at IS NULL AND dead_lettered_at IS NULL
              AND received_at < now() - make_interval(secs => $1::double precision / 1000) AND id > $2
            ORDER BY id LIMIT ${BATCH}`,
          [graceMs, after],
        );
        if (rows.length === 0) break;
        await this.inbox.requeue(rows.map((r) => r.id));
        total += rows.length;
        after = rows[rows.length - 1].id;
      }
      if (total > 0) this.log.log({ count: total }, 're-drove unapplied events');
      return total;
    });
  }
}
