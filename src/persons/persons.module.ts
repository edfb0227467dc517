import { Module } from '@nestjs/common';
import { ChangeStreamService } from './change-stream.service';
import { ProjectionService } from './projection.service';
import { RebuildService } from './rebuild.service';

/** Read models folded from the event log (issue 5) and the change stream they feed. */
@Module({
  providers: [ProjectionService, ChangeStreamService, RebuildService],
  exports: [ProjectionService, ChangeStreamService, RebuildService],
})
export class PersonsModule {}
