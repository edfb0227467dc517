import { blockedPairs, blockingKeys, isKeyCapped, DEFAULT_KEY_CAP } from '../../../src/linkage/engine/blocking.rules';
import { normaliseRecord } from '../../../src/linkage/engine/record.normalise';
import { febrl, norm } from './data.helper';

function recall(file: string): { recall: number; pairs: number } {
  const labelled = febrl(file);
  const recs = labelled.map((l) => normaliseRecord(l.record));
  const n = recs.length;
  const got = new Set(blockedPairs(recs.map((r) => blockingKeys(r))).map(([i, j]) => i * n + j));
  const byEntity = new Map<string, number[]>();
  labelled.forEach((l, i) => byEntity.set(l.entity, [...(byEntity.get(l.entity) ?? []), i]));
  let hit = 0;
  let total = 0;
  for (const ids of byEntity.values()) {
    for (let x = 0; x < ids.length; x++) {
      for (let y = x + 1; y < ids.length; y++) {
        total++;
        if (got.has(ids[x] * n + ids[y])) hit++;
      }
    }
  }
  return { recall: hit / total, pairs: got.size };
}

describe('blocking', () => {
  it('produces rule:value keys, swap-robust and alias-aware', () => {
    const a = norm({ id: 'a', firstName: 'Ana', lastName: 'Reyes', dateOfBirth: '1990-05-06', ssn: '219-09-9998', phone: '6024301199', identifiers: [{ system: 'state_id', value: 'AZ1' }] });
    const keys = blockingKeys(a);
    expect(keys).toEqual(expect.arrayContaining(['dob:19900506', 'ssn:219099998', 's4y:9998:1990', 'ph:6024301199', 'id:state_id:az1', 'iym:ar:199005']));
    for (const k of keys) expect(k).toMatch(/^[a-z0-9]+:.+/);
    const swapped = norm({ id: 'b', firstName: 'Reyes', lastName: 'Ana', dateOfBirth: '1990-05-06' });
    expect(blockingKeys(swapped).filter((k) => !k.startsWith('dob:')).some((k) => keys.includes(k))).toBe(true);
    const alias = norm({ id: 'c', firstName: 'X', lastName: 'Y', dateOfBirth: '1990-05-06', aliases: [{ firstName: 'Ana', lastName: 'Reyes' }] });
    expect(blockingKeys(alias)).toContain('iym:ar:199005');
  });

  it('implements the documented key cap', () => {
    expect(isKeyCapped(DEFAULT_KEY_CAP)).toBe(false);
    expect(isKeyCapped(DEFAULT_KEY_CAP + 1)).toBe(true);
    const keys = Array.from({ length: 5 }, () => ['common:x']);
    expect(blockedPairs(keys, 4)).toEqual([]);
    expect(blockedPairs(keys, 5)).toHaveLength(10);
  });

  it('keeps >= 99.5% of true pairs on FEBRL dataset3 and dataset2 with few candidate pairs', () => {
    const d3 = recall('dataset3.csv');
    expect(d3.recall).toBeGreaterThanOrEqual(0.995);
    expect(d3.pairs).toBeLessThan(50_000); // of 12.5 million possible
    expect(recall('dataset2.csv').recall).toBeGreaterThanOrEqual(0.995);
  });
});
