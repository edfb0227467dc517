// Fellegi-Sunter scoring of a record pair, with aliases, name swaps and TF adjustment.
import {
  FIELD_LEVELS, FIELD_NAMES, MISSING, compareDob, compareEmail, compareFirstName, compareIdentifiers,
  compareAddress, compareLastName, comparePhone, compareSex, compareSsn, compareSuffix, swapName,
  type FieldName,
} from './field.compare';
import { bitsToProbability, levelBits, probabilityToBits, type ModelParams } from './model.params';
import { termFrequency, type TermFrequencies } from './tf.table';
import type { NormalisedName, NormalisedRecord } from './record.types';

export interface FieldContribution {
  /** A model field, or 'conflict' when an identity-conflict cap applied. */
  field: FieldName | 'conflict';
  /** Level name, or 'missing' (neutral). */
  level: string;
  /** Evidence in bits (log2 of the likelihood ratio), TF adjustment included. */
  bits: number;
  /** e.g. 'tf -1.8 bits (garcia)', 'first/last swapped'. */
  detail?: string;
}

export interface PairScore {
  /** Total match weight in bits: prior bits + sum of field bits. */
  weight: number;
  /** Posterior match probability. */
  probability: number;
  priorBits: number;
  fields: FieldContribution[];
  /** Which alias produced the best name / DOB agreement, when not the primary values. */
  alias?: string;
  /**
   * Both records state a generational suffix and they differ (Jr vs Sr): a person holding the
   * other record gets no automatic link from this one, however well it matches other records.
   */
  excludesPerson?: true;
}

/** Level indices per field, in FIELD_NAMES order (MISSING = -1). Used by EM. */
export type LevelVector = number[];

interface NameChoice {
  first: number;
  last: number;
  bits: number;
  firstTf: number;
  lastTf: number;
  swapped: boolean;
  a: NormalisedName;
  b: NormalisedName;
}

/**
 * TF adjustment for an agreeing name: log2(u_exact / frequency of the value), capped. For a
 * swapped comparison the value's higher frequency over both name tables is used; for near
 * agreement (typo) only the weakening part applies, so 'Nguyeen' ~ 'Nguyen' stays weak.
 */
function tfAdjust(
  model: ModelParams, field: 'firstName' | 'lastName', values: string[], tf: TermFrequencies | undefined, swapped: boolean, weakenOnly: boolean,
): number {
  if (!tf || !model.tf.enabled) return 0;
  const tables = swapped ? [tf.firstName, tf.lastName] : [tf[field]];
  let p = 0;
  for (const t of tables) {
    if (t.total < model.tf.minTotal) return 0;
    for (const v of values) if (v) p = Math.max(p, termFrequency(t, v));
  }
  if (p <= 0) return 0;
  const adj = Math.log2(model.fields[field].u[0] / Math.max(p, model.tf.minFrequency));
  const cap = model.tf.maxAdjustmentBits;
  return Math.max(-cap, Math.min(weakenOnly ? 0 : cap, adj));
}

function bitsOf(model: ModelParams, f: FieldName, level: number): number {
  return level === MISSING ? 0 : levelBits(model.fields[f], level);
}

/** Cheap gate before trying swapped orientations: a cross pair must share its first letter. */
function maySwap(a: NormalisedName, b: NormalisedName): boolean {
  return (!!a.first && !!b.last && a.first[0] === b.last[0]) || (!!a.last && !!b.first && a.last[0] === b.first[0]);
}

