// Ingest benchmark: accepted events/s through POST /api/v1/events, applied events/s through
// 1 and 2 workers, and each process's peak memory. Runs the REAL built processes
// (dist/api.main.js, dist/worker.main.js) against a throwaway database and queue prefix,
// then writes the `## Ingest` section of docs/benchmarks.md.
//
// Run: npm run bench:ingest   (builds, makes sure PG/Redis answer, then runs this file)
// Knobs (env): BENCH_EVENTS events per phase (20000), BENCH_BATCH (1000), BENCH_CONNECTIONS (4),
//              BENCH_TIMEOUT_S per phase (900), BENCH_NO_DOCS=1 to skip writing the docs,
//              BENCH_KEEP_DB=1 to keep the database for inspection,
//              BENCH_WORKERS worker counts, one backlog each (1,2),
//              BENCH_NODE_ARGS extra node flags for the api/worker processes (e.g. --cpu-prof).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import 'reflect-metadata';
import Redis from 'ioredis';
import { Client } from 'pg';
import { checkEvent } from '../src/ingest/event.contract';
import { generatePopulation } from '../src/linkage/engine/population.generate';
import { seededRng } from '../src/linkage/engine/random.seed';

const ROOT = path.resolve(__dirname, '..');
const BUILT = path.join(ROOT, 'dist');
// The processes run from a private copy of dist/: others may rebuild dist/ mid-run.
const SNAPSHOT = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-'));
const DIST = path.join(SNAPSHOT, 'dist');
const DOCS = path.join(ROOT, 'docs', 'benchmarks.md');

