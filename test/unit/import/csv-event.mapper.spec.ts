import 'reflect-metadata';
import { checkEvent } from '../../../src/ingest/event.contract';
import { CsvHeaderError, detailsFields, mapCsvRow, parseCsvHeader } from '../../../src/ingest/import/csv-event.mapper';

const BASE = ['eventId', 'type', 'occurredAt', 'subject.recordId', 'subject.firstName', 'subject.lastName'];

function row(extra: Record<string, string>): { header: string[]; cells: string[] } {
  const values: Record<string, string> = {
    eventId: 'e-1', type: 'service', occurredAt: '2026-01-15T10:00:00Z', 'subject.recordId': 'r-1',
    'subject.firstName': 'Ann', 'subject.lastName': 'Lee', ...extra,
  };
  return { header: Object.keys(values), cells: Object.values(values) };
}

function mapped(extra: Record<string, string>): Record<string, unknown> {
  const { header, cells } = row(extra);
  const r = mapCsvRow(parseCsvHeader(header), cells);
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.errors)}`);
  return r.event;
}

function headerIssues(cells: string[]): string[] {
  try {
    parseCsvHeader(cells);
  } catch (err) {
    if (err instanceof CsvHeaderError) return err.issues.map((i) => i.message);
    throw err;
  }
  throw new Error('header was accepted');
}

describe('CSV header', () => {
  it('accepts every documented column', () => {
    const all = [
      ...BASE, 'subject.middleName', 'subject.dateOfBirth', 'subject.sex', 'subject.ssn', 'subject.phone', 'subject.email',
      'subject.address.line1', 'subject.address.line2', 'subject.address.city', 'subject.address.state', 'subject.address.postalCode',
      'subject.identifiers', 'subject.aliases', 'details.serviceType', 'details.partners', 'details.categories', 'details.eventIds',
    ];
    expect(parseCsvHeader(all).columns.map((c) => c.name)).toEqual(all);
  });

  it('rejects the whole header on an unknown column and names it', () => {
    expect(headerIssues([...BASE, 'subject.nickname'])).toEqual([expect.stringContaining('unknown column "subject.nickname"')]);
    expect(headerIssues([...BASE, 'details.notAField'])).toEqual([expect.stringContaining('unknown column "details.notAField"')]);
  });

  it('rejects a repeated column and a missing required one', () => {
    expect(headerIssues([...BASE, 'type'])).toEqual([expect.stringContaining('column "type" appears more than once')]);
    expect(headerIssues(BASE.filter((c) => c !== 'subject.lastName'))).toEqual([expect.stringContaining('required column "subject.lastName" is missing')]);
  });

  it('knows the details fields of every event type, lists included', () => {
    const d = detailsFields();
    expect(d.get('bookingNumber')).toBe('details');
    expect(d.get('hearingAt')).toBe('details');
    expect(d.get('partners')).toBe('details-list');
    expect(d.get('categories')).toBe('details-list');
    expect(d.get('eventIds')).toBe('details-list');
  });
});

describe('CSV row mapping', () => {
  it('maps plain and nested subject columns to the event paths', () => {
    const ev = mapped({ 'subject.dateOfBirth': '1980-01-02', 'subject.address.city': 'Springfield', 'subject.address.postalCode': '62701', 'details.serviceType': 'intake' });
    expect(ev).toEqual({
      eventId: 'e-1', type: 'service', occurredAt: '2026-01-15T10:00:00Z',
      subject: { recordId: 'r-1', firstName: 'Ann', lastName: 'Lee', dateOfBirth: '1980-01-02', address: { city: 'Springfield', postalCode: '62701' } },
      details: { serviceType: 'intake' },
    });
    expect(checkEvent(ev).ok).toBe(true);
  });

  it('leaves empty and blank cells out of the event', () => {
    const ev = mapped({ 'subject.middleName': '', 'subject.address.line1': '  ', 'details.serviceType': 'intake', 'details.program': '' });
    expect(ev.subject).toEqual({ recordId: 'r-1', firstName: 'Ann', lastName: 'Lee' });
    expect(ev.details).toEqual({ serviceType: 'intake' });
  });

  it('trims cells', () => {
    expect((mapped({ 'subject.firstName': '  Ann ' }).subject as Record<string, unknown>).firstName).toBe('Ann');
  });

  it('reads identifiers as system:value;system:value, keeping colons in the value', () => {
    const ev = mapped({ 'subject.identifiers': 'state_id:123; mrn:A:9 ;' });
    expect((ev.subject as Record<string, unknown>).identifiers).toEqual([{ system: 'state_id', value: '123' }, { system: 'mrn', value: 'A:9' }]);
  });

  it('rejects an identifier without system or value, naming its position', () => {
    const { header, cells } = row({ 'subject.identifiers': 'state_id:1;nocolon' });
    expect(mapCsvRow(parseCsvHeader(header), cells)).toEqual({
      ok: false, eventId: 'e-1', errors: [{ path: 'subject.identifiers[1]', message: 'subject.identifiers[1] must be written system:value' }],
    });
    const r2 = mapCsvRow(parseCsvHeader(header), [...cells.slice(0, -1), 'mrn:']);
    expect(r2.ok ? [] : r2.errors.map((e) => e.path)).toEqual(['subject.identifiers[0]']);
  });

  it('reads aliases as a JSON array and rejects anything else', () => {
    expect((mapped({ 'subject.aliases': '[{"firstName":"Annie","lastName":"Li"}]' }).subject as Record<string, unknown>).aliases)
      .toEqual([{ firstName: 'Annie', lastName: 'Li' }]);
    for (const bad of ['Annie Li', '{"firstName":"Annie"}']) {
      const { header, cells } = row({ 'subject.aliases': bad });
      const r = mapCsvRow(parseCsvHeader(header), cells);
      expect(r.ok ? [] : r.errors.map((e) => e.path)).toEqual(['subject.aliases']);
    }
  });

  it('splits list details on ; and drops empty entries', () => {
    const ev = mapped({
      type: 'consent_signed', 'details.consentId': 'k-1', 'details.form': 'uroi', 'details.partners': 'county-jail; *;',
      'details.categories': 'housing;medical', 'details.signedAt': '2026-01-15T10:00:00Z', 'details.expiresAt': '2027-01-15T10:00:00Z',
    });
    expect(ev.details).toEqual({
      consentId: 'k-1', form: 'uroi', partners: ['county-jail', '*'], categories: ['housing', 'medical'],
      signedAt: '2026-01-15T10:00:00Z', expiresAt: '2027-01-15T10:00:00Z',
    });
    expect(checkEvent(ev).ok).toBe(true);
    expect(mapped({ type: 'record_expunged', 'details.eventIds': 'a;b' }).details).toEqual({ eventIds: ['a', 'b'] });
  });

  it('rejects a row whose cell count differs from the header', () => {
    const { header, cells } = row({});
    const r = mapCsvRow(parseCsvHeader(header), cells.slice(0, 4));
    expect(r).toEqual({ ok: false, eventId: 'e-1', errors: [{ path: '', message: 'row has 4 cells but the header has 6 columns' }] });
  });

  it('leaves contract checks to the inbox: a bad date maps through and fails there by field', () => {
    const ev = mapped({ 'subject.dateOfBirth': '1980-02-30', 'details.serviceType': 'intake' });
    const r = checkEvent(ev);
    expect(r.ok ? [] : r.errors.map((e) => e.path)).toEqual(['subject.dateOfBirth']);
  });
});
