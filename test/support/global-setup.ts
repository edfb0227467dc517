import { Client } from 'pg';
import { migrate } from '../../src/database/data-source';
import { newRunId, RUN_ID_VAR, serverUrl, templateDb } from './run-env';

/**
 * Once per run: a template database with every migration applied. Each test file clones
 * it (CREATE DATABASE ... TEMPLATE), so files run in parallel without sharing state.
 */
export default async function globalSetup(): Promise<void> {
  const runId = newRunId();
  process.env[RUN_ID_VAR] = runId;
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
  const probe = new Client({ connectionString: serverUrl(base, 'postgres'), connectionTimeoutMillis: 3000 });
  try {
    await probe.connect();
    await probe.end();
  } catch {
    throw new Error(`no PostgreSQL answers at ${base}: run the tests with 'npm test', which starts one`);
  }
  await migrate({ DATABASE_URL: serverUrl(base, templateDb(runId)), DB_POOL_SIZE: 2 });
}
