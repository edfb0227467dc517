import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AuditEntryShape } from './audit.canonical';
import type { AuditContext, AuditDetails, AuditEntryInput, AuditOutcome } from './audit.context';

export interface AuditReceipt {
  seq: string;
  time: string;
}

/** An entry as the audit API returns it. */
export interface AuditEntryView extends AuditEntryShape<string[], AuditDetails> {
  outcome: AuditOutcome;
  hash: string;
}

export interface AuditSearch {
  personId?: string;
  actor?: string;
  agency?: string;
  action?: string;
  outcome?: AuditOutcome;
  from?: Date;
  to?: Date;
  /** Only reads of person data (actions `*.read`), as the accounting of disclosures needs. */
  readsOnly?: boolean;
  /** Entries older than this sequence number (the previous page's nextCursor). */
  before?: string;
  limit: number;
}

export interface AuditPage {
  entries: AuditEntryView[];
  nextCursor: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTION = /^[a-z][a-z0-9_.-]{0,99}$/;

/** A person read is audited as an action ending in `.read` (or `.read.<detail>`). */
export const READ_ACTION_SQL = `(action LIKE '%.read' OR action LIKE '%.read.%')`;

/** Thrown when an entry cannot be written; the caller's transaction must then fail. */
export class AuditWriteError extends Error {}

function check(entry: AuditEntryInput): void {
  if (!ACTION.test(entry.action)) throw new AuditWriteError(`audit action must look like thing.verb, got ${JSON.stringify(entry.action)}`);
  const bad = (entry.personIds ?? []).filter((id) => !UUID.test(id));
  if (bad.length) throw new AuditWriteError(`audit personIds must be uuids (${bad.length} are not)`);
}

/** Most entries one group commit writes. */
const GROUP_COMMIT_MAX = 200;
/**
 * Group-commit statements one process keeps in flight. The head lock still orders them in the
 * database; a second one in flight overlaps its round trip, commit and answer with the first's
 * (docs/benchmarks.md "API reads: third round"). More add nothing: the lock serialises them.
 */
const GROUP_COMMIT_IN_FLIGHT = 2;

/** Appends entries in order with one head-lock acquisition (audit_append_many), in runner's transaction if it has one. */
async function appendMany(runner: Pick<EntityManager, 'query'>, entries: readonly AuditEntryInput[]): Promise<AuditReceipt[]> {
  const rows: { entry_seq: string; entry_time: Date }[] = await runner.query(
    `SELECT entry_seq, entry_time FROM audit_append_many($1::jsonb)`,
    [
      JSON.stringify(entries.map((e) => ({
        actor: e.actor, actorKind: e.actorKind, agency: e.agency, role: e.role, purpose: e.purpose, action: e.action,
        resource: e.resource, personIds: (e.personIds ?? []).map((id) => id.toLowerCase()).join(','), outcome: e.outcome ?? 'allowed', requestId: e.requestId,
        clientAddress: e.clientAddress, details: e.details ?? {},
      }))),
    ],
  );
  if (rows.length !== entries.length) throw new AuditWriteError(`audit_append_many wrote ${rows.length} of ${entries.length} entries`);
  return rows.map((r) => ({ seq: String(r.entry_seq), time: r.entry_time.toISOString() }));
}

interface Row {
  seq: string;
  time: Date;
  actor: string;
  actor_kind: string;
  agency: string | null;
  role: string | null;
  purpose: string | null;
  action: string;
  resource: string;
  person_ids: string[];
  outcome: AuditOutcome;
  request_id: string | null;
  client_address: string | null;
  details: AuditDetails;
  hash: Buffer;
}

/**
 * The audit log (docs/architecture.md "Audit log"). record() appends in the caller's transaction,
 * so the action and its entry commit together or not at all.
 */
@Injectable()
export class AuditService {
  private readonly waiting: { entry: AuditEntryInput; resolve: (r: AuditReceipt) => void; reject: (e: Error) => void }[] = [];
  private inFlight = 0;

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Appends one entry inside em's open transaction. Call it last in the transaction: it takes
   * the chain's head lock, held until commit. The transaction must be READ COMMITTED (the default).
   */
  async record(em: EntityManager, entry: AuditEntryInput): Promise<AuditReceipt> {
    if (!em.queryRunner?.isTransactionActive) throw new AuditWriteError('audit entries are written inside the transaction of the action they record');
    check(entry);
    const [receipt] = await appendMany(em, [entry]);
    return receipt;
  }

