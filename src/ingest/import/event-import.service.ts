import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type QueryRunner } from 'typeorm';
import { currentAuditContext } from '../../audit/audit.context';
import { AuditService } from '../../audit/audit.service';
import { ForbiddenError, NotFoundError, ValidationFailedError } from '../../errors/domain.error';
import { InboxService, type EventResult } from '../inbox.service';
import { CsvHeaderError } from './csv-event.mapper';
import { EmptyFileError, formatFromName, readEventFile, type FileRow, type ImportFormat } from './event-file.reader';
import { RejectsWriter, type RejectEntry } from './rejects.writer';

export const IMPORT_BATCH_MAX = 1000;

export interface ImportOptions {
  file: string;
  source: string;
  format?: ImportFormat;
  /** Default: `<file>.rejects.ndjson`. */
  rejectsPath?: string;
  /** Return only when every row of the file that is in the inbox is applied or dead-lettered. */
  wait?: boolean;
  /** Give up waiting after this long (the import itself is done); default: no limit. */
  waitTimeoutMs?: number;
  waitPollMs?: number;
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
  /** The inbox to accept through; the backfill passes one that does not queue jobs. */
  inbox?: InboxService;
}

export interface ImportProgress {
  phase: 'reading' | 'waiting';
  bytes: number;
  totalBytes: number;
  rows: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  /** waiting phase: rows of this file in the inbox, and how many are applied / dead-lettered. */
  tracked: number;
  applied: number;
  deadLettered: number;
}

export interface ImportSummary {
  file: string;
  source: string;
  format: ImportFormat;
  rows: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  /** Accepted rows that carried a warning (e.g. an impossible SSN that was dropped). */
  warnings: number;
  rejectsFile: string | null;
  /** Set when a CSV syntax error stopped reading before the end of the file. */
  readStoppedAtLine?: number;
  /** With wait: rows of this file (accepted now or earlier) applied, dead-lettered, still pending. */
  applied?: number;
  deadLettered?: number;
  pending?: number;
  waitTimedOut?: boolean;
  waitedMs?: number;
  /** Reading and committing the file, without the wait. */
  elapsedMs: number;
  rowsPerSecond: number;
}

interface Pending {
  line: number;
  event?: unknown;
  reject?: RejectEntry;
}

const TRACK_TABLE = 'pg_temp.import_event_ids';

/**
 * Bulk import of a file of contract-v1 events through the same inbox as the HTTP API.
 * Reads, validates and commits one batch at a time, so memory does not grow with the file.
 */
