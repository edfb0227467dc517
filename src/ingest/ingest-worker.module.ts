import { Module } from '@nestjs/common';
import { PersonsModule } from '../persons/persons.module';
import { IngestModule } from './ingest.module';
import { IngestProcessor } from './ingest.processor';
import { RedriveService } from './redrive.service';

/** The BullMQ processors: present only in worker processes. */
@Module({ imports: [IngestModule, PersonsModule], providers: [IngestProcessor, RedriveService], exports: [RedriveService] })
export class IngestWorkerModule {}
