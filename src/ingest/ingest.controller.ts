import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { auditContextFromRequest } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { ValidationFailedError } from '../errors/domain.error';
import { RateLimitGuard } from '../access/rate-limit.guard';
import { SourceKeyGuard, type SourceRequest } from '../partners/source-key.guard';
import { EventBatchDto } from './event.dto';
import { InboxService, type EventResult } from './inbox.service';

export const MAX_BATCH = 1000;

@ApiTags('ingest')
@Controller('api/v1/events')
export class IngestController {
  constructor(
    private readonly inbox: InboxService,
    private readonly audit: AuditService,
  ) {}

  @Post()
  @HttpCode(202)
  @UseGuards(SourceKeyGuard, RateLimitGuard)
  @ApiBearerAuth('source-key')
  @ApiOperation({ summary: 'Send 1-1000 events from a partner source (contract v1, docs/events.md)' })
  @ApiBody({ type: EventBatchDto })
  @ApiResponse({ status: 202, description: 'Per-event results in request order: accepted, duplicate or rejected with field errors' })
  async send(@Req() req: SourceRequest, @Body() body: unknown): Promise<{ results: EventResult[] }> {
    const events = (body as { events?: unknown } | null)?.events;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ValidationFailedError('body must be a JSON object {"events": [...]}', [{ path: 'events', message: 'events is required' }]);
    }
    const extra = Object.keys(body).filter((k) => k !== 'events');
    if (extra.length) throw new ValidationFailedError('unknown fields', extra.map((k) => ({ path: k, message: `${k} is not a known field` })));
    if (!Array.isArray(events) || events.length < 1 || events.length > MAX_BATCH) {
      throw new ValidationFailedError(`events must be an array of 1 to ${MAX_BATCH} events`, [
        { path: 'events', message: `events must be an array of 1 to ${MAX_BATCH} events` },
      ]);
    }
    // One audit entry per batch, in the inbox transaction: counts and the source, no event content.
    const ctx = auditContextFromRequest(req);
    const results = await this.inbox.accept(req.source!.sourceId, events, (em, res) =>
      this.audit.record(em, { ...ctx, action: 'events.ingest', resource: `source/${req.source!.sourceCode}`, details: batchCounts(res) }),
    );
    return { results };
  }
}

function batchCounts(results: EventResult[]): Record<string, number> {
  const n = { received: results.length, accepted: 0, duplicate: 0, rejected: 0 };
  for (const r of results) n[r.status] += 1;
  return n;
}
