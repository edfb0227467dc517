import { Module } from '@nestjs/common';
import { LinkageModule } from './linkage.module';
import { NameFrequencyService } from './name-frequency.service';

/** Background linkage upkeep: present only in worker processes. */
@Module({ imports: [LinkageModule], providers: [NameFrequencyService], exports: [NameFrequencyService] })
export class LinkageWorkerModule {}
