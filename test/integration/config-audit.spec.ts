import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { ROOT } from '../support/cli-run';
import { TestStack, waitFor } from '../support/stack';

interface ConfigEntry {
  actor: string;
  actor_kind: string;
  resource: string;
  details: { first: boolean; changed: string[]; hash: string } & Record<string, unknown>;
}

/** A configuration change through the environment is audited once, at the next start (issue 6). */
describe('configuration changes are audited when a process starts with new settings', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({ api: false, workers: 0 });
  });
  afterAll(async () => stack.close());

  /** Runs the API process until it has recorded (or found unchanged) its configuration, then stops it. */
  async function startApi(extra: Record<string, string>): Promise<string> {
    let output = '';
    const child: ChildProcess = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', 'api.main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '', DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        QUEUE_PREFIX: stack.prefix, PORT: '0', LOG_LEVEL: 'info', ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      await waitFor(async () => /configuration (change recorded|unchanged)/.test(output) || child.exitCode !== null, 90_000, 'the api started');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    return output;
  }

  const entries = (): Promise<ConfigEntry[]> =>
    stack.query<ConfigEntry>(`SELECT actor, actor_kind, resource, details FROM audit_entry WHERE action = 'config.change' ORDER BY seq`);

  it('records the first start, nothing for a restart with the same settings, and exactly what changed', async () => {
    expect(await startApi({ RATE_LIMIT_USER_PER_MIN: '600' })).toMatch(/configuration change recorded/);
    const [first] = await entries();
    expect(first).toMatchObject({ actor: 'system:api', actor_kind: 'system', resource: 'process/api', details: { first: true } });
    expect(first.details.changed).toEqual(expect.arrayContaining(['RATE_LIMIT_USER_PER_MIN', 'HOST', 'DATABASE_URL']));

    expect(await startApi({ RATE_LIMIT_USER_PER_MIN: '600' })).toMatch(/configuration unchanged/);
    expect(await entries()).toHaveLength(1);

    await startApi({ RATE_LIMIT_USER_PER_MIN: '5' });
    const all = await entries();
    expect(all).toHaveLength(2);
    expect(all[1].details).toMatchObject({ first: false, changed: ['RATE_LIMIT_USER_PER_MIN'], 'set.RATE_LIMIT_USER_PER_MIN': '5' });
  }, 300_000);

  it('records the change before it listens', async () => {
    // Hold the lock the comparison takes, so the process waits at its audit step.
    const lock = new Client({ connectionString: stack.dbUrl });
    await lock.connect();
    await lock.query(`SELECT pg_advisory_lock(hashtext('config_fingerprint'))`);
    const before = (await entries()).length;
    let output = '';
    const child: ChildProcess = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', 'api.main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '', DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        QUEUE_PREFIX: stack.prefix, PORT: '0', LOG_LEVEL: 'info', RATE_LIMIT_USER_PER_MIN: '7',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      await waitFor(async () => {
        const [w] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        return Number(w.n) > 0;
      }, 90_000, 'the api waiting at its configuration audit');
      // Everything an app does before listening would have happened by now.
      await new Promise((r) => setTimeout(r, 3000));
      expect(output).not.toMatch(/"msg":"listening"/);
      expect(await entries()).toHaveLength(before);
      await lock.query(`SELECT pg_advisory_unlock(hashtext('config_fingerprint'))`);
      await waitFor(async () => /"msg":"listening"/.test(output), 90_000, 'the api listening');
      expect(await entries()).toHaveLength(before + 1);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await lock.end();
    }
  }, 300_000);

  it('never records a password from a URL setting', async () => {
    const url = new URL(stack.dbUrl);
    url.password = 's3cret-pw';
    url.username = url.username || 'postgres';
    url.searchParams.set('password', 's3cret-pw');
    // The server trusts local connections, so the password is not checked; it must still not be stored.
    await startApi({ DATABASE_URL: url.toString() });
    const rows = await stack.query<{ t: string }>(`SELECT details::text AS t FROM audit_entry WHERE action = 'config.change'
      UNION ALL SELECT settings::text FROM config_fingerprint`);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.t).not.toContain('s3cret-pw');
  }, 300_000);
});