function chooseNames(model: ModelParams, a: NormalisedRecord, b: NormalisedRecord, tf?: TermFrequencies): NameChoice | null {
  let best: NameChoice | null = null;
  for (const na of a.names) {
    for (const nb of b.names) {
      const orientations: [NormalisedName, NormalisedName, boolean][] = [[na, nb, false]];
      const first = compareFirstName(na, nb);
      const last = compareLastName(na, nb);
      // Both swap labellings, so score(a, b) === score(b, a).
      if ((first !== 0 || last !== 0) && maySwap(na, nb)) orientations.push([na, swapName(nb), true], [swapName(na), nb, true]);
      for (const [oa, ob, swapped] of orientations) {
        const fl = swapped ? compareFirstName(oa, ob) : first;
        const ll = swapped ? compareLastName(oa, ob) : last;
        const firstTf = fl <= 2 && fl !== MISSING ? tfAdjust(model, 'firstName', [oa.first, ob.first], tf, swapped, fl > 0) : 0;
        const lastTf = ll <= 1 && ll !== MISSING ? tfAdjust(model, 'lastName', [oa.last, ob.last], tf, swapped, ll > 0) : 0;
        const bits =
          bitsOf(model, 'firstName', fl) + bitsOf(model, 'lastName', ll) + firstTf + lastTf - (swapped ? model.swapPenaltyBits : 0);
        if (!best || bits > best.bits) best = { first: fl, last: ll, bits, firstTf, lastTf, swapped, a: oa, b: ob };
      }
    }
  }
  return best;
}

interface DobChoice {
  level: number;
  aSource: string;
  bSource: string;
}

function chooseDob(model: ModelParams, a: NormalisedRecord, b: NormalisedRecord): DobChoice | null {
  let best: DobChoice | null = null;
  let bestBits = -Infinity;
  for (const da of a.dobs) {
    for (const db of b.dobs) {
      const level = compareDob(da, db);
      const bits = bitsOf(model, 'dob', level);
      if (bits > bestBits) {
        bestBits = bits;
        best = { level, aSource: da.source, bSource: db.source };
      }
    }
  }
  return best;
}

interface Compared {
  levels: LevelVector;
  conflict?: 'possible_twin' | 'different_generation' | 'ssn_conflict';
  /** The conflict is stated by both records (different suffixes), not inferred from a DOB gap. */
  stated: boolean;
  tfBits: Partial<Record<FieldName, number>>;
  swapped: boolean;
  alias?: string;
}

function compareAll(model: ModelParams, a: NormalisedRecord, b: NormalisedRecord, tf?: TermFrequencies): Compared {
  const names = chooseNames(model, a, b, tf);
  const dob = chooseDob(model, a, b);
  const levels: Record<FieldName, number> = {
    firstName: names?.first ?? MISSING,
    lastName: names?.last ?? MISSING,
    suffix: compareSuffix(a, b),
    dob: dob?.level ?? MISSING,
    sex: compareSex(a, b),
    ssn: compareSsn(a, b),
    phone: comparePhone(a, b),
    email: compareEmail(a, b),
    address: compareAddress(a, b),
    identifiers: compareIdentifiers(a, b),
  };
  let conflict: Compared['conflict'];
  let stated = false;
  // An exact SSN or a (near-)exact identifier overrides the patterns: twins and Jr/Sr do not
  // share those. Near SSNs do not override: twins often have consecutive SSNs.
  if (levels.ssn !== 0 && (levels.identifiers === MISSING || levels.identifiers > 1)) {
    const n = names;
    // A surname typo still reads as 'same family' when both records state a sex.
    const lastAgrees = levels.lastName === 0 || (levels.lastName === 1 && levels.sex !== MISSING);
    // Twins: first names clearly differ (or merely sound alike while the sexes differ).
    const firstDiffers = levels.firstName === 6 || (levels.sex === 1 && levels.firstName >= 3);
    const { twins, generations } = model.conflicts;
    if (generations && levels.suffix === 1) {
      conflict = 'different_generation';
      stated = true;
    }
    else if (twins && n && !n.swapped && firstDiffers && lastAgrees && [MISSING, 0, 1, 2, 4].includes(levels.dob)) {
      // Also without a usable DOB: a shared surname and household is twin-like too.
      conflict = 'possible_twin';
    } else if (generations && n && levels.firstName >= 0 && levels.firstName <= 2 && levels.lastName === 0 && levels.dob === 5 && dob) {
      const gap = Math.abs(+dobYear(a, dob.aSource) - +dobYear(b, dob.bSource));
      if (gap >= model.conflicts.generationYears) conflict = 'different_generation';
    }
    // Two full, valid SSNs that are not a one-digit / transposition slip: never auto-link.
    if (!conflict && model.conflicts.ssn && a.ssn && b.ssn && levels.ssn === 4) conflict = 'ssn_conflict';
  }
  const aliasParts: string[] = [];
  if (names && (names.a.source !== 'primary' || names.b.source !== 'primary')) {
    aliasParts.push(`name: ${names.a.source} ~ ${names.b.source}`);
  }
  if (dob && (dob.aSource !== 'primary' || dob.bSource !== 'primary')) aliasParts.push(`dob: ${dob.aSource} ~ ${dob.bSource}`);
  return {
    levels: FIELD_NAMES.map((f) => levels[f]),
    tfBits: { firstName: names?.firstTf ?? 0, lastName: names?.lastTf ?? 0 },
    swapped: names?.swapped ?? false,
    alias: aliasParts.length ? aliasParts.join('; ') : undefined,
    conflict,
    stated,
  };
}