  /**
   * Appends several entries, in order, inside em's open transaction with ONE head-lock
   * acquisition (audit_append_many): for batches such as the worker's applied events. Call it
   * last in the transaction, like record().
   */
  async recordMany(em: EntityManager, entries: readonly AuditEntryInput[]): Promise<AuditReceipt[]> {
    if (!em.queryRunner?.isTransactionActive) throw new AuditWriteError('audit entries are written inside the transaction of the action they record');
    if (entries.length === 0) return [];
    entries.forEach(check);
    return appendMany(em, entries);
  }

  /**
   * For actions with no database write of their own (reads, token mint, denied requests):
   * committed on its own (grouped with concurrent entries) before this resolves.
   */
  async recordAlone(entry: AuditEntryInput): Promise<AuditReceipt> {
    check(entry);
    return new Promise((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
      if (this.inFlight < GROUP_COMMIT_IN_FLIGHT) void this.flush();
    });
  }

  /**
   * Group commit: entries that arrive while batches are being written (up to
   * GROUP_COMMIT_IN_FLIGHT at once) go into the next batch, so concurrent reads share one head
   * lock and one round trip instead of queueing on the lock one by one. A lone entry is written at
   * once. Every caller resolves only after its entry committed, and fails when it did not.
   */
  private async flush(): Promise<void> {
    this.inFlight += 1;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, GROUP_COMMIT_MAX);
        try {
          const receipts = await appendMany(this.db, batch.map((w) => w.entry));
          batch.forEach((w, i) => w.resolve(receipts[i]));
        } catch (err) {
          if (batch.length === 1) {
            batch[0].reject(err instanceof Error ? err : new AuditWriteError(String(err)));
            continue;
          }
          // One bad entry must not fail its neighbours' reads: write them one by one.
          for (const w of batch) {
            try {
              w.resolve((await appendMany(this.db, [w.entry]))[0]);
            } catch (one) {
              w.reject(one instanceof Error ? one : new AuditWriteError(String(one)));
            }
          }
        }
      }
    } finally {
      this.inFlight -= 1;
    }
  }

  /**
   * A read of person data: runs it, then commits its entry; the result is returned only after
   * the entry committed, so nothing is disclosed unaudited. fn says which persons it disclosed.
   */
  async auditedRead<T>(
    ctx: AuditContext & { action: string; resource: string; details?: AuditDetails },
    fn: () => Promise<{ result: T; personIds?: readonly string[]; details?: AuditDetails }>,
  ): Promise<T> {
    const out = await fn();
    await this.recordAlone({ ...ctx, personIds: out.personIds ?? [], details: { ...ctx.details, ...out.details } });
    return out.result;
  }

  /** A change and its entry in one transaction (READ COMMITTED); the entry is appended last. */
  async audited<T>(
    ctx: AuditContext & { action: string; resource: string; details?: AuditDetails },
    fn: (em: EntityManager) => Promise<{ result: T; personIds?: readonly string[]; details?: AuditDetails }>,
  ): Promise<T> {
    return this.db.transaction(async (em) => {
      const out = await fn(em);
      await this.record(em, { ...ctx, personIds: out.personIds ?? [], details: { ...ctx.details, ...out.details } });
      return out.result;
    });
  }

  async search(q: AuditSearch): Promise<AuditPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown): void => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.personId) add('person_ids @> ARRAY[?]::uuid[]', q.personId);
    if (q.actor) add('actor = ?', q.actor);
    if (q.agency) add('agency = ?', q.agency);
    if (q.action) add('action = ?', q.action);
    if (q.outcome) add('outcome = ?', q.outcome);
    if (q.from) add('time >= ?', q.from);
    if (q.to) add('time < ?', q.to);
    if (q.before) add('seq < ?::bigint', q.before);
    if (q.readsOnly) where.push(READ_ACTION_SQL);
    params.push(q.limit + 1);
    const rows: Row[] = await this.db.query(
      `SELECT seq, time, actor, actor_kind, agency, role, purpose, action, resource, person_ids, outcome, request_id,
              client_address::text AS client_address, details, hash
         FROM audit_entry ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, q.limit);
    return {
      entries: page.map((r) => ({
        seq: String(r.seq), time: r.time.toISOString(), actor: r.actor, actorKind: r.actor_kind, agency: r.agency, role: r.role,
        purpose: r.purpose, action: r.action, resource: r.resource, personIds: r.person_ids, outcome: r.outcome,
        requestId: r.request_id, clientAddress: r.client_address, details: r.details, hash: r.hash.toString('hex'),
      })),
      nextCursor: rows.length > q.limit ? String(page[page.length - 1].seq) : null,
    };
  }
}
