import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TestStack } from '../support/stack';

const ROOT = join(__dirname, '..', '..');

/** The built entry point when there is one (CI builds first), else the source through ts-node. */
function entry(name: 'api' | 'worker'): string[] {
  const built = join(ROOT, 'dist', `${name}.main.js`);
  if (existsSync(built)) return [built];
  return ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', `${name}.main.ts`)];
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(name: 'api' | 'worker', env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      entry(name),
      // PORT 0: should a process get as far as listening, it must not collide with anything.
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'silent', ...env }, timeout: 45_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

/** Start-up problems end the process with exit 1 and one line saying what to fix. */
describe('process start-up', () => {
  let stack: TestStack; // only for a migrated database and a Redis that answers
  const runs: Record<string, Promise<Exit>> = {};

  beforeAll(async () => {
    stack = await TestStack.start({ api: false, workers: 0 });
    const good = { DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: stack.prefix };
    // Side by side: each process spends most of its time loading modules.
    runs.config = start('api', { ...good, PORT: 'abc', QUEUE_PREFIX: 'has space' });
    runs.redis = start('api', { ...good, REDIS_URL: 'redis://:s3cret-pw@127.0.0.1:1' });
    runs.postgres = start('worker', { ...good, DATABASE_URL: 'postgres://ff:s3cret-pw@127.0.0.1:1/familiar_faces' });
    await Promise.all(Object.values(runs));
  });
  afterAll(async () => stack?.close());

  it('exits 1 with one line naming each invalid setting and its value', async () => {
    const r = await runs.config;
    expect(r.code).toBe(1);
    const out = lines(r.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^familiar-faces api: invalid configuration: /);
    expect(out[0]).toContain('PORT must be an integer (got "abc")');
    expect(out[0]).toContain('QUEUE_PREFIX must be 1-64 letters, digits, _ or - (got "has space")');
  });

  it('exits 1 naming Redis, its URL without the password, and how to start it', async () => {
    const r = await runs.redis;
    expect(r.code).toBe(1);
    const out = lines(r.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^familiar-faces api: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    expect(out[0]).toContain('docker compose up -d');
    expect(r.stderr + r.stdout).not.toContain('s3cret-pw');
  });

  it('exits 1 naming PostgreSQL, its URL without the password, and how to start it', async () => {
    const r = await runs.postgres;
    expect(r.code).toBe(1);
    const out = lines(r.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^familiar-faces worker: cannot reach PostgreSQL at postgres:\/\/ff:\*\*\*@127\.0\.0\.1:1\/familiar_faces/);
    expect(out[0]).toContain('docker compose up -d');
    expect(r.stderr + r.stdout).not.toContain('s3cret-pw');
  });
});
