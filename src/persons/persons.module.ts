import { Module } from '@nestjs/common';
import { ChangeStreamService } from './change-stream.service';
import { ProjectionService } from './projection.service';
import { RebuildService } from './rebuild.service';
import { RefoldBatcher } from './refold.batcher';

/** Read models folded from the event log (issue 5) and the change stream they feed. */
@Module({
  providers: [ProjectionService, ChangeStreamService, RebuildService, RefoldBatcher],
  exports: [ProjectionService, ChangeStreamService, RebuildService, RefoldBatcher],
})
export class PersonsModule {}
