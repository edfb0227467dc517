import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import Redis from 'ioredis';
import { AppConfig } from '../config/app.config';
import { redisOptions } from '../queue/redis-options';

@Injectable()
export class RedisHealthIndicator implements OnModuleDestroy {
  private readonly client: Redis;

  constructor(
    cfg: AppConfig,
    private readonly health: HealthIndicatorService,
  ) {
    // Fails fast: a readiness probe must answer, not queue commands while Redis is away.
    this.client = new Redis({ ...redisOptions(cfg.REDIS_URL), lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
    this.client.on('error', () => undefined); // surfaced through check(), not as unhandled events
  }

  async check(key = 'redis'): Promise<HealthIndicatorResult> {
    const session = this.health.check(key);
    try {
      if (this.client.status === 'wait' || this.client.status === 'end') await this.client.connect();
      await this.client.ping();
      return session.up();
    } catch (err) {
      return session.down({ message: err instanceof Error ? err.message : 'unreachable' });
    }
  }

  onModuleDestroy(): void {
    this.client.disconnect();
  }
}
