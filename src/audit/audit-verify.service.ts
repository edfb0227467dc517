import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ChainWalker, type ChainBreak, type ChainRow } from './audit.canonical';

export interface VerifyReport {
  ok: boolean;
  entries: number;
  /** The head the chain should end at; record it elsewhere to anchor later checks. */
  head: { seq: string; hash: string };
  firstBreak: ChainBreak | null;
}

const BATCH = 5000;

/** Walks the whole chain in sequence order, recomputing every hash in TypeScript. */
@Injectable()
export class AuditVerifyService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** table: verify a copy (e.g. a restored or exported table) instead of audit_entry. */
  async verify(table = 'audit_entry'): Promise<VerifyReport> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table)) throw new Error('table must be a plain lower-case identifier');
    return this.db.transaction('REPEATABLE READ', async (em) => {
      // One snapshot for the head and every batch, so appends during the walk do not confuse it.
      const head: { seq: string; hash: Buffer }[] = await em.query(`SELECT seq::text AS seq, hash FROM audit_head WHERE id = 1`);
      const walker = new ChainWalker();
      let after = '0';
      for (;;) {
        const rows: ChainRow[] = await em.query(
          `SELECT seq::text AS seq,
                  to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time,
                  actor, actor_kind AS "actorKind", agency, role, purpose, action, resource,
                  array_to_string(person_ids, ',') AS "personIds", outcome, request_id AS "requestId",
                  client_address::text AS "clientAddress", details::text AS details, prev_hash AS "prevHash", hash
             FROM ${table} t WHERE t.seq > $1::bigint ORDER BY t.seq LIMIT ${BATCH}`,
          [after],
        );
        for (const row of rows) {
          const broken = walker.push(row);
          if (broken) return this.report(walker, head[0], broken);
        }
        if (rows.length < BATCH) break;
        after = rows[rows.length - 1].seq;
      }
      return this.report(walker, head[0], walker.finish(head[0]));
    });
  }

  private report(walker: ChainWalker, head: { seq: string; hash: Buffer }, broken: ChainBreak | null): VerifyReport {
    return { ok: broken === null, entries: walker.count, head: { seq: head.seq, hash: head.hash.toString('hex') }, firstBreak: broken };
  }
}