@Injectable()
export class EventImportService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly inbox: InboxService,
    private readonly audit: AuditService,
  ) {}

  async importFile(opts: ImportOptions): Promise<ImportSummary> {
    const file = path.resolve(opts.file);
    const format = opts.format ?? formatFromName(file);
    if (!format) throw new ValidationFailedError(`cannot tell the format of ${opts.file} from its extension: give --format ndjson or --format csv`);
    const batchSize = opts.batchSize ?? IMPORT_BATCH_MAX;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > IMPORT_BATCH_MAX) {
      throw new ValidationFailedError(`batch size must be 1-${IMPORT_BATCH_MAX}`);
    }
    const rejectsPath = path.resolve(opts.rejectsPath ?? `${file}.rejects.ndjson`);
    if (rejectsPath === file) throw new ValidationFailedError('the rejects file must not be the input file');
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new NotFoundError(`file ${opts.file} not found`);
    const sourceId = await this.sourceId(opts.source);

    const started = Date.now();
    const rejects = new RejectsWriter(rejectsPath);
    const reader = readEventFile(file, format);
    const sum: ImportSummary = {
      file, source: opts.source, format, rows: 0, accepted: 0, duplicate: 0, rejected: 0, warnings: 0,
      rejectsFile: null, elapsedMs: 0, rowsPerSecond: 0,
    };
    const progress = (phase: ImportProgress['phase'], extra: Partial<ImportProgress> = {}): void =>
      opts.onProgress?.({
        phase, bytes: reader.bytesRead(), totalBytes: info.size, rows: sum.rows, accepted: sum.accepted,
        duplicate: sum.duplicate, rejected: sum.rejected, tracked: 0, applied: 0, deadLettered: 0, ...extra,
      });

    // With --wait, the event ids of this file go to a session temp table so the wait can
    // follow exactly these rows without holding them in memory.
    let tracker: QueryRunner | undefined;
    try {
      if (opts.wait) {
        tracker = this.db.createQueryRunner();
        await tracker.connect();
        await tracker.query(`CREATE TEMP TABLE IF NOT EXISTS import_event_ids (event_id text PRIMARY KEY)`);
        await tracker.query(`TRUNCATE ${TRACK_TABLE}`);
      }

      let batch: Pending[] = [];
      let candidates = 0;
      const flush = async (): Promise<void> => {
        const offered = batch.filter((p) => p.reject === undefined);
        // One audit entry per committed batch, in the inbox transaction (as POST /api/v1/events): counts only.
        const results = offered.length
          ? await (opts.inbox ?? this.inbox).accept(sourceId, offered.map((p) => p.event), (em, res) =>
            this.audit.record(em, {
              ...currentAuditContext(), action: 'events.import', resource: `source/${opts.source}`,
              details: { ...batchCounts(res), format, firstLine: offered[0].line },
            }),
          )
          : [];
        const track: string[] = [];
        offered.forEach((p, i) => {
          const r = results[i];
          if (r.status === 'rejected') p.reject = { line: p.line, eventId: r.eventId, errors: r.errors };
          else {
            if (r.status === 'accepted') sum.accepted += 1;
            else sum.duplicate += 1;
            if (r.warnings.length) sum.warnings += 1;
            if (r.eventId) track.push(r.eventId);
          }
        });
        for (const p of batch) if (p.reject) await rejects.write(p.reject);
        if (tracker && track.length) {
          await tracker.query(`INSERT INTO ${TRACK_TABLE} (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [track]);
        }
        sum.rejected = rejects.count;
        batch = [];
        candidates = 0;
        progress('reading');
      };

      try {
        for await (const row of reader.rows) {
          sum.rows += 1;
          batch.push(toPending(row));
          if ('event' in row) candidates += 1;
          if ('fatal' in row && row.fatal) sum.readStoppedAtLine = row.line;
          // Broken rows are cheap, but still bounded per batch.
          if (candidates >= batchSize || batch.length >= batchSize * 2) await flush();
        }
        await flush();
      } catch (err) {
        if (err instanceof CsvHeaderError) throw new ValidationFailedError(err.message, err.issues);
        if (err instanceof EmptyFileError) throw new ValidationFailedError(err.message);
        throw err;
      } finally {
        await rejects.close();
      }
      sum.rejected = rejects.count;
      sum.rejectsFile = rejects.count ? rejectsPath : null;
      sum.elapsedMs = Date.now() - started;
      sum.rowsPerSecond = Math.round(sum.rows / Math.max(sum.elapsedMs / 1000, 0.001));

      if (tracker) await this.waitApplied(tracker, sourceId, sum, opts, progress);
      return sum;
    } finally {
      if (tracker) {
        await tracker.query(`DROP TABLE IF EXISTS ${TRACK_TABLE}`).catch(() => undefined);
        await tracker.release();
      }
    }
  }

  private async waitApplied(
    tracker: QueryRunner, sourceId: string, sum: ImportSummary, opts: ImportOptions,
    progress: (phase: ImportProgress['phase'], extra?: Partial<ImportProgress>) => void,
  ): Promise<void> {
    const began = Date.now();
    const poll = opts.waitPollMs ?? 500;
    let due: number | undefined;
    for (;;) {
      const [c] = (await tracker.query(
        `SELECT count(*)::int AS tracked,
                count(e.applied_at)::int AS applied,
                count(*) FILTER (WHERE e.applied_at IS NULL AND e.dead_lettered_at IS NOT NULL)::int AS dead
           FROM ${TRACK_TABLE} t JOIN inbox_event e ON e.source_id = $1 AND e.event_id = t.event_id`,
        [sourceId],
      )) as { tracked: number; applied: number; dead: number }[];
      sum.applied = c.applied;
      sum.deadLettered = c.dead;
      sum.pending = c.tracked - c.applied - c.dead;
      sum.waitedMs = Date.now() - began;
      progress('waiting', { tracked: c.tracked, applied: c.applied, deadLettered: c.dead });
      // Applied, and shown: the refold after the last apply commits just after it. Only the due
      // rows that exist now count, so other sources' later events touching these persons do not.
      if (sum.pending === 0) {
        due ??= Number((await tracker.query(`SELECT COALESCE(max(id), 0) AS w FROM person_refold_due`) as { w: string }[])[0].w);
        const [r] = (await tracker.query(
          `SELECT EXISTS (
             SELECT 1 FROM person_refold_due d
              WHERE d.id <= $2 AND d.person_id IN (
                SELECT lr.person_id FROM ${TRACK_TABLE} t
                  JOIN inbox_event e ON e.source_id = $1 AND e.event_id = t.event_id
                  JOIN source_record sr ON sr.source_id = e.source_id AND sr.record_id = e.record_id
                  JOIN linkage_record lr ON lr.source_record_id = sr.id)) AS waiting`,
          [sourceId, due],
        )) as { waiting: boolean }[];
        if (!r.waiting) return;
      }
      if (opts.waitTimeoutMs !== undefined && sum.waitedMs >= opts.waitTimeoutMs) {
        sum.waitTimedOut = true;
        return;
      }
      await new Promise((r) => setTimeout(r, poll));
    }
  }

  private async sourceId(code: string): Promise<string> {
    const rows = await this.db.query<{ id: string; disabled_at: Date | null }[]>(`SELECT id, disabled_at FROM source WHERE code = $1`, [code]);
    if (rows.length === 0) throw new NotFoundError(`source ${code} not found (see: sources list)`);
    if (rows[0].disabled_at) throw new ForbiddenError(`source ${code} is disabled`);
    return rows[0].id;
  }
}

function toPending(row: FileRow): Pending {
  if ('event' in row) return { line: row.line, event: row.event };
  return { line: row.line, reject: { line: row.line, eventId: row.eventId, errors: row.errors } };
}

function batchCounts(results: EventResult[]): Record<string, number> {
  const n = { received: results.length, accepted: 0, duplicate: 0, rejected: 0 };
  for (const r of results) n[r.status] += 1;
  return n;
}
