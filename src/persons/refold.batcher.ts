import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ChangeStreamService } from './change-stream.service';
import { ProjectionService } from './projection.service';

interface Waiter {
  ids: readonly string[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Persons per refold transaction (a run takes whole waiters, so it can go over by one apply's persons). */
const MAX_PERSONS = 1000;

/**
 * Refolds the persons of committed applies, one transaction at a time per process, so that a
 * refold runs on its own connection while the next apply batch links on another. Whatever
 * arrives while a refold runs makes up the next one, so a person touched by several batches
 * meanwhile is folded once. refresh() resolves after a refold that started after the call
 * committed (and its familiar-list changes were published), or rejects with its error; the
 * persons' due rows then stay, and the sweep refolds them.
 */
@Injectable()
export class RefoldBatcher {
  private pending: Waiter[] = [];
  private running?: Promise<void>;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly projection: ProjectionService,
    private readonly changes: ChangeStreamService,
  ) {}

  refresh(personIds: readonly string[]): Promise<void> {
    if (personIds.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ ids: personIds, resolve, reject });
      this.running ??= this.drain();
    });
  }

  /**
   * Refolds these persons now, in one transaction of their own (not merged with other callers'),
   * and publishes their familiar-list changes after the commit. For callers that split a large
   * set themselves and run several at once on disjoint persons (the backfill's final refold).
   */
  async refoldNow(personIds: readonly string[]): Promise<void> {
    const changes = await this.db.transaction((em) => this.projection.refold(em, personIds));
    await this.changes.publishQuietly(changes);
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        let n = 0;
        let take = 0;
        while (take < this.pending.length && (take === 0 || n + this.pending[take].ids.length <= MAX_PERSONS)) {
          n += this.pending[take].ids.length;
          take += 1;
        }
        const run = this.pending.splice(0, take);
        const ids = [...new Set(run.flatMap((w) => w.ids))];
        try {
          const changes = await this.db.transaction((em) => this.projection.refold(em, ids));
          // After COMMIT: a rolled-back refold announces nothing.
          await this.changes.publishQuietly(changes);
          for (const w of run) w.resolve();
        } catch (err) {
          for (const w of run) w.reject(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