function dobYear(r: NormalisedRecord, source: string): string {
  return (r.dobs.find((d) => d.source === source) ?? r.dobs[0]).digits.slice(0, 4);
}

/** Level vector for EM (names/DOB variants chosen with `model`, no TF). */
export function comparisonVector(model: ModelParams, a: NormalisedRecord, b: NormalisedRecord): LevelVector {
  return compareAll(model, a, b).levels;
}

export function scorePair(model: ModelParams, a: NormalisedRecord, b: NormalisedRecord, tf?: TermFrequencies): PairScore {
  const c = compareAll(model, a, b, tf);
  const priorBits = probabilityToBits(model.prior);
  let weight = priorBits;
  const fields: FieldContribution[] = FIELD_NAMES.map((f, i) => {
    const level = c.levels[i];
    const tfBits = c.tfBits[f] ?? 0;
    let bits = bitsOf(model, f, level) + tfBits;
    const details: string[] = [];
    if (tfBits) details.push(`tf ${tfBits > 0 ? '+' : ''}${tfBits.toFixed(2)} bits`);
    if (c.swapped && f === 'firstName') {
      bits -= model.swapPenaltyBits;
      details.push(`first/last swapped (-${model.swapPenaltyBits} bits)`);
    }
    if (c.swapped && f === 'lastName') details.push('first/last swapped');
    weight += bits;
    const out: FieldContribution = { field: f, level: level === MISSING ? 'missing' : FIELD_LEVELS[f][level], bits };
    if (details.length) out.detail = details.join('; ');
    return out;
  });
  if (c.conflict) {
    const capBits = probabilityToBits(model.conflicts.capProbability);
    if (weight > capBits) {
      fields.push({ field: 'conflict', level: c.conflict, bits: capBits - weight, detail: `capped at probability ${model.conflicts.capProbability} for review` });
      weight = capBits;
    }
  }
  const score: PairScore = { weight, probability: bitsToProbability(weight), priorBits, fields };
  if (c.alias) score.alias = c.alias;
  if (c.stated) score.excludesPerson = true;
  return score;
}

export interface Explanation extends PairScore {
  /** Human-readable lines, one per field with evidence, for stewards. */
  lines: string[];
}

/** scorePair plus readable lines; bits of prior + fields sum to `weight`. */
export function explain(model: ModelParams, a: NormalisedRecord, b: NormalisedRecord, tf?: TermFrequencies): Explanation {
  const s = scorePair(model, a, b, tf);
  const fmt = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
  const lines = [`prior ${fmt(s.priorBits)} bits`];
  for (const f of s.fields) {
    if (f.level === 'missing') continue;
    lines.push(`${f.field}: ${f.level} ${fmt(f.bits)} bits${f.detail ? ` (${f.detail})` : ''}`);
  }
  if (s.alias) lines.push(`alias used: ${s.alias}`);
  lines.push(`total ${fmt(s.weight)} bits, probability ${s.probability.toFixed(4)}`);
  return { ...s, lines };
}
