import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeEvent, TestStack, waitFor } from '../support/stack';

const ROOT = join(__dirname, '..', '..');

function workerArgs(): string[] {
  const built = join(ROOT, 'dist', 'worker.main.js');
  return existsSync(built) ? [built] : ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', 'worker.main.ts')];
}

const applied = async (stack: TestStack): Promise<number> =>
  Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NOT NULL`))[0].n);

/** SIGTERM lets a worker finish or hand back its jobs; a new worker then finishes the rest once each. */
describe('worker shutdown on SIGTERM', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0, env: { REDRIVE_GRACE_MS: '0', REDRIVE_INTERVAL_MS: '200' } });
  });
  afterAll(async () => stack.close());

  it('exits cleanly mid-backlog and loses nothing', async () => {
    const key = await stack.createSource('term-src', 'jail');
    const events = Array.from({ length: 300 }, (_, i) => makeEvent({ eventId: `t-${i}` }, { recordId: `T-${i % 100}`, firstName: `Name${i % 7}` }));
    for (let i = 0; i < events.length; i += 200) expect((await stack.sendEvents(key, events.slice(i, i + 200))).status).toBe(202);

    const child = spawn(process.execPath, workerArgs(), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: stack.prefix, LOG_LEVEL: 'silent', WORKER_CONCURRENCY: '4' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    await waitFor(async () => (await applied(stack)) > 0, 60_000, 'the child worker to start applying');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');

    await stack.startWorker();
    await waitFor(async () => (await applied(stack)) === events.length, 150_000, 'every event applied');
    const [dups] = await stack.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT inbox_event_id FROM record_event GROUP BY 1 HAVING count(*) > 1) d`,
    );
    expect(Number(dups.n)).toBe(0);
    const [total] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM record_event`);
    expect(Number(total.n)).toBe(events.length);
  });
});
