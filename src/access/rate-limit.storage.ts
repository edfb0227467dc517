import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import { AppConfig } from '../config/app.config';
import { redisOptions } from '../queue/redis-options';

// A fixed window per key: the first hit starts it, later hits count until it expires.
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {n, t}`;

/**
 * Rate-limit counters in Redis, so every API process shares one budget per caller. If Redis does
 * not answer, requests pass (and a warning is logged): the limit protects availability, it is not
 * an access rule.
 */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly log = new Logger('rate-limit');
  private client?: Redis;
  private lastWarn = 0;

  constructor(private readonly cfg: AppConfig) {}

  async increment(key: string, ttl: number, limit: number, _blockDuration: number, _name: string): Promise<ThrottlerStorageRecord> {
    this.client ??= new Redis({ ...redisOptions(this.cfg.REDIS_URL), maxRetriesPerRequest: 1, enableOfflineQueue: true });
    try {
      const [hits, pttl] = (await this.client.eval(HIT, 1, `${this.cfg.QUEUE_PREFIX}:rl:${key}`, String(ttl))) as [number, number];
      const seconds = Math.max(1, Math.ceil(pttl / 1000));
      return { totalHits: hits, timeToExpire: seconds, isBlocked: hits > limit, timeToBlockExpire: hits > limit ? seconds : 0 };
    } catch (err) {
      if (Date.now() - this.lastWarn > 60_000) {
        this.lastWarn = Date.now();
        this.log.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'rate-limit store unavailable; not limiting');
      }
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
  }

  onModuleDestroy(): void {
    this.client?.disconnect();
  }
}
