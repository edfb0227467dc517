import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { systemAuditContext } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { AppConfig, redactUrl } from '../config/app.config';

const SECRET_URLS = new Set<string>(['DATABASE_URL', 'REDIS_URL']);

/** The URL without its password, in the user-info part or in a query parameter (?password=, ?sslkey=...). */
function withoutSecrets(url: string): string {
  const redacted = redactUrl(url);
  try {
    const u = new URL(redacted);
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|token|key/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return redacted;
  }
}

/** Every setting as text, URLs with their password replaced; unset optional settings as ''. */
export function recordedSettings(cfg: AppConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(new AppConfig()).sort() as (keyof AppConfig)[]) {
    const v = cfg[key];
    const text = v === undefined || v === null ? '' : String(v);
    out[key] = SECRET_URLS.has(key) && text ? withoutSecrets(text) : text;
  }
  return out;
}

/**
 * A process's configuration comes from the environment; a change of it is a configuration change
 * like any other. At start, compares the settings with those the same kind of process last started
 * with and, when they differ, appends `config.change` (the changed names and their new values) in
 * the transaction that stores the new fingerprint. Returns the names that changed. Runs before the
 * process serves or takes jobs, on a connection of its own.
 */
export async function auditConfiguration(db: DataSource, cfg: AppConfig, role: 'api' | 'worker' | 'all'): Promise<string[]> {
  const audit = new AuditService(db);
  const settings = recordedSettings(cfg);
  const hash = createHash('sha256').update(JSON.stringify(settings)).digest();
  return db.transaction(async (em) => {
    // Processes starting together: one compares and writes at a time.
    await em.query(`SELECT pg_advisory_xact_lock(hashtext('config_fingerprint'))`);
    const rows: { settings: Record<string, string>; hash: Buffer }[] = await em.query(
      `SELECT settings, hash FROM config_fingerprint WHERE process_role = $1`,
      [role],
    );
    const before = rows[0];
    if (before && before.hash.equals(hash)) return [];
    const changed = Object.keys(settings).filter((k) => before?.settings[k] !== settings[k]);
    await em.query(
      `INSERT INTO config_fingerprint (process_role, settings, hash) VALUES ($1, $2, $3)
       ON CONFLICT ON CONSTRAINT config_fingerprint_pk DO UPDATE SET settings = excluded.settings, hash = excluded.hash, updated_at = now()`,
      [role, JSON.stringify(settings), hash],
    );
    const values: Record<string, string> = {};
    for (const k of changed) values[`set.${k}`] = settings[k];
    await audit.record(em, {
      ...systemAuditContext(role), action: 'config.change', resource: `process/${role}`,
      details: { first: before === undefined, changed, hash: hash.toString('hex'), ...values },
    });
    return changed;
  });
}
