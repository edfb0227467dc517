import { ApiPropertyOptional } from '@nestjs/swagger';
import { plainToInstance, Transform } from 'class-transformer';
import {
  getMetadataStorage, IsBoolean, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min, validateSync, type ValidationError,
} from 'class-validator';
import { ValidationFailedError } from '../errors/domain.error';
import { NEED_CATEGORIES } from '../ingest/event.dto';

export const CONSENT_STATUSES = ['active', 'expiring', 'expired', 'revoked', 'none'] as const;
export type ConsentStatusName = (typeof CONSENT_STATUSES)[number];
export const LIST_SORTS = ['lastActivity', 'releaseDate', 'name'] as const;
export type ListSort = (typeof LIST_SORTS)[number];
export const MAX_LIMIT = 100;

const toInt = ({ value }: { value: unknown }): unknown => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value);
const toBool = ({ value }: { value: unknown }): unknown => (value === 'true' ? true : value === 'false' ? false : value);
const AGENCY_CODE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** GET /api/v1/familiar-faces */
export class FamiliarListQuery {
  @ApiPropertyOptional({ description: 'Fuzzy name (nicknames, typos)' })
  @IsOptional() @IsString() @Length(2, 100, { message: 'q must be 2-100 characters' }) q?: string;

  @ApiPropertyOptional({ description: 'Agency code involved with the person' })
  @IsOptional() @Matches(AGENCY_CODE, { message: 'agency must be an agency code' }) agency?: string;

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional() @Transform(toBool) @IsBoolean({ message: 'inCustody must be true or false' }) inCustody?: boolean;

  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 365 })
  @IsOptional() @Transform(toInt) @IsInt({ message: 'releaseWithinDays must be an integer' })
  @Min(0, { message: 'releaseWithinDays must be between 0 and 365' }) @Max(365, { message: 'releaseWithinDays must be between 0 and 365' })
  releaseWithinDays?: number;

  @ApiPropertyOptional({ enum: NEED_CATEGORIES })
  @IsOptional() @IsIn(NEED_CATEGORIES, { message: `needCategory must be one of ${NEED_CATEGORIES.join(', ')}` }) needCategory?: string;

  @ApiPropertyOptional({ enum: CONSENT_STATUSES })
  @IsOptional() @IsIn(CONSENT_STATUSES, { message: `consentStatus must be one of ${CONSENT_STATUSES.join(', ')}` }) consentStatus?: ConsentStatusName;

  @ApiPropertyOptional({ description: 'A criterion id (see docs/familiar-faces.md)' })
  @IsOptional() @Matches(/^[a-z0-9_-]{1,64}$/, { message: 'criteria must be a criterion id' }) criteria?: string;

  @ApiPropertyOptional({ enum: LIST_SORTS, default: 'lastActivity' })
  @IsOptional() @IsIn(LIST_SORTS, { message: `sort must be one of ${LIST_SORTS.join(', ')}` }) sort?: ListSort;

  @ApiPropertyOptional({ type: Number, minimum: 1, maximum: MAX_LIMIT, default: 25 })
  @IsOptional() @Transform(toInt) @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: `limit must be between 1 and ${MAX_LIMIT}` }) @Max(MAX_LIMIT, { message: `limit must be between 1 and ${MAX_LIMIT}` })
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page' })
  @IsOptional() @IsString() @Length(1, 500, { message: 'cursor is not a cursor from this API' }) cursor?: string;
}

/** GET /api/v1/custody/releases */
export class ReleasesQuery {
  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 365, default: 7 })
  @IsOptional() @Transform(toInt) @IsInt({ message: 'withinDays must be an integer' })
  @Min(0, { message: 'withinDays must be between 0 and 365' }) @Max(365, { message: 'withinDays must be between 0 and 365' })
  withinDays?: number;

  @ApiPropertyOptional({ type: Number, minimum: 1, maximum: MAX_LIMIT, default: 50 })
  @IsOptional() @Transform(toInt) @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: `limit must be between 1 and ${MAX_LIMIT}` }) @Max(MAX_LIMIT, { message: `limit must be between 1 and ${MAX_LIMIT}` })
  limit?: number;

  @ApiPropertyOptional()
  @IsOptional() @IsString() @Length(1, 500, { message: 'cursor is not a cursor from this API' }) cursor?: string;
}

/** GET /api/v1/persons/search */
export class PersonSearchQuery {
  @ApiPropertyOptional()
  @IsOptional() @IsString() @Length(1, 100, { message: 'firstName must be 1-100 characters' }) firstName?: string;

  @ApiPropertyOptional()
  @IsString({ message: 'lastName is required' }) @Length(1, 100, { message: 'lastName must be 1-100 characters' }) lastName!: string;

  @ApiPropertyOptional({ description: 'YYYY-MM-DD' })
  @IsOptional() @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'dateOfBirth must be YYYY-MM-DD' }) dateOfBirth?: string;

  @ApiPropertyOptional({ type: Number, minimum: 1, maximum: 50, default: 10 })
  @IsOptional() @Transform(toInt) @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be between 1 and 50' }) @Max(50, { message: 'limit must be between 1 and 50' })
  limit?: number;
}

function flatten(errors: ValidationError[], prefix = ''): { path: string; message: string }[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ path, message }));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/** Query string -> validated DTO; unknown or repeated parameters and bad values are 400s naming the field. */
export function parseQuery<T extends object>(cls: new () => T, raw: Record<string, unknown>): T {
  const known = new Set(Object.keys(validationShape(cls)));
  const errors: { path: string; message: string }[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (!known.has(k)) errors.push({ path: k, message: `${k} is not a known parameter` });
    else if (typeof v !== 'string') errors.push({ path: k, message: `${k} must be given once` });
  }
  if (errors.length === 0) {
    const dto = plainToInstance(cls, raw);
    errors.push(...flatten(validateSync(dto, { forbidUnknownValues: false })));
    if (errors.length === 0) return dto;
  }
  throw new ValidationFailedError(`invalid query: ${[...new Set(errors.map((e) => e.path))].join(', ')}`, errors);
}

// The properties a DTO declares validators for (class-validator keeps them in its metadata storage).
const shapes = new Map<unknown, Record<string, true>>();
function validationShape(cls: new () => object): Record<string, true> {
  let s = shapes.get(cls);
  if (!s) {
    s = {};
    for (const m of getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false)) s[m.propertyName] = true;
    shapes.set(cls, s);
  }
  return s;
}