const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const EVENTS = intEnv('BENCH_EVENTS', 20_000);
const BATCH = intEnv('BENCH_BATCH', 1000);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 4);
const PHASE_TIMEOUT_MS = intEnv('BENCH_TIMEOUT_S', 900) * 1000;
// Worker counts, one backlog each (BENCH_WORKERS=1 to iterate on the one-worker rate alone).
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2').split(',').map((n) => Number(n.trim()));
if (WORKER_COUNTS.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_WORKERS must be a comma-separated list of worker counts, got ${process.env.BENCH_WORKERS}`);
const STAMP = `${Date.now()}`;
const LOAD_AT_START = os.loadavg()[0];
const DB_NAME = `ff_bench_${STAMP}`;
const QUEUE_PREFIX = `ffbench${STAMP}`;

function intEnv(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function assertLocal(url: string, what: string): void {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error(`${what} must be on this machine for the benchmark (got ${host})`);
}

// ------------------------------------------------------------------ events

type Ev = Record<string, unknown>;

interface SourceBatch {
  source: string;
  events: Ev[];
}

/**
 * About `count` events from the linkage engine's synthetic county (people with records at several
 * partner sources, with realistic typos, aliases and twins), interleaved in time order the way
 * partner feeds send them: ~5 events per record, about 1 in 6 moves the person (a new demographics
 * version) and about 1 in 20 arrives late. Fields the v1 contract would reject are dropped first,
 * so every event is accepted.
 */
function generateEvents(count: number, tag: string, seed: number): Map<string, Ev[]> {
  const r = seededRng(seed);
  const population = generatePopulation({ seed, persons: Math.max(1, Math.round(count / 5 / 2.65)) });
  const t0 = Date.parse('2025-01-01T00:00:00Z');
  const span = 300 * 24 * 3600_000;
  const people = population
    .map((g) => {
      const { id, ...rest } = g.record;
      return { source: g.source, subject: contractSafe({ ...rest, recordId: `${tag}-${id}` }) };
    })
    .filter((p): p is { source: string; subject: Ev } => p.subject !== null);
  const out = new Map<string, Ev[]>();
  for (let n = 0; n < count; n++) {
    const p = people[Math.floor(r() * people.length)];
    const address = p.subject.address as Record<string, string> | undefined;
    if (address && r() < 1 / 6) p.subject.address = { ...address, line1: `${1 + Math.floor(r() * 9000)} ${address.line1?.split(' ').slice(1).join(' ') || 'Main St'}` };
    const late = r() < 0.05;
    const at = new Date(t0 + Math.floor(((n - (late ? Math.min(n, 500) : 0)) / count) * span) + Math.floor(r() * 60_000)).toISOString();
    const ev = { eventId: `${tag}-e${n}`, ...eventBody(n, r), occurredAt: at, subject: JSON.parse(JSON.stringify(p.subject)) as unknown };
    const list = out.get(p.source) ?? [];
    list.push(ev);
    out.set(p.source, list);
  }
  return out;
}

/** The subject with any field the contract rejects removed; null when the core fields are unusable. */
function contractSafe(subject: Ev): Ev | null {
  for (let i = 0; i < 3; i++) {
    const res = checkEvent({ eventId: 'probe', type: 'service', occurredAt: '2025-01-01T00:00:00Z', subject, details: { serviceType: 'intake' } });
    if (res.ok) return subject;
    for (const e of res.errors) {
      const field = /^subject\.(\w+)/.exec(e.path)?.[1];
      if (!field || ['recordId', 'firstName', 'lastName'].includes(field)) return null;
      delete subject[field];
    }
  }
  return null;
}

function eventBody(n: number, r: () => number): { type: string; details: Ev } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  switch (pick(['booking', 'release', 'court_case', 'hearing', 'referral', 'service', 'need_opened'] as const)) {
    case 'booking':
      return { type: 'booking', details: { bookingNumber: `B${n}`, facility: 'County Jail' } };
    case 'release':
      return { type: 'release', details: { bookingNumber: `B${n}` } };
    case 'court_case':
      return { type: 'court_case', details: { caseNumber: `C${n}`, caseType: 'misdemeanor' } };
    case 'hearing':
      return { type: 'hearing', details: { caseNumber: `C${n}`, hearingAt: '2026-03-01T09:00:00Z', hearingType: 'arraignment' } };
    case 'referral':
      return { type: 'referral', details: { referralId: `R${n}`, need: pick(['housing', 'medical', 'benefits'] as const), status: 'open' } };
    case 'need_opened':
      return { type: 'need_opened', details: { needId: `N${n}`, category: pick(['housing', 'food', 'employment'] as const) } };
    default:
      return { type: 'service', details: { serviceType: 'intake', program: r() < 0.5 ? 'Reentry' : 'Outreach' } };
  }
}

/** Batches of BATCH per source, round-robin across sources, in time order within each. */
function toBatches(bySource: Map<string, Ev[]>): SourceBatch[] {
  const queues = [...bySource].map(([source, events]) => {
    const batches: SourceBatch[] = [];
    for (let i = 0; i < events.length; i += BATCH) batches.push({ source, events: events.slice(i, i + BATCH) });
    return batches;
  });
  const out: SourceBatch[] = [];
  for (let i = 0; queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length) out.push(q[i]);
  return out;
}

// --------------------------------------------------------------- processes

interface Proc {
  name: string;
  child: ChildProcess;
  peakRssKb: number;
  hwmKb: number;
  stderrTail: string[];
}

const procs: Proc[] = [];

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // Throughput is measured, not the per-source rate limit (BENCH_EVENTS can mean >600 batches a minute).
  return { ...process.env, DATABASE_URL: withDb(BASE_DB, DB_NAME), REDIS_URL, QUEUE_PREFIX, LOG_LEVEL: 'warn', RATE_LIMIT_SOURCE_PER_MIN: '0', ...extra };
}

function startProc(name: string, script: string, extra: Record<string, string> = {}): Proc {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(DIST, script)], { env: childEnv(extra), stdio: ['ignore', 'ignore', 'pipe'] });
  const p: Proc = { name, child, peakRssKb: 0, hwmKb: 0, stderrTail: [] };
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    p.stderrTail.push(d);
    if (p.stderrTail.length > 20) p.stderrTail.shift();
  });
  procs.push(p);
  return p;
}

function procStatus(pid: number | undefined): { rss: number; hwm: number } | null {
  if (!pid) return null;
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

function sampleMemory(): void {
  for (const p of procs) {
    const s = procStatus(p.child.pid);
    if (!s || p.child.exitCode !== null) continue;
    p.peakRssKb = Math.max(p.peakRssKb, s.rss);
    p.hwmKb = Math.max(p.hwmKb, s.hwm);
  }
}

async function stopProc(p: Proc): Promise<void> {
  sampleMemory();
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!done) {
    p.child.kill('SIGKILL');
    await exited;
  }
}

function ensureAlive(p: Proc): void {
  if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode}:\n${p.stderrTail.join('')}`);
}

