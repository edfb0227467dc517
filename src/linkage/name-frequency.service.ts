import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

const LOCK = 'linkage:name-frequency';
const EVERY_MS = 10 * 60_000;
const FIRST_AFTER_MS = 5_000;

/**
 * Recounts names for term-frequency adjustment. Frequencies move slowly, so a periodic recount
 * (one worker at a time) replaces per-record counters that every link would have to lock.
 */
@Injectable()
export class NameFrequencyService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(NameFrequencyService.name);
  private timers: NodeJS.Timeout[] = [];
  private running?: Promise<unknown>;

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  onApplicationBootstrap(): void {
    const tick = (): void => {
      if (this.running) return;
      this.running = this.refresh()
        .catch((err: unknown) => this.log.error({ err: err instanceof Error ? err.name : 'unknown' }, 'name frequency refresh failed'))
        .finally(() => (this.running = undefined));
    };
    this.timers = [setTimeout(tick, FIRST_AFTER_MS), setInterval(tick, EVERY_MS)];
  }

  async onApplicationShutdown(): Promise<void> {
    this.timers.forEach((t) => clearTimeout(t));
    await this.running;
  }

  /** Replaces the counts in one transaction; returns false when another worker holds the job. */
  async refresh(): Promise<boolean> {
    return this.db.transaction(async (em) => {
      const [{ locked }]: { locked: boolean }[] = await em.query(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked`, [LOCK]);
      if (!locked) return false;
      await em.query(`DELETE FROM name_frequency`);
      // The same values the engine's termValues() reads: the primary name's first and core surname.
      await em.query(
        `INSERT INTO name_frequency (field, value, records)
         SELECT f.field, f.value, count(*) FROM linkage_record lr
          CROSS JOIN LATERAL (VALUES ('first', lr.normalised #>> '{names,0,first}'), ('last', lr.normalised #>> '{names,0,last}')) AS f(field, value)
          WHERE f.value IS NOT NULL AND f.value <> ''
          GROUP BY f.field, f.value`,
      );
      return true;
    });
  }
}
