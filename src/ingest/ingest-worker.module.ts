import { Module } from '@nestjs/common';
import { PersonsModule } from '../persons/persons.module';
import { ApplyBatcher } from './apply.batcher';
import { IngestModule } from './ingest.module';
import { IngestProcessor } from './ingest.processor';
import { RedriveService } from './redrive.service';

/** The BullMQ processors: present only in worker processes. */
@Module({ imports: [IngestModule, PersonsModule], providers: [ApplyBatcher, IngestProcessor, RedriveService], exports: [RedriveService] })
export class IngestWorkerModule {}
