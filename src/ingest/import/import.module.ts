import { Module } from '@nestjs/common';
import { IngestModule } from '../ingest.module';
import { EventImportService } from './event-import.service';

/** Bulk file import; loaded by the cli role only. */
@Module({
  imports: [IngestModule],
  providers: [EventImportService],
  exports: [EventImportService],
})
export class ImportModule {}
