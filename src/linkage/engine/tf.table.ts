// Term-frequency tables for names. The service maintains counts from its own data
// (increment on insert, decrement on delete) and passes them to scorePair().
import type { ModelParams } from './model.params';
import type { NormalisedRecord } from './record.types';

export interface TermCounts {
  /** Number of records counted. */
  total: number;
  /** Folded value -> number of records carrying it. */
  counts: Record<string, number>;
}

export interface TermFrequencies {
  firstName: TermCounts;
  lastName: TermCounts;
}

export function emptyTermFrequencies(): TermFrequencies {
  return { firstName: { total: 0, counts: {} }, lastName: { total: 0, counts: {} } };
}

/** Values a record contributes: the primary name's `first` and `last` (core surname). */
export function termValues(r: NormalisedRecord): { firstName: string; lastName: string } {
  const n = r.names[0];
  return { firstName: n?.first ?? '', lastName: n?.last ?? '' };
}

/** Add (delta=1) or remove (delta=-1) one record's names. Mutates tf. */
export function updateTermFrequencies(tf: TermFrequencies, r: NormalisedRecord, delta = 1): void {
  const v = termValues(r);
  for (const f of ['firstName', 'lastName'] as const) {
    tf[f].total += delta;
    const val = v[f];
    if (!val) continue;
    tf[f].counts[val] = countOf(tf[f], val) + delta;
    if (tf[f].counts[val] <= 0) delete tf[f].counts[val];
  }
}

export function buildTermFrequencies(records: readonly NormalisedRecord[]): TermFrequencies {
  const tf = emptyTermFrequencies();
  for (const r of records) updateTermFrequencies(tf, r);
  return tf;
}

// hasOwn guards against names like 'constructor' hitting Object.prototype.
export function countOf(t: TermCounts, value: string): number {
  return Object.hasOwn(t.counts, value) ? t.counts[value] : 0;
}

/** Relative frequency of a value (at least one occurrence is assumed: the record itself). */
export function termFrequency(t: TermCounts, value: string): number {
  if (t.total <= 0) return 0;
  return Math.max(1, countOf(t, value)) / t.total;
}

/**
 * A name the last background recount has not seen (a new name, or a fresh database) gets no
 * term-frequency adjustment, instead of counting as the rarest name there is: otherwise common
 * names arriving after a recount would earn the largest boost.
 */
export function neutralForUnseen(tf: TermFrequencies, rec: NormalisedRecord, model: ModelParams): TermFrequencies {
  const names = termValues(rec);
  const fill = (t: TermFrequencies['firstName'], value: string, u0: number): void => {
    if (value && !Object.hasOwn(t.counts, value)) t.counts[value] = Math.max(1, u0 * t.total);
  };
  fill(tf.firstName, names.firstName, model.fields.firstName.u[0]);
  fill(tf.lastName, names.lastName, model.fields.lastName.u[0]);
  return tf;
}
