// Per-field comparison levels. Each function returns a level index into FIELD_LEVELS[field]
// (0 = strongest agreement) or MISSING when either side lacks the value (neutral, 0 bits).
import { hamming, isAdjacentTransposition, jaroWinkler, levenshtein } from './string.similarity';
import { nicknameGroups } from './nickname.table';
import type { NormalisedDob, NormalisedName, NormalisedRecord } from './record.types';

export const MISSING = -1;

export const FIELD_LEVELS = {
  firstName: ['exact', 'nickname', 'typo', 'jw_high', 'phonetic', 'middle_or_initial', 'different'],
  lastName: ['exact', 'typo', 'parts', 'jw_high', 'phonetic', 'different'],
  suffix: ['same', 'different'],
  dob: ['exact', 'day_month_swap', 'one_slip', 'partial', 'year_only', 'different'],
  sex: ['same', 'different'],
  ssn: ['exact', 'one_digit', 'transposed', 'last4', 'different'],
  phone: ['exact', 'last7', 'different'],
  email: ['exact', 'fuzzy', 'different'],
  // One field for the whole address: street and locality are correlated, so they must not both count.
  address: ['street_exact', 'street_fuzzy', 'postcode_city', 'postcode', 'city', 'different'],
  identifiers: ['exact', 'near', 'different'],
} as const satisfies Record<string, readonly string[]>;

export type FieldName = keyof typeof FIELD_LEVELS;
export const FIELD_NAMES = Object.keys(FIELD_LEVELS) as FieldName[];

/** Jaro-Winkler cut-offs shared by name levels. */
export const JW_HIGH = 0.92;
export const JW_MID = 0.85;

function typo(a: string, b: string): boolean {
  if (Math.min(a.length, b.length) < 3) return false;
  return isAdjacentTransposition(a, b) || levenshtein(a, b) <= 1;
}

function sortedLetters(s: string): string {
  return [...s].sort().join('');
}

/** Same letters in another order, give or take one (keying scrambles such as 'lmeai' ~ 'amelia'). */
function scrambled(a: string, b: string): boolean {
  if (Math.min(a.length, b.length) < 4 || Math.abs(a.length - b.length) > 1) return false;
  return levenshtein(sortedLetters(a), sortedLetters(b)) <= 1;
}

export function compareFirstName(a: NormalisedName, b: NormalisedName): number {
  if (!a.first || !b.first) return MISSING;
  if (a.first === b.first || (a.firstFull === b.firstFull && a.firstFull.length > 1)) return 0;
  if (a.first.length > 1 && b.first.length > 1 && a.firstGroups.some((g) => b.firstGroups.includes(g))) return 1;
  if (typo(a.first, b.first)) return 2;
  const jw = jaroWinkler(a.first, b.first);
  if (jw >= JW_HIGH) return 3;
  if ((a.firstPhon && a.firstPhon === b.firstPhon) || jw >= JW_MID || scrambled(a.firstFull, b.firstFull)) return 4;
  if (a.middle.includes(b.first) || b.middle.includes(a.first)) return 5;
  if ((a.first.length === 1 || b.first.length === 1) && a.first[0] === b.first[0]) return 5;
  return 6;
}

export function compareLastName(a: NormalisedName, b: NormalisedName): number {
  if (!a.last || !b.last) return MISSING;
  if (a.last === b.last || a.lastFull === b.lastFull) return 0;
  if (typo(a.last, b.last)) return 1;
  if (a.lastParts.some((p) => p.length >= 3 && b.lastParts.includes(p))) return 2;
  if ((a.last.length >= 4 && b.lastFull.includes(a.last)) || (b.last.length >= 4 && a.lastFull.includes(b.last))) return 2;
  const jw = jaroWinkler(a.last, b.last);
  if (jw >= JW_HIGH) return 3;
  if ((a.lastPhon && a.lastPhon === b.lastPhon) || jw >= JW_MID) return 4;
  return 5;
}

/** b with first and last names exchanged, to test for swapped name fields. */
export function swapName(n: NormalisedName): NormalisedName {
  return {
    source: n.source,
    first: n.last,
    firstFull: n.lastFull,
    middle: [],
    last: n.firstFull || n.first,
    lastFull: n.firstFull || n.first,
    lastParts: n.first ? [n.first] : [],
    firstGroups: nicknameGroups(n.last),
    firstPhon: n.lastPhon,
    lastPhon: n.firstPhon,
  };
}

