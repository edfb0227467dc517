import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Agency } from './agency.entity';
import { PartnersService } from './partners.service';
import { SourceApiKey } from './source-api-key.entity';
import { SourceKeyGuard } from './source-key.guard';
import { Source } from './source.entity';

@Module({
  imports: [TypeOrmModule.forFeature([Agency, Source, SourceApiKey])],
  providers: [PartnersService, SourceKeyGuard],
  exports: [PartnersService, SourceKeyGuard],
})
export class PartnersModule {}
