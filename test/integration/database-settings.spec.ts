import { Client } from 'pg';
import { RUN_ID_VAR, serverUrl, templateDb } from '../support/run-env';

/** Settings the migrations give the service's database (test databases are clones of the run's migrated template). */
describe('database settings from the migrations', () => {
  // Read from the catalog: connecting to the template would make other files' clones of it fail.
  it('turns JIT off for the database, so new sessions plan without it', async () => {
    const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
    const template = templateDb(process.env[RUN_ID_VAR]!);
    const admin = new Client({ connectionString: serverUrl(base, 'postgres') });
    await admin.connect();
    try {
      const rows = await admin.query<{ setconfig: string[] }>(
        `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0`,
        [template],
      );
      expect(rows.rows.flatMap((r) => r.setconfig)).toContain('jit=off');
    } finally {
      await admin.end();
    }
  });
});
