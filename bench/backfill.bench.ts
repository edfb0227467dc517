// Backfill benchmark: a generated justice/health population (several partner sources per person)
// written as one NDJSON file per source, then one `node dist/cli.js import --backfill` run over all
// of them (`--then`) into a fresh database, as an operator would run it. Reports rows/s per phase and peak RSS.
// Run: npm run bench:backfill            (BACKFILL_RECORDS=100000 by default; 1000000 for the target)
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { populationEvents } from '../test/support/population-events';

const log = (m: string): void => void process.stderr.write(`bench: ${m}\n`);
const RECORDS = Number(process.env.BACKFILL_RECORDS ?? 100_000);
const CHUNK = process.env.BACKFILL_CHUNK ?? '2000';
// BACKFILL_SEPARATE=1: one CLI run per file (the base reloaded each time) instead of one run with --then.
const SEPARATE = process.env.BACKFILL_SEPARATE === '1';
// The in-memory copy of the linked base takes about 6 KB per record: room for 1M and more.
// BACKFILL_NODE_ARGS: extra node flags for the CLI runs (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
const HEAP_MB = process.env.BACKFILL_HEAP_MB ?? '12288';
const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
const DB = 'ff_bench_backfill';
const dbUrl = (name: string): string => {
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile('/usr/bin/time', ['-f', 'PEAK_RSS_KB %M', process.execPath, ...(process.env.BACKFILL_NODE_ARGS ?? '').split(' ').filter(Boolean), 'dist/cli.js', ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

interface Summary {
  rows: number;
  accepted: number;
  rejected: number;
  backfill: { applied: number; linked: number; newPersons: number; reviewTasks: number; seededRecords: number; phasesMs: { accept: number; acceptWait: number; seed: number; apply: number }; runRefold?: { persons: number; ms: number } };
}

async function main(): Promise<void> {
  const host = new URL(BASE_URL).hostname;
  if (!['127.0.0.1', 'localhost'].includes(host)) throw new Error('the benchmark drops and creates a database: local servers only');
  const dir = join(os.tmpdir(), `ff-backfill-bench-${RECORDS}`);
  await mkdir(dir, { recursive: true });

  // About 2.6 records per generated person (1-5 sources each, twins and Jr/Sr added).
  let t = Date.now();
  const sources = populationEvents({ seed: 2026, persons: Math.ceil(RECORDS / 2.6) });
  let total = sources.reduce((n, s) => n + s.events.length, 0);
  const keep = Math.min(1, RECORDS / total);
  const files: { source: string; kind: string; file: string; rows: number }[] = [];
  total = 0;
  for (const s of sources) {
    const file = join(dir, `${s.source}.ndjson`);
    const out = createWriteStream(file);
    const rows = Math.round(s.events.length * keep);
    for (let i = 0; i < rows; i++) if (!out.write(`${JSON.stringify(s.events[i])}\n`)) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
    files.push({ source: s.source, kind: s.kind, file, rows });
    total += rows;
  }
  log(`generated ${total} records in ${files.length} source files in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const admin = new Client({ connectionString: dbUrl('postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.end();
  const env = { DATABASE_URL: dbUrl(DB), QUEUE_PREFIX: `ffbench${process.pid}`, LOG_LEVEL: 'error', NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` };
  const m = await run(['migrate'], env);
  if (m.code !== 0) throw new Error(`migrate failed: ${m.stderr}`);
  for (const f of files) {
    const r = await run(['sources', 'create', '--code', f.source, '--name', f.source, '--kind', f.kind, '--json'], env);
    if (r.code !== 0) throw new Error(`sources create failed: ${r.stderr}`);
  }

  const load0 = os.loadavg();
  const sum = { rows: 0, accept: 0, acceptWait: 0, seed: 0, apply: 0, refold: 0, applied: 0, linked: 0, persons: 0, tasks: 0, rss: 0, wall: 0 };
  const report = (s: Summary, source: string, rss: number, wall?: number): void => {
    const b = s.backfill;
    log(`${source}: ${s.rows} rows, accept ${(b.phasesMs.accept / 1000).toFixed(1)} s (waited ${(b.phasesMs.acceptWait / 1000).toFixed(1)} s), base ${b.seededRecords} loaded in ${(b.phasesMs.seed / 1000).toFixed(1)} s, apply+link ${(b.phasesMs.apply / 1000).toFixed(1)} s, ${b.linked} linked, ${b.newPersons} new persons${wall === undefined ? '' : `, peak RSS ${rss.toFixed(0)} MB, wall ${(wall / 1000).toFixed(1)} s`}`);
    sum.rows += s.rows; sum.accept += b.phasesMs.accept; sum.acceptWait += b.phasesMs.acceptWait; sum.seed += b.phasesMs.seed; sum.apply += b.phasesMs.apply;
    if (b.runRefold) log(`refold at the end of the run: ${b.runRefold.persons} persons in ${(b.runRefold.ms / 1000).toFixed(1)} s`);
    sum.refold += b.runRefold?.ms ?? 0;
    sum.applied += b.applied; sum.linked += b.linked; sum.persons += b.newPersons; sum.tasks += b.reviewTasks; sum.rss = Math.max(sum.rss, rss);
  };
  const summaries = (r: Run): Summary[] => r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Summary);
  const peakRss = (r: Run): number => Number(/PEAK_RSS_KB (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
  const base = ['import', '--backfill', '--chunk-size', CHUNK, '--json'];
  t = Date.now();
  if (SEPARATE) {
    // One CLI run per file: each loads the base the files before it linked.
    for (const f of files) {
      const began = Date.now();
      const r = await run([...base, '--source', f.source, f.file], env);
      if (r.code !== 0) throw new Error(`backfill of ${f.source} failed: ${r.stderr.slice(-2000)}`);
      report(summaries(r)[0], f.source, peakRss(r), Date.now() - began);
    }
  } else {
    // One CLI run for every file (--then): the base is loaded once and carried from file to file.
    const [first, ...rest] = files;
    const r = await run([...base, '--source', first.source, first.file, ...rest.flatMap((f) => ['--then', `${f.source}=${f.file}`])], env);
    if (r.code !== 0) throw new Error(`backfill failed: ${r.stderr.slice(-2000)}`);
    const all = summaries(r);
    if (all.length !== files.length) throw new Error(`backfill returned ${all.length} summaries for ${files.length} files`);
    all.forEach((s, i) => report(s, files[i].source, peakRss(r)));
  }
  sum.wall = Date.now() - t;
  const load1 = os.loadavg();
  const rate = (n: number, ms: number): string => Math.round(n / Math.max(ms / 1000, 0.001)).toLocaleString('en-US');
  const sec = (ms: number): string => (ms / 1000).toFixed(0);
  const out = {
    records: sum.rows, files: files.length, wallSeconds: Math.round(sum.wall / 1000),
    accept: { seconds: Math.round(sum.accept / 1000), waitedSeconds: Math.round(sum.acceptWait / 1000), rowsPerSecond: Math.round(sum.rows / (sum.accept / 1000)) },
    loadBase: { seconds: Math.round(sum.seed / 1000) },
    applyLink: { seconds: Math.round(sum.apply / 1000), eventsPerSecond: Math.round(sum.applied / (sum.apply / 1000)) },
    refold: { seconds: Math.round(sum.refold / 1000) },
    overallRecordsPerSecond: Math.round(sum.rows / (sum.wall / 1000)),
    linked: sum.linked, persons: sum.persons, reviewTasks: sum.tasks, peakRssMb: Math.round(sum.rss),
    loadAverage: { before: load0.map((x) => +x.toFixed(1)), after: load1.map((x) => +x.toFixed(1)) }, cpus: os.cpus().length,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.stdout.write(
    `| ${sum.rows.toLocaleString('en-US')} | ${sec(sum.wall)} s | ${rate(sum.rows, sum.accept)} rows/s (${sec(sum.accept)} s, waited ${sec(sum.acceptWait)} s) | ${sec(sum.seed)} s | ${rate(sum.applied, sum.apply)} events/s (${sec(sum.apply)} s; refold ${sec(sum.refold)} s) | ${rate(sum.rows, sum.wall)} | ${sum.persons.toLocaleString('en-US')} | ${Math.round(sum.rss)} MB | ${load0[0].toFixed(1)} → ${load1[0].toFixed(1)} |\n`,
  );
  if (!process.env.BACKFILL_KEEP_DB) {
    const a = new Client({ connectionString: dbUrl('postgres') });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await a.end();
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
