import { normaliseRecord, normaliseDob, normaliseSsn, isValidSsn, normalisePhone } from '../../../src/linkage/engine/record.normalise';
import { compareFirstName, compareLastName, FIELD_LEVELS } from '../../../src/linkage/engine/field.compare';
import { defaultModel } from '../../../src/linkage/engine/model.params';
import { scorePair } from '../../../src/linkage/engine/model.score';
import { norm } from './data.helper';

const first = (a: string, b: string, middleA?: string): string =>
  FIELD_LEVELS.firstName[compareFirstName(norm({ firstName: a, middleName: middleA }).names[0], norm({ firstName: b }).names[0])];
const last = (a: string, b: string): string =>
  FIELD_LEVELS.lastName[compareLastName(norm({ lastName: a }).names[0], norm({ lastName: b }).names[0])];
const field = (s: ReturnType<typeof scorePair>, f: string) => s.fields.find((x) => x.field === f);

describe('name normalisation', () => {
  it('folds accents, case, punctuation and whitespace', () => {
    const n = norm({ firstName: '  JOSÉ  ', lastName: 'Núñez', middleName: 'María-Luisa' }).names[0];
    expect(n.first).toBe('jose');
    expect(n.last).toBe('nunez');
    expect(n.middle).toEqual(['maria', 'luisa']);
    expect(first('Toño', 'tono')).toBe('exact');
  });

  it('drops surname particles and compares De La Cruz, DeLaCruz and Cruz as the same surname', () => {
    const n = norm({ lastName: 'De La Cruz' }).names[0];
    expect(n.last).toBe('cruz');
    expect(n.lastFull).toBe('delacruz');
    expect(last('De La Cruz', 'Cruz')).toBe('exact');
    expect(last('De La Cruz', 'DeLaCruz')).toBe('exact');
    expect(last('van der Berg', 'Berg')).toBe('exact');
  });

  it("handles O'Brien and Mc/Mac spellings", () => {
    expect(last("O'Brien", 'OBrien')).toBe('exact');
    expect(last("O'Brien", 'O Brien')).toBe('exact');
    expect(last('MacDonald', 'McDonald')).toBe('exact');
    expect(last('Mac Donald', 'McDonald')).toBe('exact');
    // Short or vowel-led Mac- names are left alone.
    expect(norm({ lastName: 'Macias' }).names[0].last).toBe('macias');
    expect(norm({ lastName: 'Mack' }).names[0].last).toBe('mack');
  });

  it('compares hyphenated and double surnames by parts', () => {
    expect(norm({ lastName: 'García-López' }).names[0].lastParts).toEqual(['garcia', 'lopez']);
    expect(last('Garcia-Lopez', 'Lopez')).toBe('parts');
    expect(last('Garcia Lopez', 'Garcia-Lopez')).toBe('exact');
  });

  it('extracts generational suffixes into their own field', () => {
    const jr = normaliseRecord({ id: '1', firstName: 'John', lastName: 'Smith Jr.' });
    expect(jr.suffix).toBe('jr');
    expect(jr.names[0].last).toBe('smith');
    expect(normaliseRecord({ id: '2', firstName: 'John', lastName: 'Smith III' }).suffix).toBe('iii');
    expect(normaliseRecord({ id: '3', firstName: 'John', lastName: 'Smith', middleName: 'Sr' }).suffix).toBe('sr');
    // A different suffix is strong evidence against.
    const s = scorePair(defaultModel(), jr, normaliseRecord({ id: '4', firstName: 'John', lastName: 'Smith Sr' }));
    expect(field(s, 'suffix')?.level).toBe('different');
    expect(field(s, 'suffix')?.bits).toBeLessThan(-4);
  });

  it('treats English and Spanish nicknames as equivalent first names', () => {
    expect(first('Bob', 'Robert')).toBe('nickname');
    expect(first('Bobby', 'Rob')).toBe('nickname');
    expect(first('Lupe', 'Guadalupe')).toBe('nickname');
    expect(first('Chuy', 'Jesús')).toBe('nickname');
    expect(first('Pancho', 'Francisco')).toBe('nickname');
    expect(first('Toño', 'Antonio')).toBe('nickname');
    expect(first('Robert', 'Susan')).toBe('different');
  });

  it('detects middle name used as first name, and initials', () => {
    expect(first('James', 'Robert', 'Robert')).toBe('middle_or_initial');
    expect(first('J', 'James')).toBe('middle_or_initial');
  });

  it('detects first/last swaps symmetrically', () => {
    const a = norm({ id: 'a', firstName: 'Smith', lastName: 'Johnathan', dateOfBirth: '1980-02-03' });
    const b = norm({ id: 'b', firstName: 'Johnathan', lastName: 'Smith', dateOfBirth: '1980-02-03' });
    const ab = scorePair(defaultModel(), a, b);
    const ba = scorePair(defaultModel(), b, a);
    expect(field(ab, 'firstName')?.level).toBe('exact');
    expect(field(ab, 'firstName')?.detail).toContain('swapped');
    expect(ab.weight).toBeCloseTo(ba.weight, 9);
  });
});

