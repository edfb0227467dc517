import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app.config';
import { dataSourceOptions } from './data-source';

/** The one TypeORM connection; feature modules register their own entities. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (cfg: AppConfig) => ({ ...dataSourceOptions(cfg), autoLoadEntities: true, retryAttempts: 0 }),
    }),
  ],
})
export class DatabaseModule {}
