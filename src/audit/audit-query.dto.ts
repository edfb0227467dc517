import { ApiPropertyOptional } from '@nestjs/swagger';
import { plainToInstance, Transform } from 'class-transformer';
import { IsDateString, IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Matches, Max, Min, validateSync, type ValidationError } from 'class-validator';
import { ValidationFailedError } from '../errors/domain.error';

export const AUDIT_MAX_LIMIT = 500;
const toInt = ({ value }: { value: unknown }): unknown => (typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value);

/** GET /api/v1/persons/:id/disclosures */
export class DisclosuresQuery {
  @ApiPropertyOptional({ description: 'ISO 8601 time, inclusive' })
  @IsOptional() @IsDateString({ strict: true }, { message: 'from must be an ISO 8601 date-time' }) from?: string;

  @ApiPropertyOptional({ description: 'ISO 8601 time, exclusive' })
  @IsOptional() @IsDateString({ strict: true }, { message: 'to must be an ISO 8601 date-time' }) to?: string;

  @ApiPropertyOptional({ type: Number, minimum: 1, maximum: AUDIT_MAX_LIMIT, default: 100 })
  @IsOptional() @Transform(toInt) @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: `limit must be between 1 and ${AUDIT_MAX_LIMIT}` }) @Max(AUDIT_MAX_LIMIT, { message: `limit must be between 1 and ${AUDIT_MAX_LIMIT}` })
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional() @Matches(/^[1-9]\d{0,18}$/, { message: 'cursor is not a cursor from this API' }) cursor?: string;
}

/** GET /api/v1/audit */
export class AuditQuery extends DisclosuresQuery {
  @ApiPropertyOptional({ description: 'Entries that touched this person' })
  @IsOptional() @IsUUID('all', { message: 'personId must be a UUID' }) personId?: string;

  @ApiPropertyOptional({ description: 'User subject or source:<code>' })
  @IsOptional() @IsString() @Length(1, 200, { message: 'actor must be 1-200 characters' }) actor?: string;

  @ApiPropertyOptional({ description: 'Agency code of the actor' })
  @IsOptional() @Matches(/^[a-z0-9][a-z0-9-]{0,63}$/, { message: 'agency must be an agency code' }) agency?: string;

  @ApiPropertyOptional({ description: 'e.g. person.read, events.ingest, request.denied' })
  @IsOptional() @Matches(/^[a-z][a-z0-9_.-]{0,99}$/, { message: 'action must look like thing.verb' }) action?: string;

  @ApiPropertyOptional({ enum: ['allowed', 'denied'] })
  @IsOptional() @IsIn(['allowed', 'denied'], { message: 'outcome must be allowed or denied' }) outcome?: 'allowed' | 'denied';
}

const KNOWN: Record<string, readonly string[]> = {
  DisclosuresQuery: ['from', 'to', 'limit', 'cursor'],
  AuditQuery: ['from', 'to', 'limit', 'cursor', 'personId', 'actor', 'agency', 'action', 'outcome'],
};

function flatten(errors: ValidationError[]): { path: string; message: string }[] {
  return errors.flatMap((e) => Object.values(e.constraints ?? {}).map((message) => ({ path: e.property, message })));
}

/** Query string -> validated DTO; unknown or repeated parameters and bad values are 400s naming the field. */
export function parseAuditQuery<T extends DisclosuresQuery>(cls: new () => T, raw: Record<string, unknown>): T {
  const known = KNOWN[cls.name] ?? [];
  const errors: { path: string; message: string }[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (!known.includes(k)) errors.push({ path: k, message: `${k} is not a known parameter` });
    else if (typeof v !== 'string') errors.push({ path: k, message: `${k} must be given once` });
  }
  const dto = plainToInstance(cls, raw);
  if (errors.length === 0) errors.push(...flatten(validateSync(dto, { forbidUnknownValues: false })));
  if (errors.length === 0 && dto.from && dto.to && new Date(dto.from) >= new Date(dto.to)) {
    errors.push({ path: 'to', message: 'to must be after from' });
  }
  if (errors.length) throw new ValidationFailedError(`invalid query: ${[...new Set(errors.map((e) => e.path))].join(', ')}`, errors);
  return dto;
}
