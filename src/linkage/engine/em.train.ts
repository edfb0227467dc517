// Unsupervised training: u from random pairs, m (and the prior) by EM over blocked pairs.
import { FIELD_LEVELS, FIELD_NAMES, MISSING, type FieldName } from './field.compare';
import { blockedPairs, blockingKeys, DEFAULT_KEY_CAP } from './blocking.rules';
import { comparisonVector, type LevelVector } from './model.score';
import { defaultModel, MODEL_SCHEMA_VERSION, type FieldParams, type ModelParams } from './model.params';
import { randInt, seededRng } from './random.seed';
import type { NormalisedRecord } from './record.types';

/**
 * Random pairs for u. The rarest agreements matter most (an exact DOB agrees in about 1 of
 * 20,000 random pairs): 200,000 pairs saw about ten of them, and u moved by up to 0.8 bits from
 * one draw to the next, enough to move FEBRL4's F1 between 0.9977 and 0.9984 by sample luck.
 * Training is not latency-bound; this costs about 20 s on the 2-core dev machine.
 */
export const DEFAULT_RANDOM_PAIRS = 2_000_000;

export interface TrainOptions {
  seed?: number;
  maxIterations?: number;
  /** Random pairs sampled for u (DEFAULT_RANDOM_PAIRS, or all pairs if fewer). */
  randomPairs?: number;
  keyCap?: number;
  /** Stop when no parameter moves more than this (default 1e-5). */
  tolerance?: number;
  /** Starting point (default: defaultModel()); its thresholds are kept. */
  initialModel?: ModelParams;
  /** Precomputed blocked pairs (indices into records); computed with blocking keys when absent. */
  pairs?: [number, number][];
}

/** Fields with fewer observed (non-missing) pairs than this keep their starting m/u. */
const MIN_OBSERVED = 20;

export interface Pattern {
  levels: LevelVector;
  count: number;
}

export function compress(vectors: Iterable<LevelVector>): Pattern[] {
  const map = new Map<string, Pattern>();
  for (const v of vectors) {
    const key = v.join(',');
    const p = map.get(key);
    if (p) p.count++;
    else map.set(key, { levels: v, count: 1 });
  }
  return [...map.values()];
}

function normalise(counts: number[], pseudo: number): number[] {
  const s = counts.reduce((a, b) => a + b, 0) + pseudo * counts.length;
  return counts.map((c) => (c + pseudo) / s);
}

/** u-probabilities from uniformly sampled record pairs (almost all non-matches). */
export function estimateU(
  records: readonly NormalisedRecord[], model: ModelParams, samples: number, seed: number,
): { fields: Record<FieldName, FieldParams>; observed: Record<FieldName, number> } {
  const n = records.length;
  const rng = seededRng(seed ^ 0x9e3779b9);
  const allPairs = (n * (n - 1)) / 2;
  // Counted as sampled (2,000,000 vectors kept in memory would take hundreds of MB).
  const tally = FIELD_NAMES.map((f) => new Array<number>(FIELD_LEVELS[f].length).fill(0));
  const add = (v: LevelVector): void => v.forEach((l, fi) => void (l !== MISSING && tally[fi][l]++));
  if (allPairs <= samples) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) add(comparisonVector(model, records[i], records[j]));
  } else {
    for (let s = 0; s < samples; s++) {
      const i = randInt(rng, n);
      let j = randInt(rng, n - 1);
      if (j >= i) j++;
      add(comparisonVector(model, records[i], records[j]));
    }
  }
  const out = {} as Record<FieldName, FieldParams>;
  const seen = {} as Record<FieldName, number>;
  FIELD_NAMES.forEach((f, fi) => {
    const counts = tally[fi];
    const observed = counts.reduce((a, b) => a + b, 0);
    seen[f] = observed;
    const base = model.fields[f];
    out[f] = observed < MIN_OBSERVED ? { ...base, u: [...base.u] } : { levels: [...FIELD_LEVELS[f]], m: [...base.m], u: normalise(counts, 0.5) };
  });
  return { fields: out, observed: seen };
}

export interface EmResult {
  m: Record<FieldName, number[]>;
  lambda: number;
  iterations: number;
  converged: boolean;
}

