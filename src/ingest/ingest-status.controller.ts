import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRoles } from '../access/auth.guard';
import { IngestStatusService, type IngestStatus } from './ingest-status.service';

@ApiTags('ingest')
@Controller('api/v1/ingest')
export class IngestStatusController {
  constructor(private readonly status: IngestStatusService) {}

  @Get('status')
  @RequireRoles('admin')
  @ApiOperation({ summary: 'Received, processed, pending, failed and dead-lettered events, overall and per source' })
  get(): Promise<IngestStatus> {
    return this.status.status();
  }
}
