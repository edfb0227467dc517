import { decide, type CandidatePerson } from '../../../src/linkage/engine/link.decide';

const thresholds = { upper: 0.95, lower: 0.2 };
const person = (personId: string, probability: number, recordIds: string[] = [`${personId}-r1`]): CandidatePerson => ({
  personId, recordIds, probability, weight: Math.log2(probability / (1 - probability)), bestRecordId: recordIds[0],
});

describe('decide', () => {
  it('links to the best person at or above the upper threshold', () => {
    const d = decide({ recordId: 'new', candidates: [person('P1', 0.97), person('P2', 0.5)], thresholds });
    expect(d).toMatchObject({ action: 'link', personId: 'P1', reason: 'match', flags: [], duplicatePersonIds: [] });
  });

  it('asks for review between the thresholds (the record stays its own person)', () => {
    const d = decide({ recordId: 'new', candidates: [person('P1', 0.6), person('P2', 0.3), person('P3', 0.01)], thresholds });
    expect(d).toEqual({ action: 'review', reason: 'possible_match', personIds: ['P1', 'P2'], probability: 0.6, flags: [] });
  });

  it('creates a new person below the lower threshold or without candidates', () => {
    expect(decide({ recordId: 'new', candidates: [person('P1', 0.1)], thresholds })).toMatchObject({ action: 'new', reason: 'no_match' });
    expect(decide({ recordId: 'new', candidates: [], thresholds })).toMatchObject({ action: 'new', reason: 'no_match' });
  });

  it('links to the best of two persons above upper and flags possible duplicate persons, without merging them', () => {
    const d = decide({ recordId: 'new', candidates: [person('P2', 0.99), person('P1', 0.999), person('P3', 0.4)], thresholds });
    expect(d).toMatchObject({ action: 'link', personId: 'P1', flags: ['possible_duplicate_persons'], duplicatePersonIds: ['P2'] });
  });

  it('never links automatically to a person excluded by a record of another stated generation; links the next one and flags both', () => {
    const excluded = { ...person('P1', 0.999), excluded: true };
    const d = decide({ recordId: 'new', candidates: [excluded, person('P2', 0.97)], thresholds });
    expect(d).toMatchObject({ action: 'link', personId: 'P2', flags: ['possible_duplicate_persons'], duplicatePersonIds: ['P1'] });
    expect(decide({ recordId: 'new', candidates: [excluded, person('P3', 0.1)], thresholds })).toEqual({
      action: 'review', reason: 'possible_match', personIds: ['P1'], probability: 0.999, flags: [],
    });
  });

  it('honours must-not-link on a person or on one of its records', () => {
    const candidates = [person('P1', 0.999, ['a', 'b']), person('P2', 0.97, ['c'])];
    const byPerson = decide({ recordId: 'new', candidates, thresholds, constraints: { mustNotLink: [['new', 'P1']] } });
    expect(byPerson).toMatchObject({ action: 'link', personId: 'P2', flags: [] });
    const byRecord = decide({ recordId: 'new', candidates, thresholds, constraints: { mustNotLink: [['b', 'new'], ['new', 'c']] } });
    expect(byRecord).toMatchObject({ action: 'new', reason: 'excluded_by_constraint' });
  });

  it('honours must-link even below the thresholds', () => {
    const d = decide({ recordId: 'new', candidates: [person('P1', 0.05, ['a'])], thresholds, constraints: { mustLink: [['new', 'a']] } });
    expect(d).toMatchObject({ action: 'link', personId: 'P1', reason: 'must_link' });
  });

  it('flags a constraint conflict when a person is both must-link and must-not-link', () => {
    const d = decide({
      recordId: 'new', candidates: [person('P1', 0.99)], thresholds,
      constraints: { mustLink: [['new', 'P1']], mustNotLink: [['new', 'P1']] },
    });
    expect(d.action).toBe('new');
    expect(d.flags).toContain('constraint_conflict');
  });
});
