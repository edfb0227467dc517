import { compareDob, compareSsn, FIELD_LEVELS, MISSING } from '../../../src/linkage/engine/field.compare';
import { normaliseDob } from '../../../src/linkage/engine/record.normalise';
import { norm } from './data.helper';

function dob(a: string, b: string): string {
  const da = normaliseDob(a);
  const db = normaliseDob(b);
  if (!da || !db) return 'missing';
  const l = compareDob(da, db);
  return l === MISSING ? 'missing' : FIELD_LEVELS.dob[l];
}

function ssn(a: string, b: string): string {
  const l = compareSsn(norm({ ssn: a }), norm({ ssn: b }));
  return l === MISSING ? 'missing' : FIELD_LEVELS.ssn[l];
}

describe('date of birth levels', () => {
  it.each([
    ['1980-03-14', '1980-03-14', 'exact'],
    ['1980-03-04', '1980-04-03', 'day_month_swap'],
    ['1980-03-14', '1980-03-15', 'one_slip'],
    ['1980-03-14', '1986-03-14', 'one_slip'],
    ['1980-03-14', '1981-03-14', 'one_slip'],
    ['1979-03-14', '1980-03-14', 'one_slip'], // year off by one across a decade
    ['1980-03-14', '1980-03-41', 'one_slip'], // transposed day digits (impossible date kept)
    ['1980-03-14', '1980-11-14', 'partial'],
    ['1980-03-14', '1975-03-14', 'partial'],
    ['1980-03-14', '1992-11-02', 'different'],
    ['1980-01-01', '1980-06-30', 'year_only'], // 01-01 placeholder: only the year counts
    ['1980-01-01', '1981-06-30', 'missing'],
    ['1980-01-01', '1950-06-30', 'different'],
    ['1900-01-01', '1980-06-30', 'missing'], // pure placeholder is dropped
  ])('%s vs %s -> %s', (a, b, level) => {
    expect(dob(a, b)).toBe(level);
  });
});

describe('SSN levels', () => {
  it.each([
    ['219-09-9998', '219099998', 'exact'],
    ['219-09-9998', '219-09-9997', 'one_digit'],
    ['219-09-9998', '291-09-9998', 'transposed'],
    ['219-09-9998', 'XXX-XX-9998', 'last4'],
    ['9998', 'XXX-XX-9998', 'last4'],
    ['219-09-9998', '345-67-8912', 'different'],
    ['219-09-9998', '123-45-6789', 'missing'], // known fake is invalid, so no evidence
    ['219-09-9998', '', 'missing'],
  ])('%s vs %s -> %s', (a, b, level) => {
    expect(ssn(a, b)).toBe(level);
  });
});
