// Engine-only benchmark: unsupervised training, incremental linking at the model's default
// thresholds, pairwise P/R/F1 vs truth, blocking recall, speed and an exact-match baseline.
// Run: npx ts-node --transpile-only bench/linkage-engine.ts [dataset ...]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseFebrlCsv, parseSplinkFakeCsv, type LabelledRecord } from '../src/linkage/engine/dataset.parse';
import { normaliseRecord } from '../src/linkage/engine/record.normalise';
import { blockedPairs, blockingKeys } from '../src/linkage/engine/blocking.rules';
import { DEFAULT_RANDOM_PAIRS, trainModel } from '../src/linkage/engine/em.train';
import { defaultModel } from '../src/linkage/engine/model.params';
import { buildTermFrequencies } from '../src/linkage/engine/tf.table';
import { InMemoryLinker } from '../src/linkage/engine/linker.memory';
import { pairwiseMetrics } from '../src/linkage/engine/eval.metrics';
import { generatePopulation } from '../src/linkage/engine/population.generate';
import { seededRng } from '../src/linkage/engine/random.seed';
import type { NormalisedRecord } from '../src/linkage/engine/record.types';

const DATA = process.env.FF_DATA_DIR ?? path.resolve(__dirname, '../data/eval');

function shuffle<T>(xs: T[], seed: number): T[] {
  const rng = seededRng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function blockingRecall(recs: NormalisedRecord[], truth: Map<string, string>): number {
  const n = recs.length;
  const pairs = new Set(blockedPairs(recs.map((r) => blockingKeys(r))).map(([i, j]) => i * n + j));
  const byEntity = new Map<string, number[]>();
  recs.forEach((r, i) => {
    const e = truth.get(r.id) ?? r.id;
    const list = byEntity.get(e);
    if (list) list.push(i);
    else byEntity.set(e, [i]);
  });
  let hit = 0;
  let total = 0;
  for (const l of byEntity.values()) {
    for (let x = 0; x < l.length; x++) {
      for (let y = x + 1; y < l.length; y++) {
        total++;
        if (pairs.has(l[x] * n + l[y])) hit++;
      }
    }
  }
  return total ? hit / total : 1;
}

/** Baseline: same folded first name, surname and full DOB. */
function exactBaseline(recs: NormalisedRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of recs) {
    const n = r.names[0];
    const dob = r.dobs[0]?.digits;
    out.set(r.id, n.first && n.last && dob ? `${n.first}|${n.last}|${dob}` : `solo:${r.id}`);
  }
  return out;
}

interface Row {
  dataset: string;
  records: number;
  precision: number;
  recall: number;
  f1: number;
  blockingRecall: number;
  recordsPerSec: number;
  trainSec: number;
  baselineF1: number;
  reviews: number;
  dupFlags: number;
}

function run(dataset: string, labelled: LabelledRecord[]): Row {
  const truth = new Map(labelled.map((l) => [l.record.id, l.entity]));
  const recs = labelled.map((l) => normaliseRecord(l.record));
  const t0 = Date.now();
  // FF_UNTRAINED=1 measures the default model (what the service uses before any training).
  const model = process.env.FF_UNTRAINED ? defaultModel() : trainModel(recs, { seed: 42, randomPairs: Number(process.env.FF_RANDOM_PAIRS ?? DEFAULT_RANDOM_PAIRS) });
  if (process.env.FF_UPPER) model.thresholds.upper = Number(process.env.FF_UPPER);
  if (process.env.FF_NO_TWINS) model.conflicts.twins = false;
  if (process.env.FF_NO_GENERATIONS) model.conflicts.generations = false;
  const trainSec = (Date.now() - t0) / 1000;
  const tf = buildTermFrequencies(recs);
  const linker = new InMemoryLinker({ model, tf });
  const t1 = Date.now();
  for (const r of recs) linker.add(r);
  const linkSec = (Date.now() - t1) / 1000;
  const m = pairwiseMetrics(linker.assignments(), truth);
  const base = pairwiseMetrics(exactBaseline(recs), truth);
  const reviews = linker.outcomes.filter((o) => o.decision.action === 'review').length;
  const dupFlags = linker.outcomes.filter((o) => o.decision.flags.includes('possible_duplicate_persons')).length;
  if (process.env.FF_BENCH_VERBOSE) {
    console.error(dataset, model.version, `prior=${model.prior.toExponential(2)}`, JSON.stringify(model.training));
    for (const [f, p] of Object.entries(model.fields)) {
      console.error(`  ${f}`, p.levels.map((l, i) => `${l}:${Math.log2(p.m[i] / p.u[i]).toFixed(1)}`).join(' '));
    }
  }
  return {
    dataset,
    records: recs.length,
    precision: m.precision,
    recall: m.recall,
    f1: m.f1,
    blockingRecall: blockingRecall(recs, truth),
    recordsPerSec: recs.length / Math.max(linkSec, 1e-3),
    trainSec,
    baselineF1: base.f1,
    reviews,
    dupFlags,
  };
}

const read = (p: string): string => fs.readFileSync(path.join(DATA, p), 'utf8');

const DATASETS: Record<string, () => LabelledRecord[]> = {
  febrl4: () => [...parseFebrlCsv(read('febrl/dataset4a.csv')), ...parseFebrlCsv(read('febrl/dataset4b.csv'))],
  febrl3: () => shuffle(parseFebrlCsv(read('febrl/dataset3.csv')), 7),
  fake_1000: () => shuffle(parseSplinkFakeCsv(read('splink-fake/fake_1000_from_splink_demos.csv')), 7),
  population: () => generatePopulation({ seed: 2024, persons: 3000 }).map((g) => ({ record: g.record, entity: g.personId })),
};

const TARGETS: Record<string, { f1: number; precision?: number }> = {
  febrl4: { f1: 0.998 },
  febrl3: { f1: 0.99 },
  fake_1000: { f1: 0.9 },
  population: { f1: 0.97, precision: 0.995 },
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(DATASETS);
const rows: Row[] = [];
for (const name of wanted) {
  const load = DATASETS[name];
  if (!load) throw new Error(`unknown dataset ${name}`);
  rows.push(run(name, load()));
}
const f = (x: number): string => x.toFixed(4);
console.log('dataset     records precision recall  F1      target  blockRecall rec/s  train_s baselineF1 reviews dupFlags');
for (const r of rows) {
  const t = TARGETS[r.dataset];
  const ok = r.f1 >= t.f1 && (t.precision === undefined || r.precision >= t.precision) && (!r.dataset.startsWith('febrl') || r.blockingRecall >= 0.995);
  console.log(
    [r.dataset.padEnd(11), String(r.records).padStart(7), f(r.precision), f(r.recall), r.f1.toFixed(5), `${t.f1}${ok ? ' ok' : ' MISS'}`.padEnd(8),
      f(r.blockingRecall).padEnd(11), String(Math.round(r.recordsPerSec)).padStart(5), r.trainSec.toFixed(1).padStart(7),
      f(r.baselineF1).padEnd(10), String(r.reviews).padStart(7), String(r.dupFlags).padStart(8)].join(' '),
  );
}
