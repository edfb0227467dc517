import { randomBytes } from 'node:crypto';

/** Names shared by global setup, every test file and teardown of one `npm test` run. */
export const RUN_ID_VAR = 'FF_TEST_RUN_ID';

export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function serverUrl(dbUrl: string, database: string): string {
  const u = new URL(dbUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

export const templateDb = (runId: string): string => `ff_t_${runId}_tmpl`;
export const testDbPrefix = (runId: string): string => `ff_t_${runId}_`;
