import { Module } from '@nestjs/common';
import { PartnersModule } from '../partners/partners.module';
import { IngestController } from './ingest.controller';
import { IngestModule } from './ingest.module';

@Module({ imports: [IngestModule, PartnersModule], controllers: [IngestController] })
export class IngestHttpModule {}