function runCli(args: string[]): string {
  const res = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), ...args], { env: childEnv({}), encoding: 'utf8', timeout: 60_000 });
  if (res.status !== 0) throw new Error(`cli ${args[0]} failed (${res.status}): ${res.stderr}`);
  return res.stdout;
}

function runCliAsync(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(DIST, 'cli.js'), ...args], { env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`cli ${args.slice(0, 2).join(' ')} failed (${code}): ${err}`));
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address() as net.AddressInfo;
      srv.close(() => resolve(a.port));
    });
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, alive?: Proc): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (alive) ensureAlive(alive);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ------------------------------------------------------------------ phases

interface AcceptResult {
  events: number;
  accepted: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
}

async function postAll(base: string, keys: Map<string, string>, batches: SourceBatch[]): Promise<AcceptResult> {
  const bodies = batches.map((b) => ({ key: keys.get(b.source)!, body: JSON.stringify({ events: b.events }) }));
  const total = batches.reduce((n, b) => n + b.events.length, 0);
  let next = 0;
  let accepted = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < bodies.length) {
      const { key, body } = bodies[next++];
      const s = performance.now();
      const res = await fetch(`${base}/api/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body,
        signal: AbortSignal.timeout(60_000),
      });
      const json = (await res.json()) as { results?: { status: string; errors: { path: string }[] }[] };
      latencies.push(performance.now() - s);
      if (res.status !== 202 || !json.results) throw new Error(`POST /api/v1/events answered ${res.status}`);
      for (const r of json.results) {
        if (r.status === 'accepted') accepted++;
        else throw new Error(`event ${r.status}: ${r.errors.map((e) => e.path).join(', ')}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, lane));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (f: number): number => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))];
  return { events: total, accepted, seconds, perSecond: accepted / seconds, p50ms: q(0.5), p99ms: q(0.99) };
}

interface ApplyResult {
  workers: number;
  events: number;
  seconds: number;
  perSecond: number;
}

async function countApplied(pg: Client): Promise<number> {
  // record_event has one narrow row per applied event: counting it while polling costs the
  // database far less than scanning inbox_event's payloads (which took ~5% of a core at 5 Hz).
  const r = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM record_event`);
  return Number(r.rows[0].n);
}

/** Starts `n` workers on the waiting backlog; the clock runs from the first applied event to the last. */
async function drain(pg: Client, n: number, backlog: number): Promise<{ result: ApplyResult; workers: Proc[] }> {
  const before = await countApplied(pg);
  const target = before + backlog;
  const workers = Array.from({ length: n }, (_, i) => startProc(`worker ${i + 1}/${n}`, 'worker.main.js'));
  const end = Date.now() + PHASE_TIMEOUT_MS;
  let tStart = 0;
  let startCount = before;
  let done = before;
  while (done < target) {
    if (Date.now() > end) throw new Error(`apply with ${n} worker(s) timed out at ${done - before}/${backlog}`);
    workers.forEach(ensureAlive);
    await sleep(tStart ? 200 : 20);
    sampleMemory();
    done = await countApplied(pg);
    if (!tStart && done > before) {
      tStart = performance.now();
      startCount = done;
    }
  }
  // Applied means read models current too: the refold of the last batch commits after its apply.
  while (Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM person_refold_due`)).rows[0].n) > 0) {
    if (Date.now() > end) throw new Error(`refolds after apply with ${n} worker(s) timed out`);
    await sleep(20);
  }
  const seconds = (performance.now() - tStart) / 1000;
  const open = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NULL`);
  if (Number(open.rows[0].n) > 0) throw new Error(`${open.rows[0].n} events have a record_event but no applied mark`);
  const failed = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE attempts > 0 OR dead_lettered_at IS NOT NULL`);
  if (Number(failed.rows[0].n) > 0) throw new Error(`${failed.rows[0].n} events had failed apply attempts`);
  return { result: { workers: n, events: backlog, seconds, perSecond: (target - startCount) / seconds }, workers };
}

