import { createHash } from 'node:crypto';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { DETAILS_BY_TYPE, EventDto, type EventType, type SubjectDto } from './event.dto';

export interface FieldIssue {
  path: string;
  message: string;
}

export interface ValidEvent {
  eventId: string;
  type: EventType;
  occurredAt: string;
  subject: SubjectDto;
  details: Record<string, unknown>;
}

export type ContractResult =
  | { ok: true; event: ValidEvent; warnings: FieldIssue[] }
  | { ok: false; errors: FieldIssue[]; eventId?: string };

const VALIDATE = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true } as const;

function flatten(errors: ValidationError[], prefix = ''): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const e of errors) {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    for (const [rule, msg] of Object.entries(e.constraints ?? {})) {
      // class-validator names the leaf only; give the full path instead.
      // First mention only, so "each value in eventIds ..." also gets the full path.
      out.push({ path, message: rule === 'whitelistValidation' ? `${path} is not a known field` : msg.replace(new RegExp(`\\b${e.property}\\b`), path) });
    }
    if (e.children?.length) out.push(...flatten(e.children, path));
  }
  return out;
}

/** Area 000/666/9xx, group 00 or serial 0000 are never issued. */
export function isStructurallyValidSsn(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const area = digits.slice(0, 3), group = digits.slice(3, 5), serial = digits.slice(5);
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

/** Validates one event against contract v1. Never throws on bad input. */
export function checkEvent(raw: unknown): ContractResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, errors: [{ path: '', message: 'event must be a JSON object' }] };
  }
  const rawObj = raw as Record<string, unknown>;
  const eventId = typeof rawObj.eventId === 'string' ? rawObj.eventId : undefined;
  const dto = plainToInstance(EventDto, rawObj);
  const errors = flatten(validateSync(dto, VALIDATE));

  const type = dto.type;
  // Own keys only: a type such as "toString" must not reach Object.prototype.
  const detailsCls = typeof type === 'string' && Object.hasOwn(DETAILS_BY_TYPE, type) ? DETAILS_BY_TYPE[type] : undefined;
  let details: Record<string, unknown> = {};
  if (detailsCls) {
    const rawDetails = rawObj.details ?? {};
    if (typeof rawDetails === 'object' && rawDetails !== null && !Array.isArray(rawDetails)) {
      const d = plainToInstance(detailsCls, rawDetails) as Record<string, unknown>;
      // The class is known; forbidUnknownValues would reject a details class without fields (record_corrected).
      errors.push(...flatten(validateSync(d, { ...VALIDATE, forbidUnknownValues: false }), 'details'));
      details = d;
      if (type === 'consent_signed' && typeof d.signedAt === 'string' && typeof d.expiresAt === 'string' && Date.parse(d.expiresAt) <= Date.parse(d.signedAt)) {
        errors.push({ path: 'details.expiresAt', message: 'details.expiresAt must be after details.signedAt' });
      }
    }
  }
  if (errors.length) return { ok: false, errors, eventId };

  const warnings: FieldIssue[] = [];
  const subject = dto.subject;
  if (subject.ssn !== undefined) {
    const digits = subject.ssn.replace(/-/g, '');
    if (isStructurallyValidSsn(digits)) subject.ssn = digits;
    else {
      delete subject.ssn;
      warnings.push({ path: 'subject.ssn', message: 'subject.ssn is structurally impossible (area 000/666/9xx, group 00 or serial 0000) and was dropped' });
    }
  }
  return {
    ok: true,
    warnings,
    event: { eventId: dto.eventId, type: dto.type, occurredAt: new Date(dto.occurredAt).toISOString(), subject: toPlain(subject), details: toPlain(details) },
  };
}

/**
 * The event as checkEvent() gives it, for a payload checkEvent() already accepted (an inbox row:
 * the inbox stores only accepted payloads and they are immutable). Skips class-validator and
 * class-transformer: only the normalisations checkEvent() makes (occurredAt to UTC ISO, the SSN's
 * dashes removed or an impossible SSN dropped, absent details as {}). Anything outside the shapes
 * it knows goes through checkEvent(). test/unit/ingest/accepted-event.spec.ts proves it equal.
 */
export function acceptedEvent(raw: unknown): ValidEvent {
  const o = raw as Record<string, unknown> | null;
  const subject = o?.subject as Record<string, unknown> | null | undefined;
  const details = o?.details ?? {};
  if (
    typeof o !== 'object' || o === null || Array.isArray(o) ||
    typeof o.eventId !== 'string' || typeof o.type !== 'string' || !Object.hasOwn(DETAILS_BY_TYPE, o.type) || typeof o.occurredAt !== 'string' ||
    typeof subject !== 'object' || subject === null || Array.isArray(subject) || typeof subject.recordId !== 'string' ||
    (subject.ssn !== undefined && typeof subject.ssn !== 'string') ||
    typeof details !== 'object' || details === null || Array.isArray(details)
  ) {
    return strictEvent(raw);
  }
  // Parsed JSON has no undefined values or class instances: a shallow copy is what toPlain gives.
  const subj = { ...subject };
  if (typeof subj.ssn === 'string') {
    const digits = subj.ssn.replace(/-/g, '');
    if (isStructurallyValidSsn(digits)) subj.ssn = digits;
    else delete subj.ssn;
  }
  return {
    eventId: o.eventId,
    type: o.type as EventType,
    occurredAt: new Date(o.occurredAt).toISOString(),
    subject: subj as unknown as SubjectDto,
    details: details as Record<string, unknown>,
  };
}

function strictEvent(raw: unknown): ValidEvent {
  const checked = checkEvent(raw);
  if (!checked.ok) throw new Error(`event no longer satisfies the contract: ${checked.errors.map((e) => e.path).join(', ')}`);
  return checked.event;
}

function toPlain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** JSON with sorted keys, so the same content always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function contentHash(v: unknown): Buffer {
  return createHash('sha256').update(canonicalJson(v)).digest();
}
