import { Controller, Get, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRoles } from '../access/auth.guard';
import { auditContextFromRequest, type AuditedRequest } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { IngestStatusService, type IngestStatus } from './ingest-status.service';

@ApiTags('ingest')
@Controller('api/v1/ingest')
export class IngestStatusController {
  constructor(
    private readonly status: IngestStatusService,
    private readonly audit: AuditService,
  ) {}

  @Get('status')
  @RequireRoles('admin')
  @ApiOperation({ summary: 'Received, processed, pending, failed and dead-lettered events, overall and per source' })
  get(@Req() req: AuditedRequest): Promise<IngestStatus> {
    const ctx = { ...auditContextFromRequest(req), role: 'admin' };
    return this.audit.auditedRead({ ...ctx, action: 'ingest_status.read', resource: 'ingest/status' }, async () => ({ result: await this.status.status() }));
  }
}
