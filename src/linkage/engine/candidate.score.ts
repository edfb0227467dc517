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

/** Candidates sorted best first; persons without records are skipped. */
export function scoreCandidates(
  model: ModelParams, record: NormalisedRecord, persons: readonly PersonRecords[], tf?: TermFrequencies,
): ScoredCandidate[] {
  const out: ScoredCandidate[] = [];
  for (const p of persons) {
    let best: { score: PairScore; id: string } | undefined;
    for (const r of p.records) {
      if (r.id === record.id) continue;
      const score = scorePair(model, record, r, tf);
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
    });
  }
  return out.sort((a, b) => b.weight - a.weight);
}
