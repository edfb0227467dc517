import { Module } from '@nestjs/common';
import { ModelStoreService } from './model-store.service';
import { RecordLinkerService } from './record-linker.service';

/** Links source records to persons with the engine in ./engine (pure TypeScript). */
@Module({ providers: [ModelStoreService, RecordLinkerService], exports: [ModelStoreService, RecordLinkerService] })
export class LinkageModule {}
