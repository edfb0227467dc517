// Helpers shared by the benchmarks (api.bench.ts, audit.bench.ts): env knobs, database
// create/drop on a local server, the API process, machine description, percentiles.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import { Client } from 'pg';

export const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A positive integer from the environment, or the default. */
export function intEnv(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

/** The same server URL with another database name. */
export function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Benchmarks create and drop databases: only ever on this machine. */
export function assertLocal(url: string, what: string): void {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error(`${what} must be on this machine for the benchmark (got ${host})`);
}

/** Drops a benchmark database (connections closed by force). Never throws. */
export async function dropDatabase(baseUrl: string, db: string): Promise<void> {
  const admin = new Client({ connectionString: withDb(baseUrl, 'postgres') });
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${db.replace(/"/g, '')}" WITH (FORCE)`);
  } catch (err) {
    log(`could not drop ${db}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export async function databaseExists(baseUrl: string, db: string): Promise<boolean> {
  const admin = new Client({ connectionString: withDb(baseUrl, 'postgres') });
  await admin.connect();
  try {
    return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address() as net.AddressInfo;
      srv.close(() => resolve(a.port));
    });
  });
}

export interface ApiProcess {
  proc: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

/** Spawns a built API entry point on a free port and waits until /health/ready answers. */
export async function startApiProcess(script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<ApiProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [...nodeArgs, script], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
  };
  for (let i = 0; ; i++) {
    if (await fetch(`${base}/health/ready`).then((x) => x.ok, () => false)) break;
    if (i > 300 || proc.exitCode !== null) {
      await stop();
      throw new Error('the API did not start');
    }
    await sleep(200);
  }
  return { proc, base, stop };
}

/** "2 cores (model), 24 GB, Node vX, PostgreSQL Y" (pg optional). */
export async function describeMachine(pg?: Client): Promise<string> {
  const cpu = os.cpus()[0]?.model.trim() ?? 'cpu';
  const pgVersion = pg ? `, PostgreSQL ${(await pg.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version}` : '';
  return `${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}${pgVersion}`;
}

/** The 1-minute load average, one decimal. */
export const loadAverage = (): string => os.loadavg()[0].toFixed(1);

/** The q-quantile (0..1) of the values, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Replaces (or appends) the `## <title>` section of a markdown file. */
export function replaceSection(doc: string, title: string, section: string): string {
  const start = doc.indexOf(`\n## ${title}`);
  let next = start >= 0 ? doc.indexOf('\n## ', start + 1) : -1;
  if (next < 0) next = doc.length;
  const updated = start >= 0 ? `${doc.slice(0, start)}\n${section}${doc.slice(next)}` : `${doc.trimEnd()}\n\n${section}`;
  return updated.endsWith('\n') ? updated : `${updated}\n`;
}
