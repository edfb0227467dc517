import 'reflect-metadata';
import { acceptedEvent, checkEvent } from '../../../src/ingest/event.contract';
import { EVENT_TYPES, type EventType } from '../../../src/ingest/event.dto';
import { generatePopulation } from '../../../src/linkage/engine/population.generate';
import { seededRng } from '../../../src/linkage/engine/random.seed';

/** Valid details per type, with and without their optional fields. */
const DETAILS: Record<EventType, Record<string, unknown>[]> = {
  booking: [{ bookingNumber: 'B-1' }, { bookingNumber: 'B-2', facility: 'Main', scheduledReleaseAt: '2026-03-01T00:00:00+02:00' }],
  release: [{ bookingNumber: 'B-1' }],
  court_case: [{ caseNumber: 'C-1' }, { caseNumber: 'C-2', caseType: 'felony' }],
  hearing: [{ caseNumber: 'C-1', hearingAt: '2026-02-01T09:30:00.123456Z', hearingType: 'arraignment' }],
  referral: [{ referralId: 'R-1', need: 'housing', status: 'open' }, { referralId: 'R-2', need: 'substance_use', status: 'closed', toAgency: 'county-court' }],
  service: [{ serviceType: 'intake' }, { serviceType: 'visit', program: 'Reentry' }],
  need_opened: [{ needId: 'N-1', category: 'food' }],
  need_closed: [{ needId: 'N-1' }],
  consent_signed: [
    { consentId: 'K-1', form: 'uroi', partners: ['*'], signedAt: '2025-01-01T00:00:00Z', expiresAt: '2026-01-01T00:00:00Z' },
    { consentId: 'K-2', form: 'uroi', partners: ['county-jail', 'county-court'], categories: ['substance_use', 'housing'], signedAt: '2025-01-01T00:00:00-05:00', expiresAt: '2027-01-01T00:00:00Z' },
  ],
  consent_revoked: [{ consentId: 'K-1' }],
  contact_assigned: [{ name: 'Case Worker', role: 'navigator', phone: '555-123-4567', email: 'cw@example.org' }, { name: 'Someone' }],
  record_corrected: [{}],
  record_expunged: [{}, { eventIds: ['e-1', 'e-2'] }],
};

const SSNS = [undefined, '123-45-6789', '123456789', '000-12-3456', '666123456', '900-12-3456', '123-00-4567', '123-45-0000', '12345-6789'];
const OCCURRED = ['2025-06-01T10:00:00Z', '2025-06-01T10:00:00.5+02:00', '2025-06-01T23:59:59.999999999-11:00', '2025-06-01T10:00Z'];

/** Many valid raw events: synthetic-county subjects (typos, aliases, identifiers) x every type and detail shape. */
function rawEvents(): Record<string, unknown>[] {
  const r = seededRng(7);
  const out: Record<string, unknown>[] = [];
  const population = generatePopulation({ seed: 7, persons: 120 });
  population.forEach((g, n) => {
    const { id, ...rest } = g.record;
    const type = EVENT_TYPES[n % EVENT_TYPES.length];
    const shapes = DETAILS[type];
    const subject: Record<string, unknown> = { ...rest, recordId: `R-${id}` };
    const ssn = SSNS[n % SSNS.length];
    if (ssn === undefined) delete subject.ssn;
    else subject.ssn = ssn;
    if (r() < 0.2) subject.middleName = null; // optional fields may be null
    const ev: Record<string, unknown> = {
      eventId: `e-${n}`, type, occurredAt: OCCURRED[n % OCCURRED.length], subject, details: shapes[n % shapes.length],
    };
    if (type === 'record_corrected' && n % 2 === 0) delete ev.details; // absent details
    if (type === 'record_expunged' && n % 3 === 0) ev.details = null;
    out.push(JSON.parse(JSON.stringify(ev)) as Record<string, unknown>);
  });
  return out;
}

describe('acceptedEvent (the worker skips class-validator for accepted inbox payloads)', () => {
  const events = rawEvents();

  it('gives exactly what checkEvent gives for every accepted payload', () => {
    let compared = 0;
    const kinds = new Set<string>();
    for (const raw of events) {
      const checked = checkEvent(structuredClone(raw));
      if (!checked.ok) continue; // the inbox never holds these
      compared += 1;
      const sub = raw.subject as Record<string, unknown>;
      if (typeof sub.ssn === 'string') kinds.add(checked.event.subject.ssn === undefined ? 'ssn dropped' : sub.ssn.includes('-') ? 'ssn dashes' : 'ssn plain');
      if (raw.details === undefined || raw.details === null) kinds.add('no details');
      expect(acceptedEvent(structuredClone(raw))).toEqual(checked.event);
    }
    // The comparison covered the cases that differ from the raw payload.
    expect(compared).toBeGreaterThan(200);
    expect([...kinds].sort()).toEqual(['no details', 'ssn dashes', 'ssn dropped', 'ssn plain']);
  });

  it('does not change the stored payload it reads', () => {
    const raw = events.find((e) => typeof (e.subject as { ssn?: unknown }).ssn === 'string' && checkEvent(structuredClone(e)).ok)!;
    const copy = structuredClone(raw);
    acceptedEvent(raw);
    expect(raw).toEqual(copy);
  });

  it('falls back to the full check for a payload it does not recognise, and throws naming the fields', () => {
    expect(() => acceptedEvent({ eventId: 'x', type: 'service', occurredAt: 'yesterday', subject: { firstName: 'A', lastName: 'B' }, details: {} }))
      .toThrow(/subject\.recordId/);
    expect(() => acceptedEvent({ eventId: 'x', type: 'toString', occurredAt: '2025-01-01T00:00:00Z', subject: { recordId: 'r' } })).toThrow(/type/);
    expect(() => acceptedEvent([])).toThrow(/contract/);
  });
});
