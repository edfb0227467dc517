import { generatePopulation } from '../../../src/linkage/engine/population.generate';
import { normaliseRecord } from '../../../src/linkage/engine/record.normalise';

describe('synthetic population generator', () => {
  const pop = generatePopulation({ seed: 9, persons: 600 });

  it('is deterministic for a seed', () => {
    expect(generatePopulation({ seed: 9, persons: 600 })).toEqual(pop);
    expect(generatePopulation({ seed: 10, persons: 600 })).not.toEqual(pop);
  });

  it('has several partner sources per person and the planned traps', () => {
    const byPerson = new Map<string, number>();
    for (const g of pop) byPerson.set(g.personId, (byPerson.get(g.personId) ?? 0) + 1);
    expect(Math.max(...byPerson.values())).toBeGreaterThanOrEqual(4);
    expect(new Set(pop.map((g) => g.source)).size).toBeGreaterThanOrEqual(5);
    expect(pop.some((g) => g.personId.endsWith('-twin'))).toBe(true);
    expect(pop.some((g) => g.personId.endsWith('-jr'))).toBe(true);
    const recs = pop.map((g) => normaliseRecord(g.record));
    expect(recs.some((r) => r.suffix === 'jr')).toBe(true);
    expect(recs.filter((r) => r.names[0].last === 'garcia').length).toBeGreaterThan(5);
    expect(recs.some((r) => !r.ssn && !r.ssnLast4)).toBe(true);
    expect(recs.some((r) => r.ssnLast4 && !r.ssn)).toBe(true);
    expect(recs.some((r) => r.addressNoEvidence)).toBe(true);
    expect(pop.some((g) => /[áéíóúñ]/i.test(g.record.firstName + g.record.lastName))).toBe(true);
  });
});
