import { DataSource, type DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app.config';
import { loadSqlMigrations } from './sql-migrations';

export function dataSourceOptions(cfg: Pick<AppConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'>): DataSourceOptions {
  return {
    type: 'postgres',
    url: cfg.DATABASE_URL,
    synchronize: false,
    migrationsRun: false,
    migrations: loadSqlMigrations(),
    migrationsTransactionMode: 'each',
    poolSize: cfg.DB_POOL_SIZE,
    logging: false,
    extra: { connectionTimeoutMillis: 5000, application_name: 'familiar-faces' },
  };
}

/** Creates the database named in the URL when it does not exist yet. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(name)) throw new Error(`DATABASE_URL names an unusable database: ${name}`);
  u.pathname = '/postgres';
  const admin = new DataSource({ type: 'postgres', url: u.toString(), extra: { connectionTimeoutMillis: 5000 } });
  await admin.initialize();
  try {
    const rows: unknown[] = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rows.length > 0) return false;
    await admin.query(`CREATE DATABASE "${name}"`);
    return true;
  } finally {
    await admin.destroy();
  }
}

/** Applies pending migrations; returns their names. */
export async function migrate(cfg: Pick<AppConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'>): Promise<string[]> {
  await ensureDatabase(cfg.DATABASE_URL);
  const ds = new DataSource(dataSourceOptions({ ...cfg, DB_POOL_SIZE: 2 }));
  await ds.initialize();
  try {
    const ran = await ds.runMigrations({ transaction: 'each' });
    return ran.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}
