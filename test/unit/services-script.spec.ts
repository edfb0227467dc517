import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'services.mjs');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/services.mjs asynchronously (the test's own TCP servers must keep answering). */
function runScript(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A TCP listener on 127.0.0.1 that accepts and drops connections, standing in for a server. */
async function listen(): Promise<Server> {
  const server = createServer((sock) => sock.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (s: Server): number => (s.address() as AddressInfo).port;
const close = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const s = await listen();
  const port = portOf(s);
  await close(s);
  return port;
}

describe('scripts/services.mjs', () => {
  let emptyPath: string;

  beforeAll(() => {
    // A PATH with nothing on it: hides redis-server (and initdb/pg_ctl on PATH).
    emptyPath = mkdtempSync(join(tmpdir(), 'ff-empty-path-'));
  });

  afterAll(() => {
    rmSync(emptyPath, { recursive: true, force: true });
  });

  it('fails with one line naming redis-server, the URL and the fix when Redis cannot be provided', async () => {
    const [pgPort, redisPort] = [await unusedPort(), await unusedPort()];
    const res = await runScript(['--', process.execPath, '-e', 'console.log("ran")'], {
      PATH: emptyPath,
      HOME: tmpdir(),
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/familiar_faces`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    expect(res.code).toBe(1);
    expect(res.stdout).not.toContain('ran');
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`redis-server not found and nothing answers at redis://127.0.0.1:${redisPort}`);
    expect(lines[0]).toContain("apt-get install -y redis-server");
    expect(lines[0]).toContain('docker compose up -d');
    // Nothing was started on the Postgres port either: the script decides before starting anything.
    expect(res.stderr).not.toContain('started');
  }, 20_000);

  it('hides passwords and refuses to start anything for a non-local host', async () => {
    const redisPort = await unusedPort();
    const res = await runScript(['--', process.execPath, '-e', 'console.log("ran")'], {
      PATH: emptyPath,
      HOME: tmpdir(),
      DATABASE_URL: 'postgres://app:s3cr3t-pw@192.0.2.1:5432/familiar_faces',
      REDIS_URL: `redis://:other-s3cr3t@127.0.0.1:${redisPort}`,
    });
    expect(res.code).toBe(1);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('postgres://app:***@192.0.2.1:5432/familiar_faces');
    expect(lines[0]).toMatch(/not local/);
    expect(lines[0]).toMatch(/redis/i);
    expect(res.stderr).not.toContain('s3cr3t');
  }, 20_000);

  it('runs the command with both URLs when something already answers, and passes its exit code through', async () => {
    const pg = await listen();
    const redis = await listen();
    try {
      const dbUrl = `postgres://postgres@127.0.0.1:${portOf(pg)}/familiar_faces`;
      const redisUrl = `redis://127.0.0.1:${portOf(redis)}`;
      const res = await runScript(
        [
          '--',
          process.execPath,
          '-e',
          'console.log(process.env.DATABASE_URL + " " + process.env.REDIS_URL + " " + process.env.FF_MARK); process.exit(7)',
        ],
        { PATH: emptyPath, HOME: tmpdir(), DATABASE_URL: dbUrl, REDIS_URL: redisUrl, FF_MARK: 'passed-through' },
      );
      expect(res.stdout.trim()).toBe(`${dbUrl} ${redisUrl} passed-through`);
      expect(res.code).toBe(7);
      expect(res.stderr).not.toContain('started');
    } finally {
      await close(pg);
      await close(redis);
    }
  }, 20_000);

  it('--check reports without starting anything', async () => {
    const [pgPort, redisPort] = [await unusedPort(), await unusedPort()];
    const res = await runScript(['--check'], {
      PATH: emptyPath,
      HOME: tmpdir(),
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/familiar_faces`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('redis-server not found');
    expect(res.stderr).not.toMatch(/started/);
  }, 20_000);
});
