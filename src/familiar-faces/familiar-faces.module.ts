import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { LinkageModule } from '../linkage/linkage.module';
import { PersonQueryService } from '../persons/person-query.service';
import { PersonsController } from '../persons/persons.controller';
import { CustodyController } from './custody.controller';
import { FamiliarFacesController } from './familiar-faces.controller';
import { FamiliarSseService } from './familiar-sse.service';
import { FamiliarStreamService } from './familiar-stream.service';

/** The read side (issue 5): the familiar-faces list and stream, person pages, search, the release worklist. */
@Module({
  imports: [AccessModule, LinkageModule],
  providers: [PersonQueryService, FamiliarStreamService, FamiliarSseService],
  controllers: [FamiliarFacesController, CustodyController, PersonsController],
  exports: [PersonQueryService],
})
export class FamiliarFacesModule {}
