// Fellegi-Sunter model parameters: plain JSON, stored by the service.
import { FIELD_LEVELS, FIELD_NAMES, type FieldName } from './field.compare';

export const MODEL_SCHEMA_VERSION = 'ff-fs-1';

export interface FieldParams {
  /** Level names, strongest agreement first (copied from FIELD_LEVELS for readability). */
  levels: string[];
  /** P(level | same person), one per level, sums to 1. */
  m: number[];
  /** P(level | different people), one per level, sums to 1. */
  u: number[];
}

export interface ModelParams {
  /** `ff-fs-1/default` or `ff-fs-1/em-<seed>-<records>`: schema / provenance. */
  version: string;
  /** P(two random records are the same person). */
  prior: number;
  fields: Record<FieldName, FieldParams>;
  /** Match-probability thresholds used by decide(): link >= upper, review in [lower, upper), new < lower. */
  thresholds: { upper: number; lower: number };
  /** Bits subtracted when names only agree with first and last swapped. */
  swapPenaltyBits: number;
  /**
   * Identity-conflict patterns (twins: same surname and DOB, different first name; Jr/Sr:
   * different suffix or same name with DOBs a generation apart). Conditional independence
   * over-counts shared household evidence there, so the pair is capped at `capProbability`
   * (inside the review band) instead of auto-linking. `ssn`: two full valid SSNs that differ
   * by more than a slip cap the pair the same way. An exact SSN or (near-)exact identifier
   * lifts the twin / generation caps.
   */
  conflicts: { twins: boolean; generations: boolean; ssn: boolean; capProbability: number; generationYears: number };
  /** Term-frequency adjustment of exact name matches. */
  tf: { enabled: boolean; minFrequency: number; minTotal: number; maxAdjustmentBits: number };
  training?: {
    method: 'em';
    seed: number;
    records: number;
    randomPairs: number;
    blockedPairs: number;
    iterations: number;
    converged: boolean;
    /** Estimated share of blocked candidate pairs that are matches. */
    blockedMatchShare: number;
  };
}

function norm(xs: number[]): number[] {
  const s = xs.reduce((a, b) => a + b, 0);
  return xs.map((x) => x / s);
}

// Hand-set starting values for US person records; EM replaces m, random pairs replace u.
const DEFAULT_MU: Record<FieldName, { m: number[]; u: number[] }> = {
  firstName: { m: [0.8, 0.05, 0.05, 0.02, 0.02, 0.03, 0.03], u: [0.004, 0.002, 0.003, 0.005, 0.012, 0.01, 0.964] },
  lastName: { m: [0.85, 0.05, 0.03, 0.02, 0.02, 0.03], u: [0.002, 0.001, 0.0005, 0.003, 0.006, 0.9875] },
  suffix: { m: [0.97, 0.03], u: [0.4, 0.6] },
  dob: { m: [0.85, 0.01, 0.05, 0.04, 0.03, 0.02], u: [0.00005, 0.00001, 0.0005, 0.004, 0.012, 0.98344] },
  sex: { m: [0.98, 0.02], u: [0.5, 0.5] },
  ssn: { m: [0.9, 0.03, 0.01, 0.03, 0.03], u: [0.0000002, 0.000002, 0.0000002, 0.0001, 0.9998976] },
  phone: { m: [0.6, 0.05, 0.35], u: [0.0001, 0.0001, 0.9998] },
  email: { m: [0.7, 0.1, 0.2], u: [0.0001, 0.0005, 0.9994] },
  address: { m: [0.45, 0.1, 0.1, 0.05, 0.05, 0.25], u: [0.0002, 0.0003, 0.01, 0.005, 0.03, 0.9545] },
  identifiers: { m: [0.94, 0.03, 0.03], u: [0.000001, 0.00001, 0.999989] },
};

export const DEFAULT_THRESHOLDS = { upper: 0.95, lower: 0.2 };

/** A usable model before any training. */
export function defaultModel(): ModelParams {
  const fields = {} as Record<FieldName, FieldParams>;
  for (const f of FIELD_NAMES) {
    fields[f] = { levels: [...FIELD_LEVELS[f]], m: norm(DEFAULT_MU[f].m), u: norm(DEFAULT_MU[f].u) };
  }
  return {
    version: `${MODEL_SCHEMA_VERSION}/default`,
    prior: 1e-5,
    fields,
    thresholds: { ...DEFAULT_THRESHOLDS },
    swapPenaltyBits: 2,
    conflicts: { twins: true, generations: true, ssn: true, capProbability: 0.5, generationYears: 12 },
    tf: { enabled: true, minFrequency: 1e-5, minTotal: 1000, maxAdjustmentBits: 6 },
  };
}

/** Bits of evidence for a level: log2(m/u). */
export function levelBits(p: FieldParams, level: number): number {
  return Math.log2(p.m[level] / p.u[level]);
}

export function probabilityToBits(p: number): number {
  return Math.log2(p / (1 - p));
}

export function bitsToProbability(bits: number): number {
  return 1 / (1 + Math.pow(2, -bits));
}

/** Throws when params do not fit the current field/level layout (e.g. stale DB row). */
export function validateModel(model: ModelParams): void {
  if (!model.version.startsWith(MODEL_SCHEMA_VERSION)) throw new Error(`unsupported model version ${model.version}`);
  for (const f of FIELD_NAMES) {
    const p = model.fields[f];
    const n = FIELD_LEVELS[f].length;
    if (!p || p.m.length !== n || p.u.length !== n) throw new Error(`model field ${f} does not have ${n} levels`);
  }
}

/**
 * The trained prior is per random pair at the training size. Each person has a roughly fixed
 * number of records, so the prior falls like 1/N as the store grows: rescale it (instead of
 * retraining) when the number of stored records has changed a lot since training.
 */
export function rescalePrior(model: ModelParams, currentRecords: number): ModelParams {
  const trained = model.training?.records;
  if (!trained || currentRecords <= 1) return model;
  const prior = Math.min(0.5, Math.max(1e-12, (model.prior * (trained - 1)) / (currentRecords - 1)));
  return { ...model, prior };
}
