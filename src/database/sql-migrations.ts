import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** migrations/ at the package root, from both src/database (ts) and dist/database (js). */
export const MIGRATIONS_DIR = resolve(__dirname, '..', '..', 'migrations');

const FILE = /^(\d{13})-([a-z0-9-]+)\.sql$/;

/**
 * Turns each reviewed `migrations/<timestamp>-<name>.sql` into a TypeORM migration,
 * so a DBA reads plain SQL and TypeORM still tracks what ran.
 */
export function loadSqlMigrations(dir: string = MIGRATIONS_DIR): (new () => MigrationInterface)[] {
  return readdirSync(dir)
    .filter((f) => FILE.test(f))
    .sort()
    .map((file) => {
      const [, ts, slug] = FILE.exec(file)!;
      const sql = readFileSync(join(dir, file), 'utf8');
      const name = slug.split('-').map((p) => p[0].toUpperCase() + p.slice(1)).join('') + ts;
      // TypeORM wants a class per migration and reads the timestamp from the end of its name.
      const cls = class implements MigrationInterface {
        name = name;
        async up(q: QueryRunner): Promise<void> {
          await q.query(sql);
        }
        async down(): Promise<void> {
          throw new Error(`migration ${file} is forward-only; restore from a backup to go back`);
        }
      };
      Object.defineProperty(cls, 'name', { value: name });
      return cls;
    });
}
