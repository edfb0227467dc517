// Blocking: each record gets string keys `rule:value`; two records are candidates when they
// share at least one key that is not capped. Rules are in union so one error cannot hide a pair.
import { nicknamesOf } from './nickname.table';
import { phoneticCode } from './phonetic.encode';
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
    // Selective at any base size: catches a nickname or a changed surname on the same DOB, where
    // `dob` alone and a surname sound + year are both too common in a large base.
    name: 'dp',
    description: 'phonetic code of first name or surname + exact date of birth',
    keys: (r) => namePhons(r).flatMap((p) => fullDobs(r).map((d) => `${p}:${d}`)),
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

/**
 * Keys carried by at most this many other records are "selective": one shared selective key
 * makes a candidate. A key between this and the cap (a surname sound + birth year in a large
 * base) makes a candidate only together with a second shared key. Without this, the records
 * reached through mid-size keys grow with the base (each key fills up to the cap), and so does
 * the cost of linking one record; true pairs almost always share several keys (DOB, initials +
 * DOB parts, both name sounds + year). Chosen by measurement, see docs/linkage.md section 5.
 */
export const DEFAULT_SELECTIVE_KEY = 20;

export function isKeyCapped(recordsWithKey: number, cap: number = DEFAULT_KEY_CAP): boolean {
  return recordsWithKey > cap;
}

/**
 * Candidate rule over the usable (not capped) keys a record shares with another:
 * two or more of them, or one selective one (`smallestKeyRecords` <= selective).
 */
export function isCandidate(sharedKeys: number, smallestKeyRecords: number, selective: number = DEFAULT_SELECTIVE_KEY): boolean {
  return sharedKeys >= 2 || (sharedKeys >= 1 && smallestKeyRecords <= selective);
}

/**
 * Most candidate records scored per link. Past this, the records with the most shared-key
 * evidence (keyEvidence summed over the shared keys) are kept, ties to the earlier record. In a
 * base of 10,000 a record reaches a handful of candidates and nothing changes; at 1,000,000 the
 * candidate rule still lets about 33 through, most of them sharing two mid-size keys with the
 * record, and scoring them made the cost per record grow with the base. The true match shares
 * several keys or a rare one, so it ranks first. Chosen by measurement, see docs/linkage.md section 5.
 */
export const DEFAULT_CANDIDATE_LIMIT = 12;

/**
 * Evidence of one shared key carried by `otherRecords` other records: rarer keys count more.
 * Integer (millionths) so the service's SQL sums exactly what the TypeScript linkers sum.
 */
export function keyEvidence(otherRecords: number): number {
  return Math.floor(1_000_000 / otherRecords);
}

/** What a record shares with the incoming one: usable keys, the smallest of them, and their evidence. */
export interface KeyHits {
  shared: number;
  smallest: number;
  evidence: number;
}

/** Adds one usable shared key, carried by `otherRecords` other records, to a record's hits. */
export function addKeyHit(hits: Map<string, KeyHits>, id: string, otherRecords: number): void {
  const h = hits.get(id);
  if (!h) hits.set(id, { shared: 1, smallest: otherRecords, evidence: keyEvidence(otherRecords) });
  else {
    h.shared += 1;
    h.smallest = Math.min(h.smallest, otherRecords);
    h.evidence += keyEvidence(otherRecords);
  }
}

/**
 * The candidate records of one link: the candidate rule (isCandidate), then at most `limit` of
 * them by evidence, ties to the record that came first (`earlier(a, b) < 0`: the service orders by
 * record id). The in-memory and bulk linkers call this; the service's candidate SQL does the same.
 */
export function pickCandidates(
  hits: ReadonlyMap<string, KeyHits>, earlier: (a: string, b: string) => number,
  selective: number = DEFAULT_SELECTIVE_KEY, limit: number = DEFAULT_CANDIDATE_LIMIT,
): string[] {
  const ids = [...hits].filter(([, h]) => isCandidate(h.shared, h.smallest, selective));
  if (ids.length > limit) ids.sort(([a, ha], [b, hb]) => hb.evidence - ha.evidence || earlier(a, b)).length = limit;
  return ids.map(([id]) => id);
}

/** Candidate pairs (index pairs i<j) from a batch, honouring the cap and the candidate rule. Used by training and tests. */
export function blockedPairs(keysPerRecord: readonly string[][], cap: number = DEFAULT_KEY_CAP, selective: number = DEFAULT_SELECTIVE_KEY): [number, number][] {
  const index = new Map<string, number[]>();
  keysPerRecord.forEach((keys, i) => {
    for (const k of keys) {
      let list = index.get(k);
      if (!list) index.set(k, (list = []));
      list.push(i);
    }
  });
  const n = keysPerRecord.length;
  // pair code -> shared usable keys, and whether one of them is selective
  const shared = new Map<number, number>();
  const viaSelective = new Set<number>();
  for (const list of index.values()) {
    if (list.length < 2 || isKeyCapped(list.length, cap)) continue;
    // A record's own entry is not counted, as the service counts "other records with the key".
    const small = list.length - 1 <= selective;
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        const code = list[x] * n + list[y];
        shared.set(code, (shared.get(code) ?? 0) + 1);
        if (small) viaSelective.add(code);
      }
    }
  }
  const pairs: [number, number][] = [];
  for (const [code, count] of shared) {
    if (isCandidate(count, viaSelective.has(code) ? 0 : Infinity, selective)) pairs.push([Math.floor(code / n), code % n]);
  }
  return pairs;
}

/**
 * Blocking keys for a typed lookup (person search): the probe's own keys plus those of its likely
 * variants, because a person typing a name and a date slips more than a partner system does:
 * each formal name the first name is a nickname of, and each nickname of those (Bob -> Robert,
 * Robert -> Bob), and the date with day and month swapped. Candidates are then chosen by the
 * linker's candidate rule (isCandidate) over these keys, so a search meets the records a link
 * would: "Bob Smyth 1988-12-04" shares `npy:RBRT:1988` and `npy:SM0:1988` with Robert Smith
 * 1988-04-12, two keys.
 */
export function searchKeys(probe: NormalisedRecord, rules: readonly BlockingRule[] = BLOCKING_RULES): string[] {
  const name = probe.names[0];
  const out = new Set(blockingKeys(probe, rules));
  const firsts = new Map<string, string>();
  if (name?.first) {
    for (const g of name.firstGroups) {
      for (const f of [g, ...nicknamesOf(g)]) {
        const phon = phoneticCode(f);
        if (phon && phon !== name.firstPhon && !firsts.has(phon)) firsts.set(phon, f);
      }
    }
  }
  const dobs = [...probe.dobs];
  for (const d of probe.dobs) {
    const swapped = `${d.digits.slice(0, 4)}${d.digits.slice(6, 8)}${d.digits.slice(4, 6)}`;
    if (!d.yearOnly && swapped !== d.digits && Number(swapped.slice(4, 6)) <= 12 && !dobs.some((x) => x.digits === swapped)) {
      dobs.push({ ...d, digits: swapped, source: 'swapped' });
    }
  }
  const variantNames = name ? [name, ...[...firsts].map(([phon, f]) => ({ ...name, first: f, firstFull: f, firstPhon: phon }))] : [];
  for (const n of variantNames) {
    for (const k of blockingKeys({ ...probe, names: [n], dobs }, rules)) out.add(k);
  }
  return [...out].sort();
}
