// Evaluation helpers: pairwise cluster metrics, PR table by threshold, labels file parser.
import { scorePair } from './model.score';
import type { ModelParams } from './model.params';
import type { NormalisedRecord } from './record.types';
import type { TermFrequencies } from './tf.table';

export interface PairwiseMetrics {
  truePositives: number;
  predictedPairs: number;
  truePairs: number;
  precision: number;
  recall: number;
  f1: number;
}

function pairsIn(n: number): number {
  return (n * (n - 1)) / 2;
}

/** Pairwise precision/recall/F1 of predicted clusters vs truth clusters (maps recordId -> cluster). */
export function pairwiseMetrics(predicted: ReadonlyMap<string, string>, truth: ReadonlyMap<string, string>): PairwiseMetrics {
  const predSize = new Map<string, number>();
  const truthSize = new Map<string, number>();
  const cell = new Map<string, number>();
  for (const [id, t] of truth) {
    const p = predicted.get(id);
    if (p === undefined) continue;
    predSize.set(p, (predSize.get(p) ?? 0) + 1);
    truthSize.set(t, (truthSize.get(t) ?? 0) + 1);
    const key = `${p}\u0000${t}`;
    cell.set(key, (cell.get(key) ?? 0) + 1);
  }
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (const c of cell.values()) tp += pairsIn(c);
  for (const c of predSize.values()) pp += pairsIn(c);
  for (const c of truthSize.values()) tt += pairsIn(c);
  const precision = pp ? tp / pp : 1;
  const recall = tt ? tp / tt : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { truePositives: tp, predictedPairs: pp, truePairs: tt, precision, recall, f1 };
}

export interface ScoredLabel {
  probability: number;
  match: boolean;
}

export interface PrRow {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  predictedMatches: number;
}

export const DEFAULT_PR_THRESHOLDS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999];

/** Precision / recall of "probability >= threshold" over labelled pairs, per threshold. */
export function precisionRecallTable(scored: readonly ScoredLabel[], thresholds: readonly number[] = DEFAULT_PR_THRESHOLDS): PrRow[] {
  const positives = scored.filter((s) => s.match).length;
  return thresholds.map((threshold) => {
    let tp = 0;
    let predicted = 0;
    for (const s of scored) {
      if (s.probability >= threshold) {
        predicted++;
        if (s.match) tp++;
      }
    }
    const precision = predicted ? tp / predicted : 1;
    const recall = positives ? tp / positives : 1;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { threshold, precision, recall, f1, predictedMatches: predicted };
  });
}

export interface SuggestedThresholds {
  /** Lowest threshold whose precision >= minPrecision (auto-link), or null if none reaches it. */
  upper: number | null;
  /** Threshold with the best F1 among those below `upper` (review band start). */
  lower: number;
  bestF1: PrRow;
}

export function suggestThresholds(table: readonly PrRow[], minPrecision = 0.995): SuggestedThresholds {
  const sorted = [...table].sort((a, b) => a.threshold - b.threshold);
  const upperRow = sorted.find((r) => r.precision >= minPrecision && r.predictedMatches > 0);
  const bestF1 = sorted.reduce((a, b) => (b.f1 > a.f1 ? b : a), sorted[0]);
  const upper = upperRow ? upperRow.threshold : null;
  const lowerCandidates = sorted.filter((r) => upper === null || r.threshold <= upper);
  const lower = lowerCandidates.reduce((a, b) => (b.f1 > a.f1 ? b : a), lowerCandidates[0]).threshold;
  return { upper, lower: Math.min(lower, upper ?? lower), bestF1 };
}

export interface LabelledPair {
  recordIdA: string;
  recordIdB: string;
  match: boolean;
}

export interface LabelsParseResult {
  pairs: LabelledPair[];
  errors: { line: number; message: string }[];
}

/** Parse a labels TSV: header line, then `recordIdA<TAB>recordIdB<TAB>match(1|0)`. */
export function parseLabelsTsv(text: string): LabelsParseResult {
  const pairs: LabelledPair[] = [];
  const errors: { line: number; message: string }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    if (i === 0 || raw.trim() === '' || raw.startsWith('#')) return;
    const cols = raw.split('\t').map((c) => c.trim());
    if (cols.length !== 3) {
      errors.push({ line: lineNo, message: `expected 3 tab-separated columns, got ${cols.length}` });
      return;
    }
    const [a, b, m] = cols;
    if (!a || !b) errors.push({ line: lineNo, message: 'empty record id' });
    else if (m !== '1' && m !== '0') errors.push({ line: lineNo, message: `match must be 1 or 0, got '${m}'` });
    else if (a === b) errors.push({ line: lineNo, message: 'a record cannot be labelled against itself' });
    else pairs.push({ recordIdA: a, recordIdB: b, match: m === '1' });
  });
  if (lines.length && lines[0].split('\t').length !== 3) errors.unshift({ line: 1, message: 'header must have 3 tab-separated columns' });
  return { pairs, errors };
}

/** Score labelled pairs with a model (for `model evaluate --labels`); unknown record ids are reported. */
export function scoreLabelledPairs(
  model: ModelParams, records: ReadonlyMap<string, NormalisedRecord>, pairs: readonly LabelledPair[], tf?: TermFrequencies,
): { scored: (ScoredLabel & LabelledPair & { weight: number })[]; unknownRecordIds: string[] } {
  const unknown = new Set<string>();
  const scored: (ScoredLabel & LabelledPair & { weight: number })[] = [];
  for (const p of pairs) {
    const a = records.get(p.recordIdA);
    const b = records.get(p.recordIdB);
    if (!a) unknown.add(p.recordIdA);
    if (!b) unknown.add(p.recordIdB);
    if (!a || !b) continue;
    const s = scorePair(model, a, b, tf);
    scored.push({ ...p, probability: s.probability, weight: s.weight });
  }
  return { scored, unknownRecordIds: [...unknown].sort() };
}
