import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { RefoldBatcher } from '../persons/refold.batcher';
import { EventApplyService, type AppliedEvent, type BatchOutcome } from './event-apply.service';

interface Waiter {
  id: string;
  resolve: (r: AppliedEvent | null) => void;
  reject: (err: unknown) => void;
  /** Times its record was held by another transaction when a batch tried to take it. */
  deferrals: number;
}

/** After this many deferrals an event takes the single path, which waits for its record's lock. */
const MAX_DEFERRALS = 50;

function sqlState(err: unknown): unknown {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  return e?.code ?? e?.driverError?.code;
}

/** Deadlocks and serialisation failures: the batch is retried as a whole once before the fallback. */
function retryable(err: unknown): boolean {
  const code = sqlState(err);
  return code === '40P01' || code === '40001';
}

/**
 * PostgreSQL's shared lock table is full (out of shared memory: a batch takes an advisory lock per
 * record and blocking key, and the table holds max_locks_per_transaction x max_connections).
 * The batch is applied in halves, which take about half the locks each, instead of one by one.
 */
function lockTableFull(err: unknown): boolean {
  return sqlState(err) === '53200';
}

/**
 * Micro-batches the worker's applies. Each BullMQ job submits its inbox id and awaits its own
 * result, so jobs still complete, retry and dead-letter one by one; the batcher runs up to
 * INGEST_APPLY_BATCH_SIZE of them in one transaction (EventApplyService.applyBatch), at most
 * INGEST_APPLY_PARALLEL batches at once; jobs that arrive meanwhile make up the next batch. A
 * partly filled batch waits INGEST_APPLY_LINGER_MS for more. When a batch fails it is rolled back and its events are applied
 * one by one (EventApplyService.apply), so a poison event fails only its own job; a batch that
 * filled PostgreSQL's lock table is applied in halves instead. The persons a batch touched are
 * refolded by the RefoldBatcher after its commit, on another connection, while the next batch
 * applies; the jobs complete when that refold committed.
 */
@Injectable()
export class ApplyBatcher {
  private readonly log = new Logger(ApplyBatcher.name);
  private readonly size: number;
  private readonly linger: number;
  private readonly maxInFlight: number;
  private pending: Waiter[] = [];
  private inFlight = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly applier: EventApplyService,
    private readonly refolds: RefoldBatcher,
    cfg: AppConfig,
  ) {
    this.size = cfg.INGEST_APPLY_BATCH_SIZE;
    this.linger = cfg.INGEST_APPLY_LINGER_MS;
    this.maxInFlight = cfg.INGEST_APPLY_PARALLEL;
  }

  /**
   * Resolves with the event's effect (null: it was applied before) once its transaction committed
   * and its persons' refold committed after it; rejects when either failed.
   */
  submit(inboxId: string): Promise<AppliedEvent | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id: String(inboxId), resolve, reject, deferrals: 0 });
      this.schedule();
    });
  }

  private schedule(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length >= this.size) this.flush();
    if (this.pending.length > 0 && this.inFlight < this.maxInFlight && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.pending.length > 0 && this.inFlight < this.maxInFlight) this.flush();
        this.schedule();
      }, this.linger);
    }
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.size);
    this.inFlight += 1;
    void this.run(batch).finally(() => {
      this.inFlight -= 1;
      this.schedule();
    });
  }

  private async run(batch: Waiter[]): Promise<void> {
    if (batch.length === 1) return this.single(batch[0]);
    let out: BatchOutcome;
    try {
      const ids = batch.map((w) => w.id);
      out = await this.applier.applyBatch(ids).catch((err: unknown) => {
        if (!retryable(err)) throw err;
        return this.applier.applyBatch(ids);
      });
    } catch (err) {
      if (lockTableFull(err) && batch.length > 1) {
        this.log.warn({ events: batch.length }, 'apply batch ran out of lock table space (max_locks_per_transaction); applying it in halves');
        const half = Math.ceil(batch.length / 2);
        await this.run(batch.slice(0, half));
        await this.run(batch.slice(half));
        return;
      }
      // Error class only: messages can carry data.
      this.log.warn({ events: batch.length, err: err instanceof Error ? err.name : 'unknown' }, 'apply batch failed; applying its events one by one');
      for (const w of batch) await this.single(w);
      return;
    }
    const deferred = new Set(out.deferred);
    const again: Waiter[] = [];
    const done: Waiter[] = [];
    const rest: Waiter[] = [];
    for (const w of batch) {
      if (out.applied.has(w.id)) done.push(w);
      else if (deferred.has(w.id) && ++w.deferrals <= MAX_DEFERRALS) again.push(w);
      else rest.push(w);
    }
    // After COMMIT, and not awaited: the refold runs on its own connection while this slot takes
    // the next batch. The jobs complete when it committed.
    this.refolds.refresh(out.personIds).then(
      () => { for (const w of done) w.resolve(out.applied.get(w.id)!); },
      (err: unknown) => { for (const w of done) w.reject(err); },
    );
    // First in line for the next batch; its record's holder commits meanwhile.
    this.pending.unshift(...again);
    for (const w of rest) await this.single(w);
  }

  /** The one-event path: waits for its record's lock; its failure is its own job's. */
  private async single(w: Waiter): Promise<void> {
    try {
      const res = await this.applier.apply(w.id);
      if (res) await this.refolds.refresh(res.personIds);
      w.resolve(res);
    } catch (err) {
      w.reject(err);
    }
  }
}
