import { compress, runEm, trainModel } from '../../../src/linkage/engine/em.train';
import { FIELD_NAMES, MISSING } from '../../../src/linkage/engine/field.compare';
import { defaultModel, rescalePrior } from '../../../src/linkage/engine/model.params';
import { seededRng, type Rng } from '../../../src/linkage/engine/random.seed';
import { normaliseRecord } from '../../../src/linkage/engine/record.normalise';
import { febrl } from './data.helper';

function draw(rng: Rng, probs: number[]): number {
  let r = rng();
  for (let i = 0; i < probs.length; i++) {
    r -= probs[i];
    if (r <= 0) return i;
  }
  return probs.length - 1;
}

describe('EM training', () => {
  // Known truth for three fields; every other field is missing.
  const truth = {
    lambda: 0.3,
    firstName: { m: [0.7, 0.1, 0.08, 0.04, 0.03, 0.03, 0.02], u: [0.01, 0.01, 0.02, 0.03, 0.05, 0.03, 0.85] },
    lastName: { m: [0.8, 0.08, 0.04, 0.03, 0.03, 0.02], u: [0.01, 0.01, 0.01, 0.03, 0.04, 0.9] },
    dob: { m: [0.85, 0.02, 0.06, 0.03, 0.01, 0.03], u: [0.005, 0.001, 0.02, 0.06, 0.004, 0.91] },
  };
  function synthetic(seed: number, n: number): number[][] {
    const rng = seededRng(seed);
    const out: number[][] = [];
    for (let i = 0; i < n; i++) {
      const match = rng() < truth.lambda;
      out.push(
        FIELD_NAMES.map((f) => {
          if (f !== 'firstName' && f !== 'lastName' && f !== 'dob') return MISSING;
          return draw(rng, match ? truth[f].m : truth[f].u);
        }),
      );
    }
    return out;
  }

  it('recovers m, u-side share and lambda from unlabelled comparison vectors', () => {
    const patterns = compress(synthetic(11, 40_000));
    const res = runEm(patterns, defaultModel(), 500, 1e-8);
    expect(res.converged).toBe(true);
    expect(res.lambda).toBeCloseTo(truth.lambda, 1);
    for (const f of ['firstName', 'lastName', 'dob'] as const) {
      truth[f].m.forEach((m, l) => expect(Math.abs(res.m[f][l] - m)).toBeLessThan(0.03));
    }
    // Fields never observed keep their starting values.
    expect(res.m.ssn).toEqual(defaultModel().fields.ssn.m);
  });

  it('is deterministic', () => {
    const a = runEm(compress(synthetic(5, 5000)), defaultModel(), 100, 1e-6);
    const b = runEm(compress(synthetic(5, 5000)), defaultModel(), 100, 1e-6);
    expect(a).toEqual(b);
  });

  it('trains a JSON-serialisable model deterministically for a seed', () => {
    const recs = febrl('dataset1.csv').map((l) => normaliseRecord(l.record));
    const m1 = trainModel(recs, { seed: 3, randomPairs: 20_000 });
    const m2 = trainModel(recs, { seed: 3, randomPairs: 20_000 });
    expect(m1).toEqual(m2);
    expect(JSON.parse(JSON.stringify(m1))).toEqual(m1);
    expect(m1.version).toBe('ff-fs-1/em-3-1000');
    expect(m1.training?.converged).toBe(true);
    // dataset1: 500 true pairs among 499 500 -> prior near 1e-3.
    expect(m1.prior).toBeGreaterThan(5e-4);
    expect(m1.prior).toBeLessThan(2e-3);
    // Agreement is evidence for, disagreement against.
    for (const f of ['firstName', 'lastName', 'dob', 'identifiers'] as const) {
      const p = m1.fields[f];
      expect(Math.log2(p.m[0] / p.u[0])).toBeGreaterThan(3);
      expect(Math.log2(p.m[p.m.length - 1] / p.u[p.u.length - 1])).toBeLessThan(-1);
    }
  });
});

describe('rescalePrior', () => {
  it('scales the trained prior like 1/N and leaves untrained models alone', () => {
    const m = { ...defaultModel(), prior: 1e-3, training: { method: 'em' as const, seed: 1, records: 1001, randomPairs: 1, blockedPairs: 1, iterations: 1, converged: true, blockedMatchShare: 0.5 } };
    expect(rescalePrior(m, 10_001).prior).toBeCloseTo(1e-4, 12);
    expect(rescalePrior(defaultModel(), 10_000).prior).toBe(defaultModel().prior);
  });
});
