import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { RateLimitModule } from '../access/rate-limit.module';
import { AuditModule } from '../audit/audit.module';
import { ConfigModule } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { FamiliarFacesModule } from '../familiar-faces/familiar-faces.module';
import { HealthModule } from '../health/health.module';
import { IngestHttpModule } from '../ingest/ingest-http.module';
import { IngestWorkerModule } from '../ingest/ingest-worker.module';
import { IngestModule } from '../ingest/ingest.module';
import { ImportModule } from '../ingest/import/import.module';
import { PartnersModule } from '../partners/partners.module';
import { PersonsModule } from '../persons/persons.module';
import { QueueModule } from '../queue/queue.module';
import { LinkageWorkerModule } from '../linkage/linkage-worker.module';
import { LinkageModule } from '../linkage/linkage.module';
import { LoggerModule } from './logger.module';

export type ProcessRole = 'api' | 'worker' | 'all' | 'cli';

const HTTP: Type[] = [HealthModule, IngestHttpModule, FamiliarFacesModule];
const WORKER: Type[] = [IngestWorkerModule, LinkageWorkerModule];

/** One codebase, three processes: the role picks which modules load. */
@Module({})
export class AppModule {
  static forRole(role: ProcessRole): DynamicModule {
    // RateLimitModule everywhere: controllers' guards are instantiated in every role's context.
    const features: Type[] = [AuditModule, PartnersModule, AccessModule, RateLimitModule, LinkageModule, PersonsModule, IngestModule];
    if (role === 'api' || role === 'all') features.push(...HTTP);
    if (role === 'worker' || role === 'all') features.push(...WORKER);
    if (role === 'cli') features.push(ImportModule);
    return { module: AppModule, imports: [ConfigModule, LoggerModule, DatabaseModule, QueueModule, ...features] };
  }
}