/** EM for a two-class latent model over comparison patterns; u inside the blocked set is a nuisance. */
export function runEm(patterns: Pattern[], start: ModelParams, maxIterations: number, tolerance: number): EmResult {
  const F = FIELD_NAMES.length;
  let m = FIELD_NAMES.map((f) => [...start.fields[f].m]);
  let u = FIELD_NAMES.map((f) => [...start.fields[f].u]);
  let lambda = 0.1;
  let iterations = 0;
  let converged = false;
  const observed = FIELD_NAMES.map((_, fi) => patterns.reduce((s, p) => s + (p.levels[fi] !== MISSING ? p.count : 0), 0));
  const total = patterns.reduce((s, p) => s + p.count, 0);
  while (iterations < maxIterations) {
    iterations++;
    const mc = FIELD_NAMES.map((f) => new Array<number>(FIELD_LEVELS[f].length).fill(0));
    const uc = FIELD_NAMES.map((f) => new Array<number>(FIELD_LEVELS[f].length).fill(0));
    let matched = 0;
    for (const p of patterns) {
      let logRatio = Math.log(lambda / (1 - lambda));
      for (let fi = 0; fi < F; fi++) {
        const l = p.levels[fi];
        if (l !== MISSING) logRatio += Math.log(m[fi][l] / u[fi][l]);
      }
      const w = 1 / (1 + Math.exp(-logRatio));
      matched += w * p.count;
      for (let fi = 0; fi < F; fi++) {
        const l = p.levels[fi];
        if (l === MISSING) continue;
        mc[fi][l] += w * p.count;
        uc[fi][l] += (1 - w) * p.count;
      }
    }
    const newLambda = Math.min(0.999, Math.max(1e-6, matched / total));
    const newM = mc.map((c, fi) => (observed[fi] < MIN_OBSERVED ? m[fi] : normalise(c, 0.5)));
    const newU = uc.map((c, fi) => (observed[fi] < MIN_OBSERVED ? u[fi] : normalise(c, 0.5)));
    let delta = Math.abs(newLambda - lambda);
    for (let fi = 0; fi < F; fi++) {
      for (let l = 0; l < newM[fi].length; l++) delta = Math.max(delta, Math.abs(newM[fi][l] - m[fi][l]));
    }
    m = newM;
    u = newU;
    lambda = newLambda;
    if (delta < tolerance) {
      converged = true;
      break;
    }
  }
  const mOut = {} as Record<FieldName, number[]>;
  FIELD_NAMES.forEach((f, fi) => (mOut[f] = m[fi]));
  return { m: mOut, lambda, iterations, converged };
}

/** Train a model without labels. Deterministic for a given seed and record order. */
export function trainModel(records: NormalisedRecord[], opts: TrainOptions = {}): ModelParams {
  const seed = opts.seed ?? 1;
  const start = opts.initialModel ?? defaultModel();
  const n = records.length;
  const { fields: uFields, observed } = estimateU(records, start, opts.randomPairs ?? DEFAULT_RANDOM_PAIRS, seed);
  const pairs = opts.pairs ?? blockedPairs(records.map((r) => blockingKeys(r)), opts.keyCap ?? DEFAULT_KEY_CAP);
  const patterns = compress(pairs.map(([i, j]) => comparisonVector(start, records[i], records[j])));
  const emStart: ModelParams = { ...start, fields: uFields };
  const em = runEm(patterns, emStart, opts.maxIterations ?? 100, opts.tolerance ?? 1e-5);
  const allPairs = (n * (n - 1)) / 2;
  // Blocking keeps (nearly) all true pairs, so expected matches / all pairs is the random-pair prior.
  const prior = allPairs > 0 ? Math.min(0.5, Math.max(1e-9, (em.lambda * pairs.length) / allPairs)) : start.prior;
  const fields = {} as Record<FieldName, FieldParams>;
  for (const f of FIELD_NAMES) {
    // Random pairs include a few true matches (share = prior); remove their expected counts
    // so u is not inflated on small data sets.
    // Floor: what the sample can resolve (half a pair), so a level never seen is not infinite evidence.
    const floor = observed[f] >= MIN_OBSERVED ? 0.5 / observed[f] : 1e-7;
    const u = uFields[f].u.map((x, l) => Math.max(floor, (x - prior * em.m[f][l]) / (1 - prior)));
    const s = u.reduce((a, b) => a + b, 0);
    fields[f] = { levels: [...FIELD_LEVELS[f]], m: em.m[f], u: u.map((x) => x / s) };
  }
  return {
    ...start,
    version: `${MODEL_SCHEMA_VERSION}/em-${seed}-${n}`,
    prior,
    fields,
    thresholds: { ...start.thresholds },
    training: {
      method: 'em',
      seed,
      records: n,
      randomPairs: Math.min(opts.randomPairs ?? DEFAULT_RANDOM_PAIRS, allPairs),
      blockedPairs: pairs.length,
      iterations: em.iterations,
      converged: em.converged,
      blockedMatchShare: em.lambda,
    },
  };
}
