import 'reflect-metadata';
import { canonicalJson, checkEvent, contentHash, isStructurallyValidSsn, type ContractResult, type FieldIssue } from '../../../src/ingest/event.contract';
import { EVENT_TYPES, type EventType } from '../../../src/ingest/event.dto';

function event(over: Record<string, unknown> = {}, subject: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventId: 'e-1',
    type: 'service',
    occurredAt: '2026-01-15T10:00:00Z',
    subject: { recordId: 'r-1', firstName: 'Maria', lastName: 'Lopez', ...subject },
    details: { serviceType: 'intake' },
    ...over,
  };
}

function errorsOf(r: ContractResult): FieldIssue[] {
  if (r.ok) throw new Error(`expected a rejection, got ok: ${JSON.stringify(r.event)}`);
  return r.errors;
}

function paths(r: ContractResult): string[] {
  return [...new Set(errorsOf(r).map((e) => e.path))].sort();
}

const isoDay = (offsetDays: number): string => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

/** A minimal valid details object per type. */
const VALID_DETAILS: Record<EventType, Record<string, unknown>> = {
  booking: { bookingNumber: 'B-1', facility: 'Main', scheduledReleaseAt: '2026-03-01T00:00:00Z' },
  release: { bookingNumber: 'B-1' },
  court_case: { caseNumber: 'C-1', caseType: 'misdemeanor' },
  hearing: { caseNumber: 'C-1', hearingAt: '2026-02-01T09:00:00-05:00' },
  referral: { referralId: 'R-1', need: 'housing', status: 'open', toAgency: 'shelter-1' },
  service: { serviceType: 'intake', program: 'ACT' },
  need_opened: { needId: 'N-1', category: 'medication' },
  need_closed: { needId: 'N-1' },
  consent_signed: { consentId: 'K-1', form: 'uroi', partners: ['*'], categories: ['housing'], signedAt: '2026-01-10T00:00:00Z', expiresAt: '2027-01-10T00:00:00Z' },
  consent_revoked: { consentId: 'K-1' },
  contact_assigned: { name: 'Case Worker', role: 'navigator', phone: '555-123-4567', email: 'cw@example.org' },
  record_corrected: {},
  record_expunged: { eventIds: ['e-0'] },
};

/** Per type: a details object missing or breaking a required field, and the path named. */
const INVALID_DETAILS: Record<EventType, [Record<string, unknown>, string]> = {
  booking: [{ facility: 'Main' }, 'details.bookingNumber'],
  release: [{ bookingNumber: '' }, 'details.bookingNumber'],
  court_case: [{ caseType: 'x' }, 'details.caseNumber'],
  hearing: [{ caseNumber: 'C-1', hearingAt: '2026-02-01 09:00' }, 'details.hearingAt'],
  referral: [{ referralId: 'R-1', need: 'cake', status: 'open' }, 'details.need'],
  service: [{}, 'details.serviceType'],
  need_opened: [{ needId: 'N-1', category: 'fun' }, 'details.category'],
  need_closed: [{ needId: 7 }, 'details.needId'],
  consent_signed: [{ consentId: 'K-1', form: 'uroi', partners: ['Not An Agency'], signedAt: '2026-01-10T00:00:00Z', expiresAt: '2027-01-10T00:00:00Z' }, 'details.partners'],
  consent_revoked: [{}, 'details.consentId'],
  contact_assigned: [{ name: 'X', email: 'not-an-email' }, 'details.email'],
  record_corrected: [{ reason: 'typo' }, 'details.reason'],
  record_expunged: [{ eventIds: [] }, 'details.eventIds'],
};

