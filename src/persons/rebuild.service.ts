import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ChangeStreamService } from './change-stream.service';
import { ProjectionService } from './projection.service';

export interface RebuildResult {
  persons: number;
  /** Read-model rows of persons with no linked record any more, deleted. */
  orphans: number;
  added: number;
  updated: number;
  removed: number;
  ms: number;
}

/**
 * Replays the log: refolds every person with linked records, a batch per transaction, then
 * drops read-model rows of persons that no longer have any. Safe while workers run (the same
 * person locks); changes it causes are published like the worker's.
 */
@Injectable()
export class RebuildService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly projection: ProjectionService,
    private readonly changes: ChangeStreamService,
  ) {}

  async rebuild(opts: { batchSize?: number; publish?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<RebuildResult> {
    const started = Date.now();
    const batch = opts.batchSize ?? 500;
    const [{ n }] = await this.db.query<{ n: string }[]>(`SELECT count(DISTINCT person_id) AS n FROM linkage_record`);
    const total = Number(n);
    const res: RebuildResult = { persons: 0, orphans: 0, added: 0, updated: 0, removed: 0, ms: 0 };
    const run = async (ids: string[]): Promise<void> => {
      const changes = await this.db.transaction((em) => this.projection.refold(em, ids));
      for (const c of changes) res[c.kind]++;
      if (opts.publish !== false) await this.changes.publishQuietly(changes);
    };

    let after = '00000000-0000-0000-0000-000000000000';
    opts.onProgress?.(0, total);
    for (;;) {
      const rows = await this.db.query<{ id: string }[]>(
        `SELECT DISTINCT person_id::text AS id FROM linkage_record WHERE person_id > $1::uuid ORDER BY 1 LIMIT ${batch}`,
        [after],
      );
      if (rows.length === 0) break;
      await run(rows.map((r) => r.id));
      res.persons += rows.length;
      after = rows[rows.length - 1].id;
      opts.onProgress?.(res.persons, total);
    }

    // Rows whose person has no linked record left (retired, or a stale row): refolding deletes them.
    for (;;) {
      const rows = await this.db.query<{ id: string }[]>(
        `SELECT id FROM (SELECT person_id::text AS id FROM person_view UNION SELECT person_id::text FROM person_consent) s
          WHERE NOT EXISTS (SELECT 1 FROM linkage_record lr WHERE lr.person_id = s.id::uuid) LIMIT ${batch}`,
      );
      if (rows.length === 0) break;
      await run(rows.map((r) => r.id));
      res.orphans += rows.length;
    }
    res.ms = Date.now() - started;
    return res;
  }
}
