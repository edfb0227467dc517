// Process and database plumbing for the linkage benchmark: a private copy of dist/, one fresh
// database and queue prefix per run, the real api/worker processes and the CLI, and cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type Redis from 'ioredis';
import { Client } from 'pg';

export const ROOT = path.resolve(__dirname, '..');
export const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const STAMP = `${Date.now()}`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

export function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export function assertLocal(url: string, what: string): void {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error(`${what} must be on this machine for the benchmark (got ${host})`);
}

/** dist/ copied aside: others may rebuild dist/ while the benchmark runs. */
export class Snapshot {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-benchlink-'));
  readonly dist = path.join(this.dir, 'dist');

  constructor() {
    // BENCH_DIST: an already-built tree to use instead of dist/ (e.g. a private build).
    const built = process.env.BENCH_DIST ? path.resolve(process.env.BENCH_DIST) : path.join(ROOT, 'dist');
    for (const f of ['api.main.js', 'worker.main.js', 'cli.js']) {
      if (!fs.existsSync(path.join(built, f))) throw new Error(`dist/${f} is missing: run npm run build first`);
    }
    fs.cpSync(built, this.dist, { recursive: true });
    // dist/database finds migrations at ../../migrations; packages resolve through node_modules.
    fs.cpSync(path.join(ROOT, 'migrations'), path.join(this.dir, 'migrations'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(this.dir, 'node_modules'));
  }

  /** A compiled module of the snapshot (e.g. 'linkage/record-linker.service'). */
  load<T>(rel: string): T {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(this.dist, `${rel}.js`)) as T;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every child started, so an interrupted run can stop them. */
export const allProcs: Proc[] = [];

export interface Proc {
  name: string;
  child: ChildProcess;
  stderrTail: string[];
}

/** One throwaway database + queue prefix with its processes. */
export class Stack {
  readonly db: string;
  readonly queuePrefix: string;
  readonly url: string;
  readonly procs: Proc[] = [];
  pg?: Client;
  base = '';

  constructor(
    readonly snap: Snapshot,
    tag: string,
  ) {
    this.db = `ff_benchlink_${STAMP}_${tag}`;
    this.queuePrefix = `ffbenchlink${STAMP}${tag}`;
    this.url = withDb(BASE_DB, this.db);
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, DATABASE_URL: this.url, REDIS_URL, QUEUE_PREFIX: this.queuePrefix, LOG_LEVEL: 'warn', ...extra };
  }

  async create(): Promise<void> {
    await this.cli(['migrate', '--json']);
    this.pg = new Client({ connectionString: this.url });
    await this.pg.connect();
  }

  cli(args: string[], timeoutMs = 600_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(this.snap.dist, 'cli.js'), ...args], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
        else reject(new Error(`cli ${args.slice(0, 2).join(' ')} failed (${code}): ${err}`));
      });
    });
  }

  /** Registers a source; returns its API key. */
  async createSource(code: string, kind: string): Promise<string> {
    const out = await this.cli(['sources', 'create', '--code', code, '--name', `Bench ${code}`, '--kind', kind, '--json']);
    return (JSON.parse(out.trim().split('\n').pop()!) as { apiKey: string }).apiKey;
  }

  start(name: string, script: string, extra: Record<string, string> = {}): Proc {
    const child = spawn(process.execPath, [path.join(this.snap.dist, script)], { env: this.env(extra), stdio: ['ignore', 'ignore', 'pipe'] });
    const p: Proc = { name, child, stderrTail: [] };
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      p.stderrTail.push(d);
      if (p.stderrTail.length > 20) p.stderrTail.shift();
    });
    this.procs.push(p);
    allProcs.push(p);
    return p;
  }

  async startApi(): Promise<void> {
    const port = await freePort();
    const api = this.start('api', 'api.main.js', { PORT: String(port) });
    this.base = `http://127.0.0.1:${port}`;
    await waitUntil('the API', async () => (await fetch(`${this.base}/health/ready`)).ok, 60_000, api);
  }

  alive(): void {
    for (const p of this.procs) {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode}:\n${p.stderrTail.join('')}`);
    }
  }

  async stopProcs(): Promise<void> {
    await Promise.all(this.procs.map(stopProc));
    this.procs.length = 0;
  }

  async destroy(admin: Client, redis: Redis): Promise<void> {
    await this.stopProcs();
    await this.pg?.end().catch(() => undefined);
    this.pg = undefined;
    await admin.query(`DROP DATABASE IF EXISTS "${this.db}" WITH (FORCE)`).catch((e: unknown) => log(`could not drop ${this.db}: ${String(e)}`));
    await dropKeys(redis, `${this.queuePrefix}:*`);
  }
}

export async function dropKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  for (let i = 0; i < 100_000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!done) {
    p.child.kill('SIGKILL');
    await exited;
  }
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

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, alive?: Proc): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (alive && alive.child.exitCode !== null) throw new Error(`${alive.name} exited with ${alive.child.exitCode}:\n${alive.stderrTail.join('')}`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}
