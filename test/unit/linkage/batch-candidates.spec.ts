import { batchCandidates, type BatchKeys } from '../../../src/linkage/engine/batch.candidates';
import { addKeyHit, isKeyCapped, pickCandidates, type KeyHits } from '../../../src/linkage/engine/blocking.rules';
import { pick, randInt, seededRng, type Rng } from '../../../src/linkage/engine/random.seed';

/**
 * batchCandidates reads each key's records outside the batch only up to cap + 1. Checked against
 * the plain one-at-a-time simulation over complete key lists: each record replaces its keys, then
 * counts every other record per key, as the service's candidate SQL does.
 */
function oneAtATime(batch: readonly BatchKeys[], outside: ReadonlyMap<string, readonly string[]>, cap: number, selective: number, limit: number): string[][] {
  const index = new Map<string, Set<string>>();
  const add = (k: string, id: string): void => {
    if (!index.has(k)) index.set(k, new Set());
    index.get(k)!.add(id);
  };
  for (const [k, ids] of outside) for (const id of ids) add(k, id);
  for (const b of batch) for (const k of b.oldKeys) add(k, b.id);
  return batch.map((b) => {
    for (const k of b.oldKeys) index.get(k)!.delete(b.id);
    for (const k of b.newKeys) add(k, b.id);
    const hits = new Map<string, KeyHits>();
    for (const k of new Set(b.newKeys)) {
      const others = [...index.get(k)!].filter((id) => id !== b.id);
      if (others.length === 0 || isKeyCapped(others.length, cap)) continue;
      for (const id of others) addKeyHit(hits, id, others.length);
    }
    return pickCandidates(hits, (x, y) => Number(x) - Number(y), selective, limit);
  });
}

function scenario(rng: Rng): { batch: BatchKeys[]; outside: Map<string, string[]> } {
  const keys = Array.from({ length: 8 + randInt(rng, 10) }, (_, i) => `k${i}`);
  const someKeys = (): string[] => [...new Set(Array.from({ length: 1 + randInt(rng, 4) }, () => pick(rng, keys)))];
  const outside = new Map<string, string[]>();
  let next = 1;
  for (const k of keys) outside.set(k, Array.from({ length: randInt(rng, 9) }, () => String(next++)));
  // Outside records may carry several keys.
  for (let i = 0; i < 15; i++) {
    const id = String(next++);
    for (const k of someKeys()) outside.get(k)!.push(id);
  }
  const batch = Array.from({ length: 2 + randInt(rng, 12) }, () => {
    const isNew = rng() < 0.5;
    return { id: String(next++), oldKeys: isNew ? [] : someKeys(), newKeys: someKeys() };
  });
  return { batch, outside };
}

describe('batchCandidates', () => {
  it('picks what one-at-a-time linking picks, with key lists read only up to cap + 1 (500 random batches)', () => {
    const rng = seededRng(42);
    let capped = 0;
    let limited = 0;
    for (let n = 0; n < 500; n++) {
      const { batch, outside } = scenario(rng);
      const cap = 3 + randInt(rng, 6);
      const selective = 1 + randInt(rng, 3);
      const limit = 1 + randInt(rng, 4);
      const truncated = new Map([...outside].map(([k, ids]) => [k, ids.slice(0, cap + 1)]));
      if ([...outside.values()].some((ids) => ids.length > cap)) capped += 1;
      const expected = oneAtATime(batch, outside, cap, selective, limit);
      if (expected.some((c) => c.length === limit)) limited += 1;
      // The outside lists exclude the batch's own records, as the service reads them.
      expect(batchCandidates(batch, truncated, cap, selective, limit)).toEqual(expected);
    }
    expect(capped).toBeGreaterThan(100);
    expect(limited).toBeGreaterThan(100);
  });

  it('sees earlier records of the batch under their new keys and later ones under their old keys', () => {
    const batch: BatchKeys[] = [
      { id: '10', oldKeys: ['a'], newKeys: ['b'] },
      { id: '11', oldKeys: [], newKeys: ['a', 'b'] },
      { id: '12', oldKeys: ['c'], newKeys: ['c'] },
      { id: '13', oldKeys: [], newKeys: ['c'] },
    ];
    // 11 meets 10 through b (10's new key), not through a (10's old key, gone); 13 meets 12 through c.
    expect(batchCandidates(batch, new Map(), 200, 20, 12)).toEqual([[], ['10'], [], ['12']]);
  });
});
