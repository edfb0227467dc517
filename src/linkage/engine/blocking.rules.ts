// Blocking: each record gets string keys `rule:value`; two records are candidates when they
// share at least one key that is not capped. Rules are in union so one error cannot hide a pair.
import type { NormalisedRecord } from './record.types';

export interface BlockingRule {
  name: string;
  description: string;
  keys(r: NormalisedRecord): string[];
}

function initials(first: string, last: string): string {
  // Sorted so a first/last swap yields the same key.
  return [first[0] ?? '', last[0] ?? ''].sort().join('');
}

function fullDobs(r: NormalisedRecord): string[] {
  return r.dobs.filter((d) => !d.yearOnly).map((d) => d.digits);
}

function years(r: NormalisedRecord): string[] {
  return [...new Set(r.dobs.map((d) => d.digits.slice(0, 4)))];
}

function namePhons(r: NormalisedRecord): string[] {
  return [...new Set(r.names.flatMap((n) => [n.firstPhon, n.lastPhon]).filter(Boolean))];
}

function localities(r: NormalisedRecord): string[] {
  return [r.postcode, r.city].filter(Boolean);
}

export const BLOCKING_RULES: readonly BlockingRule[] = [
  { name: 'dob', description: 'exact date of birth', keys: (r) => fullDobs(r) },
  {
    name: 'npy',
    description: 'phonetic code of first name or surname + birth year (either order, so swaps still meet)',
    keys: (r) => namePhons(r).flatMap((p) => years(r).map((y) => `${p}:${y}`)),
  },
  {
    name: 'iym',
    description: 'initials of both names + birth year and month',
    keys: (r) => r.names.flatMap((n) => fullDobs(r).map((d) => `${initials(n.first, n.last)}:${d.slice(0, 6)}`)),
  },
  {
    name: 'imd',
    description: 'initials of both names + birth month and day (catches year errors)',
    keys: (r) => r.names.flatMap((n) => fullDobs(r).map((d) => `${initials(n.first, n.last)}:${d.slice(4)}`)),
  },
  {
    name: 'iyd',
    description: 'initials of both names + birth year and day (catches month errors)',
    keys: (r) => r.names.flatMap((n) => fullDobs(r).map((d) => `${initials(n.first, n.last)}:${d.slice(0, 4)}${d.slice(6)}`)),
  },
  {
    name: 'nm',
    description: 'phonetic first name + phonetic surname, order-free (records without DOB)',
    keys: (r) => r.names.flatMap((n) => (n.firstPhon && n.lastPhon ? [[n.firstPhon, n.lastPhon].sort().join(':')] : [])),
  },
  { name: 'ssn', description: 'full SSN', keys: (r) => (r.ssn ? [r.ssn] : []) },
  {
    name: 's4y',
    description: 'SSN last 4 + birth year',
    keys: (r) => (r.ssnLast4 ? years(r).map((y) => `${r.ssnLast4}:${y}`) : []),
  },
  { name: 'ph', description: 'phone number', keys: (r) => (r.phone ? [r.phone] : []) },
  { name: 'em', description: 'e-mail address', keys: (r) => (r.email.includes('@') ? [r.email] : []) },
  { name: 'id', description: 'identifier, per system', keys: (r) => r.ids },
  {
    name: 'npl',
    description: 'phonetic code of first name or surname + postcode or city (records without DOB)',
    keys: (r) => localities(r).flatMap((l) => namePhons(r).map((p) => `${p}:${l}`)),
  },
  { name: 'st', description: 'street line (shelters excluded)', keys: (r) => (r.street.length >= 6 ? [r.street] : []) },
];

/** All blocking keys of a record, `rule:value`, de-duplicated and sorted. */
export function blockingKeys(n: NormalisedRecord, rules: readonly BlockingRule[] = BLOCKING_RULES): string[] {
  const out = new Set<string>();
  for (const rule of rules) for (const k of rule.keys(n)) if (k) out.add(`${rule.name}:${k}`);
  return [...out].sort();
}

/**
 * Key cap rule: a key already carried by more than `cap` records is too common to be useful
 * (e.g. `nm:JN:SM0` for John Smith) and is skipped when looking up candidates; it is still
 * stored so the count stays right. Default cap: 200 records per key.
 */
export const DEFAULT_KEY_CAP = 200;

export function isKeyCapped(recordsWithKey: number, cap: number = DEFAULT_KEY_CAP): boolean {
  return recordsWithKey > cap;
}

/** Candidate pairs (index pairs i<j) from a batch, honouring the cap. Used by training and tests. */
export function blockedPairs(keysPerRecord: readonly string[][], cap: number = DEFAULT_KEY_CAP): [number, number][] {
  const index = new Map<string, number[]>();
  keysPerRecord.forEach((keys, i) => {
    for (const k of keys) {
      let list = index.get(k);
      if (!list) index.set(k, (list = []));
      list.push(i);
    }
  });
  const seen = new Set<number>();
  const n = keysPerRecord.length;
  const pairs: [number, number][] = [];
  for (const list of index.values()) {
    if (list.length < 2 || isKeyCapped(list.length, cap)) continue;
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        const i = list[x];
        const j = list[y];
        const code = i * n + j;
        if (seen.has(code)) continue;
        seen.add(code);
        pairs.push([i, j]);
      }
    }
  }
  return pairs;
}
