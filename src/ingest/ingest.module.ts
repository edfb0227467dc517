import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { LinkageModule } from '../linkage/linkage.module';
import { PartnersModule } from '../partners/partners.module';
import { PersonsModule } from '../persons/persons.module';
import { EventApplyService } from './event-apply.service';
import { InboxService } from './inbox.service';
import { IngestStatusService } from './ingest-status.service';
import { INGEST_QUEUE } from './ingest.queue';

/** Ingest services shared by the api, worker and cli processes. */
@Module({
  imports: [PartnersModule, LinkageModule, PersonsModule, BullModule.registerQueue({ name: INGEST_QUEUE })],
  providers: [InboxService, EventApplyService, IngestStatusService],
  exports: [InboxService, EventApplyService, IngestStatusService],
})
export class IngestModule {}
