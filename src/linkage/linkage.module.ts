import { Module } from '@nestjs/common';
import { LinksService } from './links.service';
import { ModelStoreService } from './model-store.service';
import { RecordLinkerService } from './record-linker.service';

/** Links source records to persons with the engine in ./engine (pure TypeScript). */
@Module({
  providers: [ModelStoreService, RecordLinkerService, LinksService],
  exports: [ModelStoreService, RecordLinkerService, LinksService],
})
export class LinkageModule {}
