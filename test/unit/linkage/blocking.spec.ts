import {
  addKeyHit, blockedPairs, blockingKeys, isCandidate, isKeyCapped, keyEvidence, pickCandidates, searchKeys, DEFAULT_CANDIDATE_LIMIT, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY,
  type KeyHits,
} from '../../../src/linkage/engine/blocking.rules';
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

  it('makes a candidate from two shared keys, or from one selective key only', () => {
    expect(isCandidate(1, DEFAULT_SELECTIVE_KEY)).toBe(true);
    expect(isCandidate(1, DEFAULT_SELECTIVE_KEY + 1)).toBe(false);
    expect(isCandidate(2, DEFAULT_KEY_CAP)).toBe(true);
    expect(isCandidate(0, 0)).toBe(false);
    // 30 records share a mid-size key; 0..14 share a second mid-size key; 20 and 21 a selective one.
    const keys = Array.from({ length: 30 }, (_, i) => ['mid:x', ...(i < 15 ? ['mid:y'] : [])]);
    keys[20].push('sel:w');
    keys[21].push('sel:w');
    const got = new Set(blockedPairs(keys, DEFAULT_KEY_CAP, 10).map((p) => p.join('-')));
    expect(got.size).toBe((15 * 14) / 2 + 1);
    expect(got.has('0-14')).toBe(true);
    expect(got.has('20-21')).toBe(true);
    expect(got.has('15-16')).toBe(false);
    expect(got.has('0-15')).toBe(false);
    // With a higher selective bound every pair of the mid-size key is a candidate again.
    expect(blockedPairs(keys, DEFAULT_KEY_CAP, 30)).toHaveLength((30 * 29) / 2);
  });

  it('scores at most DEFAULT_CANDIDATE_LIMIT candidates, those with the most shared-key evidence, ties to the earlier record', () => {
    expect(keyEvidence(1)).toBe(1_000_000);
    expect(keyEvidence(3)).toBe(333_333);
    // 40 records share two mid-size keys (60 and 150 other records each); record 'true' also shares a rare one.
    const hits = new Map<string, KeyHits>();
    const ids = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    for (const id of [...ids].reverse()) {
      addKeyHit(hits, id, 150);
      addKeyHit(hits, id, 60);
    }
    addKeyHit(hits, 'true', 150);
    addKeyHit(hits, 'true', 3);
    addKeyHit(hits, 'lone', 150); // one mid-size key only: not a candidate at all
    const order = (a: string, b: string): number => (a < b ? -1 : 1);
    const got = pickCandidates(hits, order);
    expect(got).toHaveLength(DEFAULT_CANDIDATE_LIMIT);
    expect(got[0]).toBe('true');
    expect(got.slice(1)).toEqual(ids.slice(0, DEFAULT_CANDIDATE_LIMIT - 1));
    // Under the limit every candidate is kept, in any order.
    expect(new Set(pickCandidates(hits, order, DEFAULT_SELECTIVE_KEY, 100))).toEqual(new Set([...ids, 'true']));
  });

  it('has a DOB + name-sound key that meets a nickname or a new surname on the same DOB', () => {
    const a = norm({ id: 'a', firstName: 'Robert', lastName: 'Smith', dateOfBirth: '1981-01-08' });
    const b = norm({ id: 'b', firstName: 'Bob', lastName: 'Smith', dateOfBirth: '1981-01-08' });
    const c = norm({ id: 'c', firstName: 'Robert', lastName: 'Jones', dateOfBirth: '1981-01-08' });
    const dp = (r: ReturnType<typeof norm>): string[] => blockingKeys(r).filter((k) => k.startsWith('dp:'));
    expect(dp(a).filter((k) => dp(b).includes(k))).toEqual(['dp:SM0:19810108']);
    expect(dp(a).filter((k) => dp(c).includes(k))).toHaveLength(1);
    // A 1 January placeholder makes no DOB key.
    expect(dp(norm({ id: 'd', firstName: 'Robert', lastName: 'Smith', dateOfBirth: '1981-01-01' }))).toEqual([]);
  });

  it('keeps >= 99.5% of true pairs on FEBRL dataset3 and dataset2 with few candidate pairs', () => {
    const d3 = recall('dataset3.csv');
    expect(d3.recall).toBeGreaterThanOrEqual(0.995);
    expect(d3.pairs).toBeLessThan(50_000); // of 12.5 million possible
    expect(recall('dataset2.csv').recall).toBeGreaterThanOrEqual(0.995);
  });
});

describe('searchKeys (typed lookups)', () => {
  const rec = (first: string, last: string, dob: string) => normaliseRecord({ id: first, firstName: first, lastName: last, dateOfBirth: dob });
  const shared = (a: string[], b: string[]) => a.filter((k) => b.includes(k));

  it('reaches Robert Smith 1988-04-12 from "Bob Smyth 1988-12-04" through two keys, where the plain keys share one', () => {
    const probe = rec('Bob', 'Smyth', '1988-12-04');
    const target = blockingKeys(rec('Robert', 'Smith', '1988-04-12'));
    expect(shared(blockingKeys(probe), target)).toEqual(['npy:SM0:1988']);
    expect(shared(searchKeys(probe), target).length).toBeGreaterThanOrEqual(2);
    expect(searchKeys(probe)).toEqual(expect.arrayContaining(blockingKeys(probe)));
  });

  it('adds the nicknames of the formal name (Robert finds Bob) and the swapped date only when it is a date', () => {
    const probe = rec('Robert', 'Smith', '1988-04-12');
    const bob = blockingKeys(rec('Bob', 'Smith', '1988-12-04'));
    expect(shared(searchKeys(probe), bob).length).toBeGreaterThanOrEqual(2);
    expect(searchKeys(probe)).toContain('dob:19881204');
    expect(searchKeys(rec('Ann', 'Lee', '1990-04-25')).some((k) => k.includes('19902504'))).toBe(false);
  });
});
