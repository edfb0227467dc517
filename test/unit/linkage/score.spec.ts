import { defaultModel } from '../../../src/linkage/engine/model.params';
import { explain, scorePair } from '../../../src/linkage/engine/model.score';
import { buildTermFrequencies, emptyTermFrequencies, updateTermFrequencies, termFrequency } from '../../../src/linkage/engine/tf.table';
import { norm } from './data.helper';
import type { NormalisedRecord } from '../../../src/linkage/engine/record.types';

const model = defaultModel();

describe('scorePair / explain', () => {
  const a = norm({
    id: 'a', firstName: 'Robert', lastName: 'Tsinajinnie', dateOfBirth: '1971-04-12', sex: 'M', ssn: '219-09-9998',
    phone: '602-555-0199', address: { line1: '12 Main Street', city: 'Phoenix', postalCode: '85001' },
  });
  const b = norm({
    id: 'b', firstName: 'Bob', lastName: 'Tsinajinnie', dateOfBirth: '1971-12-04', sex: 'M', ssn: 'XXX-XX-9998',
    address: { line1: '12 Main St', city: 'Phoenix', postalCode: '85001' },
  });

  it('sums prior and field bits to the total weight', () => {
    const e = explain(model, a, b);
    const sum = e.priorBits + e.fields.reduce((s, f) => s + f.bits, 0);
    expect(sum).toBeCloseTo(e.weight, 9);
    expect(e.probability).toBeCloseTo(1 / (1 + Math.pow(2, -e.weight)), 12);
    expect(e.fields.find((f) => f.field === 'firstName')?.level).toBe('nickname');
    expect(e.fields.find((f) => f.field === 'dob')?.level).toBe('day_month_swap');
    expect(e.fields.find((f) => f.field === 'ssn')?.level).toBe('last4');
    expect(e.fields.find((f) => f.field === 'phone')?.level).toBe('missing');
    expect(e.fields.find((f) => f.field === 'phone')?.bits).toBe(0);
    expect(e.lines[e.lines.length - 1]).toMatch(/^total /);
  });

  it('is symmetric', () => {
    expect(scorePair(model, a, b).weight).toBeCloseTo(scorePair(model, b, a).weight, 9);
  });

  it('uses aliases and says which alias matched', () => {
    const withAlias = norm({ id: 'c', firstName: 'Maria', lastName: 'Reyes', aliases: [{ lastName: 'Tsinajinnie', firstName: 'Roberta' }] });
    const other = norm({ id: 'd', firstName: 'Roberta', lastName: 'Tsinajinnie' });
    const s = scorePair(model, withAlias, other);
    expect(s.alias).toBe('name: alias 1 ~ primary');
    expect(s.fields.find((f) => f.field === 'lastName')?.level).toBe('exact');
    expect(s.fields.find((f) => f.field === 'firstName')?.level).toBe('exact');
    const noAlias = scorePair(model, norm({ id: 'c', firstName: 'Maria', lastName: 'Reyes' }), other);
    expect(s.weight).toBeGreaterThan(noAlias.weight + 10);
  });

  it('makes a match on a common surname weaker evidence than on a rare one (TF)', () => {
    const pop: NormalisedRecord[] = [];
    for (let i = 0; i < 2000; i++) {
      pop.push(norm({ id: `p${i}`, firstName: `f${i % 500}`, lastName: i % 10 === 0 ? 'Garcia' : `s${i}` }));
    }
    pop.push(norm({ id: 'rare', firstName: 'x', lastName: 'Tsinajinnie' }));
    const tf = buildTermFrequencies(pop);
    expect(termFrequency(tf.lastName, 'garcia')).toBeCloseTo(200 / 2001, 9);
    const pair = (last: string) =>
      scorePair(model, norm({ id: '1', firstName: 'Ana', lastName: last }), norm({ id: '2', firstName: 'Ana', lastName: last }), tf);
    const common = pair('Garcia').fields.find((f) => f.field === 'lastName');
    const rare = pair('Tsinajinnie').fields.find((f) => f.field === 'lastName');
    expect(common?.level).toBe('exact');
    expect(rare?.level).toBe('exact');
    expect(common!.bits).toBeLessThan(rare!.bits - 5);
    expect(common?.detail).toMatch(/^tf -/);
    // Without a TF table both are the same.
    expect(pair('Garcia').weight).toBeLessThan(scorePair(model, norm({ id: '1', firstName: 'Ana', lastName: 'Garcia' }), norm({ id: '2', firstName: 'Ana', lastName: 'Garcia' })).weight);
  });

  it('keeps TF counts incrementally (insert and delete)', () => {
    const tf = emptyTermFrequencies();
    const r = norm({ id: '1', firstName: 'Ana', lastName: 'Constructor' });
    updateTermFrequencies(tf, r);
    updateTermFrequencies(tf, r);
    updateTermFrequencies(tf, r, -1);
    expect(tf.lastName).toEqual({ total: 1, counts: { constructor: 1 } });
    expect(termFrequency(tf.firstName, 'constructor')).toBe(1); // no prototype leak: unseen counts as 1
  });

  it('caps twin-like pairs (same surname, DOB, address; different first name) below auto-link', () => {
    const base = { lastName: 'Begay', dateOfBirth: '1990-07-07', sex: 'F' as const, address: { line1: '4 Elm Street', city: 'Gallup', postalCode: '87301' }, phone: '505-555-0101' };
    const twinA = norm({ id: 't1', firstName: 'Nizhoni', ...base });
    const twinB = norm({ id: 't2', firstName: 'Aiyana', ...base });
    const s = scorePair(model, twinA, twinB);
    const c = s.fields.find((f) => f.field === 'conflict');
    expect(c?.level).toBe('possible_twin');
    expect(s.probability).toBeCloseTo(model.conflicts.capProbability, 9);
    expect(s.probability).toBeLessThan(model.thresholds.upper);
    expect(s.priorBits + s.fields.reduce((x, f) => x + f.bits, 0)).toBeCloseTo(s.weight, 9);
    // A shared full SSN lifts the cap.
    const same = scorePair(model, { ...twinA, ssn: '219099998' }, { ...twinB, ssn: '219099998' });
    expect(same.fields.find((f) => f.field === 'conflict')).toBeUndefined();
  });

  it('caps Jr/Sr pairs (same name, a generation apart)', () => {
    const sr = norm({ id: 's', firstName: 'Luis', lastName: 'Ortiz', dateOfBirth: '1960-03-03', address: { line1: '9 Oak Ave', postalCode: '85001' } });
    const jr = norm({ id: 'j', firstName: 'Luis', lastName: 'Ortiz', dateOfBirth: '1988-11-20', address: { line1: '9 Oak Ave', postalCode: '85001' } });
    expect(scorePair(model, sr, jr).fields.find((f) => f.field === 'conflict')?.level).toBe('different_generation');
  });
});
