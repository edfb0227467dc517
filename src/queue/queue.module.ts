import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { redisOptions } from './redis-options';

/** BullMQ on Redis; every queue and key lives under QUEUE_PREFIX. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (cfg: AppConfig) => ({ connection: redisOptions(cfg.REDIS_URL), prefix: cfg.QUEUE_PREFIX }),
    }),
  ],
})
export class QueueModule {}
