import Redis from 'ioredis';
import { Client } from 'pg';
import { RUN_ID_VAR, serverUrl, testDbPrefix } from './run-env';

/** Drops this run's databases and Redis keys; other runs are left alone. */
export default async function globalTeardown(): Promise<void> {
  const runId = process.env[RUN_ID_VAR];
  if (!runId) return;
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
  const c = new Client({ connectionString: serverUrl(base, 'postgres') });
  await c.connect();
  try {
    const dbs = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${testDbPrefix(runId)}%`]);
    for (const { datname } of dbs.rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `fft${runId}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
