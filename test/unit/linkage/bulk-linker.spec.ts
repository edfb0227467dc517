import { BulkLinker } from '../../../src/linkage/backfill.linker';
import { addKeyHit, blockingKeys, isCandidate, isKeyCapped, pickCandidates, type KeyHits } from '../../../src/linkage/engine/blocking.rules';
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

  it("the copy's candidates are blocking.rules' addKeyHit + pickCandidates over the other records' keys", () => {
    const model = defaultModel();
    const counter = (): (() => string) => { let n = 0; return () => `p${++n}`; };
    // A small key cap and selective bound, so capped keys, single selective keys and the
    // candidate limit (ties to the lower id) all occur in 700 persons.
    const [cap, selective] = [30, 3];
    const indexed = new BulkLinker(model, counter(), cap, selective);
    const given = new BulkLinker(model, counter(), cap, selective, false);
    const index = new Map<string, string[]>();
    const keysOf = new Map<string, string[]>();
    const recs = population();
    // Twenty near-copies of one record (new ids): more than the candidate limit share its keys.
    const copies = Array.from({ length: 20 }, (_, i) => ({ id: String(recs.length + 1 + i), d: { ...recs[0].d, phone: undefined, ssn: undefined } }));
    const work = [...recs, ...copies, ...recs.filter((_, i) => i % 20 === 0).map((r) => ({ id: r.id, d: { ...r.d, lastName: `${r.d.lastName ?? ''}S` } }))];
    let limited = 0;
    for (const r of work) {
      // The reference: the record's own entries out, then every usable key's other records.
      for (const k of keysOf.get(r.id) ?? []) index.set(k, index.get(k)!.filter((x) => x !== r.id));
      const keys = blockingKeys(normaliseRecord({ ...r.d, id: r.id }));
      const hits = new Map<string, KeyHits>();
      for (const k of new Set(keys)) {
        const ids = index.get(k) ?? [];
        if (ids.length === 0 || isKeyCapped(ids.length, cap)) continue;
        for (const id of ids) addKeyHit(hits, id, ids.length);
      }
      const expected = pickCandidates(hits, (a, b) => Number(a) - Number(b), selective);
      if ([...hits.values()].filter((h) => isCandidate(h.shared, h.smallest, selective)).length > expected.length) limited += 1;
      if (!keysOf.has(r.id)) expect(indexed.candidatesFor(r.id, r.d)).toEqual([...expected].sort((a, b) => Number(a) - Number(b)));
      expect(indexed.link(r.id, r.d)).toEqual(given.link(r.id, r.d, expected));
      keysOf.set(r.id, keys);
      for (const k of keys) index.set(k, [...(index.get(k) ?? []), r.id]);
    }
    expect(limited).toBeGreaterThan(0);
  });

  it('a copy without a key index refuses link() without candidates', () => {
    const decider = new BulkLinker(defaultModel(), () => 'p1', undefined, undefined, false);
    expect(() => decider.link('1', { firstName: 'Ann', lastName: 'Lee', dateOfBirth: '1980-01-02' })).toThrow(/no key index/);
    expect(decider.link('1', { firstName: 'Ann', lastName: 'Lee', dateOfBirth: '1980-01-02' }, [])).toEqual(expect.objectContaining({ action: 'new', personId: 'p1' }));
  });
});
