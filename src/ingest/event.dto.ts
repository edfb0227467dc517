import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize, ArrayMinSize, IsArray, IsEmail, IsIn, IsObject, IsOptional, IsString, Length, Matches,
  ValidateNested, registerDecorator, type ValidationArguments, type ValidationOptions,
} from 'class-validator';

export const EVENT_TYPES = [
  'booking', 'release', 'court_case', 'hearing', 'referral', 'service', 'need_opened', 'need_closed',
  'consent_signed', 'consent_revoked', 'contact_assigned', 'record_corrected', 'record_expunged',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const NEED_CATEGORIES = [
  'housing', 'behavioral_health', 'substance_use', 'medical', 'medication', 'benefits', 'employment',
  'legal', 'transportation', 'food', 'identification', 'other',
] as const;
export type NeedCategory = (typeof NEED_CATEGORIES)[number];

export const REFERRAL_STATUSES = ['open', 'accepted', 'declined', 'completed', 'closed'] as const;
const FUTURE_SLACK_MS = 24 * 3600_000;
// Field ranges checked here: Date.parse rolls 2026-02-30 over to March instead of failing.
const ISO_WITH_ZONE = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

function isRealDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** YYYY-MM-DD that exists on the calendar and is not in the future. */
export function IsPastCalendarDate(opts?: ValidationOptions) {
  return (target: object, propertyName: string): void =>
    registerDecorator({
      name: 'isPastCalendarDate', target: target.constructor, propertyName, options: opts,
      validator: {
        validate: (v: unknown) => typeof v === 'string' && isRealDate(v) && v <= new Date().toISOString().slice(0, 10),
        defaultMessage: (a?: ValidationArguments) => `${a?.property} must be a real date YYYY-MM-DD, not in the future`,
      },
    });
}

/** ISO-8601 timestamp with a zone; `maxFutureMs` bounds clock skew. */
export function IsZonedTimestamp(maxFutureMs: number | null, opts?: ValidationOptions) {
  return (target: object, propertyName: string): void =>
    registerDecorator({
      name: 'isZonedTimestamp', target: target.constructor, propertyName, options: opts,
      validator: {
        validate: (v: unknown) => {
          const m = typeof v === 'string' ? ISO_WITH_ZONE.exec(v) : null;
          if (typeof v !== 'string' || !m || !isRealDate(m[1])) return false;
          const t = Date.parse(v);
          return !Number.isNaN(t) && (maxFutureMs === null || t <= Date.now() + maxFutureMs);
        },
        defaultMessage: (a?: ValidationArguments) =>
          maxFutureMs === null
            ? `${a?.property} must be an ISO-8601 timestamp with a zone (e.g. 2026-01-31T09:00:00Z)`
            : `${a?.property} must be an ISO-8601 timestamp with a zone, not more than 24 h in the future`,
      },
    });
}

export class AddressDto {
  @IsOptional() @IsString() @Length(1, 200) line1?: string;
  @IsOptional() @IsString() @Length(1, 200) line2?: string;
  @IsOptional() @IsString() @Length(1, 100) city?: string;
  @IsOptional() @IsString() @Length(1, 50) state?: string;
  @IsOptional() @IsString() @Length(1, 20) postalCode?: string;
}

export class AliasDto {
  @IsOptional() @IsString() @Length(1, 100) firstName?: string;
  @IsOptional() @IsString() @Length(1, 100) lastName?: string;
  @IsOptional() @IsPastCalendarDate() dateOfBirth?: string;
}

export class IdentifierDto {
  /** e.g. state_id, fbi, mrn, medicaid */
  @IsString() @Matches(/^[a-z0-9_.-]{1,64}$/, { message: 'system must be 1-64 lower-case letters, digits, _ . or -' }) system!: string;
  @IsString() @Length(1, 128) value!: string;
}

export class SubjectDto {
  /** The source's own stable id for the person. */
  @IsString() @Length(1, 128) recordId!: string;
  @IsString() @Length(1, 100) firstName!: string;
  @IsString() @Length(1, 100) lastName!: string;
  @IsOptional() @IsString() @Length(1, 100) middleName?: string;
  /** YYYY-MM-DD */
  @IsOptional() @IsPastCalendarDate() dateOfBirth?: string;
  @IsOptional() @IsIn(['M', 'F', 'X', 'U']) sex?: 'M' | 'F' | 'X' | 'U';
  /** 9 digits, dashes allowed. Structurally impossible numbers are dropped with a warning. */
  @IsOptional() @IsString() @Matches(/^(\d{3}-?\d{2}-?\d{4})$/, { message: 'ssn must be 9 digits, dashes allowed' }) ssn?: string;
  @IsOptional() @IsString() @Matches(/^[0-9+().\- ]{7,32}$/, { message: 'phone must be 7-32 digits and separators' }) phone?: string;
  @IsOptional() @IsEmail({}, { message: 'email must be an email address' }) @Length(3, 254) email?: string;
  @IsOptional() @IsObject({ message: 'address must be an object' }) @ValidateNested() @Type(() => AddressDto) address?: AddressDto;
  @IsOptional() @IsArray() @ArrayMaxSize(20) @ValidateNested({ each: true }) @Type(() => AliasDto) aliases?: AliasDto[];
  @IsOptional() @IsArray() @ArrayMaxSize(20) @ValidateNested({ each: true }) @Type(() => IdentifierDto) identifiers?: IdentifierDto[];
}

export class EventDto {
  /** Unique within the source; resending it is idempotent. */
  @IsString() @Length(1, 128) eventId!: string;
  @ApiProperty({ enum: EVENT_TYPES })
  @IsIn(EVENT_TYPES, { message: `type must be one of ${EVENT_TYPES.join(', ')}` }) type!: EventType;
  /** ISO-8601 with zone, at most 24 h in the future. */
  @IsZonedTimestamp(FUTURE_SLACK_MS) occurredAt!: string;
  @IsObject({ message: 'subject must be an object' }) @ValidateNested() @Type(() => SubjectDto) subject!: SubjectDto;
  /** Per type; see docs/events.md. */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional() @IsObject() details?: Record<string, unknown>;
}

export class EventBatchDto {
  @ApiProperty({ type: [EventDto], minItems: 1, maxItems: 1000 })
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(1000) events!: unknown[];
}

// ---- details per type ----
export class BookingDetails {
  @IsString() @Length(1, 64) bookingNumber!: string;
  @IsOptional() @IsString() @Length(1, 200) facility?: string;
  @IsOptional() @IsZonedTimestamp(null) scheduledReleaseAt?: string;
}
export class ReleaseDetails {
  @IsString() @Length(1, 64) bookingNumber!: string;
}
export class CourtCaseDetails {
  @IsString() @Length(1, 64) caseNumber!: string;
  @IsOptional() @IsString() @Length(1, 64) caseType?: string;
}
export class HearingDetails {
  @IsString() @Length(1, 64) caseNumber!: string;
  @IsZonedTimestamp(null) hearingAt!: string;
  @IsOptional() @IsString() @Length(1, 64) hearingType?: string;
}
export class ReferralDetails {
  @IsString() @Length(1, 64) referralId!: string;
  @IsIn(NEED_CATEGORIES, { message: `need must be one of ${NEED_CATEGORIES.join(', ')}` }) need!: NeedCategory;
  @IsIn(REFERRAL_STATUSES, { message: `status must be one of ${REFERRAL_STATUSES.join(', ')}` }) status!: string;
  @IsOptional() @IsString() @Matches(/^[a-z0-9][a-z0-9-]{0,63}$/, { message: 'toAgency must be an agency code' }) toAgency?: string;
}
export class ServiceDetails {
  @IsString() @Length(1, 64) serviceType!: string;
  @IsOptional() @IsString() @Length(1, 200) program?: string;
}
export class NeedOpenedDetails {
  @IsString() @Length(1, 64) needId!: string;
  @IsIn(NEED_CATEGORIES, { message: `category must be one of ${NEED_CATEGORIES.join(', ')}` }) category!: NeedCategory;
}
export class NeedClosedDetails {
  @IsString() @Length(1, 64) needId!: string;
}
export class ConsentSignedDetails {
  @IsString() @Length(1, 64) consentId!: string;
  /** e.g. "uroi" */
  @IsString() @Length(1, 32) form!: string;
  /** Agency codes, or ["*"] for the whole coalition. */
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100)
  @Matches(/^(\*|[a-z0-9][a-z0-9-]{0,63})$/, { each: true, message: 'partners must be agency codes or "*"' }) partners!: string[];
  @IsOptional() @IsArray() @ArrayMaxSize(NEED_CATEGORIES.length)
  @IsIn(NEED_CATEGORIES, { each: true, message: `categories must be among ${NEED_CATEGORIES.join(', ')}` }) categories?: NeedCategory[];
  @IsZonedTimestamp(FUTURE_SLACK_MS) signedAt!: string;
  @IsZonedTimestamp(null) expiresAt!: string;
}
export class ConsentRevokedDetails {
  @IsString() @Length(1, 64) consentId!: string;
}
export class ContactAssignedDetails {
  @IsString() @Length(1, 200) name!: string;
  @IsOptional() @IsString() @Length(1, 100) role?: string;
  @IsOptional() @IsString() @Matches(/^[0-9+().\- ]{7,32}$/, { message: 'phone must be 7-32 digits and separators' }) phone?: string;
  @IsOptional() @IsEmail({}, { message: 'email must be an email address' }) email?: string;
}
export class RecordCorrectedDetails {}
export class RecordExpungedDetails {
  /** Absent: the whole source record. */
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(1000) @IsString({ each: true }) @Length(1, 128, { each: true }) eventIds?: string[];
}

export const DETAILS_BY_TYPE: Record<EventType, new () => object> = {
  booking: BookingDetails,
  release: ReleaseDetails,
  court_case: CourtCaseDetails,
  hearing: HearingDetails,
  referral: ReferralDetails,
  service: ServiceDetails,
  need_opened: NeedOpenedDetails,
  need_closed: NeedClosedDetails,
  consent_signed: ConsentSignedDetails,
  consent_revoked: ConsentRevokedDetails,
  contact_assigned: ContactAssignedDetails,
  record_corrected: RecordCorrectedDetails,
  record_expunged: RecordExpungedDetails,
};
