import { canonicalText, ChainWalker, entryHash, GENESIS_HASH, type ChainRow, type StoredEntryText } from '../../../src/audit/audit.canonical';
import { recordedPurpose } from '../../../src/audit/audit.context';

const base: StoredEntryText = {
  seq: '1', time: '2026-01-15T10:00:00.123456Z', actor: 'carl', actorKind: 'user', agency: 'county-jail', role: 'case_manager',
  purpose: 'care_coordination', action: 'person.read', resource: 'person/x', personIds: '', outcome: 'allowed', requestId: null,
  clientAddress: '127.0.0.1', details: '{}',
};

function chain(n: number): ChainRow[] {
  const rows: ChainRow[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const e = { ...base, seq: String(i), actor: `user-${i}` };
    const hash = entryHash(prev, e);
    rows.push({ ...e, prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

function walk(rows: ChainRow[], head = { seq: rows.length ? rows[rows.length - 1].seq : '0', hash: rows.length ? rows[rows.length - 1].hash : GENESIS_HASH }) {
  const w = new ChainWalker();
  for (const r of rows) {
    const b = w.push(r);
    if (b) return b;
  }
  return w.finish(head);
}

describe('audit canonical form', () => {
  it('length-prefixes fields, so moving text across a boundary changes it', () => {
    const a = canonicalText({ ...base, actor: 'ab', agency: 'c' });
    const b = canonicalText({ ...base, actor: 'a', agency: 'bc' });
    expect(a).not.toBe(b);
    expect(canonicalText({ ...base, requestId: null })).not.toBe(canonicalText({ ...base, requestId: '' }));
  });

  it('counts UTF-8 bytes, as PostgreSQL octet_length does', () => {
    expect(canonicalText({ ...base, actor: 'é' })).toContain('2:é');
  });

  it('every field is covered by the hash', () => {
    const h = entryHash(GENESIS_HASH, base);
    for (const k of Object.keys(base) as (keyof StoredEntryText)[]) {
      const changed = { ...base, [k]: base[k] === null ? 'x' : `${base[k]}x` };
      expect(entryHash(GENESIS_HASH, changed).equals(h)).toBe(false);
    }
    expect(entryHash(Buffer.alloc(32, 1), base).equals(h)).toBe(false);
  });
});

describe('ChainWalker', () => {
  it('accepts an intact chain and an empty one', () => {
    expect(walk(chain(5))).toBeNull();
    expect(walk([])).toBeNull();
  });

  it('names an edited entry', () => {
    const rows = chain(5);
    rows[2] = { ...rows[2], purpose: 'audit' };
    expect(walk(rows)).toMatchObject({ seq: '3', reason: 'hash_mismatch' });
  });

  it('names the gap a deleted entry leaves, including the first', () => {
    const rows = chain(5);
    expect(walk([...rows.slice(0, 2), ...rows.slice(3)])).toMatchObject({ seq: '3', reason: 'gap' });
    expect(walk(rows.slice(1))).toMatchObject({ seq: '1', reason: 'gap' });
  });

  it('names a reordered pair', () => {
    const rows = chain(5);
    const swapped = [rows[0], { ...rows[3], seq: '2' }, rows[2], { ...rows[1], seq: '4' }, rows[4]];
    expect(walk(swapped)).toMatchObject({ seq: '2', reason: 'prev_hash_mismatch' });
  });

  it('notices entries cut from the end through the head', () => {
    const rows = chain(5);
    expect(walk(rows.slice(0, 4), { seq: '5', hash: rows[4].hash })).toMatchObject({ reason: 'head_mismatch' });
  });
});

describe('recorded purpose', () => {
  it('keeps well-formed values, marks anything else without echoing it', () => {
    expect(recordedPurpose('care_coordination')).toBe('care_coordination');
    expect(recordedPurpose(undefined)).toBeNull();
    expect(recordedPurpose('Maria Lopez 1980-02-03')).toBe('(unrecognised)');
    expect(recordedPurpose(['audit', 'audit'])).toBe('(unrecognised)');
  });
});
