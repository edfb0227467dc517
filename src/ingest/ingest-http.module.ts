import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { PartnersModule } from '../partners/partners.module';
import { IngestStatusController } from './ingest-status.controller';
import { IngestController } from './ingest.controller';
import { IngestModule } from './ingest.module';

@Module({ imports: [IngestModule, PartnersModule, AccessModule], controllers: [IngestController, IngestStatusController] })
export class IngestHttpModule {}
