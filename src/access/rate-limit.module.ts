import { Module, type ExecutionContext } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app.config';
import { RATE_WINDOW_MS, rateTracker } from './rate-limit.guard';
import { RedisThrottlerStorage } from './rate-limit.storage';

@Module({ providers: [RedisThrottlerStorage], exports: [RedisThrottlerStorage] })
class RateLimitStorageModule {}

/** Per-principal limits (RATE_LIMIT_USER_PER_MIN, RATE_LIMIT_SOURCE_PER_MIN; 0 = off), counted in Redis. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [AppConfig, RedisThrottlerStorage],
      useFactory: (cfg: AppConfig, storage: RedisThrottlerStorage) => {
        const limitFor = (ctx: ExecutionContext): number => {
          const tracker = rateTracker(ctx.switchToHttp().getRequest());
          if (!tracker) return 0;
          return tracker.startsWith('source:') ? cfg.RATE_LIMIT_SOURCE_PER_MIN : cfg.RATE_LIMIT_USER_PER_MIN;
        };
        return {
          throttlers: [{ ttl: RATE_WINDOW_MS, limit: limitFor }],
          // No principal (the guard ran first and refused) or a limit of 0: not counted.
          skipIf: (ctx: ExecutionContext) => limitFor(ctx) === 0,
          storage,
        };
      },
    }),
  ],
})
export class RateLimitModule {}
