// RawPersonRecord -> NormalisedRecord. Pure; depends only on the shipped nickname table.
import { digitsOnly, foldText } from './text.normalise';
import { normaliseName } from './name.normalise';
import type { NormalisedDob, NormalisedName, NormalisedRecord, RawPersonRecord } from './record.types';

export interface NormaliseOptions {
  /** Extra folded street lines that are shelters / service addresses (no evidence). */
  noEvidenceStreets?: readonly string[];
}

// ---------- dates of birth ----------

function isCalendarDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1];
}

/** Parse a DOB; null when missing or a pure placeholder (1900-01-01, 0000...). */
export function normaliseDob(raw: string | undefined, source = 'primary'): NormalisedDob | null {
  if (!raw) return null;
  const s = raw.trim();
  let digits = '';
  let m = /^(\d{4})-?(\d{1,2})-?(\d{1,2})(?:[T ].*)?$/.exec(s);
  if (m && (s.includes('-') || s.length === 8)) digits = m[1] + m[2].padStart(2, '0') + m[3].padStart(2, '0');
  else if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s))) digits = m[3] + m[1].padStart(2, '0') + m[2].padStart(2, '0');
  if (digits.length !== 8) return null;
  const y = +digits.slice(0, 4);
  const mo = +digits.slice(4, 6);
  const d = +digits.slice(6, 8);
  if (y < 1880 || digits === '19000101' || digits === '19010101') return null;
  return { digits, valid: isCalendarDate(y, mo, d), yearOnly: mo === 1 && d === 1, source };
}

// ---------- SSN ----------

const FAKE_SSNS = new Set(['123456789', '987654321', '078051120', '219099999', '012345678']);

/** US SSN validity (SSA rules: area not 000/666/9xx, group not 00, serial not 0000, no known fakes). */
export function isValidSsn(d: string): boolean {
  if (!/^\d{9}$/.test(d)) return false;
  const area = d.slice(0, 3);
  if (area === '000' || area === '666' || area[0] === '9') return false;
  if (d.slice(3, 5) === '00' || d.slice(5) === '0000') return false;
  if (/^(\d)\1{8}$/.test(d) || FAKE_SSNS.has(d)) return false;
  return true;
}

export function normaliseSsn(raw: string | undefined): { ssn: string; ssnLast4: string } {
  const d = digitsOnly(raw);
  if (d.length === 9) return isValidSsn(d) ? { ssn: d, ssnLast4: d.slice(5) } : { ssn: '', ssnLast4: '' };
  // Masked ('XXX-XX-1234') or last-4-only values.
  if (d.length === 4 && d !== '0000') return { ssn: '', ssnLast4: d };
  return { ssn: '', ssnLast4: '' };
}

// ---------- phone / email ----------

export function normalisePhone(raw: string | undefined): string {
  let d = digitsOnly(raw);
  if (d.length === 11 && d[0] === '1') d = d.slice(1);
  if (d.length !== 10) return '';
  if (/^(\d)\1{9}$/.test(d) || d === '1234567890' || /^\d{3}5550\d{3}$/.test(d)) return '';
  return d;
}

export function normaliseEmail(raw: string | undefined): string {
  return raw ? raw.trim().toLowerCase() : '';
}

// ---------- address ----------

const STREET_ABBREV: Record<string, string> = {
  street: 'st', road: 'rd', avenue: 'ave', av: 'ave', drive: 'dr', place: 'pl', court: 'ct', crescent: 'cres',
  boulevard: 'blvd', lane: 'ln', terrace: 'tce', highway: 'hwy', parkway: 'pkwy', circuit: 'cct', close: 'cl',
  square: 'sq', apartment: 'apt', suite: 'ste', north: 'n', south: 's', east: 'e', west: 'w', circle: 'cir',
};

/** Markers of homeless / shelter / non-addresses: they carry no linkage evidence. */
const NO_EVIDENCE_PATTERNS: readonly RegExp[] = [
  /\bhomeless\b/, /\btransient\b/, /\bno fixed (address|abode)\b/, /^nfa$/, /\bunhoused\b/, /\bshelter\b/,
  /\brescue mission\b/, /\bsalvation army\b/, /\bgeneral delivery\b/, /^(unknown|none|refused|na|n a|unk)$/,
];

export function normaliseStreet(line1?: string, line2?: string): string {
  const toks = `${foldText(line1)} ${foldText(line2)}`.trim().split(' ').filter(Boolean);
  return toks.map((t) => STREET_ABBREV[t] ?? t).join(' ');
}

export function isNoEvidenceAddress(street: string, extra: readonly string[] = []): boolean {
  return NO_EVIDENCE_PATTERNS.some((re) => re.test(street)) || extra.includes(street);
}

// ---------- identifiers ----------

export function identifierKey(system: string, value: string): string {
  const sys = foldText(system).replace(/ /g, '_');
  const val = foldText(value).replace(/ /g, '');
  return sys && val ? `${sys}:${val}` : '';
}

// ---------- record ----------

export function normaliseRecord(r: RawPersonRecord, opts: NormaliseOptions = {}): NormalisedRecord {
  const names: NormalisedName[] = [];
  const primary = normaliseName(r, 'primary');
  let suffix = primary.suffix;
  names.push(primary.name);
  const dobs: NormalisedDob[] = [];
  const pd = normaliseDob(r.dateOfBirth);
  if (pd) dobs.push(pd);
  (r.aliases ?? []).forEach((a, i) => {
    const label = `alias ${i + 1}`;
    if (a.firstName || a.lastName) {
      // A missing alias part inherits the primary name's part (e.g. a maiden surname only).
      const alias = normaliseName(
        { firstName: a.firstName || r.firstName, middleName: a.firstName ? undefined : r.middleName, lastName: a.lastName || r.lastName },
        label,
      );
      suffix ||= alias.suffix;
      const dup = names.some((n) => n.first === alias.name.first && n.last === alias.name.last);
      if (!dup && (alias.name.first || alias.name.last)) names.push(alias.name);
    }
    const ad = normaliseDob(a.dateOfBirth, label);
    if (ad && !dobs.some((d) => d.digits === ad.digits)) dobs.push(ad);
  });
  const { ssn, ssnLast4 } = normaliseSsn(r.ssn);
  const street = normaliseStreet(r.address?.line1, r.address?.line2);
  const noEvidence = street !== '' && isNoEvidenceAddress(street, opts.noEvidenceStreets);
  const ids = [...new Set((r.identifiers ?? []).map((x) => identifierKey(x.system, x.value)).filter(Boolean))].sort();
  return {
    schema: 1,
    id: r.id,
    names,
    suffix,
    dobs,
    sex: r.sex === 'M' || r.sex === 'F' || r.sex === 'X' ? r.sex : '',
    ssn,
    ssnLast4,
    phone: normalisePhone(r.phone),
    email: normaliseEmail(r.email),
    street: noEvidence ? '' : street,
    postcode: noEvidence ? '' : digitsOnly(r.address?.postalCode).slice(0, 5),
    city: noEvidence ? '' : foldText(r.address?.city),
    state: noEvidence ? '' : foldText(r.address?.state),
    addressNoEvidence: noEvidence,
    ids,
  };
}
