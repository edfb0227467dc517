import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app.config';
import { redisOptions } from '../queue/redis-options';
import type { FamiliarChange } from './projection.service';

/** The Redis stream the familiar-faces SSE endpoint reads. */
export function familiarStreamKey(prefix: string): string {
  return `${prefix}:familiar-faces`;
}

const MAXLEN = '100000';

/**
 * Appends familiar-list changes to the Redis stream after the projection's transaction
 * committed (a rolled-back change is never announced). The client connects on first use, so
 * processes that never publish never open it.
 */
@Injectable()
export class ChangeStreamService implements OnModuleDestroy {
  private readonly log = new Logger('change-stream');
  private client?: Redis;

  constructor(private readonly cfg: AppConfig) {}

  get key(): string {
    return familiarStreamKey(this.cfg.QUEUE_PREFIX);
  }

  /** XADDs each change in order (one round trip); approximate trimming keeps the stream bounded. */
  async publish(changes: readonly FamiliarChange[]): Promise<void> {
    if (changes.length === 0) return;
    // Bounded retries: a Redis outage must fail this call, not hang the worker's job.
    this.client ??= new Redis({ ...redisOptions(this.cfg.REDIS_URL), maxRetriesPerRequest: 2 });
    const m = this.client.multi();
    for (const c of changes) m.xadd(this.key, 'MAXLEN', '~', MAXLEN, '*', 'personId', c.personId, 'kind', c.kind);
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  /** Publishes and logs (ids and counts only) instead of throwing: the read model is already committed. */
  async publishQuietly(changes: readonly FamiliarChange[]): Promise<void> {
    try {
      await this.publish(changes);
    } catch (err) {
      this.log.warn({ changes: changes.length, err: err instanceof Error ? err.name : 'unknown' }, 'familiar-faces change not published');
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.quit().catch(() => undefined);
  }
}