export function compareDob(a: NormalisedDob, b: NormalisedDob): number {
  const ya = +a.digits.slice(0, 4);
  const yb = +b.digits.slice(0, 4);
  if (a.yearOnly || b.yearOnly) {
    // Placeholder day/month: only the year is evidence.
    if (ya === yb) return 4;
    return Math.abs(ya - yb) > 1 ? 5 : MISSING;
  }
  if (a.digits === b.digits) return 0;
  const ma = a.digits.slice(4, 6);
  const da = a.digits.slice(6, 8);
  const mb = b.digits.slice(4, 6);
  const db = b.digits.slice(6, 8);
  if (ya === yb && ma === db && da === mb) return 1;
  if (hamming(a.digits, b.digits) === 1 || isAdjacentTransposition(a.digits, b.digits)) return 2;
  if (ma === mb && da === db && Math.abs(ya - yb) === 1) return 2;
  const same = (ya === yb ? 1 : 0) + (ma === mb ? 1 : 0) + (da === db ? 1 : 0);
  if (same >= 2) return 3;
  return 5;
}

export function compareSsn(a: NormalisedRecord, b: NormalisedRecord): number {
  if (a.ssn && b.ssn) {
    if (a.ssn === b.ssn) return 0;
    if (hamming(a.ssn, b.ssn) === 1) return 1;
    if (isAdjacentTransposition(a.ssn, b.ssn)) return 2;
    return a.ssnLast4 === b.ssnLast4 ? 3 : 4;
  }
  if (a.ssnLast4 && b.ssnLast4) return a.ssnLast4 === b.ssnLast4 ? 3 : 4;
  return MISSING;
}

export function compareSuffix(a: NormalisedRecord, b: NormalisedRecord): number {
  if (!a.suffix || !b.suffix) return MISSING;
  return a.suffix === b.suffix ? 0 : 1;
}

export function compareSex(a: NormalisedRecord, b: NormalisedRecord): number {
  if (!a.sex || !b.sex) return MISSING;
  return a.sex === b.sex ? 0 : 1;
}

export function comparePhone(a: NormalisedRecord, b: NormalisedRecord): number {
  if (!a.phone || !b.phone) return MISSING;
  if (a.phone === b.phone) return 0;
  return a.phone.slice(3) === b.phone.slice(3) ? 1 : 2;
}

export function compareEmail(a: NormalisedRecord, b: NormalisedRecord): number {
  if (!a.email || !b.email) return MISSING;
  if (a.email === b.email) return 0;
  const la = a.email.split('@')[0];
  const lb = b.email.split('@')[0];
  if ((la.length >= 3 && la === lb) || jaroWinkler(a.email, b.email) >= 0.9) return 1;
  return 2;
}

export function compareAddress(a: NormalisedRecord, b: NormalisedRecord): number {
  if (a.street && b.street) {
    if (a.street === b.street) return 0;
    if (jaroWinkler(a.street, b.street) >= 0.9) return 1;
  }
  const hasPc = !!a.postcode && !!b.postcode;
  const hasCity = !!a.city && !!b.city;
  if (!hasPc && !hasCity) return a.street && b.street ? 5 : MISSING;
  const pc = hasPc && a.postcode === b.postcode;
  const city = hasCity && (a.city === b.city || jaroWinkler(a.city, b.city) >= 0.9);
  if (pc && city) return 2;
  if (pc) return 3;
  if (city) return 4;
  return 5;
}

export function compareIdentifiers(a: NormalisedRecord, b: NormalisedRecord): number {
  if (!a.ids.length || !b.ids.length) return MISSING;
  let shared = false;
  let near = false;
  for (const x of a.ids) {
    const sys = x.slice(0, x.indexOf(':') + 1);
    for (const y of b.ids) {
      if (!y.startsWith(sys)) continue;
      if (x === y) return 0;
      shared = true;
      const vx = x.slice(sys.length);
      const vy = y.slice(sys.length);
      if (vx.length >= 5 && (hamming(vx, vy) === 1 || isAdjacentTransposition(vx, vy))) near = true;
    }
  }
  if (near) return 1;
  return shared ? 2 : MISSING;
}
