import { VisibleCriteriaCache } from '../../../src/persons/visible-criteria.cache';

describe('VisibleCriteriaCache', () => {
  const t0 = Date.parse('2026-06-15T12:00:00Z');
  const at = (ms: number): Date => new Date(t0 + ms);

  it('reuses an answer for the same view and registry only before its bound', () => {
    const cache = new VisibleCriteriaCache();
    const view = {};
    const registry = {};
    let calls = 0;
    const compute = (criteria: string[], until: number) => () => {
      calls++;
      return { criteria, until };
    };
    expect(cache.get(view, registry, at(0), compute(['a'], t0 + 1000))).toEqual(['a']);
    expect(cache.get(view, registry, at(999), compute(['changed'], t0 + 5000))).toEqual(['a']);
    expect(calls).toBe(1);
    // At the bound the answer may differ: computed again.
    expect(cache.get(view, registry, at(1000), compute([], t0 + 5000))).toEqual([]);
    expect(calls).toBe(2);
  });

  it('computes again for another view object or another agency registry', () => {
    const cache = new VisibleCriteriaCache();
    const registry = {};
    const v1 = {};
    let calls = 0;
    const compute = () => {
      calls++;
      return { criteria: [`c${calls}`], until: Infinity };
    };
    expect(cache.get(v1, registry, at(0), compute)).toEqual(['c1']);
    expect(cache.get({}, registry, at(0), compute)).toEqual(['c2']);
    expect(cache.get(v1, {}, at(0), compute)).toEqual(['c3']);
    expect(cache.get(v1, registry, at(0), compute)).toEqual(['c4']);
    expect(cache.get(v1, registry, at(10 ** 12), compute)).toEqual(['c4']);
  });
});
