// Score an incoming record against candidate persons: a person's score is the max over its records.
import { scorePair, type PairScore } from './model.score';
import type { CandidatePerson } from './link.decide';
import type { ModelParams } from './model.params';
import type { NormalisedRecord } from './record.types';
import type { TermFrequencies } from './tf.table';

export interface PersonRecords {
  personId: string;
  records: readonly NormalisedRecord[];
}

export interface ScoredCandidate extends CandidatePerson {
  /** Full score (with per-field bits) of the best record, for explanations and review items. */
  best: PairScore;
}

/** A person's entry while its reached records are folded in: the best-scoring record so far. */
export interface PersonBest<T> {
  c: CandidatePerson;
  other: T;
}

/**
 * Folds one scored candidate record into its person's entry: the person scores as its best
 * record, lists every reached record, and is excluded from automatic linking when any of them
 * states another generation (PairScore.excludesPerson). The service, the bulk backfill and the
 * in-memory linker all build their candidates with this, so they decide alike.
 */
export function foldCandidate<T>(
  best: Map<string, PersonBest<T>>, personId: string, recordId: string, s: Pick<PairScore, 'probability' | 'weight'> & { excludesPerson?: boolean }, other: T,
): void {
  const cur = best.get(personId);
  if (!cur) {
    best.set(personId, { c: { personId, recordIds: [recordId], probability: s.probability, weight: s.weight, bestRecordId: recordId, ...(s.excludesPerson ? { excluded: true } : {}) }, other });
    return;
  }
  (cur.c.recordIds as string[]).push(recordId);
  if (s.excludesPerson) cur.c.excluded = true;
  if (s.probability > cur.c.probability) Object.assign(cur, { c: { ...cur.c, probability: s.probability, weight: s.weight, bestRecordId: recordId }, other });
}

/** Candidates sorted best first; persons without records are skipped. */
export function scoreCandidates(
  model: ModelParams, record: NormalisedRecord, persons: readonly PersonRecords[], tf?: TermFrequencies,
): ScoredCandidate[] {
  const out: ScoredCandidate[] = [];
  for (const p of persons) {
    let best: { score: PairScore; id: string } | undefined;
    let excluded = false;
    for (const r of p.records) {
      if (r.id === record.id) continue;
      const score = scorePair(model, record, r, tf);
      if (score.excludesPerson) excluded = true;
      if (!best || score.weight > best.score.weight) best = { score, id: r.id };
    }
    if (!best) continue;
    out.push({
      personId: p.personId,
      recordIds: p.records.map((r) => r.id),
      probability: best.score.probability,
      weight: best.score.weight,
      bestRecordId: best.id,
      best: best.score,
      ...(excluded ? { excluded } : {}),
    });
  }
  return out.sort((a, b) => b.weight - a.weight);
}