describe('other field normalisation', () => {
  it('parses DOB formats and drops placeholders', () => {
    expect(normaliseDob('1980-02-03')?.digits).toBe('19800203');
    expect(normaliseDob('19800203')?.digits).toBe('19800203');
    expect(normaliseDob('2/3/1980')?.digits).toBe('19800203');
    expect(normaliseDob('1900-01-01')).toBeNull();
    expect(normaliseDob('1980-01-01')?.yearOnly).toBe(true);
    // FEBRL keeps impossible dates for slip comparison.
    expect(normaliseDob('19371233')).toMatchObject({ digits: '19371233', valid: false });
  });

  it('validates SSNs and keeps last-4-only values', () => {
    expect(isValidSsn('123456789')).toBe(false);
    expect(isValidSsn('000123456')).toBe(false);
    expect(isValidSsn('666123456')).toBe(false);
    expect(isValidSsn('912345678')).toBe(false);
    expect(isValidSsn('123004567')).toBe(false);
    expect(isValidSsn('219099998')).toBe(true);
    expect(normaliseSsn('219-09-9998')).toEqual({ ssn: '219099998', ssnLast4: '9998' });
    expect(normaliseSsn('XXX-XX-1234')).toEqual({ ssn: '', ssnLast4: '1234' });
    expect(normaliseSsn('999-99-9999')).toEqual({ ssn: '', ssnLast4: '' });
  });

  it('normalises phones and rejects placeholders', () => {
    expect(normalisePhone('+1 (602) 555-1234')).toBe('6025551234');
    expect(normalisePhone('000-000-0000')).toBe('');
    expect(normalisePhone('555-1234')).toBe('');
  });

  it('gives shelter and homeless addresses no evidence', () => {
    const a = norm({ id: 'a', firstName: 'Ann', lastName: 'Lee', address: { line1: 'HOMELESS', city: 'Phoenix' } });
    expect(a.addressNoEvidence).toBe(true);
    expect(a.street).toBe('');
    expect(a.city).toBe('');
    const b = norm({ id: 'b', firstName: 'Bo', lastName: 'Ng', address: { line1: 'Salvation Army Shelter, 1 Mission St', city: 'Phoenix' } });
    expect(field(scorePair(defaultModel(), a, b), 'address')?.level).toBe('missing');
    const c = normaliseRecord(
      { id: 'c', firstName: 'x', lastName: 'y', address: { line1: '123 Main Street' } },
      { noEvidenceStreets: ['123 main st'] },
    );
    expect(c.addressNoEvidence).toBe(true);
  });

  it('compares identifiers exactly per system', () => {
    const a = norm({ id: 'a', identifiers: [{ system: 'state_id', value: 'AZ-123456' }] });
    const b = norm({ id: 'b', identifiers: [{ system: 'State ID', value: 'az123456' }] });
    const c = norm({ id: 'c', identifiers: [{ system: 'fbi_number', value: 'AZ123456' }] });
    expect(a.ids).toEqual(['state_id:az123456']);
    expect(field(scorePair(defaultModel(), a, b), 'identifiers')?.level).toBe('exact');
    // Same value in another system is no evidence.
    expect(field(scorePair(defaultModel(), a, c), 'identifiers')?.level).toBe('missing');
  });

  it('produces JSON-serialisable records', () => {
    const r = normaliseRecord({
      id: 'x', firstName: 'Lupe', lastName: 'De La Cruz', dateOfBirth: '1990-05-06', ssn: '219-09-9998',
      aliases: [{ firstName: 'Guadalupe', lastName: 'Reyes', dateOfBirth: '1990-06-05' }],
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.names.map((n) => n.source)).toEqual(['primary', 'alias 1']);
    expect(r.dobs).toHaveLength(2);
  });
});
