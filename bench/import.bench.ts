// Import memory benchmark: a 1 GB NDJSON file streamed through `node dist/cli.js import` (the
// same inbox and queue as POST /api/v1/events) while an API process serves beside it. Samples
// the resident memory of both processes every 500 ms and writes the `## Import (1 GB file)`
// section of docs/benchmarks.md: memory must stay flat while the file streams through.
// Run: npm run bench:import
// Knobs (env): IMPORT_BENCH_BYTES file size (1 GiB), IMPORT_BENCH_FILE reuse a generated file,
//              BENCH_NO_DOCS=1 to skip writing the docs.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { assertLocal, describeMachine, dropDatabase, intEnv, loadAverage, log, replaceSection, sleep, startApiProcess, withDb } from './bench-support';
import { writeImportFile } from './import-file.generate';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const DOCS = path.join(ROOT, 'docs', 'benchmarks.md');
const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BYTES = intEnv('IMPORT_BENCH_BYTES', 2 ** 30);
const STAMP = `${Date.now()}`;
const DB = `ff_benchimport_${STAMP}`;
const PREFIX = `ffbenchimp${STAMP}`;
const SOURCE = 'bench-import';

interface Sample {
  t: number;
  api: number;
  cli: number;
}

/** Resident set of a process in KB (0 once it is gone). */
function rssKb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function runCli(args: string[], env: NodeJS.ProcessEnv, onStart?: (pid: number) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) onStart?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 16));
      process.stderr.write(d);
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Removes the benchmark's queue keys (millions of jobs: scanned and unlinked in batches). */
async function dropQueueKeys(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 10_000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

const mb = (kb: number): string => `${Math.round(kb / 1024)} MB`;

async function main(): Promise<void> {
  assertLocal(BASE_URL, 'DATABASE_URL');
  assertLocal(REDIS_URL, 'REDIS_URL');
  if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run through `npm run bench:import` (it builds first)');
  const file = process.env.IMPORT_BENCH_FILE ?? path.join(os.tmpdir(), `ff-import-bench-${BYTES}.ndjson`);
  if (!fs.existsSync(file) || fs.statSync(file).size < BYTES) {
    const t = Date.now();
    const w = await writeImportFile(file, { bytes: BYTES });
    log(`wrote ${w.rows} rows (${(w.bytes / 2 ** 20).toFixed(0)} MB) to ${file} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  const fileBytes = fs.statSync(file).size;
  const rejects = path.join(os.tmpdir(), `ff-import-bench-${STAMP}.rejects.ndjson`);
  const loadStart = loadAverage();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: withDb(BASE_URL, DB), REDIS_URL, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'warn', NODE_ENV: 'development' };
  let api: Awaited<ReturnType<typeof startApiProcess>> | undefined;
  try {
    const m = await runCli(['migrate'], env);
    if (m.code !== 0) throw new Error(`migrate failed: ${m.stderr}`);
    const s = await runCli(['sources', 'create', '--code', SOURCE, '--name', 'Bench import', '--kind', 'jail', '--json'], env);
    if (s.code !== 0) throw new Error(`sources create failed: ${s.stderr}`);
    api = await startApiProcess(path.join(ROOT, 'dist', 'api.main.js'), env);
    const apiPid = api.proc.pid;
    let cliPid: number | undefined;
    const samples: Sample[] = [];
    const t0 = Date.now();
    const sampler = setInterval(() => samples.push({ t: Date.now() - t0, api: rssKb(apiPid), cli: rssKb(cliPid) }), 500);
    log(`importing ${(fileBytes / 2 ** 20).toFixed(0)} MB with an API process beside it (load ${loadStart})`);
    const r = await runCli(['import', '--source', SOURCE, file, '--rejects', rejects, '--json'], env, (pid) => (cliPid = pid));
    clearInterval(sampler);
    if (r.code !== 0) throw new Error(`import failed (exit ${r.code})`);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { rows: number; accepted: number; duplicate: number; rejected: number; elapsedMs: number; rowsPerSecond: number };
    const pg = new Client({ connectionString: withDb(BASE_URL, DB) });
    await pg.connect();
    if (summary.rejected > 0) throw new Error(`${summary.rejected} rows rejected: the generated file should be valid`);
    const [{ n }] = (await pg.query<{ n: string }>('SELECT count(*) AS n FROM inbox_event')).rows;
    const machine = await describeMachine(pg);
    await pg.end();
    const live = samples.filter((x) => x.cli > 0);
    const at = (q: number): Sample => live[Math.min(live.length - 1, Math.floor(q * live.length))];
    const peak = (k: 'api' | 'cli'): number => Math.max(...live.map((x) => x[k]));
    const quarters = [0.1, 0.25, 0.5, 0.75, 0.95];
    const section = [
      '## Import (1 GB file)',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:import\` (bench/import.bench.ts): a generated NDJSON file of`,
      `${(fileBytes / 2 ** 20).toFixed(0)} MB (${summary.rows.toLocaleString('en-US')} contract-v1 events, \`bench/import-file.generate.ts\`) imported with`,
      '`node dist/cli.js import --source bench-import FILE --json` into a fresh database and queue prefix, with the built API',
      'process (`dist/api.main.js`) running beside it and no worker (the events stay queued). The resident memory of both',
      'processes is read from `/proc` every 500 ms.',
      '',
      `Machine: ${machine}. Load average (1 min) ${loadStart} at the start, ${loadAverage()} at the end.`,
      '',
      `Result: ${summary.accepted.toLocaleString('en-US')} accepted, ${summary.duplicate} duplicate, ${summary.rejected} rejected; ${n} rows in the inbox;`,
      `${(summary.elapsedMs / 1000).toFixed(0)} s, ${Math.round(summary.rowsPerSecond).toLocaleString('en-US')} rows/s.`,
      '',
      `| process | ${quarters.map((q) => `RSS at ${Math.round(q * 100)} %`).join(' | ')} | peak RSS |`,
      `| --- | ${quarters.map(() => '--:').join(' | ')} | --: |`,
      `| import CLI (streams the file) | ${quarters.map((q) => mb(at(q).cli)).join(' | ')} | ${mb(peak('cli'))} |`,
      `| API | ${quarters.map((q) => mb(at(q).api)).join(' | ')} | ${mb(peak('api'))} |`,
      '',
      'The file is read as a stream, one batch of at most 1000 events committed and queued before the next is read',
      '(docs/import.md), so neither process grows with the file.',
      '',
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (process.env.BENCH_NO_DOCS !== '1') fs.writeFileSync(DOCS, replaceSection(fs.readFileSync(DOCS, 'utf8'), 'Import (1 GB file)', section));
  } finally {
    await api?.stop();
    await sleep(200);
    await dropDatabase(BASE_URL, DB);
    await dropQueueKeys();
    fs.rmSync(rejects, { force: true });
    if (!process.env.IMPORT_BENCH_FILE) fs.rmSync(file, { force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:import failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
