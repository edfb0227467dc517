import { BulkLinker } from '../../../src/linkage/backfill.linker';
import { defaultModel } from '../../../src/linkage/engine/model.params';
import { generatePopulation } from '../../../src/linkage/engine/population.generate';
import { normaliseRecord } from '../../../src/linkage/engine/record.normalise';
import type { RawPersonRecord } from '../../../src/linkage/engine/record.types';

type Demographics = Omit<RawPersonRecord, 'id'>;

/** Numeric record ids, as the service's (candidates are scored in record-id order). */
function population(): { id: string; d: Demographics }[] {
  return generatePopulation({ seed: 7, persons: 700 }).map((g, i) => {
    const { id: _id, ...d } = g.record;
    return { id: String(i + 1), d };
  });
}

describe('BulkLinker: scoring in one copy, deciding in another', () => {
  it('scoreAhead() then linkScored() gives exactly what link() gives, record by record', () => {
    const model = defaultModel();
    const counter = (): (() => string) => { let n = 0; return () => `p${++n}`; };
    const reference = new BulkLinker(model, counter());
    const decider = new BulkLinker(model, counter(), undefined, undefined, false);
    const scorer = new BulkLinker(model, () => '');
    const names = [{ field: 'last', value: 'SMITH', records: 40 }, { field: 'first', value: 'MARIA', records: 25 }, { field: 'last', value: 'TSINAJINNIE', records: 1 }];
    for (const l of [reference, decider, scorer]) l.setNameCounts(names);

    const recs = population();
    // The first quarter is the linked base, seeded into all three (persons as a first pass gave them).
    const seedCount = Math.floor(recs.length / 4);
    const seedLinker = new BulkLinker(model, counter());
    for (const r of recs.slice(0, seedCount)) {
      const l = seedLinker.link(r.id, r.d);
      const n = normaliseRecord({ ...r.d, id: r.id });
      reference.seed(r.id, n, l.personId, false);
      decider.seed(r.id, n, l.personId, false);
      scorer.seed(r.id, n, '', false);
    }
    // The rest in order, then every 25th record again with another first name (re-linked: its keys and person may change).
    const work = [
      ...recs.slice(seedCount),
      ...recs.filter((_, i) => i % 25 === 0).map((r) => ({ id: r.id, d: { ...r.d, firstName: `${r.d.firstName ?? ''}A` } })),
    ];
    let linked = 0;
    let moved = 0;
    for (const r of work) {
      const expected = reference.link(r.id, r.d);
      const got = decider.linkScored(r.id, scorer.scoreAhead(r.id, r.d));
      expect(got).toEqual(expected);
      if (expected.action === 'link') linked += 1;
      if (expected.previousPersonId && expected.previousPersonId !== expected.personId) moved += 1;
    }
    // The run exercised links, new persons and re-links.
    expect(linked).toBeGreaterThan(work.length / 10);
    expect(moved).toBeGreaterThan(0);
    expect(decider.size).toBe(reference.size);
  });

  it('a copy without a key index refuses link() without candidates', () => {
    const decider = new BulkLinker(defaultModel(), () => 'p1', undefined, undefined, false);
    expect(() => decider.link('1', { firstName: 'Ann', lastName: 'Lee', dateOfBirth: '1980-01-02' })).toThrow(/no key index/);
    expect(decider.link('1', { firstName: 'Ann', lastName: 'Lee', dateOfBirth: '1980-01-02' }, [])).toEqual(expect.objectContaining({ action: 'new', personId: 'p1' }));
  });
});
