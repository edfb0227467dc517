import Redis from 'ioredis';
import { Client } from 'pg';
import { redactUrl, type AppConfig } from '../config/app.config';
import { loadSqlMigrations } from '../database/sql-migrations';
import { redisOptions } from '../queue/redis-options';

/** A start-up problem the operator can fix; its message is the one line we print. */
export class PreflightError extends Error {}

const HOW = "start it with 'docker compose up -d' (or 'npm run demo', which starts throwaway servers)";

export async function checkPostgres(cfg: AppConfig, requireMigrated = true): Promise<void> {
  const client = new Client({ connectionString: cfg.DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '3D000' && !requireMigrated) return; // migrate creates it
    if (e.code === '3D000') throw new PreflightError(`PostgreSQL at ${redactUrl(cfg.DATABASE_URL)} has no such database: run 'npm run migrate' to create it`);
    throw new PreflightError(`cannot reach PostgreSQL at ${redactUrl(cfg.DATABASE_URL)} (${e.code ?? e.message ?? 'error'}): ${HOW}`);
  }
  try {
    if (!requireMigrated) return;
    const known = loadSqlMigrations().map((m) => m.name);
    const table = (await client.query<{ t: string | null }>(`SELECT to_regclass('migrations')::text AS t`)).rows;
    const ran = table[0].t ? new Set((await client.query<{ name: string }>('SELECT name FROM migrations')).rows.map((r) => r.name)) : new Set<string>();
    const pending = known.filter((n) => !ran.has(n));
    if (pending.length) throw new PreflightError(`database at ${redactUrl(cfg.DATABASE_URL)} has ${pending.length} pending migration(s): run 'npm run migrate'`);
  } finally {
    await client.end();
  }
}

export async function checkRedis(cfg: AppConfig): Promise<void> {
  const client = new Redis({ ...redisOptions(cfg.REDIS_URL), lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new PreflightError(`cannot reach Redis at ${redactUrl(cfg.REDIS_URL)} (${err instanceof Error ? err.message : 'error'}): ${HOW}`);
  } finally {
    client.disconnect();
  }
}

export async function preflight(cfg: AppConfig): Promise<void> {
  await checkPostgres(cfg);
  await checkRedis(cfg);
}