describe('checkEvent: details per type', () => {
  it('covers every event type', () => {
    expect(Object.keys(VALID_DETAILS).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(EVENT_TYPES.map((t) => [t]))('accepts valid %s details and keeps them', (type) => {
    const r = checkEvent(event({ type, details: VALID_DETAILS[type] }));
    if (!r.ok) throw new Error(`${type} rejected: ${JSON.stringify(r.errors)}`);
    expect(r.event.type).toBe(type);
    expect(r.event.details).toEqual(VALID_DETAILS[type]);
  });

  it.each(EVENT_TYPES.map((t) => [t]))('rejects invalid %s details naming the full path', (type) => {
    const [details, path] = INVALID_DETAILS[type];
    const r = checkEvent(event({ type, details }));
    expect(paths(r)).toEqual([path]);
    for (const e of errorsOf(r)) expect(e.message).toContain(path);
  });

  it('rejects an unknown field inside details', () => {
    expect(paths(checkEvent(event({ details: { serviceType: 'intake', secret: 1 } })))).toEqual(['details.secret']);
  });

  it('rejects details that are not an object', () => {
    expect(paths(checkEvent(event({ details: ['x'] })))).toContain('details');
  });

  it('requires expiresAt after signedAt for consent_signed', () => {
    const details = { ...VALID_DETAILS.consent_signed, signedAt: '2026-01-10T00:00:00Z', expiresAt: '2026-01-09T00:00:00Z' };
    const errors = errorsOf(checkEvent(event({ type: 'consent_signed', details })));
    expect(errors).toEqual([{ path: 'details.expiresAt', message: 'details.expiresAt must be after details.signedAt' }]);
  });

  it('does not let a type name reach Object.prototype', () => {
    for (const type of ['toString', 'constructor', '__proto__']) {
      expect(paths(checkEvent(event({ type })))).toEqual(['type']);
    }
  });

  it('names unknown types and lists the known ones', () => {
    const [e] = errorsOf(checkEvent(event({ type: 'arrest' })));
    expect(e.path).toBe('type');
    expect(e.message).toContain('booking');
  });
});

describe('checkEvent: subject', () => {
  it('requires subject to be an object', () => {
    for (const subject of [undefined, null, 'x', []]) {
      const { subject: _s, ...rest } = event();
      expect(paths(checkEvent(subject === undefined ? rest : { ...rest, subject }))).toEqual(['subject']);
    }
  });

  it('names nested fields with their full path', () => {
    const r = checkEvent(
      event({}, {
        firstName: '',
        address: { city: '' },
        aliases: [{ firstName: 'M' }, { dateOfBirth: '1980-02-30' }],
        identifiers: [{ system: 'State ID', value: 'x' }],
      }),
    );
    expect(paths(r)).toEqual(['subject.address.city', 'subject.aliases.1.dateOfBirth', 'subject.firstName', 'subject.identifiers.0.system']);
  });

  it.each([['subject.foo', event({}, { foo: 1 })], ['subject.address.zip', event({}, { address: { zip: '1' } })], ['source', event({ source: 'other' })]])(
    'rejects the unknown field %s',
    (path, raw) => {
      const errors = errorsOf(checkEvent(raw));
      expect(errors).toEqual([{ path, message: `${path} is not a known field` }]);
    },
  );

  describe('dateOfBirth', () => {
    it.each(['1980-02-30', '1981-02-29', '1980-13-01', '80-01-01', '1980-1-1', '1980-01-01T00:00:00Z'])('rejects %s', (dob) => {
      expect(paths(checkEvent(event({}, { dateOfBirth: dob })))).toEqual(['subject.dateOfBirth']);
    });
    it('rejects a date in the future', () => {
      expect(paths(checkEvent(event({}, { dateOfBirth: isoDay(2) })))).toEqual(['subject.dateOfBirth']);
    });
    it.each(['1980-02-29', '2000-02-29'])('accepts the real date %s', (dob) => {
      const r = checkEvent(event({}, { dateOfBirth: dob }));
      expect(r.ok && r.event.subject.dateOfBirth).toBe(dob);
    });
    it('accepts today', () => {
      expect(checkEvent(event({}, { dateOfBirth: isoDay(0) })).ok).toBe(true);
    });
  });

  describe('ssn', () => {
    it.each(['000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000'])('drops the impossible %s with a warning', (ssn) => {
      const r = checkEvent(event({}, { ssn }));
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      expect(r.event.subject.ssn).toBeUndefined();
      expect('ssn' in r.event.subject).toBe(false);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0].path).toBe('subject.ssn');
      // The warning must not echo the number.
      expect(r.warnings[0].message).not.toContain(ssn);
    });

    it.each(['123-45-6789', '123456789'])('keeps %s as 9 digits', (ssn) => {
      const r = checkEvent(event({}, { ssn }));
      expect(r.ok && r.event.subject.ssn).toBe('123456789');
      expect(r.ok && r.warnings).toEqual([]);
    });

    it.each(['12345678', '1234567890', '123-45-678a', 123456789])('rejects the malformed %p', (ssn) => {
      expect(paths(checkEvent(event({}, { ssn })))).toEqual(['subject.ssn']);
    });

    it('isStructurallyValidSsn applies the area, group and serial rules', () => {
      expect(isStructurallyValidSsn('123456789')).toBe(true);
      expect(isStructurallyValidSsn('899456789')).toBe(true);
      expect(isStructurallyValidSsn('000456789')).toBe(false);
      expect(isStructurallyValidSsn('666456789')).toBe(false);
      expect(isStructurallyValidSsn('900456789')).toBe(false);
      expect(isStructurallyValidSsn('123006789')).toBe(false);
      expect(isStructurallyValidSsn('123450000')).toBe(false);
      expect(isStructurallyValidSsn('12345678')).toBe(false);
    });
  });
});

describe('checkEvent: occurredAt', () => {
  it.each(['2026-01-15T10:00:00', '2026-01-15', '2026-01-15 10:00:00Z', '1737000000', 'yesterday'])('requires a zone: rejects %s', (occurredAt) => {
    expect(paths(checkEvent(event({ occurredAt })))).toEqual(['occurredAt']);
  });

  it.each(['2026-02-30T10:00:00Z', '2026-01-15T24:00:00Z', '2026-01-15T10:60:00Z', '2026-01-15T10:00:00+25:00'])('rejects the impossible %s', (occurredAt) => {
    expect(paths(checkEvent(event({ occurredAt })))).toEqual(['occurredAt']);
  });

  it('normalises an offset to UTC', () => {
    const r = checkEvent(event({ occurredAt: '2026-01-15T10:00:00.5+05:30' }));
    expect(r.ok && r.event.occurredAt).toBe('2026-01-15T04:30:00.500Z');
  });

  it('allows clock skew up to 24 h but not more', () => {
    const soon = new Date(Date.now() + 3600_000).toISOString();
    const later = new Date(Date.now() + 48 * 3600_000).toISOString();
    expect(checkEvent(event({ occurredAt: soon })).ok).toBe(true);
    const [e] = errorsOf(checkEvent(event({ occurredAt: later })));
    expect(e).toEqual({ path: 'occurredAt', message: expect.stringContaining('future') });
  });
});

describe('checkEvent: shape', () => {
  it.each([null, 'x', 1, []])('rejects the non-object %p', (raw) => {
    expect(checkEvent(raw)).toEqual({ ok: false, errors: [{ path: '', message: 'event must be a JSON object' }] });
  });

  it('reports every missing required field and keeps the eventId it could read', () => {
    const r = checkEvent({ eventId: 'e-9' });
    expect(paths(r)).toEqual(['occurredAt', 'subject', 'type']);
    expect(!r.ok && r.eventId).toBe('e-9');
  });

  it('rejects a non-string eventId', () => {
    const r = checkEvent(event({ eventId: 42 }));
    expect(paths(r)).toEqual(['eventId']);
    expect(!r.ok && r.eventId).toBeUndefined();
  });

  it('returns plain objects, not class instances', () => {
    const r = checkEvent(event());
    if (!r.ok) throw new Error('rejected');
    expect(Object.getPrototypeOf(r.event.subject)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(r.event.details)).toBe(Object.prototype);
  });
});

describe('canonicalJson and contentHash', () => {
  it('ignore key order at every depth', () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: null } };
    const b = { a: { x: null, y: [1, { p: 2, q: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}');
    expect(contentHash(a).equals(contentHash(b))).toBe(true);
  });

  it('keep array order and value types significant', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
    expect(contentHash({ a: 1 }).equals(contentHash({ a: '1' }))).toBe(false);
    expect(contentHash({ a: 1 }).equals(contentHash({ a: 1, b: 2 }))).toBe(false);
  });

  it('omit undefined members like JSON does', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it('gives a 32-byte digest', () => {
    expect(contentHash({}).length).toBe(32);
  });
});
