// The service-level accuracy bench replayed in memory, in seconds instead of minutes, to tell
// the candidate rule, the trained model and the arrival order apart (see docs/benchmarks.md,
// Linkage). Same contract-adjusted records as bench:linkage; training as `model train` does it
// (records ordered by md5 of their pass-1 id); links with the InMemoryLinker.
// Run: npx ts-node --transpile-only bench/linkage-replay.ts DATASET [options]
//   --order=dataset|service|shuffle:N  arrival order (service: 500-record batches round-robin over
//                                       sources, as bench:linkage POSTs them); default service
//   --seeds=1,2,3                       training seeds (random pairs for u), one line each
//   --random-pairs=N                    random pairs for u (default: the engine's)
//   --train-selective=N, --link-selective=N  the candidate rule's selective bound (1e9 = any shared key)
//   --limit=N                           candidates scored per link (default: the engine's)
//   --lag-total=N                       name-count total as bench:linkage pass 2 sees it: pass-1
//                                       counts, record total from the growing database, read every N records
//   --model=FILE                        a trained model (bench:linkage BENCH_KEEP_DIR) instead of training
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { DATASETS, key, truthOf, type BenchRecord } from './linkage-data';
import { blockedPairs, blockingKeys, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY } from '../src/linkage/engine/blocking.rules';
import { DEFAULT_RANDOM_PAIRS, trainModel } from '../src/linkage/engine/em.train';
import { pairwiseMetrics } from '../src/linkage/engine/eval.metrics';
import { InMemoryLinker } from '../src/linkage/engine/linker.memory';
import { defaultModel, type ModelParams } from '../src/linkage/engine/model.params';
import { normaliseRecord } from '../src/linkage/engine/record.normalise';
import type { RawPersonRecord } from '../src/linkage/engine/record.types';
import { seededRng } from '../src/linkage/engine/random.seed';
import { buildTermFrequencies } from '../src/linkage/engine/tf.table';

const [name, ...rest] = process.argv.slice(2);
const opt = (k: string, d: string): string => rest.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
if (!name || !DATASETS[name]) throw new Error(`dataset: one of ${Object.keys(DATASETS).join(', ')}`);

function arrival(records: BenchRecord[], order: string): BenchRecord[] {
  if (order === 'dataset') return records;
  if (order.startsWith('shuffle:')) {
    const rng = seededRng(Number(order.slice(8)));
    const out = [...records];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
  const bySource = new Map<string, BenchRecord[]>();
  for (const r of records) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
  const queues = [...bySource.values()].map((evs) => Array.from({ length: Math.ceil(evs.length / 500) }, (_, i) => evs.slice(i * 500, i * 500 + 500)));
  const out: BenchRecord[] = [];
  for (let i = 0; queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length) out.push(...q[i]);
  return out;
}

const ds = DATASETS[name]();
const truth = truthOf(ds);
const recs = arrival(ds.records, opt('order', 'service')).map((r) =>
  normaliseRecord({ ...(r.subject as unknown as Omit<RawPersonRecord, 'id'>), id: key(r.source, r.recordId) }),
);
const trainSelective = Number(opt('train-selective', String(DEFAULT_SELECTIVE_KEY)));
const linkSelective = Number(opt('link-selective', String(DEFAULT_SELECTIVE_KEY)));
const limit = opt('limit', '') ? Number(opt('limit', '')) : undefined;
const lag = Number(opt('lag-total', '0'));
const modelFile = opt('model', '');
// `model train` reads `ORDER BY md5(source_record_id)`; pass-1 ids follow the arrival order.
const trainOrder = recs
  .map((r, i) => ({ r, h: createHash('md5').update(String(i + 1)).digest('hex') }))
  .sort((a, b) => (a.h < b.h ? -1 : 1))
  .map((x) => x.r);

for (const seed of opt('seeds', '1').split(',').map(Number)) {
  const model: ModelParams = modelFile
    ? (JSON.parse(fs.readFileSync(modelFile, 'utf8')) as ModelParams)
    : trainModel(trainOrder, {
        seed,
        initialModel: defaultModel(),
        pairs: blockedPairs(trainOrder.map((r) => blockingKeys(r)), DEFAULT_KEY_CAP, trainSelective),
        randomPairs: Number(opt('random-pairs', String(DEFAULT_RANDOM_PAIRS))),
      });
  const tf = buildTermFrequencies(recs);
  const linker = new InMemoryLinker({ model, tf, selectiveKey: linkSelective, candidateLimit: limit });
  recs.forEach((r, i) => {
    if (lag) tf.firstName.total = tf.lastName.total = Math.floor(i / lag) * lag + 1;
    linker.add(r);
  });
  const m = pairwiseMetrics(linker.assignments(), truth);
  const mixed = new Map<string, Set<string>>();
  for (const [id, p] of linker.assignments()) mixed.set(p, (mixed.get(p) ?? new Set()).add(truth.get(id)!));
  console.log(
    [name, modelFile ? 'model=file' : `seed=${seed}`, `P=${m.precision.toFixed(4)}`, `R=${m.recall.toFixed(4)}`, `F1=${m.f1.toFixed(4)}`,
      `true-pairs-found=${m.truePositives}/${m.truePairs}`, `predicted=${m.predictedPairs}`, `mixed-persons=${[...mixed.values()].filter((s) => s.size > 1).length}`].join(' '),
  );
}
