import { pairwiseMetrics, parseLabelsTsv, precisionRecallTable, suggestThresholds } from '../../../src/linkage/engine/eval.metrics';

describe('evaluation helpers', () => {
  it('computes pairwise precision, recall and F1 from clusters', () => {
    const truth = new Map([['a', '1'], ['b', '1'], ['c', '1'], ['d', '2'], ['e', '2']]);
    const pred = new Map([['a', 'x'], ['b', 'x'], ['c', 'y'], ['d', 'y'], ['e', 'z']]);
    const m = pairwiseMetrics(pred, truth);
    // true pairs: ab ac bc de = 4; predicted: ab cd = 2; correct: ab = 1
    expect(m).toMatchObject({ truePositives: 1, predictedPairs: 2, truePairs: 4, precision: 0.5, recall: 0.25 });
    expect(m.f1).toBeCloseTo(1 / 3, 12);
    expect(pairwiseMetrics(truth, truth).f1).toBe(1);
  });

  it('builds a precision-recall table and suggests thresholds', () => {
    const scored = [
      { probability: 0.999, match: true }, { probability: 0.99, match: true }, { probability: 0.9, match: true },
      { probability: 0.85, match: false }, { probability: 0.6, match: true }, { probability: 0.3, match: false },
      { probability: 0.1, match: false },
    ];
    const table = precisionRecallTable(scored, [0.2, 0.5, 0.8, 0.95]);
    expect(table.map((r) => [r.threshold, r.precision, r.recall])).toEqual([
      [0.2, 4 / 6, 1], [0.5, 4 / 5, 1], [0.8, 3 / 4, 0.75], [0.95, 1, 0.5],
    ]);
    const s = suggestThresholds(table, 0.99);
    expect(s.upper).toBe(0.95);
    expect(s.bestF1.threshold).toBe(0.5);
    expect(s.lower).toBe(0.5);
  });

  it('parses the labels TSV and reports bad lines', () => {
    const text = 'recordIdA\trecordIdB\tmatch\nr1\tr2\t1\nr3\tr4\t0\r\n\nr5\tr6\tyes\nr7\tr7\t1\nonly-two\tcols\n';
    const res = parseLabelsTsv(text);
    expect(res.pairs).toEqual([
      { recordIdA: 'r1', recordIdB: 'r2', match: true },
      { recordIdA: 'r3', recordIdB: 'r4', match: false },
    ]);
    expect(res.errors.map((e) => e.line)).toEqual([5, 6, 7]);
  });
});