// ------------------------------------------------------------------ report

interface Machine {
  cores: number;
  ramGb: string;
  cpu: string;
  node: string;
  pg: string;
  redis: string;
  os: string;
  load: string;
}

async function machine(pg: Client, redis: Redis): Promise<Machine> {
  const v = await pg.query<{ server_version: string }>('SHOW server_version');
  const info = await redis.info('server');
  return {
    cores: os.cpus().length,
    ramGb: (os.totalmem() / 1024 ** 3).toFixed(1),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    pg: v.rows[0].server_version.split(' ')[0],
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    os: `${os.type()} ${os.release()}`,
    load: LOAD_AT_START.toFixed(1),
  };
}

function mb(kb: number): string {
  return `${(kb / 1024).toFixed(0)} MB`;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function section(m: Machine, settings: string, acc: AcceptResult[], apply: ApplyResult[], mem: { name: string; hwm: number; rss: number }[]): string {
  const date = new Date().toISOString().slice(0, 10);
  const target = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const lines = [
    '## Ingest',
    '',
    `Measured ${date} with \`npm run bench:ingest\` (bench/ingest.bench.ts). It builds, starts the real processes`,
    '(`node dist/api.main.js`, `node dist/worker.main.js`) against a fresh database `ff_bench_<ts>` and its own',
    'QUEUE_PREFIX, posts batches of full-subject events with the workers stopped (accepted/s), then starts',
    'workers on that backlog (applied/s: first applied event to the last one applied with its persons refolded,',
    'polled from the `record_event` and `person_refold_due` counts), then does it again on a fresh backlog with 2 workers.',
    'Applying includes everything the worker does per event (source record, versions, record_event, linkage when',
    'demographics changed, the refold of the persons touched, audit). Database and queue keys are removed at the end.',
    '',
    `Machine: ${m.cores} cores, ${m.ramGb} GB RAM, ${m.cpu}, ${m.os}; Node ${m.node}, PostgreSQL ${m.pg}, Redis ${m.redis}.`,
    `Load average (1 min) from other work on the machine: ${m.load} at the start, ${os.loadavg()[0].toFixed(1)} at the end; numbers are only comparable at similar load.`,
    `Settings: ${settings}.`,
    '',
    '| Measure | Result | Target (2-core dev machine) |',
    '| --- | --: | --- |',
    ...acc.map((a, i) => `| Accepted, POST /api/v1/events (backlog ${i + 1}) | ${fmt(a.perSecond)} events/s (${fmt(a.accepted)} in ${a.seconds.toFixed(1)} s; batch p50 ${a.p50ms.toFixed(0)} ms, p99 ${a.p99ms.toFixed(0)} ms) | ${i === 0 ? `≥ 3,000/s: ${target(a.perSecond >= 3000)}` : ''} |`),
    ...apply.map((a) => `| Applied, ${a.workers} worker${a.workers > 1 ? 's' : ''} | ${fmt(a.perSecond)} events/s (${fmt(a.events)} in ${a.seconds.toFixed(1)} s) | ${a.workers === 1 ? `≥ 1,500/s: ${target(a.perSecond >= 1500)}` : ''} |`),
    '',
    '| Process | Peak RSS (VmHWM) | Largest sampled RSS |',
    '| --- | --: | --: |',
    ...mem.map((p) => `| ${p.name} | ${mb(p.hwm)} | ${mb(p.rss)} |`),
    '',
  ];
  return lines.join('\n');
}

/** Replaces the `## Ingest` section (up to the next `## `), keeping every other section. */
function writeDocs(body: string): void {
  let doc = fs.existsSync(DOCS) ? fs.readFileSync(DOCS, 'utf8') : '# Benchmarks\n\nOne section per benchmark; each says how it was run and on what machine.\n\n';
  const start = doc.search(/^## Ingest\s*$/m);
  if (start >= 0) {
    const rest = doc.slice(start + 1);
    const nextRel = rest.search(/^## /m);
    const end = nextRel >= 0 ? start + 1 + nextRel : doc.length;
    doc = `${doc.slice(0, start)}${body}${nextRel >= 0 ? '\n' : ''}${doc.slice(end)}`;
  } else {
    doc = `${doc.replace(/\n*$/, '\n\n')}${body}`;
  }
  fs.mkdirSync(path.dirname(DOCS), { recursive: true });
  fs.writeFileSync(DOCS, doc.replace(/\n{3,}/g, '\n\n'));
}

// -------------------------------------------------------------------- main

async function cleanup(admin: Client | null, redis: Redis | null): Promise<void> {
  await Promise.all(procs.map(stopProc));
  if (redis) {
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${QUEUE_PREFIX}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = nextCursor;
      if (cursor === '0') break;
    }
    redis.disconnect();
  }
  if (admin && process.env.BENCH_KEEP_DB === '1') {
    log(`kept database ${DB_NAME} (BENCH_KEEP_DB=1)`);
    await admin.end();
  } else if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS "${DB_NAME}" WITH (FORCE)`).catch((e: unknown) => log(`could not drop ${DB_NAME}: ${String(e)}`));
    await admin.end();
  }
  fs.rmSync(SNAPSHOT, { recursive: true, force: true });
}

async function main(): Promise<void> {
  assertLocal(BASE_DB, 'DATABASE_URL');
  assertLocal(REDIS_URL, 'REDIS_URL');
  for (const f of ['api.main.js', 'worker.main.js', 'cli.js']) {
    if (!fs.existsSync(path.join(BUILT, f))) throw new Error(`dist/${f} is missing: run npm run build first`);
  }
  fs.cpSync(BUILT, DIST, { recursive: true });
  // dist/database finds migrations at ../../migrations; packages resolve through node_modules.
  fs.symlinkSync(path.join(ROOT, 'migrations'), path.join(SNAPSHOT, 'migrations'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(SNAPSHOT, 'node_modules'));
  const admin = new Client({ connectionString: withDb(BASE_DB, 'postgres') });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  let pg: Client | null = null;
  const sampler = setInterval(sampleMemory, 250);
  try {
    await admin.connect();
    await redis.connect();
    log(`database ${DB_NAME}, queue prefix ${QUEUE_PREFIX}`);
    runCli(['migrate', '--json']);
    const backlogs = WORKER_COUNTS.map((_, i) => generateEvents(EVENTS, `b${i + 1}`, 42 + i));
    const sources = [...new Set(backlogs.flatMap((b) => [...b.keys()]))];
    const keys = new Map(
      await Promise.all(
        sources.map(async (source) => {
          const kind = /court/.test(source) ? 'court' : /jail/.test(source) ? 'jail' : /probation/.test(source) ? 'other' : 'provider';
          const out = await runCliAsync(['sources', 'create', '--code', source.replace(/_/g, '-'), '--name', `Bench ${source}`, '--kind', kind, '--json']);
          return [source, (JSON.parse(out.trim().split('\n').pop()!) as { apiKey: string }).apiKey] as const;
        }),
      ),
    );
    pg = new Client({ connectionString: withDb(BASE_DB, DB_NAME) });
    await pg.connect();
    const m = await machine(pg, redis);

    const port = await freePort();
    const api = startProc('api', 'api.main.js', { PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    await waitUntil('the API', async () => (await fetch(`${base}/health/ready`)).ok, 60_000, api);

    const accepted: AcceptResult[] = [];
    const applied: ApplyResult[] = [];
    const workerMem: { name: string; hwm: number; rss: number }[] = [];
    for (const [i, n] of WORKER_COUNTS.entries()) {
      const batches = toBatches(backlogs[i]);
      log(`backlog ${i + 1}: posting ${EVENTS} events from ${sources.length} sources in batches of ${BATCH} over ${CONNECTIONS} connections, workers stopped`);
      const a = await postAll(base, keys, batches);
      accepted.push(a);
      log(`  accepted ${fmt(a.perSecond)} events/s`);
      log(`backlog ${i + 1}: applying with ${n} worker(s)`);
      const { result, workers } = await drain(pg, n, a.accepted);
      applied.push(result);
      log(`  applied ${fmt(result.perSecond)} events/s`);
      for (const w of workers) {
        await stopProc(w);
        workerMem.push({ name: `worker (${w.name})`, hwm: w.hwmKb, rss: w.peakRssKb });
      }
    }
    await stopProc(api);
    const mem = [{ name: 'api', hwm: api.hwmKb, rss: api.peakRssKb }, ...workerMem];

    const settings = [
      `${fmt(EVENTS)} events per backlog over ~${fmt(EVENTS / 5)} records of the synthetic county (linkage engine's generator) from ${sources.length} sources`,
      `batches of ${BATCH}`,
      `${CONNECTIONS} concurrent connections`,
      `worker settings ${['WORKER_CONCURRENCY', 'INGEST_APPLY_BATCH_SIZE', 'INGEST_APPLY_PARALLEL', 'INGEST_APPLY_LINGER_MS', 'DB_POOL_SIZE']
        .map((k) => `${k}=${process.env[k] ?? 'default'}`).join(', ')} (defaults in README), LOG_LEVEL=warn`,
      `PostgreSQL synchronous_commit=${(await pg.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0].synchronous_commit}`,
    ].join('; ');

    const table = [
      ['measure', 'result'],
      ...accepted.map((a, i) => [`accepted/s (backlog ${i + 1})`, `${fmt(a.perSecond)}  (${fmt(a.accepted)} in ${a.seconds.toFixed(1)} s)`]),
      ...applied.map((a) => [`applied/s, ${a.workers} worker(s)`, `${fmt(a.perSecond)}  (${fmt(a.events)} in ${a.seconds.toFixed(1)} s)`]),
      ...mem.map((p) => [`peak RSS ${p.name}`, mb(p.hwm)]),
    ];
    const w = Math.max(...table.map((r) => r[0].length));
    process.stdout.write(`\n${table.map((r) => `${r[0].padEnd(w)}  ${r[1]}`).join('\n')}\n\n`);
    process.stdout.write(`machine: ${m.cores} cores, ${m.ramGb} GB, ${m.cpu}; Node ${m.node}; PostgreSQL ${m.pg}; Redis ${m.redis}; load ${m.load} -> ${os.loadavg()[0].toFixed(1)}\n`);

    // The section's text describes the default phases (1 worker, then 2).
    if (process.env.BENCH_WORKERS !== undefined) log('BENCH_WORKERS is set: docs not written');
    else if (process.env.BENCH_NO_DOCS !== '1') {
      writeDocs(section(m, settings, accepted, applied, mem));
      log(`wrote the Ingest section of ${path.relative(ROOT, DOCS)}`);
    }
  } finally {
    clearInterval(sampler);
    await pg?.end().catch(() => undefined);
    await cleanup(admin, redis);
  }
}

const abort = (sig: NodeJS.Signals): void => {
  for (const p of procs) p.child.kill('SIGKILL');
  fs.rmSync(SNAPSHOT, { recursive: true, force: true });
  log(`${sig}: stopped; database ${DB_NAME} may be left behind`);
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
